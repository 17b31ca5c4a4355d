package apply

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/cli-utils/pkg/common"
	pollevent "sigs.k8s.io/cli-utils/pkg/kstatus/polling/event"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/cli-utils/pkg/kstatus/watcher"
	"sigs.k8s.io/cli-utils/pkg/object"

	"github.com/berth-gateway/berth/internal/kindwatch"
)

// Annotations the engine writes. All in one place.
const (
	// annotationSetDigest on the inventory ConfigMap: setDigest of the last set
	// applied without failures.
	annotationSetDigest = "apply.berth-gateway.io/set-digest"
	// annotationOwnedDigest on the inventory ConfigMap: combined ownedDigest of that
	// set's objects right after that apply.
	annotationOwnedDigest = "apply.berth-gateway.io/owned-digest"
	// cachedOwnedDigest exists only on the engine's in-memory watched copies, which
	// drop managedFields to save memory: the ownedDigest computed before dropping them.
	cachedOwnedDigest = "apply.berth-gateway.io/cached-owned-digest"
)

var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// hub is the engine's view of the shared watches (kindwatch: one informer per kind
// per watched namespace, selecting the managed label; inventories come from the
// ConfigMap kind's watch). It serves object status to cli-utils runs (as a
// watcher.StatusWatcher, so runs start no informers), answers Status, and tells
// subscribers when an inventory's objects change.
type hub struct {
	ctx     context.Context
	log     logr.Logger
	manager string
	watches *kindwatch.Set
	memo    digestMemo // transformTyped's owned digests by object

	mu   sync.RWMutex
	invs map[InventoryKey]object.ObjMetadataSet
	// owners are the inventories holding each object: almost always
	// one (a slice, not a set: a map per object cost ten times as much).
	owners   map[object.ObjMetadata][]InventoryKey
	statuses map[*statusWatch]struct{}
	subs     map[uint64]func(InventoryKey)
	nextSub  uint64

	notifyMu sync.Mutex
	pending  map[InventoryKey]struct{}
	notifyCh chan struct{}
	// changes is each inventory's change mark (Engine.Changes): the value
	// of lastMark when a change of it was last stored; waiters are the
	// channels of WaitSettled calls, closed on the inventory's next change.
	lastMark uint64
	changes  map[InventoryKey]uint64
	waiters  map[InventoryKey][]chan struct{}
}

var _ watcher.StatusWatcher = (*hub)(nil)

var configMapKind = schema.GroupKind{Kind: "ConfigMap"}

func newHub(ctx context.Context, log logr.Logger, dyn dynamic.Interface, typed kubernetes.Interface, mapper meta.RESTMapper, resetter func(), opts Options) *hub {
	h := &hub{
		ctx:      ctx,
		log:      log,
		manager:  opts.FieldManager,
		invs:     map[InventoryKey]object.ObjMetadataSet{},
		owners:   map[object.ObjMetadata][]InventoryKey{},
		statuses: map[*statusWatch]struct{}{},
		subs:     map[uint64]func(InventoryKey){},
		pending:  map[InventoryKey]struct{}{},
		notifyCh: make(chan struct{}, 1),
		changes:  map[InventoryKey]uint64{},
		waiters:  map[InventoryKey][]chan struct{}{},
	}
	h.watches = kindwatch.New(ctx, dyn, mapper, kindwatch.Options{
		Namespaces:     opts.Namespaces,
		LabelSelector:  opts.ManagedLabelKey + "=" + opts.ManagedLabelValue,
		Transform:      h.transform,
		Typed:          typed,
		TransformTyped: h.transformTyped,
		TypedInformer:  bundleInformer,
		OnEvent:        h.onEvent,
		OnReady:        h.onKindReady,
		OnError: func(e *kindwatch.Error) {
			log.Info("cannot watch kind", "kind", e.Kind.String(), "error", e.Err.Error())
		},
		ResetMapper: resetter,
		RetryFailed: true,
	})
	go h.dispatch()
	h.ensureKind(configMapKind) // the inventories' watch
	return h
}

// scopes returns the namespaces to run informers in ("" = all).
func (h *hub) scopes(namespaced bool) []string { return h.watches.Scopes(namespaced) }

// transform keeps, on watched copies, the one fact the engine needs from their
// managedFields (which kindwatch then drops), and drops what no reader of a
// watched copy needs (stripUnread).
func (h *hub) transform(u *unstructured.Unstructured) {
	if isWatchedCopy(u) {
		// client-go's streaming list (WatchList) transforms each listed
		// object in its temporary store and again when it hands them to
		// the informer (typed ones come back as watched copies): a second
		// pass would take the digest of a copy without managedFields, ""
		// — and no bundle listed at the informer's start (every bundle
		// after a restart) would ever be Settled or a no-op again.
		return
	}
	setCachedDigest(u, cachedDigests(u, h.manager))
	stripUnread(u)
}

// isWatchedCopy reports whether u is already a watched copy (transform's
// or transformTyped's output): it carries the cached digest and no
// managedFields, which the apiserver always returns on an object berth
// applied.
func isWatchedCopy(u *unstructured.Unstructured) bool {
	if _, ok := u.GetAnnotations()[cachedOwnedDigest]; !ok {
		return false
	}
	_, found, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "managedFields")
	return !found
}

// setCachedDigest annotates a watched copy with its owned-fields digest.
func setCachedDigest(u *unstructured.Unstructured, digest string) {
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[cachedOwnedDigest] = digest
	u.SetAnnotations(ann)
}

// workloadKinds are the kinds whose pod template kstatus never reads.
var workloadKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "apps", Kind: "DaemonSet"}:   true,
	{Group: "apps", Kind: "ReplicaSet"}:  true,
	{Group: "batch", Kind: "Job"}:        true,
}

// serviceSpecRead are the Service spec fields read from watched copies:
// kstatus reads type and clusterIP, callers a bundle's addresses (type,
// clusterIP, clusterIPs; status.loadBalancer is kept with the status).
var serviceSpecRead = []string{"type", "clusterIP", "clusterIPs"}

// deploymentSpecRead are the Deployment spec fields read from watched copies:
// kstatus reads replicas and progressDeadlineSeconds, the roll budget replicas
// (a paused Deployment is kept visible).
var deploymentSpecRead = []string{"replicas", "progressDeadlineSeconds", "paused"}

// stripUnread drops, from a watched copy, the fields nobody reads there:
// kstatus reads metadata, status and a few spec scalars, the owned-fields
// digest is taken before (cachedOwnedDigest), and callers read a bundle's
// Service addresses (serviceSpecRead), a Deployment's replicas
// (deploymentSpecRead) and annotations. A workload's pod template and the
// data of a ConfigMap or Secret that is not an inventory are most of a
// bundle's watched bytes; the labels (the watches select by them, nothing
// reads them from a copy) and a Deployment's selector repeat the same keys
// in every object. An inventory is kept whole: it is cli-utils' inventory
// object (its id label, annotations and data are read).
func stripUnread(u *unstructured.Unstructured) {
	gk := u.GroupVersionKind().GroupKind()
	if isInventoryKind(gk) {
		if _, inv := u.GetLabels()[common.InventoryLabel]; inv {
			return
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		delete(md, "labels")
	}
	switch {
	case gk == deploymentKind:
		keepOnly(u.Object, "spec", deploymentSpecRead)
	case workloadKinds[gk]:
		unstructured.RemoveNestedField(u.Object, "spec", "template")
	case gk == schema.GroupKind{Kind: "Service"}:
		keepOnly(u.Object, "spec", serviceSpecRead)
	case isInventoryKind(gk):
		unstructured.RemoveNestedField(u.Object, "data")
		unstructured.RemoveNestedField(u.Object, "binaryData")
	}
}

var deploymentKind = schema.GroupKind{Group: "apps", Kind: "Deployment"}

// isInventoryKind reports whether objects of gk may be inventories (a
// ConfigMap, or a Secret).
func isInventoryKind(gk schema.GroupKind) bool {
	return gk == configMapKind || gk == schema.GroupKind{Kind: "Secret"}
}

// keepOnly replaces obj[field] (a map) with a map of only the given keys.
func keepOnly(obj map[string]any, field string, keys []string) {
	m, ok := obj[field].(map[string]any)
	if !ok {
		return
	}
	kept := make(map[string]any, len(keys))
	for _, k := range keys {
		if v, ok := m[k]; ok {
			kept[k] = v
		}
	}
	obj[field] = kept
}

func (h *hub) onEvent(e kindwatch.Event) {
	if e.Kind == configMapKind {
		if _, ok := e.Object.GetLabels()[common.InventoryLabel]; ok {
			h.onInventory(e.Object, e.Deleted)
		}
	}
	h.onObject(e)
}

func (h *hub) onInventory(u *unstructured.Unstructured, deleted bool) {
	key := InventoryKey{Namespace: u.GetNamespace(), Name: u.GetName()}
	var ids object.ObjMetadataSet
	if !deleted {
		ids = inventoryIDs(u, h.log)
	}
	h.setInventory(key, ids, deleted)
	h.notify(key)
}

// inventoryIDs reads the object set a cli-utils ConfigMap inventory records.
func inventoryIDs(u *unstructured.Unstructured, log logr.Logger) object.ObjMetadataSet {
	data, _, _ := unstructured.NestedStringMap(u.Object, "data")
	ids := make(object.ObjMetadataSet, 0, len(data))
	for k := range data {
		id, err := object.ParseObjMetadata(k)
		if err != nil {
			log.Info("ignoring unparseable inventory entry", "inventory", u.GetNamespace()+"/"+u.GetName(), "entry", k)
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return refFromID(ids[i]).less(refFromID(ids[j])) })
	return ids
}

// setInventory records which objects an inventory holds and starts watching their kinds.
func (h *hub) setInventory(key InventoryKey, ids object.ObjMetadataSet, deleted bool) {
	h.mu.Lock()
	for _, id := range h.invs[key] {
		if owners := slices.DeleteFunc(h.owners[id], func(k InventoryKey) bool { return k == key }); len(owners) == 0 {
			delete(h.owners, id)
		} else {
			h.owners[id] = owners
		}
	}
	if deleted {
		delete(h.invs, key)
	} else {
		h.invs[key] = ids
		for _, id := range ids {
			if !slices.Contains(h.owners[id], key) {
				h.owners[id] = append(h.owners[id], key)
			}
		}
	}
	h.mu.Unlock()
	for _, id := range ids {
		h.ensureKind(id.GroupKind)
	}
}

// ensureKind starts the shared watch for gk once; its Ready channel closes when it
// is ready or failed. A kind whose mapping failed is retried on the next call.
func (h *hub) ensureKind(gk schema.GroupKind) *kindwatch.Kind { return h.watches.Kind(gk) }

// onKindReady wakes the inventories holding the kind: their status was Unknown
// until now.
func (h *hub) onKindReady(k *kindwatch.Kind) {
	if k.Err() == nil {
		h.log.V(1).Info("watching kind", "kind", k.GroupKind().String(), "namespaced", k.Namespaced())
	}
	h.mu.RLock()
	var keys []InventoryKey
	for id, owners := range h.owners {
		if id.GroupKind == k.GroupKind() {
			keys = append(keys, owners...)
		}
	}
	h.mu.RUnlock()
	h.notify(keys...)
}

func (h *hub) onObject(e kindwatch.Event) {
	if e.Deleted {
		h.memo.forget(e.Object.GetUID())
	}
	id := object.ObjMetadata{GroupKind: e.Kind, Namespace: e.Object.GetNamespace(), Name: e.Object.GetName()}
	var rs *pollevent.ResourceStatus
	if e.Deleted {
		rs = resourceStatus(id, nil)
	} else {
		rs = resourceStatus(id, e.Object)
	}
	h.mu.RLock()
	for w := range h.statuses {
		if _, ok := w.ids[id]; ok {
			w.push(pollevent.Event{Type: pollevent.ResourceUpdateEvent, Resource: rs})
		}
	}
	var keys []InventoryKey
	if e.Old == nil || e.Deleted || changedForOwners(resourceStatus(id, e.Old), rs) {
		keys = slices.Clone(h.owners[id])
	}
	h.mu.RUnlock()
	h.notify(keys...)
}

// changedForOwners is true when an update matters to an inventory's owner: the
// kstatus status moved, or its message outside InProgress (a rollout's progress,
// "Replicas: 0/1" → "Available: 0/1", wakes nobody: it ends in a status change),
// the spec generation moved, or the values in the fields the engine owns changed
// (drift to restore). Status-only churn (a pod restarting, a resync) does not wake
// subscribers.
func changedForOwners(prev, next *pollevent.ResourceStatus) bool {
	if prev.Status != next.Status || prev.Message != next.Message && next.Status != status.InProgressStatus {
		return true
	}
	if prev.Resource == nil || next.Resource == nil {
		return prev.Resource != next.Resource
	}
	return prev.Resource.GetGeneration() != next.Resource.GetGeneration() ||
		prev.Resource.GetAnnotations()[cachedOwnedDigest] != next.Resource.GetAnnotations()[cachedOwnedDigest] ||
		(prev.Resource.GetDeletionTimestamp() == nil) != (next.Resource.GetDeletionTimestamp() == nil)
}

// resourceStatus computes kstatus from the object alone (no generated-resource
// lookups, so no API requests); u == nil means not found.
func resourceStatus(id object.ObjMetadata, u *unstructured.Unstructured) *pollevent.ResourceStatus {
	if u == nil {
		return &pollevent.ResourceStatus{Identifier: id, Status: status.NotFoundStatus, Message: "Resource not found"}
	}
	res, err := status.Compute(u)
	if err != nil {
		return &pollevent.ResourceStatus{Identifier: id, Status: status.UnknownStatus, Resource: u, Message: err.Error(), Error: err}
	}
	return &pollevent.ResourceStatus{Identifier: id, Status: res.Status, Resource: u, Message: res.Message}
}

// lookup returns the watched copy of id. ok is false when the kind is not watched
// (yet), so absence means nothing.
func (h *hub) lookup(id object.ObjMetadata) (u *unstructured.Unstructured, ok bool) {
	u, _, ok = h.ensureKind(id.GroupKind).Get(id.Namespace, id.Name)
	return u, ok
}

// waitKinds starts the watches for ids' kinds and waits until they are synced;
// it returns the kinds that could not be watched.
func (h *hub) waitKinds(ctx context.Context, ids object.ObjMetadataSet) (map[schema.GroupKind]error, error) {
	failed := map[schema.GroupKind]error{}
	seen := map[schema.GroupKind]bool{}
	for _, id := range ids {
		if seen[id.GroupKind] {
			continue
		}
		seen[id.GroupKind] = true
		k := h.ensureKind(id.GroupKind)
		select {
		case <-k.Ready():
			if err := k.Err(); err != nil {
				failed[id.GroupKind] = err
			} else if !k.HasSynced() {
				failed[id.GroupKind] = fmt.Errorf("watch %s: not allowed to list it", id.GroupKind)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return failed, nil
}

// Watch implements watcher.StatusWatcher over the shared watches: it reports the
// current status of ids, then a SyncEvent, then every change, until ctx ends.
func (h *hub) Watch(ctx context.Context, ids object.ObjMetadataSet, _ watcher.Options) <-chan pollevent.Event {
	out := make(chan pollevent.Event)
	w := &statusWatch{ids: make(map[object.ObjMetadata]struct{}, len(ids)), signal: make(chan struct{}, 1)}
	for _, id := range ids {
		w.ids[id] = struct{}{}
	}
	go func() {
		defer close(out)
		failed, err := h.waitKinds(ctx, ids)
		if err != nil {
			return
		}
		h.mu.Lock()
		h.statuses[w] = struct{}{}
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			delete(h.statuses, w)
			h.mu.Unlock()
		}()
		for _, id := range ids {
			if err := failed[id.GroupKind]; err != nil {
				w.push(pollevent.Event{Type: pollevent.ResourceUpdateEvent, Resource: &pollevent.ResourceStatus{
					Identifier: id, Status: status.UnknownStatus, Message: err.Error(), Error: err}})
				continue
			}
			u, ok := h.lookup(id)
			if !ok {
				continue
			}
			w.push(pollevent.Event{Type: pollevent.ResourceUpdateEvent, Resource: resourceStatus(id, u)})
		}
		w.push(pollevent.Event{Type: pollevent.SyncEvent})
		w.pump(ctx, out)
	}()
	return out
}

// statusWatch is one run's view of the shared watches: an unbounded queue, so
// informer handlers never block on a slow run.
type statusWatch struct {
	ids    map[object.ObjMetadata]struct{}
	mu     sync.Mutex
	queue  []pollevent.Event
	signal chan struct{}
}

func (w *statusWatch) push(e pollevent.Event) {
	w.mu.Lock()
	w.queue = append(w.queue, e)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *statusWatch) pump(ctx context.Context, out chan<- pollevent.Event) {
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, e := range batch {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-w.signal:
		case <-ctx.Done():
			return
		}
	}
}

// notify queues inventory keys for the subscribers; the dispatcher coalesces them.
// The change is stored (the watch's store holds it) before notify runs, so the
// keys' change marks move first and WaitSettled callers look again.
func (h *hub) notify(keys ...InventoryKey) {
	if len(keys) == 0 {
		return
	}
	h.notifyMu.Lock()
	h.lastMark++
	for _, k := range keys {
		h.pending[k] = struct{}{}
		h.changes[k] = h.lastMark
		for _, ch := range h.waiters[k] {
			close(ch)
		}
		delete(h.waiters, k)
	}
	h.notifyMu.Unlock()
	select {
	case h.notifyCh <- struct{}{}:
	default:
	}
}

func (h *hub) dispatch() {
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.notifyCh:
		}
		h.notifyMu.Lock()
		keys := make([]InventoryKey, 0, len(h.pending))
		for k := range h.pending {
			keys = append(keys, k)
		}
		clear(h.pending)
		marks := make([]uint64, len(keys))
		for i, k := range keys {
			marks[i] = h.changes[k]
		}
		h.notifyMu.Unlock()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		h.mu.RLock()
		subs := make([]func(InventoryKey), 0, len(h.subs))
		ids := make([]uint64, 0, len(h.subs))
		for id := range h.subs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			subs = append(subs, h.subs[id])
		}
		h.mu.RUnlock()
		for _, k := range keys {
			for _, fn := range subs {
				fn(k)
			}
		}
		h.forgetGone(keys, marks)
	}
}

// forgetGone drops the change marks of inventories that are gone (deleted,
// or never recorded) once their subscribers were told, unless they changed
// since (marks): Changes then answers "no mark", which a caller treats as a
// change, so the map holds only inventories that exist.
func (h *hub) forgetGone(keys []InventoryKey, marks []uint64) {
	h.mu.RLock()
	var gone []int
	for i, k := range keys {
		if _, ok := h.invs[k]; !ok {
			gone = append(gone, i)
		}
	}
	h.mu.RUnlock()
	if len(gone) == 0 {
		return
	}
	h.notifyMu.Lock()
	for _, i := range gone {
		if h.changes[keys[i]] == marks[i] {
			delete(h.changes, keys[i])
		}
	}
	h.notifyMu.Unlock()
}

// changeMark returns key's change mark (Engine.Changes).
func (h *hub) changeMark(key InventoryKey) (uint64, bool) {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	m, ok := h.changes[key]
	return m, ok
}

// nextChange returns a channel closed at key's next change.
func (h *hub) nextChange(key InventoryKey) <-chan struct{} {
	ch := make(chan struct{})
	h.notifyMu.Lock()
	h.waiters[key] = append(h.waiters[key], ch)
	h.notifyMu.Unlock()
	return ch
}

// dropWaiter removes ch from key's waiters (a WaitSettled that ended first).
func (h *hub) dropWaiter(key InventoryKey, ch <-chan struct{}) {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	w := slices.DeleteFunc(h.waiters[key], func(c chan struct{}) bool { return c == ch })
	if len(w) == 0 {
		delete(h.waiters, key)
	} else {
		h.waiters[key] = w
	}
}

func (h *hub) subscribe(fn func(InventoryKey)) (cancel func()) {
	h.mu.Lock()
	id := h.nextSub
	h.nextSub++
	h.subs[id] = fn
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

// status aggregates an inventory's objects from the shared watches.
func (h *hub) status(key InventoryKey) AggregateStatus {
	h.mu.RLock()
	ids, known := h.invs[key]
	h.mu.RUnlock()
	agg := AggregateStatus{Inventory: key, Known: known, Status: StatusCurrent}
	if !known {
		agg.Status = StatusUnknown
		return agg
	}
	for _, id := range ids {
		os := ObjectStatus{Ref: refFromID(id)}
		u, ok := h.lookup(id)
		if !ok {
			os.Status, os.Message = StatusUnknown, "not watched yet"
		} else {
			rs := resourceStatus(id, u)
			os.Status, os.Message, os.Live = Status(rs.Status), rs.Message, u
		}
		if os.Status.severity() > agg.Status.severity() {
			agg.Status = os.Status
		}
		agg.Objects = append(agg.Objects, os)
	}
	return agg
}

// hasSynced reports whether the inventory watch has listed once.
func (h *hub) hasSynced() bool { return h.ensureKind(configMapKind).HasSynced() }

// isNotFoundOrGone is a small helper for callers that treat both alike.
func isNotFoundOrGone(err error) bool { return apierrors.IsNotFound(err) || apierrors.IsGone(err) }
