package kindwatch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

var (
	cmGK  = schema.GroupKind{Kind: "ConfigMap"}
	cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	depGK = schema.GroupKind{Group: "apps", Kind: "Deployment"}
)

func configMap(ns, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply}})
	return u
}

// fixture is a fake cluster (the dynamic fake client) with ConfigMaps and
// Deployments, and a mapper that knows only those two kinds.
type fixture struct {
	client *dynamicfake.FakeDynamicClient
	mapper *meta.DefaultRESTMapper

	mu     sync.Mutex
	events []Event
	errs   []*Error
	ready  []schema.GroupKind
}

func newFixture(objs ...runtime.Object) *fixture {
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Version: "v1"}, {Group: "apps", Version: "v1"}})
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		cmGVR: "ConfigMapList",
		{Group: "apps", Version: "v1", Resource: "deployments"}: "DeploymentList",
	}, objs...)
	return &fixture{client: client, mapper: mapper}
}

func (f *fixture) options(o Options) Options {
	o.OnEvent = func(e Event) { f.mu.Lock(); f.events = append(f.events, e); f.mu.Unlock() }
	o.OnError = func(e *Error) { f.mu.Lock(); f.errs = append(f.errs, e); f.mu.Unlock() }
	o.OnReady = func(k *Kind) { f.mu.Lock(); f.ready = append(f.ready, k.GroupKind()); f.mu.Unlock() }
	return o
}

func waitReady(t *testing.T, k *Kind) {
	t.Helper()
	select {
	case <-k.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never ready", k.GroupKind())
	}
}

// eventually polls cond: informers deliver on their own goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func TestKindCachesSelectedObjects(t *testing.T) {
	f := newFixture(
		configMap("a", "mine", map[string]string{"managed": "yes"}),
		configMap("a", "other", nil),
		configMap("b", "elsewhere", map[string]string{"managed": "yes"}),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var transformed []string
	var tmu sync.Mutex
	set := New(ctx, f.client, f.mapper, f.options(Options{
		Namespaces:    []string{"a"},
		LabelSelector: "managed=yes",
		Transform: func(u *unstructured.Unstructured) {
			tmu.Lock()
			defer tmu.Unlock()
			// The transform still sees managedFields.
			transformed = append(transformed, u.GetName()+":"+u.GetManagedFields()[0].Manager)
		},
	}))
	cms := set.Kind(cmGK)
	if set.Kind(cmGK) != cms {
		t.Fatal("a second Kind call started a second watch")
	}
	waitReady(t, cms)
	if err := cms.Err(); err != nil || !cms.HasSynced() || !cms.Namespaced() {
		t.Fatalf("err %v, synced %t, namespaced %t", err, cms.HasSynced(), cms.Namespaced())
	}
	u, found, ok := cms.Get("a", "mine")
	if !ok || !found {
		t.Fatalf("a/mine: found %t, ok %t", found, ok)
	}
	if u.GetManagedFields() != nil {
		t.Error("managedFields kept in the cache")
	}
	if _, found, ok := cms.Get("a", "other"); !ok || found {
		t.Errorf("unselected a/other: found %t, ok %t", found, ok)
	}
	if _, _, ok := cms.Get("b", "elsewhere"); ok {
		t.Error("namespace b is outside the Set, yet Get answered for it")
	}
	if n := cms.Len(); n != 1 || len(cms.List()) != 1 {
		t.Errorf("Len %d, List %d, want 1", n, len(cms.List()))
	}
	tmu.Lock()
	if len(transformed) != 1 || transformed[0] != "mine:berth" {
		t.Errorf("transform saw %v", transformed)
	}
	tmu.Unlock()
	if got := set.Scopes(true); len(got) != 1 || got[0] != "a" {
		t.Errorf("Scopes(namespaced) = %v", got)
	}
	if got := set.Scopes(false); len(got) != 1 || got[0] != "" {
		t.Errorf("Scopes(cluster) = %v", got)
	}

	// Changes arrive as events: add, update (with the old state), delete.
	if _, err := f.client.Resource(cmGVR).Namespace("a").Create(ctx, configMap("a", "new", map[string]string{"managed": "yes"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	upd := configMap("a", "new", map[string]string{"managed": "yes", "v": "2"})
	if _, err := f.client.Resource(cmGVR).Namespace("a").Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Resource(cmGVR).Namespace("a").Delete(ctx, "new", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "add, update and delete of a/new", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		var add, update, del bool
		for _, e := range f.events {
			if e.Kind != cmGK || e.Object.GetName() != "new" {
				continue
			}
			switch {
			case e.Deleted:
				del = true
			case e.Old != nil:
				update = e.Old.GetLabels()["v"] == "" && e.Object.GetLabels()["v"] == "2"
			default:
				add = true
			}
		}
		return add && update && del
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ready) != 1 || f.ready[0] != cmGK || len(f.errs) != 0 {
		t.Errorf("ready %v, errors %v", f.ready, f.errs)
	}
}

func TestKindWithoutMapping(t *testing.T) {
	unknown := schema.GroupKind{Group: "example.com", Kind: "Widget"}
	for _, retry := range []bool{false, true} {
		f := newFixture()
		ctx, cancel := context.WithCancel(context.Background())
		resets := 0
		set := New(ctx, f.client, f.mapper, f.options(Options{RetryFailed: retry, ResetMapper: func() { resets++ }}))
		k := set.Kind(unknown)
		waitReady(t, k)
		var werr *Error
		if err := k.Err(); !errors.As(err, &werr) || werr.Kind != unknown || !meta.IsNoMatchError(err) {
			t.Fatalf("retry %t: Err() = %v, want a no-match *Error", retry, err)
		}
		if resets != 1 {
			t.Errorf("retry %t: mapper reset %d times, want 1", retry, resets)
		}
		f.mu.Lock()
		if len(f.errs) != 1 || f.errs[0].Denied {
			t.Errorf("retry %t: OnError got %v", retry, f.errs)
		}
		f.mu.Unlock()
		again := set.Kind(unknown)
		if (again != k) != retry {
			t.Errorf("retry %t: second Kind call started anew: %t", retry, again != k)
		}
		// A retried kind fails again and reports again (once); a kept
		// failure reports nothing more. Waiting for the retry to settle
		// makes the count deterministic.
		waitReady(t, again)
		want := 1
		if retry {
			want = 2
		}
		f.mu.Lock()
		if len(f.errs) != want {
			t.Errorf("retry %t: after the second Kind call OnError got %v, want %d reports", retry, f.errs, want)
		}
		f.mu.Unlock()
		cancel()
	}
}

// A kind the identity may not list is ready at once (nobody should wait for
// a cache that never fills), denied, and reported once.
func TestKindDenied(t *testing.T) {
	f := newFixture()
	f.client.PrependReactor("list", "deployments", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("no"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	set := New(ctx, f.client, f.mapper, f.options(Options{}))
	k := set.Kind(depGK)
	waitReady(t, k)
	if !k.Denied() || k.HasSynced() || k.Err() != nil {
		t.Fatalf("denied %t, synced %t, err %v", k.Denied(), k.HasSynced(), k.Err())
	}
	if _, _, ok := k.Get("a", "x"); ok {
		t.Error("Get answered for a kind never listed")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) != 1 || !f.errs[0].Denied || f.errs[0].Resource != "deployments" || !apierrors.IsForbidden(f.errs[0]) {
		t.Errorf("OnError got %v", f.errs)
	}
}

// A Set stopped before a kind synced reports why.
func TestKindStoppedBeforeSync(t *testing.T) {
	f := newFixture()
	block := make(chan struct{})
	defer close(block)
	f.client.PrependReactor("list", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		<-block
		return true, nil, errors.New("unblocked")
	})
	ctx, cancel := context.WithCancel(context.Background())
	set := New(ctx, f.client, f.mapper, Options{})
	k := set.Kind(cmGK)
	cancel()
	waitReady(t, k)
	if err := k.Err(); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Err() = %v, want the cancellation", err)
	}
}

// TestTypedKinds: with a typed clientset, a built-in kind is listed and
// watched through it (the dynamic client sees no request), selected by the
// Set's labels; without TransformTyped the cached copy is the whole object
// converted (apiVersion and kind set, managedFields dropped, Transform applied);
// with it, its result is cached.
func TestTypedKinds(t *testing.T) {
	cm := func(name string, labels map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name, Labels: labels,
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply}}},
			Data: map[string]string{"k": "v"},
		}
	}
	for _, withTyped := range []bool{false, true} {
		f := newFixture()
		typed := kubefake.NewClientset(cm("mine", map[string]string{"managed": "yes"}), cm("other", nil))
		ctx, cancel := context.WithCancel(context.Background())
		var transformed, typedSeen []string
		var tmu sync.Mutex
		opts := Options{
			LabelSelector: "managed=yes",
			Typed:         typed,
			Transform: func(u *unstructured.Unstructured) {
				tmu.Lock()
				transformed = append(transformed, u.GetName()+":"+u.GetManagedFields()[0].Manager)
				tmu.Unlock()
			},
		}
		var built []string
		if withTyped {
			// A caller's informer constructor is used (here: none for this kind, so the factory's).
			opts.TypedInformer = func(_ kubernetes.Interface, gvr schema.GroupVersionResource, ns string, tweak func(*metav1.ListOptions)) cache.SharedIndexInformer {
				var o metav1.ListOptions
				tweak(&o)
				tmu.Lock()
				built = append(built, gvr.Resource+" in "+ns+" "+o.LabelSelector)
				tmu.Unlock()
				return nil
			}
			opts.TransformTyped = func(gvk schema.GroupVersionKind, o runtime.Object) (*unstructured.Unstructured, error) {
				c := o.(*corev1.ConfigMap)
				tmu.Lock()
				typedSeen = append(typedSeen, gvk.Kind+":"+c.Name)
				tmu.Unlock()
				u := &unstructured.Unstructured{Object: map[string]any{}}
				u.SetNamespace(c.Namespace)
				u.SetName(c.Name)
				u.SetLabels(c.Labels)
				u.SetManagedFields(c.ManagedFields)
				return u, nil
			}
		}
		set := New(ctx, f.client, f.mapper, f.options(opts))
		cms := set.Kind(cmGK)
		waitReady(t, cms)
		u, found, ok := cms.Get("a", "mine")
		if !ok || !found {
			cancel()
			t.Fatalf("typed %t: a/mine found %t, ok %t", withTyped, found, ok)
		}
		if _, found, _ := cms.Get("a", "other"); found {
			t.Errorf("typed %t: unselected a/other cached", withTyped)
		}
		if u.GetKind() != "ConfigMap" || u.GetAPIVersion() != "v1" || u.GetManagedFields() != nil {
			t.Errorf("typed %t: cached %s %s with managedFields %v", withTyped, u.GetAPIVersion(), u.GetKind(), u.GetManagedFields())
		}
		tmu.Lock()
		if withTyped {
			if len(typedSeen) != 1 || typedSeen[0] != "ConfigMap:mine" || len(transformed) != 0 {
				t.Errorf("TransformTyped saw %v, Transform %v", typedSeen, transformed)
			}
			if _, has := u.Object["data"]; has {
				t.Error("TransformTyped's result not the cached copy")
			}
			if len(built) != 1 || built[0] != "configmaps in  managed=yes" {
				t.Errorf("TypedInformer called for %q", built)
			}
		} else {
			if len(transformed) != 1 || transformed[0] != "mine:berth" {
				t.Errorf("Transform saw %v", transformed)
			}
			if v, _, _ := unstructured.NestedString(u.Object, "data", "k"); v != "v" {
				t.Errorf("converted copy lost data: %v", u.Object)
			}
		}
		tmu.Unlock()
		if n := len(f.client.Actions()); n != 0 {
			t.Errorf("typed %t: dynamic client saw %d requests", withTyped, n)
		}
		// Updates arrive through the typed watch.
		upd := cm("mine", map[string]string{"managed": "yes", "v": "2"})
		if _, err := typed.CoreV1().ConfigMaps("a").Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the typed update", func() bool {
			u, _, _ := cms.Get("a", "mine")
			return u != nil && u.GetLabels()["v"] == "2"
		})
		cancel()
	}
}
