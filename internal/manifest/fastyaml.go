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
	var c fastConv
	return c.convert(doc)
}

// convert is fastYAMLToJSON reusing c's buffers: the JSON returned is
// valid until the next call.
func (c *fastConv) convert(doc []byte) ([]byte, bool) {
	c.i = 0
	c.ents = c.ents[:0]
	if !c.split(doc) {
		return nil, false
	}
	if len(c.lines) == 0 {
		return []byte("null"), true
	}
	if cap(c.out) < len(doc) {
		c.out = make([]byte, 0, len(doc))
	}
	c.out = c.out[:0]
	if !c.node(c.lines[0].ind) || c.i != len(c.lines) {
		return nil, false
	}
	return c.out, true
}

// fastLine is one line with content: its indentation and the rest.
type fastLine struct {
	ind int
	s   []byte
}

// fastConv writes JSON as it parses, in document order; a mapping whose
// keys are not in order is sorted in place once written (fastEntry spans).
type fastConv struct {
	lines []fastLine
	i     int // next line
	out   []byte
	ents  []fastEntry // entries of the mappings being written, innermost last
	tmp   []byte
}

// fastEntry is one written mapping entry: its key and the span of out
// holding "key":value.
type fastEntry struct {
	key        []byte
	start, end int
}

// split cuts doc into lines with content, skipping blank and comment-only
// lines; false for bytes outside printable ASCII (tabs, CR, UTF-8 ...).
func (c *fastConv) split(doc []byte) bool {
	if n := bytes.Count(doc, []byte("\n")) + 1; cap(c.lines) < n {
		c.lines = make([]fastLine, 0, n)
	}
	c.lines = c.lines[:0]
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

// node writes the block node whose first line is the next line, at
// indentation ind.
func (c *fastConv) node(ind int) bool {
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

func (c *fastConv) mapping(ind int) bool {
	c.out = append(c.out, '{')
	base := len(c.ents)
	sorted := true
	var seen map[string]struct{}
	for c.i < len(c.lines) && c.lines[c.i].ind == ind {
		s := c.lines[c.i].s
		if isSeqItem(s) {
			return false
		}
		key, rest, ok := splitKey(s)
		if !ok {
			return false
		}
		if !c.newKey(base, key, &seen) {
			return false
		}
		if n := len(c.ents); n > base {
			c.out = append(c.out, ',')
			if bytes.Compare(c.ents[n-1].key, key) > 0 {
				sorted = false
			}
		}
		start := len(c.out)
		c.out = appendJSONString(c.out, key)
		c.out = append(c.out, ':')
		c.i++
		switch {
		case len(rest) > 0:
			if !c.scalarOrFlow(rest) || !c.afterValue(ind) {
				return false
			}
		case c.i < len(c.lines) && c.lines[c.i].ind > ind:
			if !c.node(c.lines[c.i].ind) || !c.afterValue(ind) {
				return false
			}
		case c.i < len(c.lines) && c.lines[c.i].ind == ind && isSeqItem(c.lines[c.i].s):
			// A sequence may sit at its key's indentation.
			if !c.seq(ind) {
				return false
			}
		default:
			c.out = append(c.out, "null"...)
		}
		c.ents = append(c.ents, fastEntry{key: key, start: start, end: len(c.out)})
	}
	if !sorted {
		c.sortEntries(c.ents[base:])
	}
	c.ents = c.ents[:base]
	c.out = append(c.out, '}')
	return true
}

// newKey tells whether key is not yet among the entries of the mapping
// written from base; past a few keys it keeps a set (a ConfigMap may have
// thousands).
func (c *fastConv) newKey(base int, key []byte, seen *map[string]struct{}) bool {
	ents := c.ents[base:]
	if len(ents) < 16 {
		for _, e := range ents {
			if bytes.Equal(e.key, key) {
				return false
			}
		}
		return true
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(ents))
		for _, e := range ents {
			(*seen)[string(e.key)] = struct{}{}
		}
	}
	if _, dup := (*seen)[string(key)]; dup {
		return false
	}
	(*seen)[string(key)] = struct{}{}
	return true
}

// sortEntries rewrites the written entries of one mapping in key order, as
// encoding/json orders a map's keys.
func (c *fastConv) sortEntries(ents []fastEntry) {
	from, to := ents[0].start, ents[len(ents)-1].end
	c.tmp = append(c.tmp[:0], c.out[from:to]...)
	slices.SortFunc(ents, func(a, b fastEntry) int { return bytes.Compare(a.key, b.key) })
	w := from
	for j, e := range ents {
		if j > 0 {
			c.out[w] = ','
			w++
		}
		w += copy(c.out[w:], c.tmp[e.start-from:e.end-from])
	}
}

func (c *fastConv) seq(ind int) bool {
	c.out = append(c.out, '[')
	first := true
	for c.i < len(c.lines) && c.lines[c.i].ind == ind && isSeqItem(c.lines[c.i].s) {
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		s := c.lines[c.i].s[1:]
		k := 0
		for k < len(s) && s[k] == ' ' {
			k++
		}
		s = s[k:]
		switch {
		case len(s) == 0 || s[0] == '#':
			c.i++
			if c.i < len(c.lines) && c.lines[c.i].ind > ind {
				if !c.node(c.lines[c.i].ind) {
					return false
				}
			} else {
				c.out = append(c.out, "null"...)
			}
		case isSeqItem(s) || isKeyLine(s):
			// The item's node starts on this line, after "- ".
			in := ind + 1 + k
			c.lines[c.i] = fastLine{ind: in, s: s}
			if !c.node(in) {
				return false
			}
		default:
			c.i++
			if !c.scalarOrFlow(s) {
				return false
			}
		}
		if !c.afterValue(ind) {
			return false
		}
	}
	c.out = append(c.out, ']')
	return true
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
func splitKey(s []byte) ([]byte, []byte, bool) {
	var key, rest []byte
	if s[0] == '"' || s[0] == '\'' {
		q, r, ok := quoted(s)
		if !ok || len(r) == 0 || r[0] != ':' {
			return nil, nil, false
		}
		key, rest = q, r[1:]
	} else {
		i := bytes.IndexByte(s, ':')
		if i <= 0 || !plainKey(s[:i]) {
			return nil, nil, false
		}
		key, rest = s[:i], s[i+1:]
	}
	if len(rest) > 0 && rest[0] != ' ' {
		return nil, nil, false
	}
	if len(s)-len(rest) > maxKeyLen {
		return nil, nil, false
	}
	rest = bytes.TrimLeft(rest, " ")
	if len(rest) > 0 && rest[0] == '#' {
		rest = nil
	}
	return key, rest, true
}

// maxKeyLen bounds a key as written, quotes and colon included: yaml.v2
// refuses implicit keys longer than 1024 bytes ("mapping values are not
// allowed in this context"); longer keys take the general path.
const maxKeyLen = 1000

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
func quoted(s []byte) ([]byte, []byte, bool) {
	q := s[0]
	if q == '"' {
		end := bytes.IndexByte(s[1:], '"')
		if end < 0 || bytes.IndexByte(s[1:1+end], '\\') >= 0 {
			return nil, nil, false
		}
		return s[1 : 1+end], s[2+end:], true
	}
	var b []byte
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			if b == nil {
				b = make([]byte, 0, len(s))
			}
			b = append(b, s[1:i+1]...)
			s = s[i+1:]
			i = 0
			continue
		}
		if b == nil {
			return s[1:i], s[i+1:], true
		}
		b = append(b, s[1:i]...)
		return b, s[i+1:], true
	}
	return nil, nil, false
}

// endOfValue: nothing but a comment (after a space) follows a value.
func endOfValue(rest []byte) bool {
	if len(rest) == 0 {
		return true
	}
	t := bytes.TrimLeft(rest, " ")
	return len(t) < len(rest) && (len(t) == 0 || t[0] == '#')
}

// scalarOrFlow writes a value written on one line: a quoted or plain
// scalar, or a flow sequence of scalars.
func (c *fastConv) scalarOrFlow(s []byte) bool {
	switch s[0] {
	case '"', '\'':
		v, rest, ok := quoted(s)
		if !ok || !endOfValue(rest) {
			return false
		}
		c.out = appendJSONString(c.out, v)
		return true
	case '[':
		return c.flowSeq(s)
	case '{':
		if string(bytes.TrimRight(cutComment(s), " ")) == "{}" {
			c.out = append(c.out, "{}"...)
			return true
		}
		return false
	}
	s = bytes.TrimRight(cutComment(s), " ")
	if bytes.Contains(s, []byte(": ")) || s[len(s)-1] == ':' {
		return false
	}
	return c.plainScalar(s, false)
}

// cutComment drops " #..." from a plain value.
func cutComment(s []byte) []byte {
	if i := bytes.Index(s, []byte(" #")); i >= 0 {
		return s[:i]
	}
	return s
}

// flowSeq writes "[a, 'b', "c"]" (scalars only) ending the line.
func (c *fastConv) flowSeq(s []byte) bool {
	c.out = append(c.out, '[')
	s = bytes.TrimLeft(s[1:], " ")
	if len(s) > 0 && s[0] == ']' {
		c.out = append(c.out, ']')
		return endOfValue(s[1:])
	}
	for {
		if len(s) == 0 {
			return false
		}
		switch s[0] {
		case '"', '\'':
			str, rest, ok := quoted(s)
			if !ok {
				return false
			}
			c.out = appendJSONString(c.out, str)
			s = bytes.TrimLeft(rest, " ")
		default:
			end := bytes.IndexAny(s, ",]")
			if end <= 0 || !c.plainScalar(bytes.TrimRight(s[:end], " "), true) {
				return false
			}
			s = s[end:]
		}
		if len(s) == 0 {
			return false
		}
		switch s[0] {
		case ',':
			c.out = append(c.out, ',')
			s = bytes.TrimLeft(s[1:], " ")
		case ']':
			c.out = append(c.out, ']')
			return endOfValue(s[1:])
		default:
			return false
		}
	}
}

// plainScalar writes the JSON of a plain scalar when yaml.v2 surely reads
// it as a string, a decimal int, true, false or null; in flow, the flow
// indicators are refused.
func (c *fastConv) plainScalar(s []byte, flow bool) bool {
	if len(s) == 0 {
		return false
	}
	if flow && bytes.ContainsAny(s, "#{}[],:") {
		return false
	}
	switch b := s[0]; {
	case isLetter(b) || b == '_' || b == '/':
		if yaml11Word(s) {
			switch string(s) {
			case "true", "false", "null":
				c.out = append(c.out, s...)
				return true
			}
			return false
		}
		c.out = appendJSONString(c.out, s)
		return true
	case isDigit(b):
		dots := 0
		for _, d := range s {
			switch {
			case d == '.':
				dots++
			case !isDigit(d):
				return false
			}
		}
		if dots == 0 {
			// A decimal int (a leading 0 would be octal in YAML 1.1).
			if len(s) > 18 || (len(s) > 1 && b == '0') {
				return false
			}
			c.out = append(c.out, s...)
			return true
		}
		if dots >= 2 {
			// 10.0.0.1: neither a number nor a timestamp.
			c.out = appendJSONString(c.out, s)
			return true
		}
	}
	return false
}

// appendJSONString appends s as encoding/json writes it.
func appendJSONString(b, s []byte) []byte {
	for _, ch := range s {
		switch ch {
		case '"', '\\', '<', '>', '&':
			js, _ := json.Marshal(string(s))
			return append(b, js...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
