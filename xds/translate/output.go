package translate

import (
	"encoding/json"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
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
	Listeners []outListener `json:"listeners"`
	Routes    []outRoute    `json:"routes"`
	// ClientTrafficPolicies is left out when no policy targets the Gateway.
	ClientTrafficPolicies []outPolicy `json:"clientTrafficPolicies,omitempty"`
}

type outPolicy struct {
	Policy     string               `json:"policy"`
	Ancestor   gwv1.ParentReference `json:"ancestor"`
	Conditions []outCondition       `json:"conditions"`
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
	doc := struct {
		Gateways []outGateway `json:"gateways"`
	}{Gateways: []outGateway{}}
	for _, r := range results {
		g := outGateway{
			Gateway:   r.Gateway.String(),
			Version:   r.Version,
			Status:    outStatus{Listeners: []outListener{}, Routes: []outRoute{}},
			Resources: map[string]any{},
		}
		for _, l := range r.Listeners {
			g.Status.Listeners = append(g.Status.Listeners, outListener{Name: l.Name, AttachedRoutes: l.AttachedRoutes, SupportedKinds: l.SupportedKinds, Conditions: outConditions(l.Conditions)})
		}
		for _, rs := range r.Routes {
			g.Status.Routes = append(g.Status.Routes, outRoute{Kind: rs.Kind, Route: rs.Route.String(), ParentRef: rs.ParentRef, Conditions: outConditions(rs.Conditions)})
		}
		for _, p := range r.ClientTrafficPolicies {
			g.Status.ClientTrafficPolicies = append(g.Status.ClientTrafficPolicies, outPolicy{Policy: p.Policy.String(), Ancestor: p.Ancestor, Conditions: outConditions(p.Conditions)})
		}
		for _, ot := range outputTypes {
			list := []any{}
			for _, res := range r.Resources[ot.typeURL] {
				v, err := protoToValue(redact(res))
				if err != nil {
					return nil, fmt.Errorf("marshal %s of gateway %s: %w", ot.key, r.Gateway, err)
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
		return append(out, '\n'), nil
	case FormatYAML, "":
		out, err := yaml.Marshal(doc)
		if err != nil {
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

// protoToValue converts a message to a generic value through protojson
// (Envoy's field names), so that the YAML/JSON encoder orders keys.
func protoToValue(m proto.Message) (any, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
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
