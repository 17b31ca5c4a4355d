package loadbalancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options configure the allocator.
type Options struct {
	// Pool is the range addresses come from. Its network address (and an
	// IPv4 broadcast address) is never handed out.
	Pool netip.Prefix
	// RequestOnly is a range inside Pool whose addresses go only to
	// Services that request them (spec.loadBalancerIP), never to one that
	// asks for any address: as MetalLB pools with autoAssign: false, it
	// keeps static addresses (a Gateway's spec.addresses) free for those
	// who name them. The zero value reserves nothing.
	RequestOnly netip.Prefix
	// Namespace limits the allocator to one namespace; empty means all.
	Namespace string
	// Log receives assignments and releases; nil discards them.
	Log *zap.Logger
}

// DefaultPool is a loopback range: nothing on the machine answers there by
// accident, and nothing outside it can be reached through it.
var DefaultPool = netip.MustParsePrefix("127.240.0.0/16")

// DefaultRequestOnly is the part of DefaultPool handed out only on request.
var DefaultRequestOnly = netip.MustParsePrefix("127.240.255.0/24")

// DefaultOptions returns options for the whole cluster with DefaultPool
// and DefaultRequestOnly.
func DefaultOptions() Options { return Options{Pool: DefaultPool, RequestOnly: DefaultRequestOnly} }

// Run assigns addresses until ctx ends; see the package documentation.
func Run(ctx context.Context, client kubernetes.Interface, o Options) error {
	a, err := New(client, o)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Allocator is the controller. Create it with New; Run it once.
type Allocator struct {
	client kubernetes.Interface
	opts   Options
	log    *zap.Logger
	pool   *pool // touched by the single worker only (and by Run before it starts)
	queue  workqueue.TypedRateLimitingInterface[string]
	// starved are Services that found the pool exhausted; a release
	// requeues them at once instead of leaving them to the backoff.
	starved map[string]bool
}

// New checks o and returns an allocator.
func New(client kubernetes.Interface, o Options) (*Allocator, error) {
	if client == nil {
		return nil, errors.New("load-balancer allocator: nil client")
	}
	p, err := newPool(o.Pool, o.RequestOnly)
	if err != nil {
		return nil, fmt.Errorf("load-balancer allocator: %w", err)
	}
	log := o.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Allocator{client: client, opts: o, log: log, pool: p, starved: map[string]bool{}}, nil
}

// Run watches Services and assigns addresses until ctx ends. It returns
// once the worker has stopped, so a new allocator can take over without
// two writing at once.
func (a *Allocator) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(a.client, 0, informers.WithNamespace(a.opts.Namespace))
	services := factory.Core().V1().Services()
	informer := services.Informer()
	lister := services.Lister()

	if a.queue != nil {
		return errors.New("load-balancer allocator: Run called twice")
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "loadbalancer"})
	a.queue = queue
	defer queue.ShutDown()
	enqueue := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil {
			queue.Add(key)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("load-balancer allocator: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return fmt.Errorf("load-balancer allocator: Service cache not synced: %w", context.Cause(ctx))
	}
	if err := a.adopt(lister); err != nil {
		return err
	}
	a.log.Info("load-balancer allocator started", zap.Stringer("pool", a.opts.Pool), zap.Stringer("requestOnly", a.opts.RequestOnly), zap.String("namespace", a.opts.Namespace))

	done := make(chan struct{})
	go func() {
		defer close(done)
		for a.next(ctx, queue, lister) {
		}
	}()
	<-ctx.Done()
	queue.ShutDown()
	<-done
	return nil
}

// adopt takes over the addresses already in the status of eligible
// Services, before anything is allocated, so a restart changes nothing.
// Services are visited oldest first: when two claim one address (edited by
// hand), the older keeps it and the newer gets a fresh one.
func (a *Allocator) adopt(lister listersv1.ServiceLister) error {
	all, err := lister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("load-balancer allocator: listing Services: %w", err)
	}
	sortOldestFirst(all)
	for _, svc := range all {
		if !eligible(svc) {
			continue
		}
		if addr, ok := statusAddress(svc); ok && a.pool.claim(key(svc), addr) {
			a.log.Debug("kept address", zap.String("service", key(svc)), zap.Stringer("address", addr))
		}
	}
	return nil
}

func (a *Allocator) next(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], lister listersv1.ServiceLister) bool {
	k, shutdown := queue.Get()
	if shutdown {
		return false
	}
	defer queue.Done(k)
	if err := a.sync(ctx, k, lister); err != nil {
		if ctx.Err() == nil {
			a.log.Info("retrying", zap.String("service", k), zap.Error(err))
			queue.AddRateLimited(k)
		}
		return true
	}
	queue.Forget(k)
	return true
}

// sync brings one Service's address in line.
func (a *Allocator) sync(ctx context.Context, k string, lister listersv1.ServiceLister) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil // not a key of ours; retrying will not help
	}
	svc, err := lister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		a.releaseKey(k, "deleted")
		return nil
	}
	if err != nil {
		return err
	}
	if !eligible(svc) {
		// The apiserver clears status.loadBalancer when the type changes,
		// so releasing is all there is to do; a Service with a class is
		// someone else's, its status untouched.
		a.releaseKey(k, "no longer an unclassed LoadBalancer Service")
		return nil
	}
	if req := svc.Spec.LoadBalancerIP; req != "" {
		return a.syncRequested(ctx, svc, k, req)
	}
	want, held := a.pool.lookup(k)
	if !held {
		if cur, ok := statusAddress(svc); ok && a.pool.claim(k, cur) {
			want = cur // assigned before, e.g. by an earlier run
		} else if want, err = a.pool.allocate(k); err != nil {
			a.starved[k] = true
			return err
		}
	}
	delete(a.starved, k)
	if hasOnly(svc, want) {
		return nil
	}
	return a.writeStatus(ctx, svc, want)
}

// syncRequested gives a Service the address its spec.loadBalancerIP asks
// for when that address is in the pool and free. Otherwise, as a cloud
// load balancer does, the Service gets no address (any it had is
// released and its status cleared) until the address is freed or the
// request changes.
func (a *Allocator) syncRequested(ctx context.Context, svc *corev1.Service, k, req string) error {
	addr, err := netip.ParseAddr(req)
	if err == nil && a.pool.claim(k, addr) {
		delete(a.starved, k)
		if hasOnly(svc, addr) {
			return nil
		}
		return a.writeStatus(ctx, svc, addr)
	}
	a.releaseKey(k, "requested address "+req+" is not available")
	a.starved[k] = true // a release may free the requested address
	a.log.Info("requested address not available", zap.String("service", k), zap.String("address", req), zap.Stringer("pool", a.opts.Pool))
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		return nil
	}
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer.Ingress = nil
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.client.CoreV1().Services(svc.Namespace).UpdateStatus(wctx, upd, metav1.UpdateOptions{FieldManager: "berth-loadbalancer"}); err != nil {
		return fmt.Errorf("update status of Service %s: %w", k, err)
	}
	return nil
}

func (a *Allocator) releaseKey(k, why string) {
	delete(a.starved, k)
	addr, ok := a.pool.release(k)
	if !ok {
		return
	}
	a.log.Info("released address", zap.String("service", k), zap.Stringer("address", addr), zap.String("reason", why))
	for s := range a.starved {
		a.queue.Add(s)
	}
}

func (a *Allocator) writeStatus(ctx context.Context, svc *corev1.Service, addr netip.Addr) error {
	upd := svc.DeepCopy()
	vip := corev1.LoadBalancerIPModeVIP
	upd.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: addr.String(), IPMode: &vip}}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.client.CoreV1().Services(svc.Namespace).UpdateStatus(wctx, upd, metav1.UpdateOptions{FieldManager: "berth-loadbalancer"}); err != nil {
		// A conflict or a deletion: the informer brings the new state
		// and the retry works from it.
		return fmt.Errorf("update status of Service %s: %w", key(svc), err)
	}
	a.log.Info("assigned address", zap.String("service", key(svc)), zap.Stringer("address", addr))
	return nil
}

// eligible: type LoadBalancer and no loadBalancerClass (a class names
// another implementation; tests set one to get a Service without address).
func eligible(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

// statusAddress is the first ingress IP of svc's status.
func statusAddress(svc *corev1.Service) (netip.Addr, bool) {
	ing := svc.Status.LoadBalancer.Ingress
	if len(ing) == 0 {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(ing[0].IP)
	return addr, err == nil
}

// hasOnly: svc's status shows exactly addr, as the allocator writes it.
func hasOnly(svc *corev1.Service, addr netip.Addr) bool {
	ing := svc.Status.LoadBalancer.Ingress
	return len(ing) == 1 && ing[0].IP == addr.String() && ing[0].Hostname == "" &&
		ing[0].IPMode != nil && *ing[0].IPMode == corev1.LoadBalancerIPModeVIP
}

func key(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

func sortOldestFirst(svcs []*corev1.Service) {
	slices.SortFunc(svcs, func(x, y *corev1.Service) int {
		if c := x.CreationTimestamp.Time.Compare(y.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(key(x), key(y))
	})
}
