package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/certs"
	"github.com/berth-gateway/berth/xds/translate"
)

func newDiffCmd() *cobra.Command {
	var (
		in             inputFlags
		kube           kubeFlags
		all            bool
		allNamespaces  bool
		controllerName string
		output         string
		flags          renderFlags
	)
	cmd := &cobra.Command{
		Use:   "diff gateway/NAME [-n NS] | diff gateway NAME | diff --all [-n NS | -A] | diff -f FILE|DIR|- [-R]",
		Short: "Show what the controller would change in the cluster for Gateways (server-side dry run)",
		Long: `Diff shows, against the live cluster, what berth's controller would change
for each Gateway: the objects of its bundle it would create, those it would
change (with the field paths), those it would prune (recorded in the
Gateway's inventory but no longer in its bundle), and whether the Gateway's
address would change (its Service renamed, pruned, of another type or with
other ports), so that a pipeline sees a disruptive change before applying it.

The Gateway, its GatewayClass and EnvoyProxies are read from the cluster by
name (or every Gateway of the namespace with --all, of every namespace with
-A); with -f they come from the files (the proposed state; a class or
EnvoyProxy not in the files is read from the cluster, objects without a
namespace take -n's). Only Gateways whose class has --controller-name are
diffed. Each bundle is rendered as the controller renders it (give diff the
controller's flags when they differ from the defaults) and server-side
applied with dry run (DryRun=All) under the controller's field manager
("berth", forcing conflicts as the controller does); the result is compared
with the live objects ignoring managedFields, resourceVersion, generation,
uid, creationTimestamp and status. The bundle's ca.crt is --ca-file, else
the xDS certificate Secret's (berth-xds-tls in --controller-namespace), else
the live ConfigMap's.

Output: a summary per Gateway (default), or -o yaml|json with every object
and its field changes.

Exit status (as kubectl diff):
  0  nothing would change;
  1  something would change;
  3  the diff could not be computed: a bad flag or argument, an unreadable
     file, no cluster or no permission, a Gateway the controller would refuse
     to render, a dry run the apiserver refused. Never 1, so a pipeline can
     tell "differences" from "failed".

A Gateway's bundle gets the ports of the ListenerSets its translation
accepts, as the controller's: diff reads the ListenerSets naming it (with
-f, the files' in place of the cluster's), the Namespaces, and the Secrets
and ReferenceGrants of their listeners' certificates.

It needs get/list on gateways, gatewayclasses, envoyproxies and the bundle's
kinds, list on configmaps (inventories), listenersets and referencegrants,
get on namespaces and the listeners' certificate secrets, and patch on the
bundle's kinds (dry runs write nothing).`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutput(output, outputDefault, outputYAML, outputJSON)
			if err != nil {
				return err
			}
			fromFiles := len(in.files) > 0
			name := ""
			switch {
			case fromFiles && (len(args) > 0 || all || allNamespaces):
				return usageErrorf("with -f, the Gateways are those of the files: give no gateway/NAME, --all or -A")
			case !fromFiles:
				if name, err = parseGatewayTarget(args, all || allNamespaces); err != nil {
					return usageError(err)
				}
			}
			opts, err := flags.options()
			if err != nil {
				return err
			}
			cfg, namespace, err := kube.config(allNamespaces)
			if err != nil {
				return err
			}
			var set *manifest.Set
			if fromFiles {
				if set, err = in.read(cmd.InOrStdin(), cmd.ErrOrStderr(), "diff", renderReads...); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			d, err := newDiffer(cfg, controllerName, opts, flags.caFile != "", cmd.ErrOrStderr())
			if err != nil {
				return usageError(err)
			}
			defer d.close()
			gws, err := d.gateways(ctx, set, namespace, name, allNamespaces)
			if err != nil {
				return usageError(err)
			}
			var (
				diffs []gatewayDiff
				errs  []error
			)
			for _, gw := range gws {
				gd, err := d.diff(ctx, gw)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if gd != nil {
					for _, w := range gd.Warnings {
						fmt.Fprintf(cmd.ErrOrStderr(), "warning: Gateway %s: %s\n", gd.Gateway, w)
					}
					diffs = append(diffs, *gd)
				}
			}
			if err := printDiffs(cmd.OutOrStdout(), format, diffs); err != nil {
				return usageError(err)
			}
			if err := errors.Join(errs...); err != nil {
				return usageError(err)
			}
			changed := 0
			for _, gd := range diffs {
				if gd.Changed {
					changed++
				}
			}
			if changed > 0 {
				return &exitError{code: ExitFailed, err: fmt.Errorf("%d of %d Gateways would change", changed, len(diffs))}
			}
			return nil
		},
	}
	in.bind(cmd.Flags())
	kube.bind(cmd.Flags(), "namespace of the Gateway, and of objects in -f files without one (default: the kubeconfig context's)")
	cmd.Flags().BoolVar(&all, "all", false, "diff every Gateway in the namespace")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "diff every Gateway in every namespace (implies --all)")
	bindOutput(cmd, &output, outputDefault, "yaml or json: every Gateway's objects and field changes (default: a summary)", outputYAML, outputJSON)
	cmd.Flags().StringVar(&controllerName, "controller-name", render.DefaultControllerName, "GatewayClass controllerName berth serves")
	flags.bind(cmd.Flags())
	return cmd
}

// gatewayDiff is what the controller would change for one Gateway (-o
// yaml|json prints a list of them under "gateways").
type gatewayDiff struct {
	Gateway   string `json:"gateway"`
	Inventory string `json:"inventory"`
	// Changed: a run would write or delete something.
	Changed bool `json:"changed"`
	// InventoryExists is false before the Gateway's first apply.
	InventoryExists bool          `json:"inventoryExists"`
	Objects         []objectDiff  `json:"objects"`
	Address         addressChange `json:"address"`
	Warnings        []string      `json:"warnings,omitempty"`
}

type objectDiff struct {
	// Action: created, configured, unchanged, pruned or skipped.
	Action    apply.Action  `json:"action"`
	Kind      string        `json:"kind"`
	Group     string        `json:"group,omitempty"`
	Namespace string        `json:"namespace,omitempty"`
	Name      string        `json:"name"`
	Changes   []fieldChange `json:"changes,omitempty"`
	// Reason says why an object is skipped.
	Reason string `json:"reason,omitempty"`
}

type fieldChange struct {
	Path    string `json:"path"`
	Live    any    `json:"live"`
	Planned any    `json:"planned"`
}

// addressChange says whether the Gateway's address (its Service) would
// change: Changes only when a Service exists now and would be pruned,
// renamed, change type, load balancer class or IP, or ports.
type addressChange struct {
	Changes bool            `json:"changes"`
	Reasons []string        `json:"reasons,omitempty"`
	Live    *serviceAddress `json:"live,omitempty"`
	Planned *serviceAddress `json:"planned,omitempty"`
}

// serviceAddress is what of a Service decides the address clients use.
type serviceAddress struct {
	Namespace         string   `json:"namespace"`
	Name              string   `json:"name"`
	Type              string   `json:"type"`
	LoadBalancerClass string   `json:"loadBalancerClass,omitempty"`
	LoadBalancerIP    string   `json:"loadBalancerIP,omitempty"`
	Ports             []string `json:"ports"`
}

// differ holds the clients of one berth diff.
type differ struct {
	cl             client.Client
	engine         *apply.Engine
	controllerName string
	opts           render.Options
	caGiven        bool
	warn           io.Writer
}

func newDiffer(cfg *rest.Config, controllerName string, opts render.Options, caGiven bool, warn io.Writer) (*differ, error) {
	scheme, err := controller.Scheme()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	// The controller's apply options: the same field manager, force and
	// inventory policy, so the dry run is the controller's apply.
	eng, err := apply.New(cfg, controller.DefaultOptions().Apply)
	if err != nil {
		return nil, err
	}
	return &differ{cl: cl, engine: eng, controllerName: controllerName, opts: opts, caGiven: caGiven, warn: warn}, nil
}

func (d *differ) close() { d.engine.Close() }

// gateways returns the Gateways to diff: those of set (namespace filled from
// ns), or the one named, or every one of ns (all namespaces).
func (d *differ) gateways(ctx context.Context, set *manifest.Set, ns, name string, allNamespaces bool) ([]*gwv1.Gateway, error) {
	if set != nil {
		for _, gw := range set.Gateways {
			if gw.Namespace == "" {
				gw.Namespace = ns
			}
			// The bundle's owner references carry the Gateway's UID, which
			// a file does not: take the live Gateway's.
			if gw.UID == "" {
				var live gwv1.Gateway
				err := d.cl.Get(ctx, k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, &live)
				if err != nil && !apierrors.IsNotFound(err) {
					return nil, fmt.Errorf("read Gateway %s/%s: %w", gw.Namespace, gw.Name, err)
				}
				gw.UID = live.UID
			}
		}
		for _, ep := range set.EnvoyProxies {
			if ep.Namespace == "" {
				ep.Namespace = ns
			}
		}
		d.cl = overlay{Client: d.cl, set: set}
		if len(set.Gateways) == 0 {
			fmt.Fprintln(d.warn, "warning: no Gateway in the input")
		}
		return set.Gateways, nil
	}
	if name != "" {
		var gw gwv1.Gateway
		if err := d.cl.Get(ctx, k8stypes.NamespacedName{Namespace: ns, Name: name}, &gw); err != nil {
			return nil, fmt.Errorf("read Gateway %s/%s: %w", ns, name, err)
		}
		return []*gwv1.Gateway{&gw}, nil
	}
	var list gwv1.GatewayList
	var opts []client.ListOption
	if !allNamespaces {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := d.cl.List(ctx, &list, opts...); err != nil {
		return nil, fmt.Errorf("list Gateways: %w", err)
	}
	out := make([]*gwv1.Gateway, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, nil
}

// diff renders gw as the controller does and plans the apply; nil when gw's
// class is not berth's.
func (d *differ) diff(ctx context.Context, gw *gwv1.Gateway) (*gatewayDiff, error) {
	key := k8stypes.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
	var class gwv1.GatewayClass
	if err := d.cl.Get(ctx, k8stypes.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &class); err != nil {
		return nil, fmt.Errorf("Gateway %s: read GatewayClass %s: %w", key, gw.Spec.GatewayClassName, err)
	}
	if string(class.Spec.ControllerName) != d.controllerName {
		fmt.Fprintf(d.warn, "warning: Gateway %s: skipped: its GatewayClass %s has controllerName %q, not %q\n", key, class.Name, class.Spec.ControllerName, d.controllerName)
		return nil, nil
	}
	in, err := controller.RenderInput(ctx, d.cl, &class, gw)
	if err != nil {
		return nil, fmt.Errorf("Gateway %s: %w", key, err)
	}
	if in.Others, err = controller.ClaimsBeside(ctx, d.cl, d.controllerName, gw); err != nil {
		return nil, fmt.Errorf("Gateway %s: %w", key, err)
	}
	if in.ListenerSets, err = d.acceptedListenerSets(ctx, &class, gw); err != nil {
		return nil, fmt.Errorf("Gateway %s: %w", key, err)
	}
	opts := d.opts
	bundle, err := render.Render(in, opts)
	if err != nil {
		return nil, fmt.Errorf("Gateway %s: %w", key, err)
	}
	if !d.caGiven {
		ca, err := d.caBundle(ctx, bundle)
		if err != nil {
			return nil, fmt.Errorf("Gateway %s: %w", key, err)
		}
		if ca != nil {
			opts.CABundle = ca
			if bundle, err = render.Render(in, opts); err != nil {
				return nil, fmt.Errorf("Gateway %s: %w", key, err)
			}
		}
	}
	objs, err := bundle.Unstructured()
	if err != nil {
		return nil, fmt.Errorf("Gateway %s: %w", key, err)
	}
	controller.StampTemplateHash(objs) // as the controller applies it
	plan, err := d.engine.Plan(ctx, controller.InventoryOf(key), objs)
	if err != nil {
		return nil, fmt.Errorf("Gateway %s: %w", key, err)
	}
	return diffOf(key.String(), plan, bundle.Warnings), nil
}

// acceptedListenerSets are the ListenerSets gw's translation accepts
// (translate.AcceptedListenerSets, the controller's and berth render's
// rule): their ports join the bundle's. It translates gw with what that
// decision reads: the ListenerSets naming it (the -f set's in place of
// the cluster's), the ReferenceGrants, and, through the controller's
// translation Lookup (controller.ReaderLookup), the Namespaces
// (allowedListeners) and the Secrets of their listeners' certificates.
// None when the ListenerSet kind is not installed.
func (d *differ) acceptedListenerSets(ctx context.Context, class *gwv1.GatewayClass, gw *gwv1.Gateway) ([]*gwv1.ListenerSet, error) {
	var list gwv1.ListenerSetList
	if err := d.cl.List(ctx, &list); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list ListenerSets: %w", err)
	}
	in := translate.Input{GatewayClasses: []*gwv1.GatewayClass{class}, Gateways: []*gwv1.Gateway{gw}}
	for i := range list.Items {
		in.ListenerSets = append(in.ListenerSets, &list.Items[i])
	}
	if o, ok := d.cl.(overlay); ok {
		in.ListenerSets = o.listenerSets(in.ListenerSets)
	}
	var sets []*gwv1.ListenerSet
	for _, s := range in.ListenerSets {
		if parent, ok := translate.ListenerSetParent(s); ok && parent == client.ObjectKeyFromObject(gw) {
			sets = append(sets, s)
		}
	}
	if len(sets) == 0 {
		return nil, nil
	}
	in.ListenerSets = sets
	// Secrets and Namespaces are read by key as translation asks for them,
	// through the Lookup the controller translates with; ReferenceGrants
	// are listed, as the controller does.
	lk, lookupErr := controller.ReaderLookup(ctx, d.cl)
	in.Lookup = lk
	var grants gwv1.ReferenceGrantList
	if err := d.cl.List(ctx, &grants); err != nil {
		return nil, fmt.Errorf("list ReferenceGrants: %w", err)
	}
	for i := range grants.Items {
		in.ReferenceGrants = append(in.ReferenceGrants, &grants.Items[i])
	}
	to := translate.DefaultOptions() // as berth render translates
	to.ControllerName = gwv1.GatewayController(d.controllerName)
	to.PrivilegedPortOffset = d.opts.PrivilegedPortOffset
	results := translate.Translate(in, to)
	if err := lookupErr(); err != nil {
		return nil, fmt.Errorf("read for translation: %w", err)
	}
	for _, r := range results {
		if r.Gateway.Namespace == gw.Namespace && r.Gateway.Name == gw.Name {
			return translate.AcceptedListenerSets(r.ListenerSets, sets), nil
		}
	}
	return nil, nil
}

// diffOf is the printed form of Gateway gateway's plan.
func diffOf(gateway string, plan *apply.Plan, warnings []string) *gatewayDiff {
	gd := &gatewayDiff{
		Gateway:         gateway,
		Inventory:       plan.Inventory.String(),
		Changed:         plan.Changed(),
		InventoryExists: plan.InventoryExists,
		Objects:         []objectDiff{},
		Address:         addressOf(plan),
		Warnings:        warnings,
	}
	for _, o := range plan.Objects {
		od := objectDiff{Action: o.Action, Kind: o.Ref.Kind, Group: o.Ref.Group, Namespace: o.Ref.Namespace, Name: o.Ref.Name}
		for _, c := range o.Changes {
			od.Changes = append(od.Changes, fieldChange(c))
		}
		if o.Err != nil {
			od.Reason = o.Err.Error()
		}
		gd.Objects = append(gd.Objects, od)
	}
	return gd
}

// caBundle is the CA the controller would put into ca.crt: the xDS
// certificate Secret's, else the live bundle ConfigMap's (nil: neither
// readable, the rendered ca.crt stays empty and shows as a change).
func (d *differ) caBundle(ctx context.Context, bundle *render.Bundle) ([]byte, error) {
	var secret corev1.Secret
	err := d.cl.Get(ctx, k8stypes.NamespacedName{Namespace: d.opts.ControllerNamespace, Name: certs.DefaultSecretName}, &secret)
	if err == nil && len(secret.Data[certs.KeyCACert]) > 0 {
		return secret.Data[certs.KeyCACert], nil
	}
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("read Secret %s/%s: %w", d.opts.ControllerNamespace, certs.DefaultSecretName, err)
	}
	for _, obj := range bundle.Objects {
		if _, ok := obj.(*corev1.ConfigMap); !ok {
			continue
		}
		var cm corev1.ConfigMap
		err := d.cl.Get(ctx, k8stypes.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, &cm)
		if err == nil && cm.Data[render.ConfigKeyCA] != "" {
			return []byte(cm.Data[render.ConfigKeyCA]), nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
		}
	}
	fmt.Fprintf(d.warn, "warning: no CA bundle readable (Secret %s/%s or the live ConfigMap) and no --ca-file: ca.crt shows as changed\n", d.opts.ControllerNamespace, certs.DefaultSecretName)
	return nil, nil
}

// addressOf compares the Service a run leaves with the one there now.
func addressOf(p *apply.Plan) addressChange {
	var a addressChange
	for _, o := range p.Objects {
		if o.Ref.Group != "" || o.Ref.Kind != "Service" {
			continue
		}
		if o.Live != nil && o.Action != apply.ActionSkipped {
			a.Live = serviceAddressOf(o.Live)
		}
		if o.Planned != nil {
			a.Planned = serviceAddressOf(o.Planned)
		}
	}
	if a.Live == nil {
		return a
	}
	l, n := a.Live, a.Planned
	switch {
	case n == nil:
		a.Reasons = append(a.Reasons, fmt.Sprintf("Service %s/%s is pruned and none replaces it", l.Namespace, l.Name))
	default:
		if l.Name != n.Name {
			a.Reasons = append(a.Reasons, fmt.Sprintf("Service %s/%s is replaced by %s/%s", l.Namespace, l.Name, n.Namespace, n.Name))
		}
		for _, f := range []struct{ what, live, planned string }{
			{"type", l.Type, n.Type},
			{"loadBalancerClass", l.LoadBalancerClass, n.LoadBalancerClass},
			{"loadBalancerIP", l.LoadBalancerIP, n.LoadBalancerIP},
			{"ports", strings.Join(l.Ports, ","), strings.Join(n.Ports, ",")},
		} {
			if f.live != f.planned {
				a.Reasons = append(a.Reasons, fmt.Sprintf("%s %s → %s", f.what, orNone(f.live), orNone(f.planned)))
			}
		}
	}
	a.Changes = len(a.Reasons) > 0
	return a
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func serviceAddressOf(u *unstructured.Unstructured) *serviceAddress {
	s := &serviceAddress{Namespace: u.GetNamespace(), Name: u.GetName(), Ports: []string{}}
	s.Type, _, _ = unstructured.NestedString(u.Object, "spec", "type")
	if s.Type == "" {
		s.Type = string(corev1.ServiceTypeClusterIP)
	}
	s.LoadBalancerClass, _, _ = unstructured.NestedString(u.Object, "spec", "loadBalancerClass")
	s.LoadBalancerIP, _, _ = unstructured.NestedString(u.Object, "spec", "loadBalancerIP")
	ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
	for _, p := range ports {
		m, _ := p.(map[string]any)
		proto, _ := m["protocol"].(string)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		s.Ports = append(s.Ports, fmt.Sprintf("%v/%s", m["port"], proto))
	}
	slices.Sort(s.Ports)
	return s
}

// printDiffs writes the diffs: a summary, or -o yaml|json.
func printDiffs(w io.Writer, o output, diffs []gatewayDiff) error {
	if diffs == nil {
		diffs = []gatewayDiff{}
	}
	doc := map[string]any{"gateways": diffs}
	switch o {
	case outputJSON:
		data, err := json.MarshalIndent(doc, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	case outputYAML:
		data, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	var b strings.Builder
	for _, gd := range diffs {
		n := 0
		for _, od := range gd.Objects {
			if od.Action != apply.ActionUnchanged {
				n++
			}
		}
		fmt.Fprintf(&b, "Gateway %s (inventory %s): ", gd.Gateway, gd.Inventory)
		switch {
		case !gd.Changed:
			b.WriteString("no changes\n") // objects it would skip still listed below
		case !gd.InventoryExists:
			fmt.Fprintf(&b, "first apply, %d objects\n", n)
		default:
			fmt.Fprintf(&b, "%d of %d objects change\n", n, len(gd.Objects))
		}
		for _, od := range gd.Objects {
			ref := apply.ObjectRef{Group: od.Group, Kind: od.Kind, Namespace: od.Namespace, Name: od.Name}
			switch od.Action {
			case apply.ActionCreated:
				fmt.Fprintf(&b, "  + %s (create)\n", ref)
			case apply.ActionPruned:
				fmt.Fprintf(&b, "  - %s (prune)\n", ref)
			case apply.ActionSkipped:
				fmt.Fprintf(&b, "  ! %s (skip: %s)\n", ref, od.Reason)
			case apply.ActionConfigured:
				fmt.Fprintf(&b, "  ~ %s (change)\n", ref)
				for _, c := range od.Changes {
					fmt.Fprintf(&b, "      %s: %s → %s\n", c.Path, compactJSON(c.Live), compactJSON(c.Planned))
				}
			}
		}
		if gd.Address.Changes {
			fmt.Fprintf(&b, "  address changes: %s\n", strings.Join(gd.Address.Reasons, "; "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// compactJSON shows a value in one line, "(absent)" for nil.
func compactJSON(v any) string {
	if v == nil {
		return "(absent)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// overlay answers reads of the GatewayClasses and EnvoyProxies a -f input
// holds from the input, and lists Gateways with the input's in place of the
// live ones of the same name; everything else comes from the cluster.
type overlay struct {
	client.Client
	set *manifest.Set
}

func (o overlay) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch t := obj.(type) {
	case *gwv1.GatewayClass:
		for _, c := range o.set.GatewayClasses {
			if c.Name == key.Name {
				c.DeepCopyInto(t)
				return nil
			}
		}
	case *v1alpha1.EnvoyProxy:
		for _, ep := range o.set.EnvoyProxies {
			if ep.Namespace == key.Namespace && ep.Name == key.Name {
				ep.DeepCopyInto(t)
				return nil
			}
		}
	}
	return o.Client.Get(ctx, key, obj, opts...)
}

// listenerSets are live with the set's ListenerSets in place of the live
// ones of the same name, and added.
func (o overlay) listenerSets(live []*gwv1.ListenerSet) []*gwv1.ListenerSet {
	proposed := map[k8stypes.NamespacedName]bool{}
	for _, s := range o.set.ListenerSets {
		proposed[client.ObjectKeyFromObject(s)] = true
	}
	var out []*gwv1.ListenerSet
	for _, s := range live {
		if !proposed[client.ObjectKeyFromObject(s)] {
			out = append(out, s)
		}
	}
	return append(out, o.set.ListenerSets...)
}

func (o overlay) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := o.Client.List(ctx, list, opts...); err != nil {
		return err
	}
	gws, ok := list.(*gwv1.GatewayList)
	if !ok {
		return nil
	}
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	proposed := map[k8stypes.NamespacedName]bool{}
	var items []gwv1.Gateway
	for _, gw := range o.set.Gateways {
		if lo.Namespace == "" || gw.Namespace == lo.Namespace {
			proposed[client.ObjectKeyFromObject(gw)] = true
			items = append(items, *gw.DeepCopy())
		}
	}
	for _, gw := range gws.Items {
		if !proposed[client.ObjectKeyFromObject(&gw)] {
			items = append(items, gw)
		}
	}
	gws.Items = items
	return nil
}
