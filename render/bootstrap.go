package render

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The files Envoy reads from ConfigDir. The token and the CA each come
// through their own file-based SDS resource (Envoy accepts exactly one
// secret per SDS file): Envoy watches both the SDS files' directory and the
// files the secrets name, so a rotated token or CA is used without a
// restart.
const (
	// ConfigKeySDSToken and ConfigKeySDSCA are the ConfigMap keys of the
	// SDS files for the xDS token and the xDS CA.
	ConfigKeySDSToken = "xds-token-sds.yaml"
	ConfigKeySDSCA    = "xds-ca-sds.yaml"
)

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
func bootstrap(namespace, gateway string, o Options) string {
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
func sdsToken() string {
	return `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: ` + SDSSecretToken + `
  generic_secret:
    secret: {filename: ` + q(TokenDir+"/"+TokenFile) + `}
`
}

// sdsCA is the file-based SDS resource holding the CA that signs the xDS
// server certificate.
func sdsCA() string {
	return `resources:
- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: ` + SDSSecretCA + `
  validation_context:
    trusted_ca: {filename: ` + q(ConfigDir+"/"+ConfigKeyCA) + `}
`
}
