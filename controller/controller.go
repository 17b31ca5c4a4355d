package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/selection"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/auth"
	"github.com/berth-gateway/berth/xds/certs"
)

// Controller is berth's reconciler and xDS server in one process.
type Controller struct {
	opts   Options
	log    logr.Logger
	mgr    manager.Manager
	client client.Client
	// gatewayStatus writes Gateway status without decoding the response
	// (writeStatus).
	gatewayStatus rest.Interface
	engine        *apply.Engine
	xds           *xds.Server
	certs         *certs.Manager
	store         *store
	recorder      recorder.EventRecorder
	metrics       *metrics
	rolls         *rolls
	nsSel         labels.Selector // nil: every namespace

	gwQueue, routeQueue, grpcRouteQueue queueRef
	// policyQueue wakes the BackendTLSPolicy status reconciler
	// (backendtls.go); ctpQueue the ClientTrafficPolicy one
	// (clienttraffic.go).
	policyQueue, ctpQueue queueRef
	// kinds are the optional kinds whose CRDs are installed (kinds.go).
	kinds installedKinds
	// xdsCtrl and gwCtrl are the xDS and Gateway controllers, which gain
	// the watches of optional kinds as their CRDs appear.
	xdsCtrl, gwCtrl controller.Controller
	// lsQueue wakes the ListenerSet status reconciler (listenerset.go).
	lsQueue queueRef
	// wirings are how the controller reads each readiness.InputKinds kind
	// (inputs.go).
	wirings map[schema.GroupKind]inputWiring

	// invGateways maps inventories to their Gateway, for apply's Subscribe.
	invGateways sync.Map // apply.InventoryKey -> k8stypes.NamespacedName
	// wakes drops Subscribe calls a reconcile of the Gateway already saw.
	wakes *wakes
	// conditions remembers each Gateway's Accepted/Programmed for the gauge.
	conditions *conditionGauge
	// inputs remembers the inputs each Gateway's last status was computed
	// from, to name what changed in the Pending it writes first.
	inputs sync.Map // k8stypes.NamespacedName -> recordedInputs
	// statusWrites remembers each Gateway's last status write while it
	// matters (statusWrite).
	statusWrites sync.Map // k8stypes.NamespacedName -> statusWrite
	// applied remembers each Gateway's last clean apply (appliedBundle): a
	// reconcile with the same inputs and a Settled bundle renders and
	// applies nothing.
	applied sync.Map // k8stypes.NamespacedName -> appliedBundle
	// collisions remembers, per Gateway, the Gateways whose bundles name
	// one of its objects (noteCollisions).
	collisions sync.Map // k8stypes.NamespacedName -> map[k8stypes.NamespacedName]bool
}

// statusWrite is what this process last wrote to a Gateway: the
// resourceVersions its writes (finalizer, status) replaced (a cached
// Gateway still at one of them has not seen the writes, and writing from it
// would conflict) and when the status was written (a Pending message is
// not rewritten within pendingMessageWindow).
type statusWrite struct {
	replaced []string
	at       time.Time
}

// pendingMessageWindow is how long a Programmed=False message may lag
// behind what the Gateway waits for (the inventory, then a bundle object,
// then the Service) before it is rewritten; a change of status or reason is
// written at once. A Deployment's own progress changes no message
// (blockingMessage).
const pendingMessageWindow = 2 * time.Second

// hold runs Options.HoldReconcile.
func (c *Controller) hold(ctx context.Context, controller string, key k8stypes.NamespacedName) {
	if c.opts.HoldReconcile != nil {
		c.opts.HoldReconcile(ctx, controller, key)
	}
}

// Scheme is the scheme the controller's client uses.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New builds a Controller: manager, caches, apply engine, xDS server and
// certificate manager. Nothing runs until Run.
func New(cfg *rest.Config, opts Options) (*Controller, error) {
	if cfg == nil {
		return nil, errors.New("controller: nil rest config")
	}
	if err := opts.complete(); err != nil {
		return nil, fmt.Errorf("controller options: %w", err)
	}
	c := &Controller{opts: opts, log: opts.Logger, store: newStore(), conditions: newConditionGauge(), wakes: newWakes()}
	var err error
	if c.rolls, err = newRolls(opts); err != nil {
		return nil, fmt.Errorf("controller options: %w", err)
	}
	if opts.WatchNamespaceSelector != "" {
		c.nsSel, _ = labels.Parse(opts.WatchNamespaceSelector)
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	cfg = restConfig(cfg, opts)
	// Every client below (manager, caches, apply engine, certificates,
	// xDS authentication) is built from cfg and counts its requests.
	c.metrics = sharedMetrics()
	c.metrics.countRequests(cfg)
	ms := metricsserver.Options{BindAddress: opts.MetricsBindAddress}
	if opts.Profiling {
		ms.ExtraHandlers = profilingHandlers()
	}

	cacheOpts, err := cacheOptions(opts)
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                        scheme,
		Logger:                        opts.Logger,
		Cache:                         cacheOpts,
		Metrics:                       ms,
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       opts.Namespace,
		LeaderElectionReleaseOnCancel: true,
		// Tests and `make demo` run several controllers in one process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("controller manager: %w", err)
	}
	c.mgr, c.client = mgr, mgr.GetClient()
	c.gatewayStatus, err = gatewayStatusClient(mgr.GetConfig(), mgr.GetHTTPClient(), scheme)
	if err != nil {
		return nil, fmt.Errorf("gateway client: %w", err)
	}
	c.recorder = mgr.GetEventRecorder("berth-controller")

	if c.engine, err = apply.New(cfg, opts.Apply); err != nil {
		return nil, fmt.Errorf("apply engine: %w", err)
	}
	// While the caches sync: the first new Gateway's apply needs it.
	go apply.WarmUp()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	copts := opts.Certs
	copts.OnCABundleChange = func([]byte) { go c.enqueueAllGateways(context.Background()) }
	if c.certs, err = certs.New(cs.CoreV1(), copts); err != nil {
		return nil, fmt.Errorf("xds certificates: %w", err)
	}
	xopts := opts.XDS
	if xopts.Metrics == nil {
		xopts.Metrics = sharedXDSMetrics()
	}
	if xopts.Auth.Verifier == nil {
		// Forged tokens are refused against the issuer's keys, without a
		// TokenReview.
		xopts.Auth.Verifier = auth.NewIssuerVerifier(auth.NewKubernetesFetcher(cs.Discovery().RESTClient()),
			auth.IssuerVerifierOptions{Metrics: xopts.Metrics.Auth})
	}
	if c.xds, err = xds.New(auth.NewKubernetesReviewer(cs.AuthenticationV1()), c.certs, xopts); err != nil {
		return nil, fmt.Errorf("xds server: %w", err)
	}
	if err := c.setup(); err != nil {
		return nil, err
	}
	return c, nil
}

// restConfig is the config every client of the controller is built from: a
// copy of cfg with the options' rate limits and compression.
func restConfig(cfg *rest.Config, opts Options) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	cfg.DisableCompression = !opts.APICompression
	return cfg
}

// XDS is the controller's xDS server (tests connect probe proxies to it).
func (c *Controller) XDS() *xds.Server { return c.xds }

// Run starts everything and blocks until ctx ends: the xDS server and
// certificate manager on every replica; apply, status and garbage collection
// on the leader.
func (c *Controller) Run(ctx context.Context) error {
	defer c.engine.Close()
	// Bundles carry the CA, so nothing renders before it is loaded.
	if err := c.certs.Ensure(ctx); err != nil {
		return fmt.Errorf("xds certificates: %w", err)
	}
	cancel := c.engine.Subscribe(func(k apply.InventoryKey) {
		if gw, ok := c.invGateways.Load(k); ok {
			key := gw.(k8stypes.NamespacedName)
			if mark, ok := c.engine.Changes(k); c.wakes.wake(key, mark, ok) {
				c.gwQueue.addUrgent(key)
			}
		}
	})
	defer cancel()
	return c.mgr.Start(ctx)
}

func (c *Controller) setup() error {
	mgr := c.mgr
	for _, r := range []manager.Runnable{c.certs, c.xds} {
		if err := mgr.Add(r); err != nil {
			return err
		}
	}
	if err := mgr.Add(manager.RunnableFunc(c.sweepLoop)); err != nil {
		return err
	}
	if err := c.watchProxyPods(); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("cache", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	for _, o := range []client.Object{&gwv1.HTTPRoute{}, &gwv1.GRPCRoute{}} {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), o, routeParentIndex, parentGatewayKeys); err != nil {
			return fmt.Errorf("index routes by parent: %w", err)
		}
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &gwv1.ReferenceGrant{}, grantFromIndex, grantFromNamespaces); err != nil {
		return fmt.Errorf("index ReferenceGrants by the namespaces they permit references from: %w", err)
	}
	watchNamespaces := len(c.opts.WatchNamespaces) == 0 || c.nsSel != nil
	c.wirings = c.inputWirings()
	if err := c.checkWirings(); err != nil {
		return err
	}

	// xDS: every replica translates and publishes.
	b := builder.ControllerManagedBy(mgr).Named("gateway-xds").
		// Translation reads the spec only (a deletion bumps a custom
		// resource's generation too), not the status berth writes.
		For(&gwv1.Gateway{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&gwv1.GatewayClass{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfClass)).
		Watches(&gwv1.HTTPRoute{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfRoute)).
		Watches(&gwv1.GRPCRoute{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfRoute)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(c.dependents(depService))).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfSlice)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(c.dependents(depSecret))).
		Watches(&gwv1.ReferenceGrant{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfGrant)).
		// Access logs come from the EnvoyProxy (spec.telemetry).
		Watches(&v1alpha1.EnvoyProxy{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfProxy), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// CA ConfigMaps of BackendTLSPolicies and spec.tls.frontend.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(c.dependents(depConfigMap))).
		WithOptions(controller.Options{MaxConcurrentReconciles: c.opts.Workers, NeedLeaderElection: ptr.To(false)})
	if watchNamespaces {
		b = b.Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfNamespace))
	}
	var err error
	if c.xdsCtrl, err = b.Build(reconcile.Func(c.reconcileXDS)); err != nil {
		return fmt.Errorf("gateway-xds controller: %w", err)
	}

	// Gateways: apply, status, finalizer (leader).
	b = builder.ControllerManagedBy(mgr).Named("gateway").
		For(&gwv1.Gateway{}, builder.WithPredicates(notOwnStatus())).
		// A resync (an update with the same resourceVersion) of a class or
		// an EnvoyProxy would reconcile every Gateway using it once more
		// per resync on top of the Gateway's own resync; each no-op
		// reconcile costs an inventory read.
		Watches(&gwv1.GatewayClass{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfClass), builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		Watches(&v1alpha1.EnvoyProxy{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysOfProxy), builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		// apply's Subscribe wakes the Gateway when a bundle object's kstatus
		// changes; a load balancer assigning an address changes no kstatus
		// (a LoadBalancer Service is Current once it has a clusterIP), so the
		// bundle's Service is watched for that here (from the cache the
		// translation already keeps).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(bundleGateway), builder.WithPredicates(loadBalancerChanged())).
		// A Gateway being deleted keeps its claims (ClaimsBeside) until it
		// is gone: its removal wakes the Gateways beside it, one of which
		// may have been refused an object it named.
		Watches(&gwv1.Gateway{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysBeside), builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return false },
			UpdateFunc:  func(event.UpdateEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		WatchesRawSource(c.gwQueue.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: c.opts.Workers})
	b = c.watchInputs(b)
	if c.nsSel != nil {
		b = b.Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(c.gatewaysInNamespace))
	}
	if c.gwCtrl, err = b.Build(reconcile.Func(c.reconcileGateway)); err != nil {
		return fmt.Errorf("gateway controller: %w", err)
	}

	if err := builder.ControllerManagedBy(mgr).Named("gatewayclass").
		For(&gwv1.GatewayClass{}).
		Watches(&v1alpha1.EnvoyProxy{}, handler.EnqueueRequestsFromMapFunc(c.classesOfProxy)).
		Complete(reconcile.Func(c.reconcileClass)); err != nil {
		return fmt.Errorf("gatewayclass controller: %w", err)
	}
	if err := builder.ControllerManagedBy(mgr).Named("httproute").
		For(&gwv1.HTTPRoute{}).
		WatchesRawSource(c.routeQueue.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(reconcile.Func(c.reconcileHTTPRoute)); err != nil {
		return fmt.Errorf("httproute controller: %w", err)
	}
	if err := builder.ControllerManagedBy(mgr).Named("grpcroute").
		For(&gwv1.GRPCRoute{}).
		WatchesRawSource(c.grpcRouteQueue.source()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(reconcile.Func(c.reconcileGRPCRoute)); err != nil {
		return fmt.Errorf("grpcroute controller: %w", err)
	}
	// Optional kinds (kinds.go): those served now are watched from the
	// start, the others once their CRDs appear.
	_, missing := c.discoverKinds(mgr.GetRESTMapper(), c.optionalKinds())
	if len(missing) > 0 {
		c.log.Info("kinds not installed in the cluster (no CRD): not watched until their CRDs appear, Gateways still served",
			"skipped", kindNames(missing), "recheckEvery", c.opts.KindDiscoveryInterval.String())
	}
	return mgr.Add(&kindDiscovery{c: c, missing: missing})
}

// queueRef lets one controller enqueue work for another that may not run
// (yet): on a replica that is not the leader the leader-only controllers
// never start, and what they would do is redone when they do start (they
// list everything then).
type queueRef struct {
	mu sync.RWMutex
	q  workqueue.TypedRateLimitingInterface[reconcile.Request]
}

func (r *queueRef) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		r.mu.Lock()
		r.q = q
		r.mu.Unlock()
		return nil
	})
}

func (r *queueRef) add(keys ...k8stypes.NamespacedName) { r.addAt(nil, keys...) }

// readinessPriority puts readiness changes (a bundle object's kstatus) ahead
// of spec changes in the queue: such a reconcile is a no-op apply and a
// status write, while a burst of spec changes (an EnvoyProxy shared by many
// Gateways) re-applies every bundle; Programmed=True must not wait for them.
const readinessPriority = 10

// addUrgent enqueues keys ahead of ordinary work.
func (r *queueRef) addUrgent(keys ...k8stypes.NamespacedName) {
	r.addAt(ptr.To(readinessPriority), keys...)
}

// addAt enqueues keys at priority (nil: the default) when the queue has
// priorities (controller-runtime's default queue does), else plainly.
func (r *queueRef) addAt(priority *int, keys ...k8stypes.NamespacedName) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.q == nil {
		return
	}
	pq, ok := r.q.(priorityqueue.PriorityQueue[reconcile.Request])
	for _, k := range keys {
		req := reconcile.Request{NamespacedName: k}
		if ok && priority != nil {
			pq.AddWithOpts(priorityqueue.AddOpts{Priority: priority}, req)
		} else {
			r.q.Add(req)
		}
	}
}

// enqueueAllGateways re-reconciles every Gateway (the CA bundle changed).
func (c *Controller) enqueueAllGateways(ctx context.Context) {
	var list gwv1.GatewayList
	if err := c.client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		c.log.Error(err, "listing Gateways")
		return
	}
	for i := range list.Items {
		c.gwQueue.add(client.ObjectKeyFromObject(&list.Items[i]))
	}
}

// inScope reports whether berth serves namespace ns (--watch-namespace-selector).
func (c *Controller) inScope(ctx context.Context, ns string) bool {
	if c.nsSel == nil {
		return true
	}
	var n corev1.Namespace
	if err := c.client.Get(ctx, k8stypes.NamespacedName{Name: ns}, &n); err != nil {
		return false
	}
	return c.nsSel.Matches(labels.Set(n.Labels))
}

// classOf returns gw's GatewayClass when berth serves it (nil otherwise).
func (c *Controller) classOf(ctx context.Context, gw *gwv1.Gateway) *gwv1.GatewayClass {
	var class gwv1.GatewayClass
	if err := c.client.Get(ctx, k8stypes.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &class); err != nil {
		return nil
	}
	if string(class.Spec.ControllerName) != c.opts.ControllerName {
		return nil
	}
	return &class
}

func gwController(name string) gwv1.GatewayController { return gwv1.GatewayController(name) }

// requeueAfter is the retry delay of a Gateway whose apply failed in a way a
// watch will not announce (e.g. the namespace is terminating).
const requeueAfter = 10 * time.Second

// conflictRequeueAfter is the retry delay of a Gateway whose status write
// found the cached copy stale (a conflict, retried quietly).
const conflictRequeueAfter = 200 * time.Millisecond

// cacheOptions are the controller cache's: managedFields dropped
// everywhere, the kinds every Gateway multiplies stripped to what berth
// reads of them, and berth's own ConfigMaps (bootstrap and inventory, two
// per Gateway: apply watches them) left out, as translation reads only CA
// ConfigMaps from it.
// gatewayStatusClient is the REST client writeStatus uses: JSON (the
// Gateway API kinds are custom resources), the manager's config and HTTP
// client (so its requests are counted like every other).
func gatewayStatusClient(cfg *rest.Config, hc *http.Client, scheme *runtime.Scheme) (rest.Interface, error) {
	return apiutil.RESTClientForGVK(gwv1.SchemeGroupVersion.WithKind("Gateway"), true, false, cfg, serializer.NewCodecFactory(scheme), hc)
}

func cacheOptions(opts Options) (cache.Options, error) {
	notOwned, err := labels.NewRequirement(opts.Apply.ManagedLabelKey, selection.NotEquals, []string{opts.Apply.ManagedLabelValue})
	if err != nil {
		return cache.Options{}, fmt.Errorf("managed label: %w", err)
	}
	cacheOpts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		SyncPeriod:       &opts.ResyncPeriod,
		// Pods: berth's own proxies only, and only what revocation needs.
		ByObject: map[client.Object]cache.ByObject{proxyPodMeta(): {
			Label:     proxyPodSelector,
			Transform: stripPod,
		}, &corev1.ConfigMap{}: {
			Label:     labels.NewSelector().Add(*notOwned),
			Transform: stripConfigMap,
		}, &corev1.Service{}: {
			Transform: stripService,
		}, &discoveryv1.EndpointSlice{}: {
			Transform: stripEndpointSlice,
		}},
	}
	if len(opts.WatchNamespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range opts.WatchNamespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return cacheOpts, nil
}
