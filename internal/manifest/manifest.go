// Package manifest decodes multi-document Kubernetes YAML (files or stdin)
// into typed objects, strictly: unknown and duplicate fields are errors, and
// every error names the source, the document's position, its kind and its
// namespace/name. It is shared by the offline commands (berth render,
// berth translate); it performs no I/O beyond reading the given readers
// and, in ReadFiles, the named files.
//
// Known kinds decode into their Go types (see Set); a List is expanded; any
// other kind passes through as unstructured (in Set.Other) after a basic
// shape check.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// Set is every object of a manifest, by kind, in input order.
type Set struct {
	GatewayClasses []*gwv1.GatewayClass
	Gateways       []*gwv1.Gateway
	HTTPRoutes     []*gwv1.HTTPRoute
	GRPCRoutes     []*gwv1.GRPCRoute
	TCPRoutes      []*gwv1.TCPRoute
	TLSRoutes      []*gwv1.TLSRoute
	UDPRoutes      []*gwv1.UDPRoute
	// ListenerSets (gateway.networking.k8s.io/v1).
	ListenerSets    []*gwv1.ListenerSet
	ReferenceGrants []*gwv1.ReferenceGrant
	EnvoyProxies    []*v1alpha1.EnvoyProxy
	Services        []*corev1.Service
	EndpointSlices  []*discoveryv1.EndpointSlice
	Secrets         []*corev1.Secret
	Namespaces      []*corev1.Namespace
	ConfigMaps      []*corev1.ConfigMap
	// BackendTLSPolicies (gateway.networking.k8s.io/v1).
	BackendTLSPolicies []*gwv1.BackendTLSPolicy
	// ClientTrafficPolicies (gateway.envoyproxy.io/v1alpha1).
	ClientTrafficPolicies []*v1alpha1.ClientTrafficPolicy
	// Other holds every object of a kind not listed above, unchanged.
	Other []*unstructured.Unstructured

	// Origins tells where each decoded object came from, keyed by the
	// object's pointer (any of the typed pointers above or an Other entry).
	Origins map[any]Origin

	// documents holds the JSON each typed object was decoded from, keyed
	// like Origins: the object as written, which Document decodes as the
	// apiserver decodes a request (unset fields absent, not zero values).
	documents map[any][]byte
}

// Document returns the object obj was decoded from as the apiserver
// decodes a request body (map[string]any, []any, string, int64, float64,
// bool, nil), false when obj was not decoded from a document of s.
func (s *Set) Document(obj any) (map[string]any, bool, error) {
	data, ok := s.documents[obj]
	if !ok {
		return nil, false, nil
	}
	if m, ok := decodeJSONMap(data); ok {
		return m, true, nil
	}
	var m map[string]any
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &m); err != nil {
		return nil, true, err
	}
	return m, true, nil
}

// Origin locates one object in the input.
type Origin struct {
	// Source is the file name (StdinSource for standard input).
	Source string
	// Index is the 1-based position of the YAML document in Source, counting
	// documents that are not empty (a "---" right after another is skipped).
	Index int
	// Line is the 1-based line in Source where the document starts.
	Line int
}

// String is "file:line (document n)".
func (o Origin) String() string {
	if o.Line > 0 {
		return fmt.Sprintf("%s:%d (document %d)", o.Source, o.Line, o.Index)
	}
	return fmt.Sprintf("%s (document %d)", o.Source, o.Index)
}

// Origin returns where obj (a pointer held by the set) was decoded from; the
// zero Origin when the set did not decode it.
func (s *Set) Origin(obj any) Origin { return s.Origins[obj] }

// Error is a decoding error of one document.
type Error struct {
	Origin
	// Kind, Namespace and Name identify the object when they could be read.
	Kind      string
	Namespace string
	Name      string
	Err       error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Origin.String())
	b.WriteString(": ")
	if e.Kind != "" {
		b.WriteString(e.Kind)
		if e.Name != "" {
			b.WriteByte(' ')
			if e.Namespace != "" {
				b.WriteString(e.Namespace)
				b.WriteByte('/')
			}
			b.WriteString(e.Name)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknownField is wrapped by errors about fields the kind does not have
// (or duplicated fields).
var ErrUnknownField = errors.New("strict decoding failed")

// decoded is one object decoded from a document, not yet in a set: add
// appends it to a set.
type decoded struct {
	obj  any
	add  func(*Set)
	json []byte // the document obj was decoded from (typed kinds)
}

// kindDecoder decodes one document of a known kind.
type kindDecoder func(data []byte) (decoded, error)

func typed[T any](add func(*Set, *T)) kindDecoder {
	return func(data []byte) (decoded, error) {
		obj := new(T)
		if err := strictUnmarshal(data, obj); err != nil {
			return decoded{}, err
		}
		// data may be a converter's buffer, reused for the next document.
		return decoded{obj: obj, add: func(s *Set) { add(s, obj) }, json: bytes.Clone(data)}, nil
	}
}

// known maps group/kind to a decoder and the API versions accepted for it.
// Gateway API v1beta1 objects have the same schema as v1 for these kinds.
var known = map[schema.GroupKind]struct {
	versions []string
	decode   kindDecoder
}{
	{Group: gwv1.GroupName, Kind: "GatewayClass"}: {[]string{"v1", "v1beta1"}, typed(func(s *Set, o *gwv1.GatewayClass) { s.GatewayClasses = append(s.GatewayClasses, o) })},
	{Group: gwv1.GroupName, Kind: "Gateway"}:      {[]string{"v1", "v1beta1"}, typed(func(s *Set, o *gwv1.Gateway) { s.Gateways = append(s.Gateways, o) })},
	{Group: gwv1.GroupName, Kind: "HTTPRoute"}:    {[]string{"v1", "v1beta1"}, typed(func(s *Set, o *gwv1.HTTPRoute) { s.HTTPRoutes = append(s.HTTPRoutes, o) })},
	{Group: gwv1.GroupName, Kind: "GRPCRoute"}:    {[]string{"v1"}, typed(func(s *Set, o *gwv1.GRPCRoute) { s.GRPCRoutes = append(s.GRPCRoutes, o) })},
	// The L4 route kinds were v1alpha2 (TLSRoute also v1alpha3) with the
	// same schema before v1.
	{Group: gwv1.GroupName, Kind: "TCPRoute"}: {[]string{"v1", "v1alpha2"}, typed(func(s *Set, o *gwv1.TCPRoute) { s.TCPRoutes = append(s.TCPRoutes, o) })},
	{Group: gwv1.GroupName, Kind: "TLSRoute"}: {[]string{"v1", "v1alpha3", "v1alpha2"}, typed(func(s *Set, o *gwv1.TLSRoute) { s.TLSRoutes = append(s.TLSRoutes, o) })},
	{Group: gwv1.GroupName, Kind: "UDPRoute"}: {[]string{"v1", "v1alpha2"}, typed(func(s *Set, o *gwv1.UDPRoute) { s.UDPRoutes = append(s.UDPRoutes, o) })},
	// ListenerSet was XListenerSet of gateway.networking.x-k8s.io before
	// v1; only the v1 kind is read.
	{Group: gwv1.GroupName, Kind: "ListenerSet"}: {[]string{"v1"}, typed(func(s *Set, o *gwv1.ListenerSet) { s.ListenerSets = append(s.ListenerSets, o) })},
	{Group: gwv1.GroupName, Kind: "ReferenceGrant"}: {[]string{"v1", "v1beta1"}, typed(func(s *Set, o *gwv1.ReferenceGrant) {
		s.ReferenceGrants = append(s.ReferenceGrants, o)
	})},
	{Group: v1alpha1.GroupName, Kind: v1alpha1.KindEnvoyProxy}: {[]string{"v1alpha1"}, typed(func(s *Set, o *v1alpha1.EnvoyProxy) { s.EnvoyProxies = append(s.EnvoyProxies, o) })},
	{Group: "", Kind: "Service"}:                               {[]string{"v1"}, typed(func(s *Set, o *corev1.Service) { s.Services = append(s.Services, o) })},
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:         {[]string{"v1"}, typed(func(s *Set, o *discoveryv1.EndpointSlice) { s.EndpointSlices = append(s.EndpointSlices, o) })},
	{Group: "", Kind: "Secret"}:                                {[]string{"v1"}, typed(func(s *Set, o *corev1.Secret) { s.Secrets = append(s.Secrets, mergeStringData(o)) })},
	{Group: "", Kind: "Namespace"}:                             {[]string{"v1"}, typed(func(s *Set, o *corev1.Namespace) { s.Namespaces = append(s.Namespaces, o) })},
	{Group: "", Kind: "ConfigMap"}:                             {[]string{"v1"}, typed(func(s *Set, o *corev1.ConfigMap) { s.ConfigMaps = append(s.ConfigMaps, o) })},
	{Group: gwv1.GroupName, Kind: "BackendTLSPolicy"}: {[]string{"v1"}, typed(func(s *Set, o *gwv1.BackendTLSPolicy) {
		s.BackendTLSPolicies = append(s.BackendTLSPolicies, o)
	})},
	{Group: v1alpha1.GroupName, Kind: v1alpha1.KindClientTrafficPolicy}: {[]string{"v1alpha1"}, typed(func(s *Set, o *v1alpha1.ClientTrafficPolicy) {
		s.ClientTrafficPolicies = append(s.ClientTrafficPolicies, o)
	})},
}

// Decode reads every YAML document of r into s; source names r in errors.
// It stops at the first invalid document.
func (s *Set) Decode(source string, r io.Reader) error {
	if s.Origins == nil {
		s.Origins = map[any]Origin{}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return &Error{Origin: Origin{Source: source}, Err: fmt.Errorf("read: %w", err)}
	}
	return s.decodeData(source, data)
}

// decodeData is Decode of data, read already.
func (s *Set) decodeData(source string, data []byte) error {
	if s.Origins == nil {
		s.Origins = map[any]Origin{}
	}
	docs := splitDocuments(data)
	objs, errs := parseAll(source, docs)
	for i := range docs {
		if errs[i] != nil {
			return errs[i]
		}
		for _, d := range objs[i] {
			d.add(s)
			s.Origins[d.obj] = Origin{Source: source, Index: i + 1, Line: docs[i].line}
			if d.json != nil {
				if s.documents == nil {
					s.documents = map[any][]byte{}
				}
				s.documents[d.obj] = d.json
			}
		}
	}
	return nil
}

// parseAll converts every document from YAML and decodes it, spread over
// the CPUs (documents are independent); the objects are added to the set
// afterwards, in input order.
func parseAll(source string, docs []document) ([][]decoded, []error) {
	out := make([][]decoded, len(docs))
	errs := make([]error, len(docs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(docs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conv fastConv // its JSON is decoded before the next document
			for i := int(next.Add(1) - 1); i < len(docs); i = int(next.Add(1) - 1) {
				o := Origin{Source: source, Index: i + 1, Line: docs[i].line}
				js, err := yamlToJSON(&conv, docs[i].data)
				if err != nil {
					errs[i] = &Error{Origin: o, Err: fmt.Errorf("parse yaml: %w", err)}
					continue
				}
				out[i], errs[i] = parseDocument(js, o)
			}
		}()
	}
	wg.Wait()
	return out, errs
}

// yamlToJSON is sigs.k8s.io/yaml.YAMLToJSONStrict, through the fast path
// (conv, whose buffers it reuses) for the documents it takes.
func yamlToJSON(conv *fastConv, doc []byte) ([]byte, error) {
	if js, ok := conv.convert(doc); ok {
		return js, nil
	}
	return yaml.YAMLToJSONStrict(doc)
}

type document struct {
	data []byte
	line int // 1-based first line
}

// splitDocuments splits a YAML stream at "---" lines (optionally followed
// by a comment), as Kubernetes' YAML reader does: documents with no lines at
// all are skipped, documents with only comments are kept (and decode to
// nothing).
func splitDocuments(data []byte) []document {
	var docs []document
	// A document is the lines between two separators: a slice of data.
	start, startLine := 0, 1
	flush := func(end int) {
		if end > start {
			docs = append(docs, document{data: data[start:end:end], line: startLine})
		}
	}
	line, off := 0, 0
	for off < len(data) {
		line++
		end := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i + 1
		}
		if rest, ok := bytes.CutPrefix(data[off:end], []byte("---")); ok {
			if t := bytes.TrimSpace(rest); len(t) == 0 || t[0] == '#' {
				flush(off)
				start, startLine = end, line+1
			}
		}
		off = end
	}
	flush(len(data))
	return docs
}

// DecodeAll decodes every named input into a new Set, in order.
func DecodeAll(inputs ...Input) (*Set, error) {
	s := &Set{}
	for _, in := range inputs {
		if err := s.Decode(in.Source, in.Reader); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Input is one named stream of YAML documents.
type Input struct {
	Source string
	Reader io.Reader
}

// header is what every document must carry to be placed.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// parseDocument decodes one document, already converted to JSON, into its
// objects (none for an empty document, the items of a List).
func parseDocument(data []byte, o Origin) ([]decoded, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil // empty document or comments only
	}
	if data[0] != '{' {
		return nil, &Error{Origin: o, Err: errors.New("document is not a YAML mapping")}
	}
	h, ok := readHeader(data)
	if !ok {
		h = header{}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &h); err != nil {
			return nil, &Error{Origin: o, Err: fmt.Errorf("read apiVersion, kind and metadata: %w", err)}
		}
	}
	fail := func(err error) error {
		return &Error{Origin: o, Kind: h.Kind, Namespace: h.Metadata.Namespace, Name: h.Metadata.Name, Err: err}
	}
	switch {
	case h.APIVersion == "":
		return nil, fail(errors.New("apiVersion is missing"))
	case h.Kind == "":
		return nil, fail(errors.New("kind is missing"))
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return nil, fail(fmt.Errorf("apiVersion: %w", err))
	}
	if gv.Group == "" && gv.Version == "v1" && h.Kind == "List" {
		return parseList(data, o, fail)
	}
	if h.Metadata.Name == "" {
		return nil, fail(errors.New("metadata.name is missing"))
	}
	k, ok := known[gv.WithKind(h.Kind).GroupKind()]
	if !ok {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fail(err)
		}
		return []decoded{{obj: u, add: func(s *Set) { s.Other = append(s.Other, u) }}}, nil
	}
	if !contains(k.versions, gv.Version) {
		return nil, fail(fmt.Errorf("unsupported apiVersion %q for %s (supported: %s)", h.APIVersion, h.Kind, strings.Join(k.versions, ", ")))
	}
	d, err := k.decode(data)
	if err != nil {
		return nil, fail(err)
	}
	return []decoded{d}, nil
}

func parseList(data []byte, o Origin, fail func(error) error) ([]decoded, error) {
	var list struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ListMeta   `json:"metadata"`
		Items           []json.RawMessage `json:"items"`
	}
	if err := strictUnmarshal(data, &list); err != nil {
		return nil, fail(err)
	}
	var out []decoded
	for _, item := range list.Items {
		ds, err := parseDocument(item, o)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// strictUnmarshal decodes JSON into obj, failing on unknown or duplicate
// fields and on case-insensitive key matches.
func strictUnmarshal(data []byte, obj any) error {
	strictErrs, err := sigsjson.UnmarshalStrict(data, obj)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%w: %s", ErrUnknownField, strings.Join(msgs, "; "))
	}
	return nil
}

// mergeStringData moves a Secret's stringData into its data, overwriting
// keys of data, as the apiserver does on write: offline readers then see
// the Secret the controller would read.
func mergeStringData(sec *corev1.Secret) *corev1.Secret {
	if len(sec.StringData) == 0 {
		return sec
	}
	if sec.Data == nil {
		sec.Data = make(map[string][]byte, len(sec.StringData))
	}
	for k, v := range sec.StringData {
		sec.Data[k] = []byte(v)
	}
	sec.StringData = nil
	return sec
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// StdinSource names standard input in origins and errors.
const StdinSource = "<stdin>"

// ReadFiles decodes the named files in order into a new Set, as the
// offline commands take them from -f flags: "-" is stdin (at most once),
// named StdinSource in origins.
func ReadFiles(names []string, stdin io.Reader) (*Set, error) {
	s := &Set{}
	stdinUsed := false
	for _, name := range names {
		if name == "-" {
			if stdinUsed {
				return nil, errors.New(`stdin ("-") given twice`)
			}
			stdinUsed = true
			if err := s.Decode(StdinSource, stdin); err != nil {
				return nil, err
			}
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := s.decodeData(name, data); err != nil {
			return nil, err
		}
	}
	return s, nil
}
