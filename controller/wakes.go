package controller

import (
	"sync"

	k8stypes "k8s.io/apimachinery/pkg/types"
)

// wakes decides which of apply's Subscribe calls wake a Gateway. A new
// Gateway's own objects and its inventory appear (and the inventory's
// digests, when they could not be predicted, are patched) while
// its first reconcile runs; each of those changes used to queue one more
// reconcile that found the bundle as the first had left it. A change needs
// no reconcile of its own when a reconcile that read the bundle's state
// after it finishes: that reconcile's status describes it. So while a
// reconcile of the Gateway runs, calls are only noted; when it finishes
// having read a settled bundle (apply.Engine.Settled: no drift to restore)
// at change mark m (apply.Engine.Changes, taken before the read), it is
// queued again only if the inventory changed past m since; and a later call
// whose change mark is not past m is dropped. Anything else (no read, a
// bundle not settled, no mark) wakes the Gateway as before. Changes of
// anything else (its spec, routes, Service address, EnvoyProxy) come
// through other watches and are not affected.
type wakes struct {
	mu sync.Mutex
	m  map[k8stypes.NamespacedName]*wakeState
}

type wakeState struct {
	// running: a reconcile of the Gateway is in flight (controller-runtime
	// runs one per key at a time); woken: a call came meanwhile.
	running, woken bool
	// noted is the newest change mark of the calls that came while the
	// reconcile ran (notedUnknown: one came without a mark): end compares
	// it, not the mark it reads itself, with what the reconcile read — a
	// call that lands between end's own read of the mark and its lock
	// must not be covered by the older mark.
	noted        uint64
	notedUnknown bool
	// seen is the change mark a finished reconcile read a settled bundle
	// at; valid says whether there is one.
	seen  uint64
	valid bool
	// forgotten: forget came while a reconcile ran; end drops the state.
	forgotten bool
}

// readMark is what a reconcile read: a settled bundle at change mark mark
// (ok), or nothing it can vouch for.
type readMark struct {
	mark uint64
	ok   bool
}

func newWakes() *wakes { return &wakes{m: map[k8stypes.NamespacedName]*wakeState{}} }

func (w *wakes) state(key k8stypes.NamespacedName) *wakeState {
	st := w.m[key]
	if st == nil {
		st = &wakeState{}
		w.m[key] = st
	}
	return st
}

// begin records that a reconcile of key starts.
func (w *wakes) begin(key k8stypes.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state(key)
	st.running, st.woken, st.forgotten = true, false, false
	st.noted, st.notedUnknown = 0, false
}

// end records that the reconcile of key finished having read r, and
// reports whether it must run again: a call came while it ran and r does
// not cover every such call's change mark, nor the inventory's change mark
// read just before (now, ok).
func (w *wakes) end(key k8stypes.NamespacedName, r readMark, now uint64, nowOK bool) (again bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.m[key]
	if !ok {
		return false
	}
	st.running = false
	st.seen, st.valid = r.mark, r.ok
	covered := r.ok && nowOK && now <= r.mark && !st.notedUnknown && st.noted <= r.mark
	again = st.woken && !covered
	if st.forgotten {
		delete(w.m, key)
	}
	return again
}

// wake reports whether a Subscribe call for key's inventory, whose change
// mark is now (nowOK: there is one), must queue a reconcile.
func (w *wakes) wake(key k8stypes.NamespacedName, now uint64, nowOK bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.m[key]
	if !ok {
		return true
	}
	if st.running {
		st.woken = true
		if !nowOK {
			st.notedUnknown = true
		} else if now > st.noted {
			st.noted = now
		}
		return false
	}
	return !(st.valid && nowOK && now <= st.seen)
}

// forget drops key's state (the Gateway is no longer served).
func (w *wakes) forget(key k8stypes.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st, ok := w.m[key]; ok && st.running {
		st.valid, st.forgotten = false, true
		return
	}
	delete(w.m, key)
}
