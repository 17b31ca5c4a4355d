package render

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"

	"github.com/berth-gateway/berth/internal/envoyvalidate"
)

// TEMPORARY: the hand-concatenated bootstrap builder that bootstrap.go
// replaces, kept only so that TestTypedBootstrapMatchesLegacy can prove the
// typed builder semantically equal on every golden case. Deleted in the
// next commit.

// q quotes s as a JSON string, which is also a valid YAML scalar.
func q(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// bootstrap returns Envoy's bootstrap for Gateway ns/gw: delta ADS to the
// xDS server over TLS (server verified against the CA and its DNS name), the
// projected token injected as "authorization: Bearer <token>" by the
// credential_injector upstream filter, admin on 127.0.0.1 only and a ready
// listener for the readiness probe. The node id comes from the command line
// (the pod name); the node cluster is "<ns>/<gw>".
func legacyBootstrap(namespace, gateway string, o Options) string {
	// sdsSource is the file-based config source of one SDS file, indented
	// under an sds_config key that sits at indent spaces.
	sdsSource := func(key string, indent int) string {
		pad := "\n" + strings.Repeat(" ", indent+2)
		return pad + "path_config_source:" +
			pad + "  path: " + q(ConfigDir+"/"+key) +
			pad + "  watched_directory: {path: " + q(ConfigDir) + "}"
	}
	var b strings.Builder
	b.Grow(4096)
	b.WriteString(`node:
  cluster: ` + q(NodeCluster(namespace, gateway)) + `
admin:
  address:
    socket_address: {address: 127.0.0.1, port_value: ` + strconv.Itoa(AdminPort) + `}
dynamic_resources:
  ads_config:
    api_type: DELTA_GRPC
    transport_api_version: V3
    set_node_on_first_message_only: true
    grpc_services:
    - envoy_grpc: {cluster_name: ` + XDSClusterName + `}
  cds_config: {ads: {}, resource_api_version: V3}
  lds_config: {ads: {}, resource_api_version: V3}
static_resources:
  listeners:
  - name: ready
    address:
      socket_address: {address: 0.0.0.0, port_value: ` + strconv.Itoa(ReadyPort) + `}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ready
          route_config: {name: ready}
          http_filters:
          - name: envoy.filters.http.health_check
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
              pass_through_mode: false
              headers:
              - name: ":path"
                string_match: {exact: ` + q(ReadyPath) + `}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: ` + XDSClusterName + `
    type: STRICT_DNS
    connect_timeout: 10s
    load_assignment:
      cluster_name: ` + XDSClusterName + `
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {address: ` + q(o.XDSHost) + `, port_value: ` + strconv.Itoa(int(o.XDSPort)) + `}
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options:
            connection_keepalive: {interval: 30s, timeout: 5s}
        http_filters:
        - name: envoy.filters.http.credential_injector
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector
            overwrite: true
            credential:
              name: envoy.http.injected_credentials.generic
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic
                header: authorization
                header_value_prefix: "Bearer "
                credential:
                  name: ` + SDSSecretToken + `
                  sds_config:` + sdsSource(ConfigKeySDSToken, 18) + `
        - name: envoy.filters.http.upstream_codec
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: ` + q(o.XDSServerName) + `
        common_tls_context:
          tls_params: {tls_minimum_protocol_version: TLSv1_2}
          alpn_protocols: [h2]
          combined_validation_context:
            default_validation_context:
              match_typed_subject_alt_names:
              - san_type: DNS
                matcher: {exact: ` + q(o.XDSServerName) + `}
            validation_context_sds_secret_config:
              name: ` + SDSSecretCA + `
              sds_config:` + sdsSource(ConfigKeySDSCA, 14) + `
`)
	return b.String()
}

// sdsToken is the file-based SDS resource holding the projected token.
func legacySDSToken() string {
	return `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: ` + SDSSecretToken + `
  generic_secret:
    secret: {filename: ` + q(TokenDir+"/"+TokenFile) + `}
`
}

// sdsCA is the file-based SDS resource holding the CA that signs the xDS
// server certificate.
func legacySDSCA() string {
	return `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: ` + SDSSecretCA + `
  validation_context:
    trusted_ca: {filename: ` + q(ConfigDir+"/"+ConfigKeyCA) + `}
`
}

// TestTypedBootstrapMatchesLegacy proves the typed builder semantically
// equal to the hand-written YAML on every golden case: both parse into the
// same bootstrapv3.Bootstrap (and the same SDS files).
func TestTypedBootstrapMatchesLegacy(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		set := decodeFile(t, in)
		for _, gw := range set.Gateways {
			for _, o := range []Options{testOptions(), func() Options {
				o := testOptions()
				o.XDSHost, o.XDSPort, o.XDSServerName = "xds.example.com", 443, "xds-sni.example.com"
				return o
			}()} {
				o = o.withDefaults()
				old := &bootstrapv3.Bootstrap{}
				if err := envoyvalidate.UnmarshalAndValidate([]byte(legacyBootstrap(gw.Namespace, gw.Name, o)), old); err != nil {
					t.Fatalf("%s: legacy: %v", in, err)
				}
				typedBS := Bootstrap(gw.Namespace, gw.Name, o)
				if !proto.Equal(old, typedBS) {
					t.Errorf("%s %s/%s: typed bootstrap differs:\nlegacy %v\ntyped  %v", in, gw.Namespace, gw.Name, old, typedBS)
				}
				enc, err := marshalEnvoy(typedBS)
				if err != nil {
					t.Fatal(err)
				}
				back := &bootstrapv3.Bootstrap{}
				if err := envoyvalidate.UnmarshalAndValidate([]byte(enc), back); err != nil || !proto.Equal(old, back) {
					t.Errorf("%s: encoded typed bootstrap differs from legacy (%v)", in, err)
				}
				n++
			}
		}
	}
	for _, c := range []struct {
		legacy string
		typed  *discoveryv3.DiscoveryResponse
	}{{legacySDSToken(), SDSToken()}, {legacySDSCA(), SDSCA()}} {
		old := &discoveryv3.DiscoveryResponse{}
		if err := envoyvalidate.UnmarshalAndValidate([]byte(c.legacy), old); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(old, c.typed) {
			t.Errorf("SDS file differs:\nlegacy %v\ntyped  %v", old, c.typed)
		}
	}
	if n < 10 {
		t.Fatalf("only %d bootstraps compared", n)
	}
	t.Logf("%d bootstraps compared", n)
}
