package apply

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/cli-utils/pkg/common"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
	"sigs.k8s.io/yaml"
)

// liveBundle returns rendered bundles (render's golden outputs) as the
// apiserver would hold them: berth's Apply entry owning every field it set, a
// kube-controller-manager status entry, and a status per test case.
func liveBundle(t testing.TB) []runtime.Object {
	t.Helper()
	var out []runtime.Object
	for i, file := range []string{"infrastructure", "hpa", "pdb", "addresses-loadbalancer"} {
		raw, err := os.ReadFile("../render/testdata/" + file + ".out.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for j, doc := range strings.Split(string(raw), "\n---\n") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if m["kind"] == nil {
				continue
			}
			u := &unstructured.Unstructured{Object: m}
			applied := fieldpath.SetFromValue(value.NewValueInterface(m))
			fields, err := applied.ToJSON()
			if err != nil {
				t.Fatal(err)
			}
			now := metav1.Now()
			u.SetManagedFields([]metav1.ManagedFieldsEntry{
				{Manager: "berth", Operation: metav1.ManagedFieldsOperationApply, APIVersion: u.GetAPIVersion(), Time: &now,
					FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fields}},
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: u.GetAPIVersion(), Time: &now,
					FieldsType: "FieldsV1", Subresource: "status", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:replicas":{}}}`)}},
			})
			u.SetUID(types.UID(fmt.Sprintf("uid-%d-%d", i, j)))
			u.SetResourceVersion("100")
			u.SetGeneration(2)
			u.SetCreationTimestamp(now)
			obj, err := scheme.Scheme.New(u.GroupVersionKind())
			if err != nil {
				t.Fatalf("%s %s: %v", file, u.GetKind(), err)
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
				t.Fatal(err)
			}
			out = append(out, obj)
		}
	}
	return out
}

// deploymentStates are Deployment statuses kstatus tells apart.
var deploymentStates = []appsv1.DeploymentStatus{
	{},
	{ObservedGeneration: 1, Replicas: 1},
	{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}}},
	{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"}}},
	{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}},
}

// viaJSON is the watched copy the dynamic (JSON) watch makes.
func viaJSON(t testing.TB, h *hub, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := unstructured.UnstructuredJSONScheme.Decode(b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := o.(*unstructured.Unstructured)
	h.transform(u)
	u.SetManagedFields(nil)
	return u
}

// viaProto is the watched copy the typed (protobuf) watch makes.
func viaProto(t testing.TB, h *hub, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	b, err := obj.(protoMarshaler).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gvk := gvkOf(t, obj)
	fresh, _ := scheme.Scheme.New(gvk)
	if err := fresh.(interface{ Unmarshal([]byte) error }).Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	u, err := h.transformTyped(gvk, fresh)
	if err != nil {
		t.Fatal(err)
	}
	u.SetGroupVersionKind(gvk)
	u.SetManagedFields(nil)
	return u
}

func gvkOf(t testing.TB, obj runtime.Object) schema.GroupVersionKind {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		t.Fatalf("no kind for %T: %v", obj, err)
	}
	return gvks[0]
}

// TestTypedWatchedCopyEqualsJSON: for every kind of a bundle and every
// Deployment and Service state, the copy made from the typed (protobuf) object
// is the copy made from JSON: same fields, same owned-fields digest, same
// kstatus result.
func TestTypedWatchedCopyEqualsJSON(t *testing.T) {
	var objs []runtime.Object
	kinds := map[string]bool{}
	for _, o := range liveBundle(t) {
		kinds[gvkOf(t, o).Kind] = true
		switch o := o.(type) {
		case *appsv1.Deployment:
			for _, st := range deploymentStates {
				d := o.DeepCopy()
				d.Status = st
				objs = append(objs, d)
			}
		case *corev1.Service:
			o.Spec.ClusterIP, o.Spec.ClusterIPs = "10.0.0.7", []string{"10.0.0.7"} // assigned by the apiserver
			objs = append(objs, o)
			lb := o.DeepCopy()
			lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
			objs = append(objs, lb)
		case *corev1.ConfigMap:
			objs = append(objs, o)
			inv := o.DeepCopy()
			inv.Labels = map[string]string{common.InventoryLabel: "id"}
			inv.Data = map[string]string{"team-a_envoy_apps_Deployment": ""}
			objs = append(objs, inv)
		default:
			objs = append(objs, o)
		}
	}
	for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget"} {
		if !kinds[k] {
			t.Fatalf("the table has no %s", k)
		}
	}
	for i, obj := range objs {
		name := fmt.Sprintf("%d %s", i, gvkOf(t, obj).Kind)
		j, p := viaJSON(t, &hub{manager: "berth"}, obj), viaProto(t, &hub{manager: "berth"}, obj)
		if d := j.GetAnnotations()[cachedOwnedDigest]; d == "" || strings.HasPrefix(d, "unparseable") {
			t.Fatalf("%s: no owned digest from JSON: %q", name, d)
		}
		if !reflect.DeepEqual(j.Object, p.Object) {
			jb, _ := json.MarshalIndent(j.Object, "", " ")
			pb, _ := json.MarshalIndent(p.Object, "", " ")
			t.Errorf("%s: typed copy differs from JSON copy\njson:  %s\ntyped: %s", name, jb, pb)
			continue
		}
		js, jerr := status.Compute(j)
		ps, perr := status.Compute(p)
		if (jerr == nil) != (perr == nil) || (jerr == nil && (js.Status != ps.Status || js.Message != ps.Message)) {
			t.Errorf("%s: kstatus differs: json %v %v, typed %v %v", name, js, jerr, ps, perr)
		}
	}
}

// TestTypedDigestMemo: a status-only event reuses the object's digest; a
// change of an owned value, of berth's ownership, or a new object recomputes it.
func TestTypedDigestMemo(t *testing.T) {
	var dep *appsv1.Deployment
	for _, o := range liveBundle(t) {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
			break
		}
	}
	h := &hub{manager: "berth"}
	first := viaProto(t, h, dep).GetAnnotations()[cachedOwnedDigest]
	// Plant a sentinel: only a memo hit can return it.
	e := h.memo.m[dep.UID]
	e.digest = "sentinel"
	h.memo.m[dep.UID] = e

	statusOnly := dep.DeepCopy()
	statusOnly.Status = deploymentStates[3]
	statusOnly.ResourceVersion = "101"
	statusOnly.ManagedFields[1].Time = &metav1.Time{}
	if got := viaProto(t, h, statusOnly).GetAnnotations()[cachedOwnedDigest]; got != "sentinel" {
		t.Fatalf("status-only event: digest %q recomputed, want the memo's", got)
	}
	// What another manager adds to the metadata is not berth's either: the
	// kube-controller-manager's revision annotation on a new Deployment.
	foreign := statusOnly.DeepCopy()
	if foreign.Annotations == nil {
		foreign.Annotations = map[string]string{}
	}
	foreign.Annotations["deployment.kubernetes.io/revision"] = "1"
	foreign.Labels["team.example.com/owner"] = "someone"
	if got := viaProto(t, h, foreign).GetAnnotations()[cachedOwnedDigest]; got != "sentinel" {
		t.Fatalf("foreign label and annotation: digest %q recomputed, want the memo's", got)
	}

	changes := map[string]func(d *appsv1.Deployment){
		"owned value":         func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "envoy:other" },
		"owned label":         func(d *appsv1.Deployment) { d.Labels["app.kubernetes.io/component"] = "other" },
		"owned label removed": func(d *appsv1.Deployment) { delete(d.Labels, "app.kubernetes.io/component") },

		"ownership": func(d *appsv1.Deployment) {
			d.ManagedFields[0].FieldsV1 = &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:replicas":{}}}`)}
		},
	}
	for name, change := range changes {
		d := statusOnly.DeepCopy()
		change(d)
		got := viaProto(t, h, d).GetAnnotations()[cachedOwnedDigest]
		want := viaJSON(t, &hub{manager: "berth"}, d).GetAnnotations()[cachedOwnedDigest]
		if got == "sentinel" || got != want || got == first {
			t.Errorf("%s: digest %q, want %q (recomputed, not %q)", name, got, want, first)
		}
		e := h.memo.m[dep.UID] // plant the sentinel again
		e.digest = "sentinel"
		h.memo.m[dep.UID] = e
	}
	h.memo.forget(dep.UID)
	if got := viaProto(t, h, statusOnly).GetAnnotations()[cachedOwnedDigest]; got != first {
		t.Errorf("after forget: digest %q, want %q", got, first)
	}
}

func TestOwnedKeys(t *testing.T) {
	fields := []byte(`{"f:metadata":{"f:labels":{"f:app":{}},"f:annotations":{"f:example.com/a":{}}}}`)
	m := map[string]string{
		"app":                               "owned label",
		"example.com/a":                     "owned annotation",
		"example.com/b":                     "not owned",
		"deployment.kubernetes.io/revision": "not owned",
		"odd key\"":                         "not a valid key: kept, its JSON form is not itself",
		"exa":                               "a prefix of an owned key is not owned",
	}
	got := ownedKeys(m, fields)
	want := map[string]string{"app": m["app"], "example.com/a": m["example.com/a"], "odd key\"": m["odd key\""]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ownedKeys = %v, want %v", got, want)
	}
	all := map[string]string{"app": "x"}
	if got := ownedKeys(all, fields); reflect.ValueOf(got).Pointer() != reflect.ValueOf(all).Pointer() {
		t.Error("ownedKeys copied a map it keeps whole")
	}
	if got := ownedKeys(nil, fields); got != nil {
		t.Errorf("ownedKeys(nil) = %v", got)
	}
}

// BenchmarkWatchEvent is the cost of one Deployment status event on the
// watched copy: decode and transform, from JSON, and from protobuf with the
// digest memo warm (a status-only event) and cold (an object's first event,
// or one that changed what berth owns).
func BenchmarkWatchEvent(b *testing.B) {
	var dep *appsv1.Deployment
	for _, o := range liveBundle(b) {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
			break
		}
	}
	dep.Status = deploymentStates[3]
	js, _ := json.Marshal(dep)
	pb, _ := dep.Marshal()
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	b.Run("json", func(b *testing.B) {
		h := &hub{manager: "berth"}
		b.ReportAllocs()
		for b.Loop() {
			o, _, err := unstructured.UnstructuredJSONScheme.Decode(js, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			u := o.(*unstructured.Unstructured)
			h.transform(u)
			u.SetManagedFields(nil)
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		h := &hub{manager: "berth"}
		b.ReportAllocs()
		for b.Loop() {
			var d appsv1.Deployment
			if err := d.Unmarshal(pb); err != nil {
				b.Fatal(err)
			}
			if _, err := h.transformTyped(gvk, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-cold", func(b *testing.B) {
		h := &hub{manager: "berth"}
		b.ReportAllocs()
		for b.Loop() {
			var d appsv1.Deployment
			if err := d.Unmarshal(pb); err != nil {
				b.Fatal(err)
			}
			h.memo.forget(d.UID)
			if _, err := h.transformTyped(gvk, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBundleInformerHasNoIndex: the bundle's kinds get informers without an
// index; other kinds are left to the informer factory.
func TestBundleInformerHasNoIndex(t *testing.T) {
	client := kubefake.NewClientset()
	tweak := func(*metav1.ListOptions) {}
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Version: "v1", Resource: "services"},
		{Version: "v1", Resource: "serviceaccounts"},
		{Version: "v1", Resource: "configmaps"},
		{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
		{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	} {
		inf := bundleInformer(client, gvr, "ns", tweak)
		if inf == nil {
			t.Errorf("%s: no informer", gvr)
			continue
		}
		if n := len(inf.GetIndexer().GetIndexers()); n != 0 {
			t.Errorf("%s: %d indexes", gvr, n)
		}
	}
	if inf := bundleInformer(client, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "", tweak); inf != nil {
		t.Error("statefulsets: built here, want the factory's")
	}
}
