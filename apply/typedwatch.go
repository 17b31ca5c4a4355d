package apply

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"reflect"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	autoscalinginformers "k8s.io/client-go/informers/autoscaling/v2"
	coreinformers "k8s.io/client-go/informers/core/v1"
	policyinformers "k8s.io/client-go/informers/policy/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/cli-utils/pkg/common"
)

// The built-in kinds of a bundle (Deployment, Service, ServiceAccount,
// ConfigMap, HPA, PDB) are watched as typed objects decoded from protobuf
// (kindwatch.Options.Typed); transformTyped turns each into the same watched
// copy transform makes from JSON: the owned-fields digest annotated, then the
// unread fields and managedFields dropped.
//
// Most events of a bundle are status updates (the kube-controller-manager's
// progress on a Deployment) that leave every field berth owns as it was. The
// digest of an object is a function of its main resource without status and of
// berth's Apply entry, so transformTyped keeps, per object, a hash of those
// inputs (digestKey) and the digest it gave; an event whose inputs hash the
// same reuses the digest and converts only what the watched copy keeps.

// digestMemo is the last owned-fields digest computed per object (by UID).
type digestMemo struct {
	mu sync.Mutex
	m  map[types.UID]memoEntry
}

type memoEntry struct {
	key    [sha256.Size]byte
	digest string
}

func (d *digestMemo) get(uid types.UID, key [sha256.Size]byte) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[uid]
	if !ok || e.key != key {
		return "", false
	}
	return e.digest, true
}

func (d *digestMemo) put(uid types.UID, key [sha256.Size]byte, digest string) {
	d.mu.Lock()
	if d.m == nil {
		d.m = map[types.UID]memoEntry{}
	}
	d.m[uid] = memoEntry{key: key, digest: digest}
	d.mu.Unlock()
}

func (d *digestMemo) forget(uid types.UID) {
	d.mu.Lock()
	delete(d.m, uid)
	d.mu.Unlock()
}

// protoMarshaler is implemented by every built-in API type.
type protoMarshaler interface{ Marshal() ([]byte, error) }

// transformTyped makes the watched copy of a typed object.
func (h *hub) transformTyped(gvk schema.GroupVersionKind, obj runtime.Object) (*unstructured.Unstructured, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	fields, owned := appliedFields(acc.GetManagedFields(), h.manager)
	digest, hit := "", !owned
	var key [sha256.Size]byte
	keyed := false
	if owned {
		if key, keyed = digestKey(obj, fields); keyed {
			digest, hit = h.memo.get(acc.GetUID(), key)
		}
	}
	var m map[string]any
	if hit {
		// Only what the watched copy keeps.
		acc.SetManagedFields(nil)
		stripTyped(obj, acc)
		m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	} else {
		// The whole object, with berth's entry as its only managedFields, for
		// the digest; the watched copy is cut from it below.
		acc.SetManagedFields([]metav1.ManagedFieldsEntry{{
			Manager: h.manager, Operation: metav1.ManagedFieldsOperationApply,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fields},
		}})
		m, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	}
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	if !hit {
		digest = cachedDigests(u, h.manager)
		if keyed {
			h.memo.put(acc.GetUID(), key, digest)
		}
		u.SetManagedFields(nil)
	}
	stripUnread(u)
	u.Object = compactMap(u.Object)
	setCachedDigest(u, digest)
	return u, nil
}

// compactMap returns m with every map in it rebuilt at its length: the
// converter sizes a struct's map for all of the struct's fields (a PodSpec's
// ~40), and the watched copies live as long as their objects.
func compactMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = compactValue(v)
	}
	return out
}

func compactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return compactMap(v)
	case []any:
		for i := range v {
			v[i] = compactValue(v[i])
		}
	}
	return v
}

// appliedFields returns the FieldsV1 JSON of manager's Apply entry on the main
// resource (ownedFields' entry); owned is false when there is none.
func appliedFields(entries []metav1.ManagedFieldsEntry, manager string) (fields []byte, owned bool) {
	for _, mf := range entries {
		if mf.Manager == manager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			if mf.FieldsV1 == nil || len(mf.FieldsV1.Raw) == 0 {
				return nil, false
			}
			return mf.FieldsV1.Raw, true
		}
	}
	return nil, false
}

// digestKey hashes what ownedDigest reads of obj: the object's protobuf
// encoding without resourceVersion and managedFields, without the labels and
// annotations berth's entry does not own (the revision annotation the
// kube-controller-manager adds to a new Deployment is not a new digest), and
// without status unless berth's entry owns some of it (an Apply to the main
// resource of a kind with a status subresource never does), followed by
// berth's FieldsV1. ok is false for an object that is not a
// protobuf-encodable struct.
func digestKey(obj runtime.Object, fields []byte) (key [sha256.Size]byte, ok bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return key, false
	}
	c := reflect.New(v.Elem().Type()) // a shallow copy to edit
	c.Elem().Set(v.Elem())
	if !bytes.Contains(fields, []byte(`"f:status"`)) {
		if st := c.Elem().FieldByName("Status"); st.IsValid() && st.CanSet() {
			st.SetZero()
		}
	}
	cp, ok := c.Interface().(runtime.Object)
	if !ok {
		return key, false
	}
	acc, err := meta.Accessor(cp)
	if err != nil {
		return key, false
	}
	acc.SetResourceVersion("")
	acc.SetManagedFields(nil)
	acc.SetLabels(ownedKeys(acc.GetLabels(), fields))
	acc.SetAnnotations(ownedKeys(acc.GetAnnotations(), fields))
	pm, ok := cp.(protoMarshaler)
	if !ok {
		return key, false
	}
	b, err := pm.Marshal()
	if err != nil {
		return key, false
	}
	hs := sha256.New()
	_, _ = fmt.Fprintf(hs, "%d\n", len(b))
	_, _ = hs.Write(b)
	_, _ = hs.Write(fields)
	copy(key[:], hs.Sum(nil))
	return key, true
}

// ownedKeys returns m without the keys fields (a FieldsV1) cannot own: those
// whose "f:key" does not occur in it. A key is kept unless it is spelled the
// way every label and annotation key is (letters, digits, '.', '_', '-',
// '/'), so that its JSON form is itself; a key that occurs elsewhere in
// fields is kept too. Either way the digest can only be recomputed more
// often, never reused for a changed owned value. m itself when all stay.
func ownedKeys(m map[string]string, fields []byte) map[string]string {
	drop := 0
	for k := range m {
		if !ownable(k, fields) {
			drop++
		}
	}
	if drop == 0 {
		return m
	}
	out := make(map[string]string, len(m)-drop)
	for k, v := range m {
		if ownable(k, fields) {
			out[k] = v
		}
	}
	return out
}

func ownable(key string, fields []byte) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/') {
			return true
		}
	}
	var b [256]byte
	q := append(append(append(b[:0], `"f:`...), key...), '"')
	return bytes.Contains(fields, q)
}

// stripTyped drops, before conversion, the typed fields stripUnread would drop
// after it (so they are never converted); stripUnread still runs on the result.
func stripTyped(obj runtime.Object, acc metav1.Object) {
	_, inv := acc.GetLabels()[common.InventoryLabel]
	if !inv {
		acc.SetLabels(nil)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec = appsv1.DeploymentSpec{Replicas: o.Spec.Replicas, ProgressDeadlineSeconds: o.Spec.ProgressDeadlineSeconds, Paused: o.Spec.Paused}
	case *appsv1.StatefulSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.DaemonSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *appsv1.ReplicaSet:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *batchv1.Job:
		o.Spec.Template = corev1.PodTemplateSpec{}
	case *corev1.Service:
		o.Spec = corev1.ServiceSpec{Type: o.Spec.Type, ClusterIP: o.Spec.ClusterIP, ClusterIPs: o.Spec.ClusterIPs}
	case *corev1.ConfigMap:
		if !inv {
			o.Data, o.BinaryData = nil, nil
		}
	case *corev1.Secret:
		if !inv {
			o.Data, o.StringData = nil, nil
		}
	}
}

// bundleInformer builds the typed informers of a bundle's kinds without the
// namespace index client-go's informer factory adds (an index entry per
// watched object that nothing reads); other kinds get the factory's.
func bundleInformer(client kubernetes.Interface, gvr schema.GroupVersionResource, ns string, tweak func(*metav1.ListOptions)) cache.SharedIndexInformer {
	none := cache.Indexers{}
	switch gvr {
	case appsv1.SchemeGroupVersion.WithResource("deployments"):
		return appsinformers.NewFilteredDeploymentInformer(client, ns, 0, none, tweak)
	case corev1.SchemeGroupVersion.WithResource("services"):
		return coreinformers.NewFilteredServiceInformer(client, ns, 0, none, tweak)
	case corev1.SchemeGroupVersion.WithResource("serviceaccounts"):
		return coreinformers.NewFilteredServiceAccountInformer(client, ns, 0, none, tweak)
	case corev1.SchemeGroupVersion.WithResource("configmaps"):
		return coreinformers.NewFilteredConfigMapInformer(client, ns, 0, none, tweak)
	case autoscalingv2.SchemeGroupVersion.WithResource("horizontalpodautoscalers"):
		return autoscalinginformers.NewFilteredHorizontalPodAutoscalerInformer(client, ns, 0, none, tweak)
	case policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"):
		return policyinformers.NewFilteredPodDisruptionBudgetInformer(client, ns, 0, none, tweak)
	}
	return nil
}
