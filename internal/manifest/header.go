package manifest

// readHeader reads a document's header from its JSON, as
// sigsjson.UnmarshalCaseSensitivePreserveInts into a header would, without
// decoding the rest of the document (that decoder checks and walks all of
// it, and the typed decode walks it again). It takes only what it surely
// reads alike: an object whose apiVersion, kind, metadata.name and
// metadata.namespace, where present, are strings of printable ASCII
// without escapes, and metadata an object; for anything else (or JSON it
// does not expect) ok is false and the caller decodes the header in full,
// which also words every error.
func readHeader(data []byte) (h header, ok bool) {
	s := jsonScan{data: data}
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "apiVersion":
			return s.plainString(&h.APIVersion)
		case "kind":
			return s.plainString(&h.Kind)
		case "metadata":
			s.space()
			if s.i >= len(s.data) || s.data[s.i] != '{' {
				return false
			}
			return s.object(func(key []byte) bool {
				switch string(key) {
				case "name":
					return s.plainString(&h.Metadata.Name)
				case "namespace":
					return s.plainString(&h.Metadata.Namespace)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
	s.space()
	return h, ok && s.i == len(s.data)
}

// jsonScan walks JSON text (the output of the YAML conversion, valid JSON)
// for readHeader; every method reports false on what it does not expect.
type jsonScan struct {
	data []byte
	i    int
}

func (s *jsonScan) space() {
	for s.i < len(s.data) && (s.data[s.i] == ' ' || s.data[s.i] == '\n' || s.data[s.i] == '\r' || s.data[s.i] == '\t') {
		s.i++
	}
}

// object reads an object, calling member with each key (unescaped keys
// only) positioned before its value, which member must consume.
func (s *jsonScan) object(member func(key []byte) bool) bool {
	s.space()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.space()
		key, ok := s.rawString()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		s.space()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// rawString reads a string without escapes and returns its contents.
func (s *jsonScan) rawString() ([]byte, bool) {
	if s.i >= len(s.data) || s.data[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.data); j++ {
		switch c := s.data[j]; {
		case c == '"':
			s.i = j + 1
			return s.data[start:j], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

// plainString reads a string value of printable ASCII without escapes.
func (s *jsonScan) plainString(to *string) bool {
	s.space()
	v, ok := s.rawString()
	if ok {
		*to = string(v)
	}
	return ok
}

// skip passes over one value of any kind.
func (s *jsonScan) skip() bool {
	s.space()
	start, depth := s.i, 0
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch c {
		case '"':
			j := s.i + 1
			for j < len(s.data) && s.data[j] != '"' {
				if s.data[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s.data) {
				return false
			}
			s.i = j + 1
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return s.i > start // the end of the enclosing object: a literal ended
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return s.i > start
			}
			s.i++
		default:
			s.i++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return true
		}
	}
	return depth == 0
}
