package translate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// blockYAML writes values of the JSON data model (map[string]any, []any,
// string, int, uint64, float64, bool, nil) in YAML block style, byte for
// byte as yaml.v2 (and so sigs.k8s.io/yaml) writes them, without yaml.v2's
// event pipeline, which costs more than producing the output's content.
// Scalars come from yaml.v2 itself (each distinct string once); a string
// whose rendering depends on where it stands (several lines, or spaces on a
// line long enough for yaml.v2 to fold) makes it decline, and the caller
// uses yaml.v2.
type blockYAML struct {
	buf     chunkedBuffer
	scalars map[string]string
	free    []*yamlEntries
	// fieldsNode's state for visitField.
	visit func(protoreflect.FieldDescriptor, protoreflect.Value) bool
	cur   *yamlEntries
	ranks []int32
	err   error
}

// chunkedBuffer collects output in chunks, instead of a bytes.Buffer's
// doubling, whose copies and fresh pages cost a tenth of writing a large
// document; the chunks are written out one after the other.
type chunkedBuffer struct {
	full [][]byte
	cur  []byte
}

const chunkSize = 256 << 10

func (c *chunkedBuffer) room(n int) {
	if cap(c.cur)-len(c.cur) < n {
		if len(c.cur) > 0 {
			c.full = append(c.full, c.cur)
		}
		c.cur = make([]byte, 0, max(chunkSize, n))
	}
}

func (c *chunkedBuffer) writeByte(x byte) {
	c.room(1)
	c.cur = append(c.cur, x)
}

func (c *chunkedBuffer) writeString(s string) {
	c.room(len(s))
	c.cur = append(c.cur, s...)
}

// bufMark is a position in a chunkedBuffer to go back to.
type bufMark struct{ full, cur int }

func (c *chunkedBuffer) mark() bufMark { return bufMark{len(c.full), len(c.cur)} }

// reset drops what was written after m.
func (c *chunkedBuffer) reset(m bufMark) {
	if len(c.full) > m.full {
		c.cur = c.full[m.full]
		c.full = c.full[:m.full]
	}
	c.cur = c.cur[:m.cur]
}

// parts are the chunks written, in order.
func (c *chunkedBuffer) parts() [][]byte {
	return append(c.full, c.cur)
}

// errNotBlockable: the value holds a string blockYAML does not reproduce.
var errNotBlockable = fmt.Errorf("value needs yaml.v2's own encoder")

// marshalYAML is yaml.v2's Marshal(v), faster for what blockYAML covers.
// v may hold protoResources (written straight from the message).
func marshalYAML(v any) ([]byte, error) {
	return joined(marshalYAMLParts(v))
}

// marshalYAMLParts is marshalYAML's output in parts (see chunkedBuffer).
func marshalYAMLParts(v any) ([][]byte, error) {
	b := &blockYAML{scalars: map[string]string{}}
	if err := b.value(v, 0, false); err == nil {
		return b.buf.parts(), nil
	} else if err != errNotBlockable {
		return nil, err
	}
	v, err := materialize(v)
	if err != nil {
		return nil, err
	}
	out, err := yamlv2.Marshal(v)
	if err != nil {
		return nil, err
	}
	return [][]byte{out}, nil
}

// yamlBestWidth is yaml.v2's line width: past it, it folds at spaces.
const yamlBestWidth = 80

// value writes v as the content after a key ("key:") or a sequence dash
// ("-"), or as the document when indent is 0 and top is false.
// inline says the cursor stands after "key:" or "-" on the current line.
func (b *blockYAML) value(v any, indent int, inline bool) error {
	v, err := b.resolve(v)
	if err != nil {
		return err
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return b.scalarLine(inline, "{}")
		}
		if inline {
			b.buf.writeByte('\n')
		}
		return b.mapping(t, indent, false)
	case *yamlEntries:
		if len(t.items) == 0 {
			b.release(t)
			return b.scalarLine(inline, "{}")
		}
		if inline {
			b.buf.writeByte('\n')
		}
		return b.entries(t, indent, false)
	case []any:
		if len(t) == 0 {
			return b.scalarLine(inline, "[]")
		}
		if inline {
			b.buf.writeByte('\n')
		}
		return b.sequence(t, indent, false)
	}
	s, err := b.scalar(v)
	if err != nil {
		return err
	}
	return b.scalarLine(inline, s)
}

func (b *blockYAML) scalarLine(inline bool, s string) error {
	if inline {
		b.buf.writeByte(' ')
	}
	b.buf.writeString(s)
	b.buf.writeByte('\n')
	return nil
}

// mapping writes m's entries at indent, keys in yaml.v2's order; the first
// entry continues the current line when first is true (after "- ").
func (b *blockYAML) mapping(m map[string]any, indent int, first bool) error {
	e := b.newEntries()
	for k, v := range m {
		e.items = append(e.items, yamlEntry{key: k, val: v})
	}
	sort.Sort(e)
	return b.entries(e, indent, first)
}

// entries writes a mapping whose keys are in order (see mapping), then
// releases e.
func (b *blockYAML) entries(e *yamlEntries, indent int, first bool) error {
	for i := range e.items {
		k := e.items[i].key
		if !(first && i == 0) {
			b.pad(indent)
		}
		ks, err := b.scalar(k)
		if err != nil {
			return err
		}
		if err := b.fits(k, indent+len(ks)); err != nil {
			return err
		}
		b.buf.writeString(ks)
		b.buf.writeByte(':')
		if n := &e.items[i].node; n.list != nil && n.list.Len() > 0 {
			b.buf.writeByte('\n')
			if err := b.protoSequence(n.list, n.fd, indent); err != nil {
				return err
			}
			continue
		}
		v, err := b.entryValue(&e.items[i])
		if err != nil {
			return err
		}
		switch t := v.(type) {
		case map[string]any:
			if len(t) > 0 {
				b.buf.writeByte('\n')
				if err := b.mapping(t, indent+2, false); err != nil {
					return err
				}
				continue
			}
		case *yamlEntries:
			if len(t.items) > 0 {
				b.buf.writeByte('\n')
				if err := b.entries(t, indent+2, false); err != nil {
					return err
				}
				continue
			}
		case []any:
			if len(t) > 0 {
				b.buf.writeByte('\n')
				if err := b.sequence(t, indent, false); err != nil {
					return err
				}
				continue
			}
		case string:
			s, err := b.scalar(t)
			if err != nil {
				return err
			}
			if err := b.fits(t, indent+len(ks)+2+len(s)); err != nil {
				return err
			}
		}
		if err := b.value(v, indent+2, true); err != nil {
			return err
		}
	}
	b.release(e)
	return nil
}

// sequence writes l's items at indent; the first continues the current
// line when first is true (after "- ").
func (b *blockYAML) sequence(l []any, indent int, first bool) error {
	for i, v := range l {
		var err error
		if r, ok := v.(protoResource); ok {
			err = b.resourceItem(r, indent, first && i == 0)
		} else {
			err = b.item(v, indent, first && i == 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// item writes one sequence item ("- " and v) at indent; it continues the
// current line when first is true.
func (b *blockYAML) item(v any, indent int, first bool) error {
	if !first {
		b.pad(indent)
	}
	b.buf.writeByte('-')
	v, err := b.resolve(v)
	if err != nil {
		return err
	}
	return b.itemBody(v, indent)
}

// itemBody writes a sequence item's value, resolved, after its "-".
func (b *blockYAML) itemBody(v any, indent int) error {
	switch t := v.(type) {
	case map[string]any:
		if len(t) > 0 {
			b.buf.writeByte(' ')
			return b.mapping(t, indent+2, true)
		}
	case *yamlEntries:
		if len(t.items) > 0 {
			b.buf.writeByte(' ')
			return b.entries(t, indent+2, true)
		}
	case []any:
		if len(t) > 0 {
			b.buf.writeByte(' ')
			return b.sequence(t, indent+2, true)
		}
	case string:
		s, err := b.scalar(t)
		if err != nil {
			return err
		}
		if err := b.fits(t, indent+2+len(s)); err != nil {
			return err
		}
	}
	return b.value(v, indent+2, true)
}

// fits declines a string with spaces on a line yaml.v2 would fold.
func (b *blockYAML) fits(s string, end int) error {
	if end > yamlBestWidth && strings.ContainsAny(s, " \t") {
		return errNotBlockable
	}
	return nil
}

func (b *blockYAML) pad(n int) {
	for n > len(spaces) {
		b.buf.writeString(spaces)
		n -= len(spaces)
	}
	b.buf.writeString(spaces[:n])
}

// spaces are what pad writes, at once.
const spaces = "                                                                "

// scalar is v as yaml.v2 writes it on one line.
func (b *blockYAML) scalar(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "null", nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case uint64:
		return strconv.FormatUint(t, 10), nil
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 64)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s, nil
	case string:
		if plainSafe(t) {
			return t, nil
		}
		if s, ok := b.scalars[t]; ok {
			if s == "" {
				return "", errNotBlockable
			}
			return s, nil
		}
		out, err := yamlv2.Marshal(t)
		if err != nil {
			return "", err
		}
		s := strings.TrimSuffix(string(out), "\n")
		if strings.ContainsAny(s, "\n") || strings.HasPrefix(s, "|") || strings.HasPrefix(s, ">") {
			s = ""
		}
		b.scalars[t] = s
		if s == "" {
			return "", errNotBlockable
		}
		return s, nil
	}
	return "", errNotBlockable
}

// plainSafe reports strings yaml.v2 surely writes as they are: a letter or
// "/" first, then only letters, digits, "_", ".", "/" and "-", and not one
// of the words YAML 1.1 reads as a bool or null.
func plainSafe(s string) bool {
	if s == "" || !(isASCIILetter(s[0]) || s[0] == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isASCIILetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-') {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "y", "yes", "n", "no", "on", "off", "true", "false", "null":
		return false
	}
	return true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// yamlKeyLess is yaml.v2's order of string map keys (its keyList): letters
// by code point after everything else, runs of digits by numeric value.
func yamlKeyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}
