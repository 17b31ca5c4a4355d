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
// current, the Gateways as checked (for -o).
func waitCurrent(ctx context.Context, cfg *rest.Config, opts readiness.Options) (*readiness.Outcome, []gwv1.Gateway, error) {
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
		if err != nil || out.Phase == readiness.Waiting {
			return out, nil, err
		}
		if hook, ok := ctx.Value(verdictHookKey{}).(func()); ok {
			hook()
		}
		list, stale, rv, err := staleGateways(ctx, cl, opts, out, func(msg string) {
			if !warned[msg] {
				warned[msg] = true
				fmt.Fprintln(opts.Out, readiness.Stamp(time.Since(start), "warning: "+msg))
			}
		})
		if err != nil {
			return nil, nil, err
		}
		if len(stale) == 0 {
			return out, list, nil
		}
		for k, why := range stale {
			fmt.Fprintln(opts.Out, readiness.Stamp(time.Since(start), "Gateway "+k.String()+": "+why+"; waiting for the controller"))
		}
		remaining := time.Until(deadline)
		if remaining > 0 {
			err = waitForChange(ctx, cl, opts, rv, remaining)
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
			res.NotReady = append(res.NotReady, "Gateway "+g.Key.String()+": "+g.Verdict.String())
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

// staleGateways reads the Gateways of out (one List, so rv orders them) and
// their live inputs, and returns the Gateways and, for each whose verdict
// changed since out or whose status was computed from older inputs, why.
func staleGateways(ctx context.Context, cl client.Client, opts readiness.Options, out *readiness.Outcome, warn func(string)) ([]gwv1.Gateway, map[readiness.Key]string, string, error) {
	var list gwv1.GatewayList
	if err := cl.List(ctx, &list, listOptions(opts)); err != nil {
		return nil, nil, "", fmt.Errorf("list Gateways: %w", err)
	}
	byKey := map[readiness.Key]*gwv1.Gateway{}
	for i := range list.Items {
		byKey[readiness.Key{Namespace: list.Items[i].Namespace, Name: list.Items[i].Name}] = &list.Items[i]
	}
	objs, err := liveXDSObjects(ctx, cl, opts, warn)
	if err != nil {
		return nil, nil, "", err
	}
	stale := map[readiness.Key]string{}
	var gws []gwv1.Gateway
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
		in, err := liveGatewayInputs(ctx, cl, gw, warn)
		if err != nil {
			return nil, nil, "", err
		}
		live := readiness.Live{Gateway: in}
		if objs != nil {
			x := readiness.SelectInputs(k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, objs)
			live.XDS = &x
		}
		if why := readiness.Current(state, live); why != "" {
			stale[g.Key] = why
		}
		gw.TypeMeta = metav1.TypeMeta{APIVersion: gwv1.GroupVersion.String(), Kind: "Gateway"}
		gws = append(gws, *gw)
	}
	return gws, stale, list.ResourceVersion, nil
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

// waitForChange returns when a Gateway in scope changes after resource
// version rv, or with context.DeadlineExceeded after d.
func waitForChange(parent context.Context, cl client.WithWatch, opts readiness.Options, rv string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, d)
	defer cancel()
	lo := listOptions(opts)
	lo.Raw = &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: false}
	w, err := cl.Watch(ctx, &gwv1.GatewayList{}, lo)
	if err != nil {
		if parent.Err() != nil {
			return parent.Err()
		}
		if ctx.Err() != nil {
			return context.DeadlineExceeded
		}
		return fmt.Errorf("watch Gateways: %w", err)
	}
	defer w.Stop()
	select {
	case <-w.ResultChan():
		return nil
	case <-ctx.Done():
		if parent.Err() != nil {
			return parent.Err()
		}
		return context.DeadlineExceeded
	}
}
