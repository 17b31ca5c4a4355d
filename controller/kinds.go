package controller

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/xds/translate"
)

// Optional kinds: TCPRoute, TLSRoute, UDPRoute, BackendTLSPolicy,
// ClientTrafficPolicy and ListenerSet need CRDs a cluster may lack (older Gateway API
// bundles, Envoy Gateway's CRDs not installed, or a platform that does not
// want them). At set-up berth watches those the API server serves and logs
// the others as skipped; Gateways are served either way. Every
// KindDiscoveryInterval it looks the missing ones up again (API discovery,
// which every authenticated client may read: no RBAC beyond the kinds' own)
// and starts watching each that appeared: the xDS and Gateway controllers
// gain its watch (whose first list brings the objects that already exist
// to the Gateways they name, which are translated again), its leader-only
// status reconciler starts, it joins every translation, and every
// Gateway's status is reconciled again. A CRD deleted later is not
// unwatched: its informer retries until the CRD is back.

// optionalKind is one kind whose CRD may be missing.
type optionalKind struct {
	gk      schema.GroupKind
	version string
	// install starts watching the kind (once, when its CRD is served).
	install func() error
}

// installedKinds are the optional kinds being watched, read by every
// translation while discovery may add to them.
type installedKinds struct {
	mu sync.RWMutex
	// l4 are the installed optional route kinds (l4.go).
	l4            []*l4Kind
	backendTLS    atomic.Bool
	clientTraffic atomic.Bool
	listenerSets  atomic.Bool
	// served are the GroupKinds of every installed optional kind.
	served sync.Map // schema.GroupKind -> true
}

func (k *installedKinds) isServed(gk schema.GroupKind) bool {
	_, ok := k.served.Load(gk)
	return ok
}

func (k *installedKinds) routeKinds() []*l4Kind {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.l4
}

func (k *installedKinds) addRouteKind(l *l4Kind) {
	k.mu.Lock()
	defer k.mu.Unlock()
	// A new slice: readers hold the old one without the lock.
	k.l4 = append(k.l4[:len(k.l4):len(k.l4)], l)
}

// optionalKinds lists every optional kind with how to start watching it.
func (c *Controller) optionalKinds() []*optionalKind {
	var out []*optionalKind
	for _, k := range newL4Kinds() {
		out = append(out, &optionalKind{
			gk:      schema.GroupKind{Group: gwv1.GroupName, Kind: string(k.kind)},
			version: gwv1.GroupVersion.Version,
			install: func() error { return c.installL4Kind(k) },
		})
	}
	out = append(out,
		&optionalKind{gk: backendTLSPolicyKind, version: gwv1.GroupVersion.Version, install: c.installBackendTLS},
		&optionalKind{gk: clientTrafficPolicyKind, version: v1alpha1.GroupVersion.Version, install: c.installClientTraffic},
		&optionalKind{gk: schema.GroupKind{Group: gwv1.GroupName, Kind: string(translate.KindListenerSet)}, version: gwv1.GroupVersion.Version, install: c.installListenerSets},
	)
	for _, k := range out {
		k.install = c.alsoWatchInput(k.gk, k.install)
	}
	return out
}

// alsoWatchInput: after install, an input kind (readiness.InputKinds) is
// also watched by the Gateway status reconciler, so that its changes make
// its Gateways say Pending (inputs.go).
func (c *Controller) alsoWatchInput(gk schema.GroupKind, install func() error) func() error {
	return func() error {
		if err := install(); err != nil {
			return err
		}
		return c.watchInputKind(gk)
	}
}

// discoverKinds starts watching every kind of kinds the API server serves
// and returns the others (a failed look-up counts as missing: it is tried
// again). A kind whose watch cannot be added stays missing too.
func (c *Controller) discoverKinds(mapper meta.RESTMapper, kinds []*optionalKind) (installed []string, missing []*optionalKind) {
	for _, k := range kinds {
		if _, err := mapper.RESTMapping(k.gk, k.version); err != nil {
			if !meta.IsNoMatchError(err) {
				c.log.Info("looking up an optional kind failed; will retry", "kind", k.gk.String(), "version", k.version, "error", err.Error())
			}
			missing = append(missing, k)
			continue
		}
		if err := k.install(); err != nil {
			c.log.Error(err, "starting the watch of an optional kind failed; will retry", "kind", k.gk.String())
			missing = append(missing, k)
			continue
		}
		c.kinds.served.Store(k.gk, true)
		installed = append(installed, k.gk.Kind)
	}
	return installed, missing
}

// kindNames names kinds for a log line.
func kindNames(kinds []*optionalKind) string {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, k.gk.Kind)
	}
	return strings.Join(names, ",")
}

// kindDiscovery looks up the missing optional kinds every
// KindDiscoveryInterval until all are watched, on every replica (the xDS
// controller runs on each). A kind that appears is logged and every
// Gateway's status reconciled again.
type kindDiscovery struct {
	c       *Controller
	missing []*optionalKind
}

// NeedLeaderElection: every replica translates, so every replica watches.
func (d *kindDiscovery) NeedLeaderElection() bool { return false }

func (d *kindDiscovery) Start(ctx context.Context) error {
	if len(d.missing) == 0 {
		return nil
	}
	t := time.NewTicker(d.c.opts.KindDiscoveryInterval)
	defer t.Stop()
	for len(d.missing) > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var installed []string
		installed, d.missing = d.c.discoverKinds(d.c.mgr.GetRESTMapper(), d.missing)
		if len(installed) > 0 {
			d.c.log.Info("CRDs installed since start: now watching their kinds", "kinds", strings.Join(installed, ","), "stillMissing", kindNames(d.missing))
			d.c.enqueueAllGateways(ctx)
		}
	}
	return nil
}

// watchKind adds a watch of obj's kind to a running (or not yet started)
// controller.
func (c *Controller) watchKind(ctrl controller.Controller, obj client.Object, fn handler.MapFunc, preds ...predicate.Predicate) error {
	return ctrl.Watch(source.Kind[client.Object](c.mgr.GetCache(), obj, handler.EnqueueRequestsFromMapFunc(fn), preds...))
}
