package apply

import (
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// This file is pure: the owned-fields digest an object will have once a
// server-side apply has created it, known before the apply.
//
// A server-side apply that creates an object gives its field manager exactly
// the fields the applied object sets (structured-merge-diff's field set of
// it, less the fields the apiserver strips from every managedFields entry),
// holding the applied values unless admission or the apiserver's
// normalization changes them. So a new inventory can be created carrying the
// digests a clean run will record, and the run has no digest patch to send
// when the live objects turn out to hold them (a changed value, an object
// that already existed: the digests are then patched after the run, as for
// any other run). A predicted digest the objects do not hold proves nothing:
// the no-op check compares it with what the watched objects hold. The patch
// is also sent when a kind has no built-in schema here (a custom resource),
// when client-go's compiled-in schema and the apiserver's disagree on a
// field's list type or keys, and when cli-utils wrote the inventory again
// in the run.

// strippedFields are the fields the apiserver removes from every
// managedFields entry (k8s.io/apimachinery's stripMetaManager).
var strippedFields = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

// builtinTypes converts the built-in kinds to structured-merge-diff's typed
// values with client-go's compiled-in schema (list types and keys included),
// parsed on first use: ~0.2 s of CPU, and the process's memory grows by
// ~10 MiB while it is parsed (WarmUp).
var builtinTypes = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme)
})

// WarmUp does ahead what the first Run that creates an inventory would do
// once (parse the schema that predicts its digests), so a long-running
// caller pays it at start rather than on its first new bundle. Safe to call
// concurrently; later calls return at once.
func WarmUp() { _ = builtinTypes() }

// predictedOwnedDigest is ownedDigest(live, manager) of the object a
// server-side apply of obj by manager creates, when the apiserver stores the
// values obj sets as they are. ok is false for a kind without a built-in
// schema or an object the schema refuses.
func predictedOwnedDigest(obj *unstructured.Unstructured) (string, bool) {
	tv, err := builtinTypes().ObjectToTyped(obj)
	if err != nil {
		return "", false
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		return "", false
	}
	set = set.Difference(strippedFields)
	if set.Empty() {
		return "", true // ownedDigest of an object whose entry owns nothing
	}
	tree, err := fieldsTree(set)
	if err != nil {
		return "", false
	}
	d, _ := projectTree(tree, obj, false)
	return d, true
}

// fieldsTree is the FieldsV1 tree of set, as json.Unmarshal of set.ToJSON()
// gives it, without the JSON: each path element as its FieldsV1 key, once;
// {} for a member, and "." in a member that also has children.
func fieldsTree(set *fieldpath.Set) (map[string]any, error) {
	node := make(map[string]any, set.Members.Size()+set.Children.Size())
	var err error
	set.Members.Iterate(func(pe fieldpath.PathElement) {
		k, kerr := fieldsKey(pe)
		if kerr != nil {
			err = kerr
			return
		}
		node[k] = map[string]any{}
	})
	set.Children.Iterate(func(pe fieldpath.PathElement) {
		if err != nil {
			return
		}
		k, kerr := fieldsKey(pe)
		if kerr != nil {
			err = kerr
			return
		}
		child, _ := set.Children.Get(pe)
		sub, serr := fieldsTree(child)
		if serr != nil {
			err = serr
			return
		}
		if _, member := node[k]; member {
			sub["."] = map[string]any{}
		}
		node[k] = sub
	})
	return node, err
}

// fieldsKey is fieldpath.SerializePathElement, without its JSON stream for
// the common elements: a field name (which it writes raw) and an index.
func fieldsKey(pe fieldpath.PathElement) (string, error) {
	switch {
	case pe.FieldName != nil:
		return "f:" + *pe.FieldName, nil
	case pe.Index != nil:
		return "i:" + strconv.Itoa(*pe.Index), nil
	}
	return fieldpath.SerializePathElement(pe)
}

// predictedDigests returns the combined owned-fields digest objs will hold
// once created by server-side apply (predictedOwnedDigest), or false when
// any of them cannot be predicted.
func predictedDigests(objs []*unstructured.Unstructured) (string, bool) {
	owned := make(map[string]string, len(objs))
	for _, o := range objs {
		d, ok := predictedOwnedDigest(o)
		if !ok {
			return "", false
		}
		owned[refOf(o).String()] = d
	}
	return combineDigests(owned), true
}
