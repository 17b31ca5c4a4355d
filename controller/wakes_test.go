package controller

import (
	"testing"

	k8stypes "k8s.io/apimachinery/pkg/types"
)

// TestWakes: apply's Subscribe calls that a reconcile of the Gateway saw
// (it ran meanwhile, or finished having read a settled bundle at a mark
// not older than the call's) queue nothing; every other call does.
func TestWakes(t *testing.T) {
	key := k8stypes.NamespacedName{Namespace: "a", Name: "gw"}
	w := newWakes()
	if !w.wake(key, 1, true) {
		t.Fatal("a Gateway never reconciled was not woken")
	}

	// Calls while a reconcile runs are noted, not queued; the reconcile
	// read a settled bundle at mark 5 and the inventory is still at 5.
	w.begin(key)
	if w.wake(key, 4, true) || w.wake(key, 5, true) {
		t.Fatal("a call during a reconcile queued it")
	}
	if w.end(key, readMark{mark: 5, ok: true}, 5, true) {
		t.Error("a reconcile that read every change it was called for runs again")
	}
	if w.wake(key, 5, true) {
		t.Error("a late call for a change the last reconcile read woke the Gateway")
	}
	if !w.wake(key, 6, true) {
		t.Error("a newer change did not wake the Gateway")
	}
	if !w.wake(key, 0, false) {
		t.Error("a call without a change mark (inventory gone) did not wake the Gateway")
	}

	// A change after the reconcile's read, called during it: runs again.
	w.begin(key)
	_ = w.wake(key, 7, true)
	if !w.end(key, readMark{mark: 6, ok: true}, 7, true) {
		t.Error("a change newer than the reconcile's read did not run it again")
	}

	// A change whose call lands after end read the inventory's mark but
	// before end took the lock (the Deployment becoming Available just as
	// the reconcile finishes): the call's own mark is newer than what the
	// reconcile read, so it runs again.
	w.begin(key)
	_ = w.wake(key, 8, true)
	if !w.end(key, readMark{mark: 7, ok: true}, 7, true) {
		t.Error("a call newer than the reconcile's read, noted after end read the mark, was dropped")
	}
	// A call without a mark during the reconcile: runs again.
	w.begin(key)
	_ = w.wake(key, 0, false)
	if !w.end(key, readMark{mark: 8, ok: true}, 8, true) {
		t.Error("a call without a change mark during the reconcile was dropped")
	}

	// A reconcile that read nothing it can vouch for (bundle not settled,
	// render failed, an early return): every call noted runs it again, and
	// later calls wake as before.
	w.begin(key)
	_ = w.wake(key, 8, true)
	if !w.end(key, readMark{}, 8, true) {
		t.Error("a call during a reconcile that read no settled bundle was dropped")
	}
	if !w.wake(key, 8, true) {
		t.Error("a call after a reconcile that read no settled bundle was dropped")
	}
	// No call during the reconcile: nothing to run again.
	w.begin(key)
	if w.end(key, readMark{}, 8, true) {
		t.Error("a reconcile without calls runs again")
	}

	// Forgotten while a reconcile runs (the Gateway is gone): its calls
	// still count, then the state goes.
	w.begin(key)
	_ = w.wake(key, 9, true)
	w.forget(key)
	if !w.end(key, readMark{}, 9, true) {
		t.Error("a call during a reconcile that forgot the Gateway was dropped")
	}
	if len(w.m) != 0 {
		t.Errorf("state kept after forget: %v", w.m)
	}
}
