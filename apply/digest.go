package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// This file is pure: digests that let a Run prove "nothing to do" without a write.
//
// setDigest identifies the desired set (what the caller asked for). ownedDigest
// identifies what the live objects hold in the fields the field manager owns: the
// live object projected onto the manager's managedFields entry, values included. The
// pair is recorded on the inventory after a clean run; a later Run whose desired set
// has the same setDigest and whose watched objects still project to the same
// ownedDigest has nothing to write. Any change by another writer to a field berth set
// moves that field's ownership away (Update) or changes the value (shared Apply), so
// it changes the ownedDigest.

// setDigest returns a hex digest of objs (order-independent) and of the options that
// change what a write would do.
func setDigest(objs []*unstructured.Unstructured, writeOptions string) (string, error) {
	type entry struct {
		key  string
		body []byte
	}
	entries := make([]entry, 0, len(objs))
	for _, o := range objs {
		body, err := json.Marshal(o.Object) // encoding/json sorts map keys
		if err != nil {
			return "", fmt.Errorf("digest %s: %w", refOf(o), err)
		}
		entries = append(entries, entry{key: refOf(o).String(), body: body})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	h := sha256.New()
	_, _ = io.WriteString(h, writeOptions+"\n")
	for _, e := range entries {
		_, _ = fmt.Fprintf(h, "%s\n%d\n", e.key, len(e.body))
		_, _ = h.Write(e.body)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ownedDigest returns a digest of the values obj holds at the fields manager owns
// through Apply (the main resource, not a subresource), or "" when manager owns
// nothing on obj.
func ownedDigest(obj *unstructured.Unstructured, manager string) string {
	var fields *metav1.FieldsV1
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == manager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			fields = mf.FieldsV1
			break
		}
	}
	if fields == nil || len(fields.Raw) == 0 {
		return ""
	}
	var tree map[string]any
	if err := json.Unmarshal(fields.Raw, &tree); err != nil {
		// Unparseable ownership: a digest nobody can reproduce, so the fast path is never taken.
		return "unparseable:" + err.Error()
	}
	var lines []string
	project(tree, obj.Object, "", &lines)
	h := sha256.New()
	for _, l := range lines {
		_, _ = io.WriteString(h, l+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// project walks a FieldsV1 tree alongside the live value and appends "path=value"
// for every owned leaf, in key order.
func project(tree map[string]any, live any, path string, out *[]string) {
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub, _ := tree[k].(map[string]any)
		if k == "." {
			*out = append(*out, path+"="+jsonString(live))
			continue
		}
		child, childPath := projectChild(k, live, path)
		if len(sub) == 0 {
			*out = append(*out, childPath+"="+jsonString(child))
			continue
		}
		project(sub, child, childPath, out)
	}
}

// projectChild resolves one FieldsV1 path element (f:, k:, v:, i:) against live.
func projectChild(elem string, live any, path string) (any, string) {
	childPath := path + "/" + elem
	prefix, arg, _ := strings.Cut(elem, ":")
	switch prefix {
	case "f":
		m, _ := live.(map[string]any)
		return m[arg], childPath
	case "i":
		list, _ := live.([]any)
		i, err := strconv.Atoi(arg)
		if err != nil || i < 0 || i >= len(list) {
			return nil, childPath
		}
		return list[i], childPath
	case "v":
		var want any
		if err := json.Unmarshal([]byte(arg), &want); err != nil {
			return nil, childPath
		}
		for _, item := range asList(live) {
			if jsonString(item) == jsonString(want) {
				return item, childPath
			}
		}
		return nil, childPath
	case "k":
		var keyFields map[string]any
		if err := json.Unmarshal([]byte(arg), &keyFields); err != nil {
			return nil, childPath
		}
		for _, item := range asList(live) {
			m, ok := item.(map[string]any)
			if ok && matchesKey(m, keyFields) {
				return item, childPath
			}
		}
		return nil, childPath
	}
	return nil, childPath
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func matchesKey(item, key map[string]any) bool {
	for k, want := range key {
		if jsonString(item[k]) != jsonString(want) {
			return false
		}
	}
	return true
}

// jsonString renders a value canonically; numbers from JSON (float64) and from
// unstructured (int64) render the same.
func jsonString(v any) string {
	if v == nil {
		return "<absent>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "<unencodable>"
	}
	return string(b)
}

// combineDigests folds per-object digests (keyed by object) into one, order-independent.
func combineDigests(perObject map[string]string) string {
	keys := make([]string, 0, len(perObject))
	for k := range perObject {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		_, _ = fmt.Fprintf(h, "%s=%s\n", k, perObject[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
