// Package apply is berth's generic apply engine: it places a set of objects in the
// cluster with server-side apply under a cli-utils ConfigMap inventory, prunes what
// left the set, and reports kstatus readiness, all through typed results. It knows
// nothing about Gateways and must never import render or xds.
//
// One Engine per process holds the shared clients, REST mapper and watches:
//
//	eng, err := apply.New(restConfig, apply.DefaultOptions())
//	defer eng.Close()
//	inv := apply.Inventory{Namespace: "team-a", Name: "envoy-team-a-gw-inventory", ID: "team-a-gw"}
//	res, err := eng.Run(ctx, inv, objs) // objs []*unstructured.Unstructured
//	if err == nil && !res.AllCurrent() {
//		log.Info("not ready", "why", res.Message()) // "Deployment.apps team-a/envoy-…: Available: 0/2"
//	}
//	cancel := eng.Subscribe(func(k apply.InventoryKey) { queue.Add(k) }) // watch-driven readiness
//	st := eng.Status(inv.Key())                                          // no API request
//	_, err = eng.Destroy(ctx, inv)                                      // objects, then inventory, confirmed gone
//	plan, err := eng.Plan(ctx, inv, objs)                                // what Run would do (dry run), writes nothing
//
// What a Run costs: a Run whose set equals the last cleanly applied set, and whose
// objects the shared watches show unchanged in every field the engine owns, writes
// nothing (Result.NoOp); it reads the inventory from the watch when the watched copy
// is the one the engine last wrote or proved, and once from the apiserver otherwise
// (after a restart, or another writer's change). Otherwise it is one cli-utils run:
// per object one apply, and one read before it (cli-utils' ownership check) unless
// the synced watch shows the object absent: then it is applied create-only (a
// resourceVersion no object has, so an object the watch does not show — another
// owner's, without the managed label — makes the apply fail instead of taking it
// over, and the run starts over with the reads). The inventory: one list (none for
// one the watch shows absent and this process never wrote), a create (no read
// first; a ConfigMap of its name that is not the inventory fails the run), an
// update when the set changed, and the merge patch recording the digests — none
// when the run created the inventory carrying them: the owned-fields digest of
// an object a server-side apply creates is known before the apply (predict.go),
// and is patched only when the apiserver stored other values than applied (a
// quantity it normalizes, a mutating webhook). A new bundle of kinds already
// watched therefore costs no read at all, and one write per object plus one for
// the inventory. Status is served from the
// shared watches instead of per-run informers. Settled answers, without a request,
// whether an inventory still holds what the engine last applied (for a caller that
// knows its desired set did not change).
//
// Watches: the shared watch layer (internal/kindwatch, which `berth wait` uses too):
// one informer per kind (per namespace in Options.Namespaces, or cluster-wide)
// selecting Options.ManagedLabelKey=ManagedLabelValue, which Run stamps on every
// object; inventories are read from the ConfigMap kind's watch. Watched copies drop
// what nobody reads from them, to save memory: managedFields, a workload's pod
// template (a Deployment's whole spec but replicas, progressDeadlineSeconds and
// paused), a Service's spec beyond its addresses, the labels of every object that
// is not an inventory, and the data of ConfigMaps and Secrets that are not
// inventories.
package apply
