package apply

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/inventory"
	"sigs.k8s.io/cli-utils/pkg/object"
)

// Engine applies inventory-tracked object sets. Build one per process with New and
// share it: every Run and Destroy uses the same clients, REST mapper and watches.
// Runs on different inventories proceed concurrently; runs on the same inventory are
// serialized.
type Engine struct {
	opts      Options
	log       logr.Logger
	policy    inventory.Policy
	writeOpts string // the options that change what a write does, for setDigest

	c         *clients
	factory   *factory
	invClient inventory.Client
	hub       *hub
	cancel    context.CancelFunc

	locksMu sync.Mutex
	locks   map[InventoryKey]*keyLock
	// unsettled holds inventories whose last full run did not end clean. Their next
	// Run skips the no-op check: the watches may not have seen that run's writes yet.
	unsettled map[InventoryKey]bool
	// proven holds, per inventory, the resourceVersion of its ConfigMap as
	// this process last wrote it (the digests of a clean run) or read it
	// for a no-op: while the watched copy is at that version, a Run's no-op
	// check reads the inventory from the watch instead of the apiserver.
	// Any other writer moves the version (and its watch event wakes the
	// subscribers), so the next Run reads the apiserver again.
	proven map[InventoryKey]string
}

type keyLock struct {
	mu sync.Mutex
	n  int
}

// New builds the engine: shared HTTP client and rate limiter, one memory-cached
// discovery client and deferred REST mapper, cli-utils' inventory client (through
// one kubectl Factory over those), and the shared watches. It makes no API request;
// discovery and watches start on first use. Close stops the watches.
func New(cfg *rest.Config, opts Options) (*Engine, error) {
	if cfg == nil {
		return nil, fmt.Errorf("apply: nil rest config")
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("apply options: %w", err)
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	policy, _ := opts.InventoryPolicy.cliUtils()
	cfg = rest.CopyConfig(cfg)
	if opts.QPS > 0 {
		cfg.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		cfg.Burst = opts.Burst
	}
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		// One limiter for every client the engine builds, so the limit is per process.
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apply: http client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("apply: dynamic client: %w", err)
	}
	// The built-in kinds' watches decode protobuf into typed objects (cheaper
	// than JSON into maps: a bundle's watch events are mostly status updates).
	pcfg := rest.CopyConfig(cfg)
	pcfg.ContentType = runtime.ContentTypeProtobuf
	pcfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	typed, err := kubernetes.NewForConfigAndClient(pcfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("apply: typed client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("apply: discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(disco)
	mapper := newMemoMapper(restmapper.NewDeferredDiscoveryRESTMapper(cached))
	c := &clients{
		config:       cfg,
		httpClient:   httpClient,
		dynamic:      dyn,
		discovery:    cached,
		mapper:       mapper,
		unstructured: map[schema.GroupVersion]resource.RESTClient{},
	}
	f := newFactory(c)
	invClient, err := inventory.ClusterClientFactory{StatusPolicy: inventory.StatusPolicyNone}.NewClient(f)
	if err != nil {
		return nil, fmt.Errorf("apply: inventory client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		opts:      opts,
		log:       opts.Logger,
		policy:    policy,
		writeOpts: fmt.Sprintf("manager=%s force=%t policy=%s", opts.FieldManager, opts.ForceConflicts, opts.InventoryPolicy),
		c:         c,
		factory:   f,
		invClient: invClient,
		cancel:    cancel,
		locks:     map[InventoryKey]*keyLock{},
		unsettled: map[InventoryKey]bool{},
		proven:    map[InventoryKey]string{},
	}
	e.hub = newHub(ctx, opts.Logger, dyn, typed, mapper, mapper.Reset, opts)
	return e, nil
}

// Close stops the shared watches. Runs in flight may fail; the engine must not be
// used afterwards.
func (e *Engine) Close() { e.cancel() }

// Subscribe calls fn with an inventory's key whenever the watched state of the
// inventory or of one of its objects changes (an object becoming Available, being
// deleted, the inventory changing). Calls come from one goroutine, coalesced, in no
// promised order; fn must not block for long. The returned func unsubscribes.
func (e *Engine) Subscribe(fn func(InventoryKey)) (cancel func()) { return e.hub.subscribe(fn) }

// Changes returns inventory key's change mark: it moves past every earlier
// mark of any inventory whenever a change that Subscribe reports for key is
// stored (before the subscribers are called), and stays while nothing
// changes. Status and Settled called after Changes see every change up to
// the mark, so a subscriber call for key whose mark is not past one a
// reader took before reading has nothing that reader did not see. ok is
// false when no mark is kept (no change since the engine started, or the
// inventory is gone): treat it as a change.
func (e *Engine) Changes(key InventoryKey) (mark uint64, ok bool) { return e.hub.changeMark(key) }

// WaitSettled waits until Settled(inv) (the watches show what the last
// clean run wrote, the inventory's digests included), at most timeout or
// until ctx ends, and reports Settled. It makes no request: it looks again
// at each change of the inventory or its objects.
func (e *Engine) WaitSettled(ctx context.Context, inv Inventory, timeout time.Duration) bool {
	e.locksMu.Lock()
	_, proven := e.proven[inv.Key()]
	e.locksMu.Unlock()
	if timeout <= 0 || !proven || e.isUnsettled(inv.Key()) {
		// Nothing to wait for: no clean run to show.
		return e.Settled(inv)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		next := e.hub.nextChange(inv.Key())
		if e.Settled(inv) {
			e.hub.dropWaiter(inv.Key(), next)
			return true
		}
		select {
		case <-next:
		case <-t.C:
			e.hub.dropWaiter(inv.Key(), next)
			return e.Settled(inv)
		case <-ctx.Done():
			e.hub.dropWaiter(inv.Key(), next)
			return false
		}
	}
}

// Status aggregates the kstatus of an inventory's objects from the shared watches,
// without API requests.
func (e *Engine) Status(key InventoryKey) AggregateStatus { return e.hub.status(key) }

// HasSynced reports whether the inventory watch has completed its first list, so
// Status knows every inventory that existed at start.
func (e *Engine) HasSynced() bool { return e.hub.hasSynced() }

// WaitWatched starts the shared watches for the kinds of objs, as Run does for
// the objects it applies, and waits until each has completed its first list.
// It fails naming the kinds that cannot be watched. A caller that measures what
// a Run costs warms the engine with it first, so the count is the Run's own.
func (e *Engine) WaitWatched(ctx context.Context, objs []*unstructured.Unstructured) error {
	failed, err := e.hub.waitKinds(ctx, object.UnstructuredSetToObjMetadataSet(objs))
	if err != nil {
		return err
	}
	var msgs []string
	for gk, err := range failed {
		msgs = append(msgs, fmt.Sprintf("watch %s: %v", gk, err))
	}
	sort.Strings(msgs)
	if len(msgs) > 0 {
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

// Inventories lists the inventories this engine manages (ConfigMaps carrying the
// managed label and cli-utils' inventory-id label), sorted, with their recorded
// objects, so a caller can sweep inventories whose owner no longer exists.
func (e *Engine) Inventories(ctx context.Context) ([]InventoryInfo, error) {
	selector := e.opts.ManagedLabelKey + "=" + e.opts.ManagedLabelValue + "," + common.InventoryLabel
	var out []InventoryInfo
	for _, ns := range e.hub.scopes(true) {
		list, err := e.c.dynamic.Resource(configMapGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, fmt.Errorf("list inventories: %w", err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			labels := maps.Clone(u.GetLabels())
			id := labels[common.InventoryLabel]
			delete(labels, common.InventoryLabel)
			delete(labels, e.opts.ManagedLabelKey)
			info := InventoryInfo{Inventory: Inventory{Namespace: u.GetNamespace(), Name: u.GetName(), ID: id, Labels: labels}}
			for _, oid := range inventoryIDs(u, e.log) {
				info.Objects = append(info.Objects, refFromID(oid))
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key().String() < out[j].Key().String() })
	return out, nil
}

// lock serializes runs on one inventory.
func (e *Engine) lock(k InventoryKey) (unlock func()) {
	e.locksMu.Lock()
	l := e.locks[k]
	if l == nil {
		l = &keyLock{}
		e.locks[k] = l
	}
	l.n++
	e.locksMu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		e.locksMu.Lock()
		l.n--
		if l.n == 0 {
			delete(e.locks, k)
		}
		e.locksMu.Unlock()
	}
}

// setUnsettled marks or clears an inventory whose last full run did not end clean.
func (e *Engine) setUnsettled(k InventoryKey, v bool) {
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	if v {
		e.unsettled[k] = true
		delete(e.proven, k)
	} else {
		delete(e.unsettled, k)
	}
}

func (e *Engine) isUnsettled(k InventoryKey) bool {
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	return e.unsettled[k]
}

// setProven records the resourceVersion at which inventory k was last
// written or proven by this process ("" forgets it).
func (e *Engine) setProven(k InventoryKey, resourceVersion string) {
	e.locksMu.Lock()
	defer e.locksMu.Unlock()
	if resourceVersion == "" {
		delete(e.proven, k)
	} else {
		e.proven[k] = resourceVersion
	}
}

// watchedInventory returns the watched copy of inv's ConfigMap when it is
// at the version this process last wrote or proved (setProven), so it holds
// what the apiserver would return; ok is false otherwise.
func (e *Engine) watchedInventory(inv Inventory) (*unstructured.Unstructured, bool) {
	e.locksMu.Lock()
	rv, known := e.proven[inv.Key()]
	e.locksMu.Unlock()
	if !known {
		return nil, false
	}
	u, ok := e.hub.lookup(object.ObjMetadata{GroupKind: configMapKind, Namespace: inv.Namespace, Name: inv.Name})
	if !ok || u == nil || u.GetResourceVersion() != rv || u.GetLabels()[common.InventoryLabel] != inv.ID {
		return nil, false
	}
	return u, true
}

// inventoryTemplate is the ConfigMap cli-utils creates for inv.
func (e *Engine) inventoryTemplate(inv Inventory) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(inv.Namespace)
	u.SetName(inv.Name)
	labels := maps.Clone(inv.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[common.InventoryLabel] = inv.ID
	labels[e.opts.ManagedLabelKey] = e.opts.ManagedLabelValue
	u.SetLabels(labels)
	return u
}

// readKeyFor maps an object to the key its pre-apply read was recorded under.
func readKeyFor(mapper meta.RESTMapper, ref ObjectRef) (readKey, bool) {
	m, err := mapper.RESTMapping(ref.id().GroupKind)
	if err != nil {
		return readKey{}, false
	}
	return readKey{gr: m.Resource.GroupResource(), namespace: ref.Namespace, name: ref.Name}, true
}
