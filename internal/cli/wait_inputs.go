package cli

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/render"
)

// ReasonStaleInputs is the verdict of a Gateway whose status was computed
// from inputs older than the live ones.
const ReasonStaleInputs = "StaleInputs"

// waitCurrent is berth wait: readiness.Run (the progress and the verdict),
// then, for a verdict that would end the wait, a check on the Gateways read
// once more, after the verdict: each must still give that verdict, and its
// status must have been computed from the inputs live now
// (readiness.Current). The verdict and the inputs are checked on that one
// read, never on two: Run's verdict comes from its watch, and the
// controller may have written since (a Pending for new inputs, recording
// the new inputs beside the old address). While a Gateway's status
// describes older inputs, or its verdict changed, the verdict does not
// count: the wait watches the Gateways until the controller writes again
// and decides anew. It returns the outcome and, when every Gateway was
// current, the Gateways as checked (for -o). A ListenerSet
// (opts.ListenerSet) is checked likewise (staleListenerSet), and returned.
func waitCurrent(ctx context.Context, cfg *rest.Config, opts readiness.Options) (*readiness.Outcome, []client.Object, error) {
	scheme, err := controller.Scheme()
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	start := time.Now()
	deadline := start.Add(opts.Timeout)
	warned := map[string]bool{}
	for {
		out, err := readiness.Run(ctx, cfg, opts)
		if err == nil && out.Restart {
			// The ListenerSet names another parent now: wait on that one.
			opts.Timeout = max(0, time.Until(deadline))
			continue
		}
		if err != nil || out.Phase == readiness.Waiting {
			return out, nil, err
		}
		if hook, ok := ctx.Value(verdictHookKey{}).(func()); ok {
			hook()
		}
		warn := func(msg string) {
			if !warned[msg] {
				warned[msg] = true
				fmt.Fprintln(opts.Out, readiness.Stamp(time.Since(start), "warning: "+msg))
			}
		}
		check := staleGateways
		if opts.ListenerSet != "" {
			check = staleListenerSet
		}
		list, stale, changes, err := check(ctx, cl, opts, out, warn)
		if err != nil {
			return nil, nil, err
		}
		if len(stale) == 0 {
			return out, list, nil
		}
		for _, g := range out.Gateways {
			if why, ok := stale[g.Key]; ok {
				fmt.Fprintln(opts.Out, readiness.Stamp(time.Since(start), g.Subject()+": "+why+"; waiting for the controller"))
			}
		}
		remaining := time.Until(deadline)
		if remaining > 0 {
			err = waitForChange(ctx, cl, changes, remaining)
		}
		if remaining <= 0 || err == context.DeadlineExceeded {
			return staleOutcome(out, stale, time.Since(start)), nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		opts.Timeout = time.Until(deadline)
		if opts.Timeout <= 0 {
			return staleOutcome(out, stale, time.Since(start)), nil, nil
		}
	}
}

// staleOutcome is the timeout outcome of Gateways whose status stayed older
// than their inputs.
func staleOutcome(out *readiness.Outcome, stale map[readiness.Key]string, elapsed time.Duration) *readiness.Outcome {
	res := &readiness.Outcome{Phase: readiness.Waiting, Elapsed: elapsed}
	for _, g := range out.Gateways {
		if why, ok := stale[g.Key]; ok {
			g.Verdict = readiness.Verdict{Phase: readiness.Waiting, Reason: ReasonStaleInputs, Message: why}
			res.NotReady = append(res.NotReady, g.Subject()+": "+g.Verdict.String())
		}
		res.Gateways = append(res.Gateways, g)
	}
	return res
}

// verdictHookKey is the context key of WithVerdictHook's hook.
type verdictHookKey struct{}

// WithVerdictHook returns a context under which berth wait (run with
// cobra's ExecuteContext) calls hook after each verdict that would end the
// wait and before checking it: tests make the controller write in that
// window, deterministically.
func WithVerdictHook(ctx context.Context, hook func()) context.Context {
	return context.WithValue(ctx, verdictHookKey{}, hook)
}

// changeWatch is what to watch, after a stale verdict, for the controller's
// next write: a list of a kind from the resource version it was read at.
type changeWatch struct {
	list client.ObjectList
	opts *client.ListOptions
}

// staleGateways reads the Gateways of out (one List, so rv orders them) and
// their live inputs, and returns the Gateways and, for each whose verdict
// changed since out or whose status was computed from older inputs, why,
// and the watch that sees the controller's next write.
func staleGateways(ctx context.Context, cl client.Client, opts readiness.Options, out *readiness.Outcome, warn func(string)) ([]client.Object, map[readiness.Key]string, []changeWatch, error) {
	var list gwv1.GatewayList
	if err := cl.List(ctx, &list, listOptions(opts)); err != nil {
		return nil, nil, nil, fmt.Errorf("list Gateways: %w", err)
	}
	byKey := map[readiness.Key]*gwv1.Gateway{}
	for i := range list.Items {
		byKey[readiness.Key{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}] = &list.Items[i]
	}
	objs, err := liveXDSObjects(ctx, cl, opts, warn)
	if err != nil {
		return nil, nil, nil, err
	}
	stale := map[readiness.Key]string{}
	var gws []client.Object
	for _, g := range out.Gateways {
		gw := byKey[g.Key]
		if gw == nil {
			if g.Phase == readiness.Ready {
				stale[g.Key] = "deleted since it was Programmed"
			}
			continue
		}
		state := gatewayState(gw)
		// The verdict must hold for the object whose inputs are compared.
		if why := readiness.Confirm(g.Verdict, state); why != "" {
			stale[g.Key] = why
			continue
		}
		live, err := liveInputs(ctx, cl, gw, objs, warn)
		if err != nil {
			return nil, nil, nil, err
		}
		if why := readiness.Current(state, live); why != "" {
			stale[g.Key] = why
		}
		gw.TypeMeta = metav1.TypeMeta{APIVersion: gwv1.GroupVersion.String(), Kind: "Gateway"}
		gws = append(gws, gw)
	}
	return gws, stale, []changeWatch{{&gwv1.GatewayList{}, fromVersion(listOptions(opts), list.ResourceVersion)}}, nil
}

// liveInputs are gw's inputs live now: its class and EnvoyProxies, read,
// and its routes, ListenerSets and policies, selected among objs (nil: not
// readable).
func liveInputs(ctx context.Context, cl client.Client, gw *gwv1.Gateway, objs readiness.Objects, warn func(string)) (readiness.Live, error) {
	in, err := liveGatewayInputs(ctx, cl, gw, warn)
	if err != nil {
		return readiness.Live{}, err
	}
	live := readiness.Live{Gateway: in}
	if objs != nil {
		x := readiness.SelectInputs(k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, objs)
		live.XDS = &x
	}
	return live, nil
}

// staleListenerSet is staleGateways for the ListenerSet out waited for: it
// reads the ListenerSet, then its parent Gateway, then the parent's live
// inputs, and returns the ListenerSet and, when its verdict changed since
// out or its status does not follow the current parent status and inputs
// (readiness.CurrentListenerSet), why; the watches see the next write to
// either.
func staleListenerSet(ctx context.Context, cl client.Client, opts readiness.Options, out *readiness.Outcome, warn func(string)) ([]client.Object, map[readiness.Key]string, []changeWatch, error) {
	key := readiness.Key{Namespace: opts.Namespace, Name: opts.ListenerSet}
	verdict := out.Gateways[0].Verdict
	stale := map[readiness.Key]string{}
	setWatch := changeWatch{&gwv1.ListenerSetList{}, &client.ListOptions{Namespace: key.Namespace, FieldSelector: fields.OneTermEqualSelector("metadata.name", key.Name)}}
	var ls gwv1.ListenerSet
	if err := cl.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: key.Name}, &ls); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, nil, nil, fmt.Errorf("get ListenerSet %s: %w", key, err)
		}
		if verdict.Phase == readiness.Ready {
			stale[key] = "deleted since it was Programmed"
		}
		return nil, stale, []changeWatch{setWatch}, nil
	}
	setWatch.opts = fromVersion(setWatch.opts, ls.ResourceVersion)
	set := listenerSetState(&ls)
	ls.TypeMeta = metav1.TypeMeta{APIVersion: gwv1.GroupVersion.String(), Kind: "ListenerSet"}
	if !set.HasParent {
		// Its parentRef names no Gateway: no parent to read.
		if why := readiness.ConfirmListenerSet(verdict, set, readiness.Gateway{}); why != "" {
			stale[key] = why
		}
		return []client.Object{&ls}, stale, []changeWatch{setWatch}, nil
	}
	var gw gwv1.Gateway
	parent := readiness.Gateway{Key: set.Parent}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: set.Parent.Namespace, Name: set.Parent.Name}, &gw); err == nil {
		parent = gatewayState(&gw)
	} else if !apierrors.IsNotFound(err) {
		return nil, nil, nil, fmt.Errorf("get Gateway %s: %w", set.Parent, err)
	}
	gwWatch := changeWatch{&gwv1.GatewayList{}, fromVersion(&client.ListOptions{Namespace: set.Parent.Namespace,
		FieldSelector: fields.OneTermEqualSelector("metadata.name", set.Parent.Name)}, gw.ResourceVersion)}
	watches := []changeWatch{setWatch, gwWatch}
	// The verdict must hold for the objects whose inputs are compared.
	if why := readiness.ConfirmListenerSet(verdict, set, parent); why != "" {
		stale[key] = why
		return []client.Object{&ls}, stale, watches, nil
	}
	if !parent.Found {
		return []client.Object{&ls}, stale, watches, nil
	}
	objs, err := liveXDSObjects(ctx, cl, readiness.Options{Namespace: gw.Namespace}, warn)
	if err != nil {
		return nil, nil, nil, err
	}
	live, err := liveInputs(ctx, cl, &gw, objs, warn)
	if err != nil {
		return nil, nil, nil, err
	}
	if why := readiness.CurrentListenerSet(set, parent, live); why != "" {
		stale[key] = why
	}
	return []client.Object{&ls}, stale, watches, nil
}

// fromVersion is lo watching from resource version rv ("" : from now).
func fromVersion(lo *client.ListOptions, rv string) *client.ListOptions {
	lo.Raw = &metav1.ListOptions{ResourceVersion: rv}
	return lo
}

func listOptions(opts readiness.Options) *client.ListOptions {
	lo := &client.ListOptions{}
	if !opts.AllNamespaces {
		lo.Namespace = opts.Namespace
	}
	if opts.Name != "" {
		lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", opts.Name)
	}
	return lo
}

// gatewayState is the readiness view of a typed Gateway.
func gatewayState(gw *gwv1.Gateway) readiness.Gateway {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gw)
	if err != nil {
		return readiness.Gateway{Key: readiness.Key{Namespace: gw.Namespace, Name: gw.Name}, Found: true, Generation: gw.Generation}
	}
	return readiness.GatewayFromUnstructured(&unstructured.Unstructured{Object: m})
}

// listenerSetState is the readiness view of a typed ListenerSet.
func listenerSetState(ls *gwv1.ListenerSet) readiness.ListenerSet {
	parent, ok := readiness.ListenerSetParent(ls)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ls)
	if err != nil {
		return readiness.ListenerSet{Gateway: readiness.Gateway{Key: readiness.Key{Namespace: ls.Namespace, Name: ls.Name}, Found: true, Generation: ls.Generation},
			Parent: parent, HasParent: ok}
	}
	return readiness.ListenerSetFromUnstructured(&unstructured.Unstructured{Object: m})
}

// liveXDSObjects lists the objects of every input kind (readiness.InputKinds:
// routes in every namespace, ClientTrafficPolicies in the wait's
// namespace); nil (with a warning) when one is not readable, and then
// route and policy changes are not checked. An optional kind whose CRD is
// not installed has no objects.
func liveXDSObjects(ctx context.Context, cl client.Client, opts readiness.Options, warn func(string)) (readiness.Objects, error) {
	ns := opts.Namespace
	if opts.AllNamespaces {
		ns = ""
	}
	objs, err := readiness.ListInputs(ctx, cl, readiness.InputKinds, ns, nil)
	if err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || isNoMatch(err) {
			warn(fmt.Sprintf("cannot read the routes and policies (%v): their changes made just before the wait are not checked", err))
			return nil, nil
		}
		return nil, err
	}
	return objs, nil
}

// liveGatewayInputs reads gw's class and EnvoyProxies; nil (with a warning)
// when not allowed.
func liveGatewayInputs(ctx context.Context, cl client.Client, gw *gwv1.Gateway, warn func(string)) (*readiness.Inputs, error) {
	forbidden := func(what string, err error) (*readiness.Inputs, error) {
		if apierrors.IsForbidden(err) || isNoMatch(err) {
			warn(fmt.Sprintf("cannot read %s (%v): class and EnvoyProxy changes made just before the wait are not checked", what, err))
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var class gwv1.GatewayClass
	if err := cl.Get(ctx, client.ObjectKey{Name: string(gw.Spec.GatewayClassName)}, &class); err != nil {
		if !apierrors.IsNotFound(err) {
			return forbidden("GatewayClass "+string(gw.Spec.GatewayClassName), err)
		}
		in := readiness.GatewayInputs(gw, nil, nil, nil)
		return &in, nil
	}
	var eps [2]*v1alpha1.EnvoyProxy
	if refs, err := render.ResolveParametersRefs(&class, gw); err == nil {
		for i, ref := range []*k8stypes.NamespacedName{refs.Class, refs.Gateway} {
			if ref == nil {
				continue
			}
			var ep v1alpha1.EnvoyProxy
			if err := cl.Get(ctx, *ref, &ep); err != nil {
				if !apierrors.IsNotFound(err) {
					return forbidden("EnvoyProxy "+ref.String(), err)
				}
				continue
			}
			eps[i] = &ep
		}
	}
	in := readiness.GatewayInputs(gw, &class, eps[0], eps[1])
	return &in, nil
}

// isNoMatch: the kind is not installed (no GRPCRoute CRD, no EnvoyProxy CRD).
func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// waitForChange returns when an object of one of watches changes after the
// resource version it was read at, or with context.DeadlineExceeded after d.
func waitForChange(parent context.Context, cl client.WithWatch, watches []changeWatch, d time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, d)
	defer cancel()
	changed := make(chan struct{}, len(watches))
	for _, cw := range watches {
		w, err := cl.Watch(ctx, cw.list, cw.opts)
		if err != nil {
			if parent.Err() != nil {
				return parent.Err()
			}
			if ctx.Err() != nil {
				return context.DeadlineExceeded
			}
			return fmt.Errorf("watch: %w", err)
		}
		defer w.Stop()
		go func() {
			select {
			case <-w.ResultChan():
				changed <- struct{}{}
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-changed:
		return nil
	case <-ctx.Done():
		if parent.Err() != nil {
			return parent.Err()
		}
		return context.DeadlineExceeded
	}
}
