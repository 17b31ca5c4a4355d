package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Format is an output format of Marshal.
type Format string

const (
	// FormatYAML is YAML, Envoy's field names (snake_case).
	FormatYAML Format = "yaml"
	// FormatJSON is indented JSON with the same content.
	FormatJSON Format = "json"
)

// Redacted replaces private key material in Marshal's output.
const Redacted = "[redacted]"

// outputTypes names each resource type in Marshal's output, in output order.
var outputTypes = []struct{ key, typeURL string }{
	{"listeners", resourcev3.ListenerType},
	{"routes", resourcev3.RouteType},
	{"clusters", resourcev3.ClusterType},
	{"endpoints", resourcev3.EndpointType},
	{"secrets", resourcev3.SecretType},
}

type outGateway struct {
	Gateway   string         `json:"gateway"`
	Version   string         `json:"version"`
	Status    outStatus      `json:"status"`
	Resources map[string]any `json:"resources"`
}

type outStatus struct {
	// Conditions are the Gateway-level conditions translation decides.
	Conditions []outCondition `json:"conditions"`
	Listeners  []outListener  `json:"listeners"`
	Routes     []outRoute     `json:"routes"`
	// Policies are BackendTLSPolicy statuses towards the Gateway.
	Policies []outPolicy `json:"policies,omitempty"`
	// ClientTrafficPolicies is left out when no policy targets the Gateway.
	ClientTrafficPolicies []outPolicy `json:"clientTrafficPolicies,omitempty"`
	// ListenerSets and AttachedListenerSets are left out when no
	// ListenerSet names the Gateway.
	ListenerSets         []outListenerSet `json:"listenerSets,omitempty"`
	AttachedListenerSets int32            `json:"attachedListenerSets,omitempty"`
}

type outListenerSet struct {
	ListenerSet string         `json:"listenerSet"`
	Conditions  []outCondition `json:"conditions"`
	Listeners   []outListener  `json:"listeners"`
}

type outPolicy struct {
	Kind       string                `json:"kind,omitempty"`
	Policy     string                `json:"policy"`
	Ancestor   *gwv1.ParentReference `json:"ancestor,omitempty"`
	Conditions []outCondition        `json:"conditions"`
}

type outListener struct {
	Name           gwv1.SectionName      `json:"name"`
	AttachedRoutes int32                 `json:"attachedRoutes"`
	SupportedKinds []gwv1.RouteGroupKind `json:"supportedKinds"`
	Conditions     []outCondition        `json:"conditions"`
}

type outRoute struct {
	Kind       gwv1.Kind            `json:"kind"`
	Route      string               `json:"route"`
	ParentRef  gwv1.ParentReference `json:"parentRef"`
	Conditions []outCondition       `json:"conditions"`
}

func outListeners(ls []ListenerStatus) []outListener {
	out := []outListener{}
	for _, l := range ls {
		out = append(out, outListener{Name: l.Name, AttachedRoutes: l.AttachedRoutes, SupportedKinds: l.SupportedKinds, Conditions: outConditions(l.Conditions)})
	}
	return out
}

// outCondition is a condition without the timestamp and generation the
// translator never sets.
type outCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Marshal renders results as one document, for people (`berth translate`)
// and golden files: per Gateway its version, status facts and resources,
// in a stable order, private keys replaced by Redacted.
func Marshal(results []*Result, format Format) ([]byte, error) {
	return joined(marshal(results, format, nil))
}

// joined is parts as one slice.
func joined(parts [][]byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return bytes.Join(parts, nil), nil
}

// MarshalValid is Validate of every result's resources (the first failure
// is the error, naming its Gateway), then Marshal. JSON reuses the value
// the validation's encoding made of each resource; YAML is written straight
// from the messages (output_yaml_proto.go), so the validation skips that
// encoding and a resource the writer cannot encode fails with Validate's
// error.
func MarshalValid(results []*Result, format Format) ([]byte, error) {
	return joined(MarshalValidParts(results, format))
}

// MarshalValidParts is MarshalValid's output in parts, to be written one
// after the other: YAML is written in chunks, and joining them would copy
// the document once more.
func MarshalValidParts(results []*Result, format Format) ([][]byte, error) {
	if format == FormatYAML || format == "" {
		// YAML is written straight from the messages, which declines
		// exactly where the validation's encoding would fail: the checks
		// run without it, and a failure to write is reported as the
		// whole validation reports it.
		for _, r := range results {
			if err := validateChange(r.Resources, nil, nil, format, false); err != nil {
				return nil, validateAll(results, format)
			}
		}
		out, err := marshal(results, format, nil)
		if err != nil {
			if verr := validateAll(results, format); verr != nil {
				return nil, verr
			}
		}
		return out, err
	}
	encoded := map[types.Resource]any{}
	for _, r := range results {
		if err := validateChange(r.Resources, nil, encoded, format, true); err != nil {
			return nil, fmt.Errorf("gateway %s: %w", r.Gateway, err)
		}
	}
	return marshal(results, format, encoded)
}

// validateAll is the error of the first result that fails validation,
// naming its Gateway.
func validateAll(results []*Result, format Format) error {
	for _, r := range results {
		if err := validateChange(r.Resources, nil, nil, format, true); err != nil {
			return fmt.Errorf("gateway %s: %w", r.Gateway, err)
		}
	}
	return nil
}

// jsonOptions encode resources for validation and output alike: Envoy's
// field names.
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// marshal is Marshal; encoded holds resources already converted by
// protoToValue for format.
func marshal(results []*Result, format Format, encoded map[types.Resource]any) ([][]byte, error) {
	doc := struct {
		Gateways []outGateway `json:"gateways"`
	}{Gateways: []outGateway{}}
	for _, r := range results {
		g := outGateway{
			Gateway:   r.Gateway.String(),
			Version:   r.Version,
			Status:    outStatus{Conditions: outConditions(r.Conditions), Listeners: []outListener{}, Routes: []outRoute{}},
			Resources: map[string]any{},
		}
		g.Status.Listeners = outListeners(r.Listeners)
		for _, s := range r.ListenerSets {
			g.Status.ListenerSets = append(g.Status.ListenerSets, outListenerSet{ListenerSet: s.ListenerSet.String(), Conditions: outConditions(s.Conditions), Listeners: outListeners(s.Listeners)})
		}
		g.Status.AttachedListenerSets = r.AttachedListenerSets
		for _, rs := range r.Routes {
			g.Status.Routes = append(g.Status.Routes, outRoute{Kind: rs.Kind, Route: rs.Route.String(), ParentRef: rs.ParentRef, Conditions: outConditions(rs.Conditions)})
		}
		for _, p := range r.Policies {
			g.Status.Policies = append(g.Status.Policies, outPolicy{Kind: "BackendTLSPolicy", Policy: p.Policy.String(), Conditions: outConditions(p.Conditions)})
		}
		for _, p := range r.ClientTrafficPolicies {
			g.Status.ClientTrafficPolicies = append(g.Status.ClientTrafficPolicies, outPolicy{Policy: p.Policy.String(), Ancestor: &p.Ancestor, Conditions: outConditions(p.Conditions)})
		}
		for _, ot := range outputTypes {
			list := []any{}
			for _, res := range r.Resources[ot.typeURL] {
				m := redact(res)
				v, ok := encoded[res]
				if !ok && (format == FormatYAML || format == "") {
					// Written straight from the message (marshalYAML).
					list = append(list, protoResource{m: m, key: ot.key, gateway: r.Gateway.String()})
					continue
				}
				if !ok || m != proto.Message(res) {
					var err error
					if v, err = protoToValue(m, format); err != nil {
						return nil, fmt.Errorf("marshal %s of gateway %s: %w", ot.key, r.Gateway, err)
					}
				}
				list = append(list, v)
			}
			g.Resources[ot.key] = list
		}
		doc.Gateways = append(doc.Gateways, g)
	}
	switch format {
	case FormatJSON:
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("marshal json: %w", err)
		}
		return [][]byte{append(out, '\n')}, nil
	case FormatYAML, "":
		// What sigs.k8s.io/yaml.Marshal(doc) writes, without its JSON
		// text and YAML parse of the whole document: each part becomes the
		// value that parse would have produced (yamlValue), and
		// marshalYAML writes the tree as yaml.v2 does.
		gws := make([]any, len(doc.Gateways))
		for i, g := range doc.Gateways {
			status, err := json.Marshal(g.Status)
			if err != nil {
				return nil, fmt.Errorf("marshal yaml: %w", err)
			}
			sv, err := fastYAMLValue(status)
			if err != nil {
				return nil, fmt.Errorf("marshal yaml: %w", err)
			}
			gws[i] = map[string]any{"gateway": g.Gateway, "version": g.Version, "status": sv, "resources": g.Resources}
		}
		out, err := marshalYAMLParts(map[string]any{"gateways": gws})
		var re resourceError
		if errors.As(err, &re) {
			return nil, re.error
		} else if err != nil {
			return nil, fmt.Errorf("marshal yaml: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown output format %q (yaml, json)", format)
}

func outConditions(cs []metav1.Condition) []outCondition {
	out := make([]outCondition, 0, len(cs))
	for _, c := range cs {
		out = append(out, outCondition{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	return out
}

// protoToValue converts a message to a generic value, so that the
// YAML/JSON encoder orders keys: the value its protojson encoding
// (jsonOptions) decodes into, for YAML typed as sigs.k8s.io/yaml types the
// JSON (yamlValue). protoValue builds it from the message directly; what
// it declines goes through protojson's text.
func protoToValue(m proto.Message, format Format) (any, error) {
	if v, err := protoValue(m, format); err != errProtoValue {
		return v, err
	}
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return nil, err
	}
	return jsonValue(b, format)
}

// yamlValue decodes JSON into the value yaml.v2 unmarshals the same text
// into (as sigs.k8s.io/yaml.JSONToYAML does), so that encoding it with
// yaml.v2 gives the same bytes: numbers become int when they parse as one
// (else uint64, else float64), everything else as encoding/json decodes it.
func yamlValue(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return yamlNumbers(v)
}

func yamlNumbers(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			n, err := yamlNumbers(e)
			if err != nil {
				return nil, err
			}
			t[k] = n
		}
	case []any:
		for i, e := range t {
			n, err := yamlNumbers(e)
			if err != nil {
				return nil, err
			}
			t[i] = n
		}
	case json.Number:
		return yamlNumber(string(t))
	}
	return v, nil
}

// yamlNumber types a JSON number's text as yaml.v2 reads it: int when it
// parses as one, else uint64, else float64.
func yamlNumber(s string) (any, error) {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return int(i), nil
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return u, nil
	}
	return strconv.ParseFloat(s, 64)
}

// redact returns a Secret without its private key; other resources as
// they are.
func redact(r types.Resource) proto.Message {
	s, ok := r.(*tlsv3.Secret)
	if !ok || s.GetTlsCertificate().GetPrivateKey() == nil {
		return r
	}
	c := proto.Clone(s).(*tlsv3.Secret)
	c.GetTlsCertificate().PrivateKey = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: Redacted}}
	return c
}
