package envoyvalidate

import (
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// listener returns a bootstrap with one HCM listener; hcm and router are
// spliced in so that cases can break something inside an Any.
func listener(hcmExtra, routerExtra string) string {
	return `
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          route_config: {name: r}
` + hcmExtra + `
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
` + routerExtra
}

func TestUnmarshalAndValidate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string // empty: valid
	}{
		{"valid", listener("          stat_prefix: ingress", ""), ""},
		{"rule inside an Any", listener("          stat_prefix: \"\"", ""),
			"Bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config(envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager): invalid HttpConnectionManager.StatPrefix"},
		{"rule inside an Any inside an Any", listener("          stat_prefix: ingress", `          - name: envoy.filters.http.health_check
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck`),
			"http_filters[1].typed_config(envoy.extensions.filters.http.health_check.v3.HealthCheck): invalid HealthCheck.PassThroughMode: value is required"},
		{"top-level rule", "static_resources: {listeners: [{name: l, address: {socket_address: {address: 0.0.0.0, port_value: 70000}}}]}",
			"invalid SocketAddress.PortValue"},
		{"unknown field", "static_resources: {listners: []}", `unknown field "listners"`},
		{"unknown Any type", listener("          stat_prefix: ingress\n          xx: 1", ""), `unknown field "xx"`},
		{"type not linked", `
static_resources:
  listeners:
  - name: l
    filter_chains: [{filters: [{name: f, typed_config: {"@type": type.googleapis.com/not.a.Type}}]}]`, "not.a.Type"},
		{"duplicate key", "node: {id: a}\nnode: {id: b}\n", "already set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := UnmarshalAndValidate([]byte(tc.in), &bootstrapv3.Bootstrap{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// The generated ValidateAll alone misses what is inside an Any: this is the
// reason the package exists.
func TestGeneratedValidateAllMissesAny(t *testing.T) {
	b := &bootstrapv3.Bootstrap{}
	if err := Unmarshal([]byte(listener("          stat_prefix: \"\"", "")), b); err != nil {
		t.Fatal(err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("generated ValidateAll now sees inside Any (%v): revisit this package", err)
	}
	if err := Validate(b); err == nil {
		t.Fatal("Validate missed the empty stat_prefix inside the Any")
	}
}

func TestValidateUnpackFailure(t *testing.T) {
	l := &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name:       "f",
		ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: "type.googleapis.com/not.linked"}},
	}}}}}
	err := Validate(l)
	if err == nil || !strings.Contains(err.Error(), "Listener.filter_chains[0].filters[0].typed_config: unpack type.googleapis.com/not.linked") {
		t.Fatalf("err = %v", err)
	}
	if err := Validate(nil); err == nil {
		t.Fatal("nil message accepted")
	}
}
