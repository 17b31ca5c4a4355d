package translate

import (
	"fmt"
	"sort"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/berth-gateway/berth/internal/protofields"
)

// The YAML output writes resources straight from the messages: blockYAML
// takes the nodes below where the value tree has protoValue's maps and
// lists, and turns each into the entries or items protoValue(m, FormatYAML)
// would have held, in yaml.v2's key order (known per message type), only
// when it writes them — no map per message and no sort at write time.
// Where protoValue declines (errProtoValue), the resource is written again
// from protoToValue's value (protojson's rules and errors); where blockYAML
// declines (errNotBlockable), marshalYAML gives yaml.v2 the value tree with
// every resource made by protoToValue (materialize).
// TestDirectYAMLMatches compares both ways on every golden and scale
// resource and on random messages.

// protoResource is a resource in the value tree Marshal writes as YAML;
// key and gateway name it in errors.
type protoResource struct {
	m            proto.Message
	key, gateway string
}

// protoMsg, protoList and protoMapField are parts of a resource not yet
// turned into entries or items (yamlNode).
type protoMsg struct{ m protoreflect.Message }

type protoList struct {
	l  protoreflect.List
	fd protoreflect.FieldDescriptor
}

type protoMapField struct {
	mp protoreflect.Map
	fd protoreflect.FieldDescriptor
}

// yamlEntries is a mapping with its keys in yaml.v2's order; blockYAML
// reuses them once written (newEntries, release).
type yamlEntries struct{ items []yamlEntry }

type yamlEntry struct {
	key  string
	val  any       // unless node is set
	node protoNode // a field of a message
	rank int32     // a field's place in its message's order
}

// protoNode is a message, list or map field not yet turned into entries
// or items (see resolve).
type protoNode struct {
	msg  protoreflect.Message
	list protoreflect.List
	mp   protoreflect.Map
	fd   protoreflect.FieldDescriptor
}

// value is the entry's value, a node resolved.
func (b *blockYAML) entryValue(e *yamlEntry) (any, error) {
	switch n := &e.node; {
	case n.msg != nil:
		return b.messageNode(n.msg)
	case n.list != nil:
		return b.resolve(protoList{n.list, n.fd})
	case n.mp != nil:
		return b.resolve(protoMapField{n.mp, n.fd})
	}
	return b.resolve(e.val)
}

func (e *yamlEntries) Len() int           { return len(e.items) }
func (e *yamlEntries) Less(i, j int) bool { return yamlKeyLess(e.items[i].key, e.items[j].key) }
func (e *yamlEntries) Swap(i, j int)      { e.items[i], e.items[j] = e.items[j], e.items[i] }

func (b *blockYAML) newEntries() *yamlEntries {
	if n := len(b.free); n > 0 {
		e := b.free[n-1]
		b.free = b.free[:n-1]
		return e
	}
	return &yamlEntries{items: make([]yamlEntry, 0, 8)}
}

// release gives e back once written.
func (b *blockYAML) release(e *yamlEntries) {
	clear(e.items)
	e.items = e.items[:0]
	b.free = append(b.free, e)
}

// resolve turns a proto node into what protoValue would have made of it,
// one level deep (its own parts stay nodes); other values as they are.
func (b *blockYAML) resolve(v any) (any, error) {
	switch t := v.(type) {
	case protoMsg:
		return b.messageNode(t.m)
	case protoList:
		items := make([]any, t.l.Len())
		for i := range items {
			x, err := lazySingular(t.l.Get(i), t.fd)
			if err != nil {
				return nil, err
			}
			items[i] = x
		}
		return items, nil
	case protoMapField:
		e := b.newEntries()
		vd := t.fd.MapValue()
		var err error
		t.mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			ks := k.String()
			if !utf8.ValidString(ks) {
				err = errProtoValue
				return false
			}
			var x any
			if x, err = lazySingular(v, vd); err != nil {
				return false
			}
			e.items = append(e.items, yamlEntry{key: ks, val: x})
			return true
		})
		if err != nil {
			return nil, err
		}
		sort.Sort(e)
		return e, nil
	}
	return v, nil
}

// protoSequence writes a list field's items at indent, as sequence does
// with the items resolve makes of it, without boxing each message.
func (b *blockYAML) protoSequence(l protoreflect.List, fd protoreflect.FieldDescriptor, indent int) error {
	isMsg := fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
	for i := range l.Len() {
		b.pad(indent)
		b.buf.writeByte('-')
		var v any
		var err error
		if isMsg {
			v, err = b.messageNode(l.Get(i).Message())
		} else {
			v, err = protoSingular(l.Get(i), fd, FormatYAML)
		}
		if err != nil {
			return err
		}
		if err := b.itemBody(v, indent); err != nil {
			return err
		}
	}
	return nil
}

// lazySingular is protoSingular with messages left as nodes.
func lazySingular(v protoreflect.Value, fd protoreflect.FieldDescriptor) (any, error) {
	if k := fd.Kind(); k == protoreflect.MessageKind || k == protoreflect.GroupKind {
		if !v.IsValid() {
			return nil, nil
		}
		return protoMsg{v.Message()}, nil
	}
	return protoSingular(v, fd, FormatYAML)
}

// messageNode is protoMessageValue(m, FormatYAML) one level deep.
func (b *blockYAML) messageNode(m protoreflect.Message) (any, error) {
	d := m.Descriptor()
	if d.FullName().Parent() == "google.protobuf" {
		switch name := d.Name(); {
		case name == "Any":
			return b.anyNode(m)
		case isWellKnown(name):
			return wellKnownValue(m, FormatYAML)
		}
	}
	return b.fieldsNode(m)
}

// fieldsNode is m's populated fields as entries.
func (b *blockYAML) fieldsNode(m protoreflect.Message) (*yamlEntries, error) {
	b.ranks = fieldRanks(m.Descriptor())
	b.cur = b.newEntries()
	b.err = nil
	if b.visit == nil {
		b.visit = b.visitField
	}
	protofields.Range(m, b.visit)
	e, err := b.cur, b.err
	b.cur, b.ranks, b.err = nil, nil, nil
	if err != nil {
		return nil, err
	}
	return e, nil
}

// visitField adds a field to b.cur in rank order (fieldsNode; a method
// value made once, where a closure would be allocated per message).
func (b *blockYAML) visitField(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
	if fd.IsExtension() {
		b.err = errProtoValue
		return false
	}
	f := yamlEntry{key: fd.TextName(), rank: b.ranks[fd.Index()]}
	switch {
	case fd.IsList():
		f.node = protoNode{list: v.List(), fd: fd}
	case fd.IsMap():
		f.node = protoNode{mp: v.Map(), fd: fd}
	case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
		f.node = protoNode{msg: v.Message()}
	default:
		var err error
		if f.val, err = protoSingular(v, fd, FormatYAML); err != nil {
			b.err = err
			return false
		}
	}
	// Insertion in rank order: a message has few populated fields.
	e := b.cur
	i := len(e.items)
	e.items = append(e.items, f)
	for ; i > 0 && e.items[i-1].rank > f.rank; i-- {
		e.items[i] = e.items[i-1]
	}
	e.items[i] = f
	return true
}

// fieldRankCache holds fieldRanks per message descriptor.
var fieldRankCache sync.Map // protoreflect.MessageDescriptor → []int32

// fieldRanks gives each field of d (by index) its place in yaml.v2's
// order of the field names.
func fieldRanks(d protoreflect.MessageDescriptor) []int32 {
	if r, ok := fieldRankCache.Load(d); ok {
		return r.([]int32)
	}
	fields := d.Fields()
	idx := make([]int, fields.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return yamlKeyLess(fields.Get(idx[a]).TextName(), fields.Get(idx[b]).TextName())
	})
	ranks := make([]int32, len(idx))
	for rank, i := range idx {
		ranks[i] = int32(rank)
	}
	fieldRankCache.Store(d, ranks)
	return ranks
}

// anyNode is anyValue(m, FormatYAML) one level deep.
func (b *blockYAML) anyNode(m protoreflect.Message) (any, error) {
	fields := m.Descriptor().Fields()
	fdType, fdValue := fields.ByNumber(1), fields.ByNumber(2)
	if !m.Has(fdType) {
		if m.Has(fdValue) {
			return nil, errProtoValue
		}
		return b.newEntries(), nil
	}
	url := m.Get(fdType).String()
	em, err := unpackAny(url, m.Get(fdValue).Bytes())
	if err != nil {
		return nil, err
	}
	var e *yamlEntries
	if em.Descriptor().FullName().Parent() == "google.protobuf" && isWellKnown(em.Descriptor().Name()) {
		v, err := wellKnownValue(em, FormatYAML)
		if err != nil {
			return nil, err
		}
		e = b.newEntries()
		e.items = append(e.items, yamlEntry{key: "value", val: v})
	} else if e, err = b.fieldsNode(em); err != nil {
		return nil, err
	}
	// "@type" in its place among the sorted keys.
	i := sort.Search(len(e.items), func(i int) bool { return !yamlKeyLess(e.items[i].key, "@type") })
	e.items = append(e.items, yamlEntry{})
	copy(e.items[i+1:], e.items[i:])
	e.items[i] = yamlEntry{key: "@type", val: url}
	return e, nil
}

// resourceItem writes a resource as a sequence item (see item); where the
// direct path declines, it writes protoToValue's value instead.
func (b *blockYAML) resourceItem(r protoResource, indent int, first bool) error {
	if proto.CheckInitialized(r.m) == nil {
		mark := b.buf.mark()
		err := b.item(protoMsg{r.m.ProtoReflect()}, indent, first)
		if err != errProtoValue {
			return err
		}
		b.buf.reset(mark)
	}
	v, err := protoToValue(r.m, FormatYAML)
	if err != nil {
		return resourceError{fmt.Errorf("marshal %s of gateway %s: %w", r.key, r.gateway, err)}
	}
	return b.item(v, indent, first)
}

// resourceError is a resource protojson cannot encode: Marshal returns it
// as it is.
type resourceError struct{ error }

// materialize replaces every protoResource of v by protoToValue's value,
// for yaml.v2.
func materialize(v any) (any, error) {
	switch t := v.(type) {
	case protoResource:
		x, err := protoToValue(t.m, FormatYAML)
		if err != nil {
			return nil, resourceError{fmt.Errorf("marshal %s of gateway %s: %w", t.key, t.gateway, err)}
		}
		return x, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			x, err := materialize(e)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			x, err := materialize(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return v, nil
}
