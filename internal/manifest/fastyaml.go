package manifest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// fastYAMLToJSON converts one YAML document to the JSON that
// sigs.k8s.io/yaml.YAMLToJSONStrict makes of it (compact, keys sorted,
// HTML characters escaped as encoding/json does), for the block-style
// subset Kubernetes manifests are written in. It reports false for anything
// outside that subset — anchors, aliases, tags, directives, multi-line
// scalars, flow mappings, nested flow, escapes in double quotes, tabs,
// non-ASCII bytes, duplicate keys, and every plain scalar whose YAML 1.1
// type is not plainly a string, a decimal integer, true, false or null —
// and the caller then takes the general path (yaml.v2), which also makes
// every error message. It never reports true for a document yaml.v2 would
// refuse or read differently: TestFastYAMLMatchesYAMLv2 and
// FuzzFastYAMLToJSON compare the two.
//
// Why: yaml.v2's scanner, parser and node tree were a third of berth
// translate's CPU and nearly all of berth render's for large inputs.
func fastYAMLToJSON(doc []byte) ([]byte, bool) {
	c := fastConv{}
	if !c.split(doc) {
		return nil, false
	}
	if len(c.lines) == 0 {
		return []byte("null"), true
	}
	root, ok := c.node(c.lines[0].ind)
	if !ok || c.i != len(c.lines) {
		return nil, false
	}
	out := make([]byte, 0, len(doc))
	return root.appendJSON(out), true
}

// fastLine is one line with content: its indentation and the rest.
type fastLine struct {
	ind int
	s   []byte
}

type fastConv struct {
	lines []fastLine
	i     int // next line
}

// fastNode is a parsed value: a scalar's JSON text, a mapping or a sequence.
type fastNode struct {
	kind byte // 's' scalar, 'm' mapping, 'q' sequence
	raw  []byte
	keys []string
	vals []*fastNode
}

var fastNull = &fastNode{kind: 's', raw: []byte("null")}

// split cuts doc into lines with content, skipping blank and comment-only
// lines; false for bytes outside printable ASCII (tabs, CR, UTF-8 ...).
func (c *fastConv) split(doc []byte) bool {
	c.lines = make([]fastLine, 0, bytes.Count(doc, []byte("\n"))+1)
	for len(doc) > 0 {
		end := bytes.IndexByte(doc, '\n')
		var l []byte
		if end < 0 {
			l, doc = doc, nil
		} else {
			l, doc = doc[:end], doc[end+1:]
		}
		ind := 0
		for ind < len(l) && l[ind] == ' ' {
			ind++
		}
		for _, b := range l[ind:] {
			if b < 0x20 || b > 0x7e {
				return false
			}
		}
		s := bytes.TrimRight(l[ind:], " ")
		if len(s) == 0 || s[0] == '#' {
			continue
		}
		c.lines = append(c.lines, fastLine{ind: ind, s: s})
	}
	return true
}

func isSeqItem(s []byte) bool { return s[0] == '-' && (len(s) == 1 || s[1] == ' ') }

// node parses the block node whose first line is the next line, at
// indentation ind.
func (c *fastConv) node(ind int) (*fastNode, bool) {
	if isSeqItem(c.lines[c.i].s) {
		return c.seq(ind)
	}
	return c.mapping(ind)
}

// afterValue is true when the next line does not continue a value that
// ended at indentation ind (a more indented line would be a multi-line
// scalar or a syntax error).
func (c *fastConv) afterValue(ind int) bool {
	return c.i == len(c.lines) || c.lines[c.i].ind <= ind
}

func (c *fastConv) mapping(ind int) (*fastNode, bool) {
	m := &fastNode{kind: 'm'}
	for c.i < len(c.lines) && c.lines[c.i].ind == ind {
		s := c.lines[c.i].s
		if isSeqItem(s) {
			return nil, false
		}
		key, rest, ok := splitKey(s)
		if !ok || slices.Contains(m.keys, key) {
			return nil, false
		}
		c.i++
		var v *fastNode
		switch {
		case len(rest) > 0:
			if v, ok = scalarOrFlow(rest); !ok || !c.afterValue(ind) {
				return nil, false
			}
		case c.i < len(c.lines) && c.lines[c.i].ind > ind:
			if v, ok = c.node(c.lines[c.i].ind); !ok || !c.afterValue(ind) {
				return nil, false
			}
		case c.i < len(c.lines) && c.lines[c.i].ind == ind && isSeqItem(c.lines[c.i].s):
			// A sequence may sit at its key's indentation.
			if v, ok = c.seq(ind); !ok {
				return nil, false
			}
		default:
			v = fastNull
		}
		m.keys = append(m.keys, key)
		m.vals = append(m.vals, v)
	}
	return m, true
}

func (c *fastConv) seq(ind int) (*fastNode, bool) {
	q := &fastNode{kind: 'q'}
	for c.i < len(c.lines) && c.lines[c.i].ind == ind && isSeqItem(c.lines[c.i].s) {
		s := c.lines[c.i].s[1:]
		k := 0
		for k < len(s) && s[k] == ' ' {
			k++
		}
		s = s[k:]
		var v *fastNode
		var ok bool
		switch {
		case len(s) == 0 || s[0] == '#':
			c.i++
			if c.i < len(c.lines) && c.lines[c.i].ind > ind {
				if v, ok = c.node(c.lines[c.i].ind); !ok {
					return nil, false
				}
			} else {
				v = fastNull
			}
		case isSeqItem(s) || isKeyLine(s):
			// The item's node starts on this line, after "- ".
			in := ind + 1 + k
			c.lines[c.i] = fastLine{ind: in, s: s}
			if v, ok = c.node(in); !ok {
				return nil, false
			}
		default:
			c.i++
			if v, ok = scalarOrFlow(s); !ok {
				return nil, false
			}
		}
		if !c.afterValue(ind) {
			return nil, false
		}
		q.vals = append(q.vals, v)
	}
	return q, true
}

// isKeyLine tells whether s starts a mapping entry (or might: splitKey
// decides).
func isKeyLine(s []byte) bool {
	if s[0] == '"' || s[0] == '\'' {
		_, rest, ok := quoted(s)
		return ok && len(rest) > 0 && rest[0] == ':'
	}
	return bytes.Contains(s, []byte(": ")) || s[len(s)-1] == ':'
}

// splitKey splits "key: rest" (rest without leading spaces, "" when the
// value is on the following lines or only a comment follows).
func splitKey(s []byte) (string, []byte, bool) {
	var key string
	var rest []byte
	if s[0] == '"' || s[0] == '\'' {
		q, r, ok := quoted(s)
		if !ok || len(r) == 0 || r[0] != ':' {
			return "", nil, false
		}
		key, rest = q, r[1:]
	} else {
		i := bytes.IndexByte(s, ':')
		if i <= 0 || !plainKey(s[:i]) {
			return "", nil, false
		}
		key, rest = string(s[:i]), s[i+1:]
	}
	if len(rest) > 0 && rest[0] != ' ' {
		return "", nil, false
	}
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) > 0 && rest[0] == '#' {
		rest = nil
	}
	return key, rest, true
}

// plainKey: a plain key that yaml.v2 surely reads as this string.
func plainKey(k []byte) bool {
	if !isLetter(k[0]) && k[0] != '_' {
		return false
	}
	for _, b := range k {
		if !isLetter(b) && !isDigit(b) && b != '-' && b != '_' && b != '.' && b != '/' {
			return false
		}
	}
	return !yaml11Word(k)
}

func isLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }
func isDigit(b byte) bool  { return b >= '0' && b <= '9' }

// yaml11Word: YAML 1.1 booleans and nulls in yaml.v2's resolve table (in
// any case: the table has three spellings of each, this is wider).
func yaml11Word(s []byte) bool {
	if len(s) > 5 {
		return false
	}
	switch strings.ToLower(string(s)) {
	case "y", "yes", "n", "no", "true", "false", "on", "off", "null":
		return true
	}
	return false
}

// quoted reads a single- or double-quoted scalar at the start of s that
// ends on this line (double quotes without escapes); rest follows the
// closing quote.
func quoted(s []byte) (string, []byte, bool) {
	q := s[0]
	if q == '"' {
		end := bytes.IndexByte(s[1:], '"')
		if end < 0 || bytes.IndexByte(s[1:1+end], '\\') >= 0 {
			return "", nil, false
		}
		return string(s[1 : 1+end]), s[2+end:], true
	}
	var b []byte
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b = append(b, s[1:i+1]...)
			s = s[i+1:]
			i = 0
			continue
		}
		b = append(b, s[1:i]...)
		return string(b), s[i+1:], true
	}
	return "", nil, false
}

// endOfValue: nothing but a comment (after a space) follows a value.
func endOfValue(rest []byte) bool {
	if len(rest) == 0 {
		return true
	}
	t := bytes.TrimLeft(rest, " ")
	return len(t) < len(rest) && (len(t) == 0 || t[0] == '#')
}

// scalarOrFlow reads a value written on one line: a quoted or plain scalar,
// or a flow sequence of scalars.
func scalarOrFlow(s []byte) (*fastNode, bool) {
	switch s[0] {
	case '"', '\'':
		v, rest, ok := quoted(s)
		if !ok || !endOfValue(rest) {
			return nil, false
		}
		return &fastNode{kind: 's', raw: appendJSONString(nil, v)}, true
	case '[':
		return flowSeq(s)
	case '{':
		if string(bytes.TrimRight(cutComment(s), " ")) == "{}" {
			return &fastNode{kind: 'm'}, true
		}
		return nil, false
	}
	s = bytes.TrimRight(cutComment(s), " ")
	if bytes.Contains(s, []byte(": ")) || s[len(s)-1] == ':' {
		return nil, false
	}
	raw, ok := plainScalar(s, false)
	if !ok {
		return nil, false
	}
	return &fastNode{kind: 's', raw: raw}, true
}

// cutComment drops " #..." from a plain value.
func cutComment(s []byte) []byte {
	if i := bytes.Index(s, []byte(" #")); i >= 0 {
		return s[:i]
	}
	return s
}

// flowSeq reads "[a, 'b', "c"]" (scalars only) ending the line.
func flowSeq(s []byte) (*fastNode, bool) {
	q := &fastNode{kind: 'q', vals: []*fastNode{}}
	s = bytes.TrimLeft(s[1:], " ")
	if len(s) > 0 && s[0] == ']' {
		return q, endOfValue(s[1:])
	}
	for {
		if len(s) == 0 {
			return nil, false
		}
		var v *fastNode
		switch s[0] {
		case '"', '\'':
			str, rest, ok := quoted(s)
			if !ok {
				return nil, false
			}
			v, s = &fastNode{kind: 's', raw: appendJSONString(nil, str)}, bytes.TrimLeft(rest, " ")
		default:
			end := bytes.IndexAny(s, ",]")
			if end <= 0 {
				return nil, false
			}
			raw, ok := plainScalar(bytes.TrimRight(s[:end], " "), true)
			if !ok {
				return nil, false
			}
			v, s = &fastNode{kind: 's', raw: raw}, s[end:]
		}
		q.vals = append(q.vals, v)
		if len(s) == 0 {
			return nil, false
		}
		switch s[0] {
		case ',':
			s = bytes.TrimLeft(s[1:], " ")
		case ']':
			return q, endOfValue(s[1:])
		default:
			return nil, false
		}
	}
}

// plainScalar is the JSON of a plain scalar when yaml.v2 surely reads it
// as a string, a decimal int, true, false or null; in flow, the flow
// indicators are refused.
func plainScalar(s []byte, flow bool) ([]byte, bool) {
	if len(s) == 0 {
		return nil, false
	}
	if flow && bytes.ContainsAny(s, "#{}[],:") {
		return nil, false
	}
	switch c := s[0]; {
	case isLetter(c) || c == '_' || c == '/':
		if yaml11Word(s) {
			switch string(s) {
			case "true", "false", "null":
				return append([]byte(nil), s...), true
			}
			return nil, false
		}
		return appendJSONString(nil, string(s)), true
	case isDigit(c):
		dots := 0
		for _, b := range s {
			switch {
			case b == '.':
				dots++
			case !isDigit(b):
				return nil, false
			}
		}
		if dots == 0 {
			// A decimal int (a leading 0 would be octal in YAML 1.1).
			if len(s) > 18 || (len(s) > 1 && c == '0') {
				return nil, false
			}
			return append([]byte(nil), s...), true
		}
		if dots >= 2 {
			// 10.0.0.1: neither a number nor a timestamp.
			return appendJSONString(nil, string(s)), true
		}
	}
	return nil, false
}

// appendJSONString appends s as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\\', '<', '>', '&':
			js, _ := json.Marshal(s)
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSON writes the node as encoding/json writes what
// sigs.k8s.io/yaml makes of it: mapping keys sorted.
func (n *fastNode) appendJSON(b []byte) []byte {
	switch n.kind {
	case 'm':
		order := make([]int, len(n.keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(x, y int) int { return strings.Compare(n.keys[x], n.keys[y]) })
		b = append(b, '{')
		for j, i := range order {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n.keys[i])
			b = append(b, ':')
			b = n.vals[i].appendJSON(b)
		}
		return append(b, '}')
	case 'q':
		b = append(b, '[')
		for i, v := range n.vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.appendJSON(b)
		}
		return append(b, ']')
	}
	return append(b, n.raw...)
}
