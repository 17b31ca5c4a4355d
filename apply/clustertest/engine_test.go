package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/inventory"

	"github.com/berth-gateway/berth/apply"
	"github.com/berth-gateway/berth/internal/testenv"
)

var (
	gvrConfigMap = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrHPA       = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
)

func requireNotFound(t *testing.T, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	_, err := testenv.Get(t).Dynamic.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("%s %s/%s: got err %v, want NotFound", gvr.Resource, ns, name, err)
	}
}

// TestLifecycle walks one inventory through first apply, no-op, change, prune and
// rename, checking actions, readiness and what each step costs.
func TestLifecycle(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	eng, cnt := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	objs := bundle(ns, "envoy")
	ctx := ctxFor(t, 5*time.Minute)

	var notified sync.Map
	cancelSub := eng.Subscribe(func(k apply.InventoryKey) { notified.Store(k, time.Now()) })
	defer cancelSub()

	// Warm discovery and the kinds' watches, so the first apply's count is the
	// apply's, not the process's (those are paid once per process).
	if err := eng.WaitWatched(ctx, objs); err != nil {
		t.Fatal(err)
	}

	before := cnt.Mark()
	res, err := eng.Run(ctx, inv, objs)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	reqs := cnt.Since(before)
	cost := testenv.Count(reqs)
	for _, r := range reqs {
		t.Log(r)
	}
	t.Logf("first apply of %d objects: %s in %s", len(objs), cost, res.Duration)
	for _, o := range objs {
		wantAction(t, res, o.GetKind(), o.GetName(), apply.ActionCreated)
	}
	if !res.AllCurrent() {
		t.Fatalf("first apply not all Current: %s", res.Message())
	}
	// Budget: one apply per object and one write for the inventory (its
	// create, carrying the digests the objects were predicted to hold),
	// no read: the synced watches show the objects and the inventory
	// absent, so nothing is read before they are created (create-only
	// applies; see docs/benchmarks.md).
	if cost.Reads != 0 || cost.Writes != int64(len(objs)+1) {
		t.Errorf("first apply cost %s, want 0 reads and %d writes", cost, len(objs)+1)
	}
	cm, err := env.Dynamic.Resource(gvrConfigMap).Namespace(ns).Get(ctx, inv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("inventory ConfigMap: %v", err)
	}
	if cm.GetLabels()[common.InventoryLabel] != inv.ID || cm.GetLabels()["test.berth/owner"] != "gw" {
		t.Errorf("inventory labels %v", cm.GetLabels())
	}

	t.Run("no-op re-apply", func(t *testing.T) {
		// The watches must have seen the applied state; give them a moment.
		var res *apply.Result
		var cost testenv.Counts
		deadline := time.Now().Add(10 * time.Second)
		for {
			before := cnt.Mark()
			var err error
			res, err = eng.Run(ctx, inv, bundle(ns, "envoy"))
			cost = testenv.Count(cnt.Since(before))
			if err != nil {
				t.Fatal(err)
			}
			if res.NoOp || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("no-op re-apply: %s in %s", cost, res.Duration)
		if !res.NoOp {
			t.Fatalf("unchanged set was not a no-op: %s", actions(res))
		}
		if cost.Writes != 0 || cost.Requests() > 1 {
			t.Errorf("no-op cost %s, want no writes and at most 1 request", cost)
		}
		if res.Count(apply.ActionUnchanged) != len(objs) || !res.AllCurrent() {
			t.Errorf("no-op result %s", actions(res))
		}
	})

	t.Run("watched status", func(t *testing.T) {
		st := eng.Status(inv.Key())
		if !st.AllCurrent() || len(st.Objects) != len(objs) {
			t.Errorf("Status: %+v (%s)", st, st.Message())
		}
		if _, ok := notified.Load(inv.Key()); !ok {
			t.Errorf("no subscriber notification for %s", inv.Key())
		}
	})

	t.Run("change one object", func(t *testing.T) {
		objs := bundle(ns, "envoy")
		objs[1] = configMap(ns, "envoy-config", map[string]any{"envoy.yaml": "admin: {address: {}}"})
		res, err := eng.Run(ctx, inv, objs)
		if err != nil {
			t.Fatal(err)
		}
		wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionConfigured)
		for _, k := range []string{"ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler"} {
			wantAction(t, res, k, "envoy", apply.ActionUnchanged)
		}
	})

	t.Run("drop the HPA", func(t *testing.T) {
		objs := bundle(ns, "envoy")[:4]
		objs[1] = configMap(ns, "envoy-config", map[string]any{"envoy.yaml": "admin: {address: {}}"})
		before := cnt.Mark()
		res, err := eng.Run(ctx, inv, objs)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("prune run: %s in %s", testenv.Count(cnt.Since(before)), res.Duration)
		o := wantAction(t, res, "HorizontalPodAutoscaler", "envoy", apply.ActionPruned)
		if o != nil && o.Status != apply.StatusNotFound {
			t.Errorf("pruned HPA status %s", o.Status)
		}
		requireNotFound(t, gvrHPA, ns, "envoy")
		if !res.AllCurrent() {
			t.Errorf("after prune: %s", res.Message())
		}
	})

	t.Run("rename an object", func(t *testing.T) {
		objs := bundle(ns, "envoy")[:4]
		objs[1] = configMap(ns, "envoy-config-v2", map[string]any{"envoy.yaml": "admin: {address: {}}"})
		res, err := eng.Run(ctx, inv, objs)
		if err != nil {
			t.Fatal(err)
		}
		wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionPruned)
		wantAction(t, res, "ConfigMap", "envoy-config-v2", apply.ActionCreated)
		requireNotFound(t, gvrConfigMap, ns, "envoy-config")
		infos, err := eng.Inventories(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, info := range infos {
			if info.Key() == inv.Key() {
				for _, r := range info.Objects {
					got = append(got, r.Kind+"/"+r.Name)
				}
				if info.ID != inv.ID || info.Labels["test.berth/owner"] != "gw" {
					t.Errorf("inventory info %+v", info.Inventory)
				}
			}
		}
		sort.Strings(got)
		want := []string{"ConfigMap/envoy-config-v2", "Deployment/envoy", "Service/envoy", "ServiceAccount/envoy"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("inventory records %v, want %v", got, want)
		}
	})
}

// TestForeignObjectIsSkipped: an object with our name that someone else created is
// reported and left untouched; the rest of the set is applied.
func TestForeignObjectIsSkipped(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	foreign, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "envoy-config"},
		Data:       map[string]string{"theirs": "yes"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := newEngine(t, nil)
	objs := []*unstructured.Unstructured{
		configMap(ns, "envoy-config", map[string]any{"ours": "yes"}),
		serviceAccount(ns, "envoy"),
	}
	// Synced watches, which do not show the unlabelled foreign object: the
	// run applies both create-only, the ConfigMap's apply changes nothing,
	// and the run starts over from the apiserver's view.
	if err := eng.WaitWatched(ctx, objs); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(ctx, inventoryFor(ns, "gw"), objs)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	o := wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionSkipped)
	var own *apply.OwnershipError
	if o == nil || !errors.As(o.Err, &own) || own.Owner != "" || own.Policy != apply.PolicyMustMatch {
		t.Fatalf("skipped object error %#v, want an apply.OwnershipError with no owner", o)
	}
	t.Logf("reason: %s", o.Reason)
	wantAction(t, res, "ServiceAccount", "envoy", apply.ActionCreated)
	if res.AllCurrent() || len(res.Failed()) != 1 {
		t.Errorf("a skipped object must hold the set back: %s", res.Message())
	}
	after, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "envoy-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != foreign.ResourceVersion || after.Data["theirs"] != "yes" || after.Annotations[inventory.OwningInventoryKey] != "" {
		t.Errorf("foreign object was modified: %+v", after)
	}
	// A second run must not take the fast path over a skipped object.
	res, err = eng.Run(ctx, inventoryFor(ns, "gw"), []*unstructured.Unstructured{
		configMap(ns, "envoy-config", map[string]any{"ours": "yes"}),
		serviceAccount(ns, "envoy"),
	})
	if err != nil || res.NoOp {
		t.Errorf("second run: err %v, no-op %t", err, res.NoOp)
	}
}

// TestDriftIsRestored: another field manager changes a field berth sets; the next
// run is not a no-op, restores the value and reports the field it took back.
func TestDriftIsRestored(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	eng, _ := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	set := func() []*unstructured.Unstructured {
		return []*unstructured.Unstructured{configMap(ns, "envoy-config", map[string]any{"mode": "berth"}), serviceAccount(ns, "envoy")}
	}
	if _, err := eng.Run(ctx, inv, set()); err != nil {
		t.Fatal(err)
	}
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "envoy-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["mode"] = "edited"
	edited, err := env.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the engine's watch has seen the edit, as a controller would be told.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := eng.Status(inv.Key())
		if o := st.Objects; len(o) > 0 {
			found := false
			for _, os := range o {
				// Watched copies keep no ConfigMap data: the edit is seen
				// by its resourceVersion.
				if os.Live != nil && os.Ref.Kind == "ConfigMap" && os.Live.GetResourceVersion() == edited.ResourceVersion {
					found = true
				}
			}
			if found {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine never saw the edit")
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := eng.Run(ctx, inv, set())
	if err != nil {
		t.Fatal(err)
	}
	if res.NoOp {
		t.Fatal("drifted set taken as a no-op")
	}
	o := wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionConfigured)
	if o == nil || len(o.Conflicts) != 1 || o.Conflicts[0] != ".data.mode" {
		t.Errorf("conflicts %v, want [.data.mode]", o.Conflicts)
	}
	wantAction(t, res, "ServiceAccount", "envoy", apply.ActionUnchanged)
	cm, err = env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "envoy-config", metav1.GetOptions{})
	if err != nil || cm.Data["mode"] != "berth" {
		t.Errorf("value not restored: %v %v", cm.Data, err)
	}
}

// TestTerminatingNamespace: applying into a namespace being deleted fails with a
// apply.NamespaceTerminatingError and reports every object.
func TestTerminatingNamespace(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	// A finalizer keeps the namespace Terminating for the test.
	_, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "hold", Finalizers: []string{"test.berth/hold"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.Client.CoreV1().ConfigMaps(ns).Patch(context.Background(), "hold", "application/merge-patch+json",
			[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})
	if err := env.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eng, _ := newEngine(t, nil)
	res, err := eng.Run(ctx, inventoryFor(ns, "gw"), []*unstructured.Unstructured{serviceAccount(ns, "envoy"), configMap(ns, "envoy-config", nil)})
	var nsErr *apply.NamespaceTerminatingError
	if !errors.As(err, &nsErr) || nsErr.Namespace != ns {
		t.Fatalf("error %v, want a apply.NamespaceTerminatingError for %s", err, ns)
	}
	t.Logf("error: %v", err)
	if res == nil || len(res.Objects) != 2 || len(res.Failed()) != 2 {
		t.Fatalf("result must report both objects as failed: %+v", res)
	}
}

// TestCancelledRunConverges: a run cancelled while it waits leaves everything it
// applied in the inventory; the next run converges and prunes what left.
func TestCancelledRunConverges(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	eng, _ := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	stuck := []*unstructured.Unstructured{
		serviceAccount(ns, "envoy"),
		configMap(ns, "extra", map[string]any{"a": "b"}),
		deploy(ns, "envoy", 1, map[string]any{"no-such-node": "true"}), // never Available
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(3 * time.Second); cancel() }()
	res, err := eng.Run(ctx, inv, stuck)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err %v, want context.Canceled (result %s)", err, actions(res))
	}
	t.Logf("cancelled run: %v; %s", err, actions(res))

	ctx2 := ctxFor(t, 2*time.Minute)
	want := []*unstructured.Unstructured{serviceAccount(ns, "envoy"), deploy(ns, "envoy", 1, nil)}
	res, err = eng.Run(ctx2, inv, want)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AllCurrent() {
		t.Fatalf("did not converge: %s", res.Message())
	}
	wantAction(t, res, "ConfigMap", "extra", apply.ActionPruned)
	wantAction(t, res, "Deployment", "envoy", apply.ActionConfigured)
	// Nothing orphaned: every object carrying the managed label is in the set.
	var left []string
	for _, gvr := range []schema.GroupVersionResource{gvrConfigMap, {Version: "v1", Resource: "serviceaccounts"}, {Group: "apps", Version: "v1", Resource: "deployments"}} {
		list, err := env.Dynamic.Resource(gvr).Namespace(ns).List(ctx2, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=berth"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list.Items {
			if u.GetLabels()[common.InventoryLabel] == "" {
				left = append(left, u.GetKind()+"/"+u.GetName())
			}
		}
	}
	sort.Strings(left)
	if fmt.Sprint(left) != "[Deployment/envoy ServiceAccount/envoy]" {
		t.Errorf("managed objects left: %v", left)
	}
}

// TestDestroy deletes every object and the inventory, confirmed NotFound.
func TestDestroy(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 3*time.Minute)
	eng, _ := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	objs := bundle(ns, "envoy")
	if _, err := eng.Run(ctx, inv, objs); err != nil {
		t.Fatal(err)
	}
	// Destroy the way a sweep would: from what Inventories reports.
	infos, err := eng.Inventories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found *apply.InventoryInfo
	for i := range infos {
		if infos[i].Key() == inv.Key() {
			found = &infos[i]
		}
	}
	if found == nil || found.ID != inv.ID || len(found.Objects) != len(objs) {
		t.Fatalf("inventory not listed as applied: %+v", found)
	}
	res, err := eng.Destroy(ctx, found.Inventory)
	if err != nil {
		t.Fatalf("destroy: %v (%s)", err, actions(res))
	}
	if !res.InventoryDeleted || res.Count(apply.ActionDeleted) != len(objs) {
		t.Errorf("destroy result: inventory deleted %t, %s", res.InventoryDeleted, actions(res))
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := env.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		requireNotFound(t, m.Resource, ns, o.GetName())
	}
	requireNotFound(t, gvrConfigMap, ns, inv.Name)
	if st := eng.Status(inv.Key()); st.Known {
		t.Errorf("destroyed inventory still known: %+v", st)
	}
	// Destroying again is a no-op, not an error.
	if res, err := eng.Destroy(ctx, inv); err != nil || !res.InventoryDeleted || len(res.Objects) != 0 {
		t.Errorf("second destroy: %v %+v", err, res)
	}
}

// TestConcurrentRuns applies 50 inventories at once through one engine.
func TestConcurrentRuns(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 5*time.Minute)
	eng, _ := newEngine(t, func(o *apply.Options) { o.QPS, o.Burst = 200, 400 })
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("gw%02d", i)
			res, err := eng.Run(ctx, inventoryFor(ns, name), []*unstructured.Unstructured{
				serviceAccount(ns, name), configMap(ns, name, map[string]any{"i": name}), service(ns, name),
			})
			switch {
			case err != nil:
				errs[i] = err
			case !res.AllCurrent() || res.Count(apply.ActionCreated) != 3:
				errs[i] = fmt.Errorf("%s: %s", name, actions(res))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	infos, err := eng.Inventories(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, info := range infos {
		if info.Namespace == ns && len(info.Objects) == 3 {
			count++
		}
	}
	if count != n {
		t.Errorf("%d complete inventories listed, want %d", count, n)
	}
}

// TestReadinessIsWatchDriven: a Run that returns before the Deployment is Available
// is followed by a notification once it is, without another Run. The Deployment
// waits for a node label, so the test controls when it can become Available.
func TestReadinessIsWatchDriven(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	eng, _ := newEngine(t, func(o *apply.Options) { o.ReconcileTimeout = time.Second })
	inv := inventoryFor(ns, "gw")
	label := "test.berth/" + ns
	ready := make(chan time.Time, 1)
	defer eng.Subscribe(func(k apply.InventoryKey) {
		if k == inv.Key() && eng.Status(k).AllCurrent() {
			select {
			case ready <- time.Now():
			default:
			}
		}
	})()
	res, err := eng.Run(ctx, inv, []*unstructured.Unstructured{deploy(ns, "envoy", 2, map[string]any{label: "true"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.AllCurrent() {
		t.Fatal("Deployment Available before any node can take its pods")
	}
	t.Logf("run returned: %s", res.Message())
	if st := eng.Status(inv.Key()); st.AllCurrent() || st.Blocking() == nil || st.Blocking().Ref.Kind != "Deployment" {
		t.Errorf("status before the node label: %s", st.Message())
	}

	nodes, err := env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	node := nodes.Items[0].Name
	patch := func(value string) {
		body := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, label, value)
		if _, err := env.Client.CoreV1().Nodes().Patch(context.Background(), node, "application/merge-patch+json", []byte(body), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	patch(`"true"`)
	labelled := time.Now()
	t.Cleanup(func() { patch("null") })
	select {
	case at := <-ready:
		t.Logf("notified all Current %s after the node could take the pods", at.Sub(labelled))
		if st := eng.Status(inv.Key()); !st.AllCurrent() {
			t.Errorf("notified but apply.Status says %s", st.Message())
		}
	case <-ctx.Done():
		t.Fatalf("never notified; status %s", eng.Status(inv.Key()).Message())
	}
}

// TestInvalidObjectDoesNotAbortTheRun: an object of a kind the cluster does not know
// fails alone; the rest of the set is applied (cli-utils' default would abort).
func TestInvalidObjectDoesNotAbortTheRun(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	eng, _ := newEngine(t, nil)
	res, err := eng.Run(ctx, inventoryFor(ns, "gw"), []*unstructured.Unstructured{
		obj("example.com/v1", "Widget", ns, "w", nil),
		configMap(ns, "envoy-config", map[string]any{"a": "b"}),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	o := wantAction(t, res, "Widget", "w", apply.ActionFailed)
	if o != nil {
		t.Logf("reason: %s", o.Reason)
	}
	wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionCreated)
	if res.AllCurrent() || res.Blocking().Ref.Kind != "Widget" {
		t.Errorf("the failed object must block: %s", res.Message())
	}
}

// TestRevertAfterUncleanRun: a run that changed some objects but did not end clean
// (here: one object belongs to someone else) is followed by a run back to the
// previous set; that run must write the previous values again, not answer no-op
// from watches that may not have seen the unclean run's writes.
func TestRevertAfterUncleanRun(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	eng, _ := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	good := func() []*unstructured.Unstructured {
		return []*unstructured.Unstructured{configMap(ns, "envoy-config", map[string]any{"v": "1"})}
	}
	if _, err := eng.Run(ctx, inv, good()); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "taken"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(ctx, inv, []*unstructured.Unstructured{configMap(ns, "envoy-config", map[string]any{"v": "2"}), serviceAccount(ns, "taken")})
	if err != nil {
		t.Fatal(err)
	}
	wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionConfigured)
	wantAction(t, res, "ServiceAccount", "taken", apply.ActionSkipped)

	res, err = eng.Run(ctx, inv, good())
	if err != nil {
		t.Fatal(err)
	}
	if res.NoOp {
		t.Fatal("revert after an unclean run answered no-op")
	}
	wantAction(t, res, "ConfigMap", "envoy-config", apply.ActionConfigured)
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, "envoy-config", metav1.GetOptions{})
	if err != nil || cm.Data["v"] != "1" {
		t.Errorf("value after revert: %v %v", cm.Data, err)
	}
	if sa, err := env.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "taken", metav1.GetOptions{}); err != nil || sa.Annotations[inventory.OwningInventoryKey] != "" {
		t.Errorf("the foreign ServiceAccount was touched or removed: %v %v", sa, err)
	}
}

// WaitWatched warms the watches of served kinds and names the kinds it cannot
// watch.
func TestWaitWatched(t *testing.T) {
	ns := testenv.Get(t).Namespace(t)
	eng, _ := newEngine(t, nil)
	ctx := ctxFor(t, time.Minute)
	if err := eng.WaitWatched(ctx, bundle(ns, "envoy")); err != nil {
		t.Fatalf("served kinds: %v", err)
	}
	err := eng.WaitWatched(ctx, []*unstructured.Unstructured{configMap(ns, "c", nil), obj("example.com/v1", "NoSuchKind", ns, "x", nil)})
	if err == nil || !strings.Contains(err.Error(), "NoSuchKind") || strings.Contains(err.Error(), "ConfigMap") {
		t.Errorf("WaitWatched with an unserved kind: %v, want an error naming only NoSuchKind", err)
	}
}

// TestNoOpReadsTheWatchedInventory: once a clean run recorded its digests, a
// no-op Run reads the inventory from the watch (no request) while the watched
// copy is the one the engine wrote; another writer's change to the inventory
// (a dropped digest, a deletion) makes the next Run read the apiserver and
// write again.
func TestNoOpReadsTheWatchedInventory(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	eng, cnt := newEngine(t, nil)
	inv := inventoryFor(ns, "gw")
	set := func() []*unstructured.Unstructured {
		return []*unstructured.Unstructured{configMap(ns, "envoy-config", map[string]any{"mode": "berth"}), serviceAccount(ns, "envoy")}
	}
	woken := make(chan struct{}, 1)
	defer eng.Subscribe(func(k apply.InventoryKey) {
		if k == inv.Key() {
			select {
			case woken <- struct{}{}:
			default:
			}
		}
	})()
	drain := func() {
		select {
		case <-woken:
		default:
		}
	}
	// noOp runs the set until it is a no-op (the watches catch up with the
	// run's writes) and returns the cost of the last Run.
	noOp := func(what string) testenv.Counts {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mark := cnt.Mark()
			res, err := eng.Run(ctx, inv, set())
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if res.NoOp {
				return testenv.Count(cnt.Since(mark))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: never a no-op: %s", what, actions(res))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := eng.Run(ctx, inv, set()); err != nil {
		t.Fatal(err)
	}
	noOp("after the first run")
	// That no-op may have read the inventory from the apiserver (the watch
	// had not yet shown the run's write); once the watched copy is the
	// version the engine last wrote or proved (Settled), a no-op reads it
	// from the watch.
	settleBy := time.Now().Add(10 * time.Second)
	for !eng.Settled(inv) {
		if time.Now().After(settleBy) {
			t.Fatal("the watched inventory never reached the version the engine proved")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cost := noOp("again"); cost.Requests() != 0 {
		t.Errorf("no-op after a clean run cost %s, want no request", cost)
	}

	// Another writer drops the recorded set digest: once the watch shows it,
	// the next Run is a full run that records it again.
	drain()
	cm, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, inv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k := range cm.Annotations {
		if strings.HasPrefix(k, "apply.berth-gateway.io/") {
			delete(cm.Annotations, k)
		}
	}
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, woken)
	waitUnsettled(t, eng, inv)
	mark := cnt.Mark()
	res, err := eng.Run(ctx, inv, set())
	if err != nil {
		t.Fatal(err)
	}
	if res.NoOp {
		t.Fatal("a Run after the inventory lost its digests was a no-op")
	}
	if cost := testenv.Count(cnt.Since(mark)); cost.Writes == 0 {
		t.Errorf("full run wrote nothing (%s): the digests are not recorded again", cost)
	}
	if cost := noOp("after the edit"); cost.Requests() > 1 {
		t.Errorf("no-op after the edit cost %s", cost)
	}

	// Another writer deletes the inventory: the next Run creates it again.
	drain()
	if err := env.Client.CoreV1().ConfigMaps(ns).Delete(ctx, inv.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, woken)
	waitUnsettled(t, eng, inv)
	if res, err = eng.Run(ctx, inv, set()); err != nil {
		t.Fatal(err)
	}
	if res.NoOp {
		t.Fatal("a Run after the inventory was deleted was a no-op")
	}
	if _, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, inv.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("inventory not created again: %v", err)
	}
}

// waitUnsettled waits until the engine's watch shows another writer's
// change of inv (the watched copy is no longer the version the engine
// proved): a notification alone may be a late one of the engine's own
// writes.
func waitUnsettled(t *testing.T, eng *apply.Engine, inv apply.Inventory) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for eng.Settled(inv) {
		if time.Now().After(deadline) {
			t.Fatal("the watch never showed the other writer's change of the inventory")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitWoken(t *testing.T, woken <-chan struct{}) {
	t.Helper()
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("no subscriber notification for the inventory change")
	}
}

// TestInventoryNameTaken: a ConfigMap of the inventory's name that is not
// the inventory (no inventory id, not watched) is neither taken over nor
// changed: the run that would create the inventory fails, and says why.
// (cli-utils' storage read it first and overwrote it with the inventory.)
func TestInventoryNameTaken(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	ctx := ctxFor(t, 2*time.Minute)
	inv := inventoryFor(ns, "gw")
	theirs, err := env.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: inv.Name},
		Data:       map[string]string{"theirs": "yes"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := newEngine(t, nil)
	objs := []*unstructured.Unstructured{serviceAccount(ns, "envoy")}
	if err := eng.WaitWatched(ctx, objs); err != nil {
		t.Fatal(err)
	}
	_, err = eng.Run(ctx, inv, objs)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("run: %v, want the inventory's create refused (already exists)", err)
	}
	t.Logf("run: %v", err)
	after, err := env.Client.CoreV1().ConfigMaps(ns).Get(ctx, inv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != theirs.ResourceVersion || after.Data["theirs"] != "yes" {
		t.Errorf("the ConfigMap of the inventory's name was changed: %+v", after)
	}
}
