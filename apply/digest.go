package apply

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// This file is pure: digests that let a Run prove "nothing to do" without a write.
//
// setDigest identifies the desired set (what the caller asked for). ownedDigest
// identifies what the live objects hold in the fields the field manager owns: the
// live object projected onto the manager's managedFields entry, values included.
// The pair is recorded on the inventory, by the create of a new inventory
// (predicted, predict.go) or after a clean run; a later Run whose desired set has
// the same setDigest and whose watched objects still project to the same
// ownedDigest has nothing to write. A recorded pair is a claim the watched
// objects must bear out, never proof by itself: a prediction the objects do not
// hold (an apply that never happened or failed) proves nothing. Any change by
// another writer to a field berth set moves that field's ownership away (Update)
// or changes the value (shared Apply), so it changes the ownedDigest.

// setDigest returns a hex digest of objs (order-independent) and of the options that
// change what a write would do.
func setDigest(objs []*unstructured.Unstructured, writeOptions string) (string, error) {
	type entry struct {
		key string
		obj *unstructured.Unstructured
	}
	entries := make([]entry, 0, len(objs))
	for _, o := range objs {
		entries = append(entries, entry{key: refOf(o).String(), obj: o})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	h := sha256.New()
	_, _ = io.WriteString(h, writeOptions+"\n")
	var body []byte
	for _, e := range entries {
		var err error
		if body, err = appendMarshal(body[:0], e.obj.Object); err != nil { // encoding/json sorts map keys
			return "", fmt.Errorf("digest %s: %w", e.key, err)
		}
		_, _ = fmt.Fprintf(h, "%s\n%d\n", e.key, len(body))
		_, _ = h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// appendMarshal appends json.Marshal(v) to b, through a reused encoder and
// buffer rather than a new slice per value (a bundle's objects and the
// ConfigMap's strings are kilobytes each).
func appendMarshal(b []byte, v any) ([]byte, error) {
	s := jsonScratchPool.Get().(*jsonScratch)
	defer jsonScratchPool.Put(s)
	s.buf.Reset()
	if err := s.enc.Encode(v); err != nil {
		return b, err
	}
	out := s.buf.Bytes()
	return append(b, out[:len(out)-1]...), nil // Encode ends a value with a newline; Marshal does not
}

type jsonScratch struct {
	buf bytes.Buffer
	enc *json.Encoder // into buf, escaping HTML as json.Marshal does
}

var jsonScratchPool = sync.Pool{New: func() any {
	s := &jsonScratch{}
	s.enc = json.NewEncoder(&s.buf)
	return s
}}

// ownedDigest returns a digest of the values obj holds at the fields manager owns
// through Apply (the main resource, not a subresource), or "" when manager owns
// nothing on obj. An owned list element counts by its existence (its owned
// fields count by value), so the digest of an object a server-side apply
// created is known before the apply (predict.go). It runs on every watch event
// of a bundle object, so it reads the managedFields entry where unstructured
// keeps it (a JSON tree) and encodes leaves without reflection (appendJSON).
func ownedDigest(obj *unstructured.Unstructured, manager string) string {
	d, _ := projectOwned(obj, manager, false)
	return d
}

// ownedDigests returns ownedDigest and legacy, the digest berth recorded
// before owned list elements counted by existence (their whole value then
// counted, defaults and other managers' fields included): inventories
// recorded by earlier versions hold that one, and are proven unchanged by it
// rather than applied again after an upgrade.
func ownedDigests(obj *unstructured.Unstructured, manager string) (digest, legacy string) {
	return projectOwned(obj, manager, true)
}

// projectOwned is ownedDigests; without withLegacy, legacy is "".
func projectOwned(obj *unstructured.Unstructured, manager string, withLegacy bool) (digest, legacy string) {
	tree, found, err := ownedFields(obj, manager)
	if err != nil {
		// Unparseable ownership: a digest nobody can reproduce, so the fast path is never taken.
		d := "unparseable:" + err.Error()
		return d, d
	}
	if !found {
		return "", ""
	}
	return projectTree(tree, obj, withLegacy)
}

// projectTree hashes obj's values at the fields of FieldsV1 tree: the owned
// digest, and with withLegacy the legacy one (else "").
func projectTree(tree map[string]any, obj *unstructured.Unstructured, withLegacy bool) (digest, legacy string) {
	p := projection{h: sha256.New()}
	if withLegacy {
		p.legacy = sha256.New()
	}
	p.project(tree, obj.Object, "")
	if withLegacy {
		legacy = hex.EncodeToString(p.legacy.Sum(nil))
	}
	return hex.EncodeToString(p.h.Sum(nil)), legacy
}

// legacySeparator joins a watched copy's digest and its legacy digest in
// cachedOwnedDigest when they differ (hex digests hold no space).
const legacySeparator = " legacy="

// cachedDigests is what a watched copy of obj carries in cachedOwnedDigest:
// its ownedDigest, and its legacy digest when that differs.
func cachedDigests(obj *unstructured.Unstructured, manager string) string {
	d, l := ownedDigests(obj, manager)
	if l == d {
		return d
	}
	return d + legacySeparator + l
}

// splitCached splits a cachedOwnedDigest value into the digest and the
// legacy one (the digest itself when none is kept).
func splitCached(v string) (digest, legacy string) {
	if d, l, ok := strings.Cut(v, legacySeparator); ok {
		return d, l
	}
	return v, v
}

// provenUnchanged reports whether watched copies carrying cached (their
// cachedOwnedDigest, by object) hold what an inventory recorded as its
// owned-fields digest: as this version records it, or as earlier versions
// did (the legacy digests) on an inventory not applied since.
func provenUnchanged(cached map[string]string, recorded string) bool {
	owned := make(map[string]string, len(cached))
	legacy := false
	for k, v := range cached {
		d, l := splitCached(v)
		owned[k], legacy = d, legacy || l != d
	}
	if combineDigests(owned) == recorded {
		return true
	}
	if !legacy {
		return false
	}
	for k, v := range cached {
		_, owned[k] = splitCached(v)
	}
	return combineDigests(owned) == recorded
}

// projection hashes "path=value\n" lines, one per owned leaf, through one
// reused buffer; legacy, when set, hashes the lines of the legacy digest.
type projection struct {
	h, legacy hash.Hash
	buf       []byte
}

func (p *projection) line(path string, v any) {
	p.write(path, v, p.h)
	if p.legacy != nil {
		_, _ = p.legacy.Write(p.buf)
	}
}

// element hashes an owned list element: its existence, and for the legacy
// digest its whole value.
func (p *projection) element(path string, v any) {
	p.write(path, present(v), p.h)
	if p.legacy != nil {
		p.write(path, v, p.legacy)
	}
}

func (p *projection) write(path string, v any, h hash.Hash) {
	b := append(append(p.buf[:0], path...), '=')
	if v == nil {
		b = append(b, "<absent>"...)
	} else if enc, ok := appendJSON(b, v); ok {
		b = enc
	} else {
		b = append(b[:len(path)+1], "<unencodable>"...)
	}
	b = append(b, '\n')
	_, _ = h.Write(b)
	p.buf = b
}

// ownedFields returns the FieldsV1 tree of manager's Apply entry on the main
// resource; found is false when there is none or it is empty.
func ownedFields(obj *unstructured.Unstructured, manager string) (map[string]any, bool, error) {
	md, _ := obj.Object["metadata"].(map[string]any)
	entries, ok := md["managedFields"].([]any)
	if !ok {
		return ownedFieldsTyped(obj, manager)
	}
	for _, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			return ownedFieldsTyped(obj, manager)
		}
		sub, _ := m["subresource"].(string)
		if m["manager"] != manager || m["operation"] != string(metav1.ManagedFieldsOperationApply) || sub != "" {
			continue
		}
		switch f := m["fieldsV1"].(type) {
		case nil:
			return nil, false, nil
		case map[string]any:
			return f, true, nil
		default:
			return ownedFieldsTyped(obj, manager)
		}
	}
	return nil, false, nil
}

// ownedFieldsTyped is ownedFields through the typed accessor, for objects whose
// managedFields are not held as a JSON tree.
func ownedFieldsTyped(obj *unstructured.Unstructured, manager string) (map[string]any, bool, error) {
	var fields *metav1.FieldsV1
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == manager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			fields = mf.FieldsV1
			break
		}
	}
	if fields == nil || len(fields.Raw) == 0 {
		return nil, false, nil
	}
	var tree map[string]any
	if err := json.Unmarshal(fields.Raw, &tree); err != nil {
		return nil, false, err
	}
	return tree, true, nil
}

// project walks a FieldsV1 tree alongside the live value and hashes a
// "path=value" line for every owned leaf, in key order.
func (p *projection) project(tree map[string]any, live any, path string) {
	keys := make([]string, 0, len(tree))
	for k := range tree {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub, _ := tree[k].(map[string]any)
		if k == "." {
			// The element itself: owned means it exists. Its value is
			// what its owned fields below say; the rest of it (defaults,
			// other managers' fields) is not the manager's.
			p.element(path, live)
			continue
		}
		child, childPath := projectChild(k, live, path)
		if len(sub) == 0 {
			p.line(childPath, child)
			continue
		}
		p.project(sub, child, childPath)
	}
}

// present is what a projection records of an owned list element: that it
// exists, not its value.
func present(v any) any {
	if v == nil {
		return nil
	}
	return "<present>"
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
		keyFields, ok := parsedKey(arg)
		if !ok {
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

// keyCache holds parsed FieldsV1 list keys ("k:{...}"): the same few keys
// (container names, ports) recur on every watched object. Bounded; entries
// are never changed once stored.
var keyCache = struct {
	sync.RWMutex
	m map[string]map[string]any
}{m: map[string]map[string]any{}}

const keyCacheMax = 4096

// parsedKey parses a FieldsV1 list key; ok is false when it is not a JSON object.
func parsedKey(arg string) (map[string]any, bool) {
	keyCache.RLock()
	k, ok := keyCache.m[arg]
	keyCache.RUnlock()
	if ok {
		return k, true
	}
	if err := json.Unmarshal([]byte(arg), &k); err != nil || k == nil {
		return nil, false
	}
	keyCache.Lock()
	if len(keyCache.m) < keyCacheMax {
		keyCache.m[arg] = k
	}
	keyCache.Unlock()
	return k, true
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func matchesKey(item, key map[string]any) bool {
	for k, want := range key {
		if !sameJSON(item[k], want) {
			return false
		}
	}
	return true
}

// sameJSON is jsonString(a) == jsonString(b), without encoding strings and
// integers.
func sameJSON(a, b any) bool {
	switch at := a.(type) {
	case string:
		if bt, ok := b.(string); ok {
			return at == bt
		}
	case int64:
		if bt, ok := b.(int64); ok {
			return at == bt
		}
	}
	return jsonString(a) == jsonString(b)
}

// jsonString renders a value canonically; numbers from JSON (float64) and from
// unstructured (int64) render the same. The text is encoding/json's.
func jsonString(v any) string {
	if v == nil {
		return "<absent>"
	}
	b, ok := appendJSON(nil, v)
	if !ok {
		return "<unencodable>"
	}
	return string(b)
}

// appendJSON appends encoding/json's encoding of v (a JSON-shaped value as
// unstructured holds it) to b; values it has no fast path for go through
// encoding/json. ok is false when v cannot be encoded.
func appendJSON(b []byte, v any) ([]byte, bool) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		if plainString(t) {
			b = append(b, '"')
			b = append(b, t...)
			return append(b, '"'), true
		}
	case bool:
		return strconv.AppendBool(b, t), true
	case int64:
		return strconv.AppendInt(b, t, 10), true
	case int:
		return strconv.AppendInt(b, int64(t), 10), true
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendJSON(b, k); !ok {
				return b, false
			}
			b = append(b, ':')
			if b, ok = appendJSON(b, t[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendJSON(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	out, err := appendMarshal(b, v)
	return out, err == nil
}

// plainString reports whether encoding/json writes s between quotes unchanged:
// printable ASCII without quote, backslash or the HTML characters it escapes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
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
