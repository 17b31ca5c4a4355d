package translate_test

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/translate/model"
)

// TestBackendTLSModel checks the model of testdata/backendtls.in.yaml: which
// cluster speaks TLS with what, and that an unusable policy keeps its
// backend out (no cluster, its share answered 500).
func TestBackendTLSModel(t *testing.T) {
	res := translate.Translate(loadInput(t, "testdata/backendtls.in.yaml"), translate.DefaultOptions())[0]
	tls := map[string]*model.UpstreamTLS{}
	for _, c := range res.Model.Clusters {
		tls[c.Name] = c.TLS
	}
	if len(tls) != 4 {
		t.Fatalf("clusters: %v (broken/443 must not be one)", tls)
	}
	if tls["service/web/plain/80"] != nil {
		t.Error("a Service without policy speaks plain text")
	}
	whole, admin, public := tls["service/web/secure/443"], tls["service/web/secure/8443"], tls["service/web/public/443"]
	if whole == nil || whole.SNI != "secure.web.svc" || len(whole.TrustedCA) == 0 || whole.ClientCertificate != translate.SecretName("web", "client-cert") {
		t.Errorf("port 443 takes the whole-Service policy: %+v", whole)
	}
	if admin == nil || admin.SNI != "admin.web.svc" || len(admin.SubjectAltNames) != 2 || admin.SubjectAltNames[1].Type != model.SANURI {
		t.Errorf("port admin takes its own policy (the older of two): %+v", admin)
	}
	if public == nil || public.SystemCAFile != translate.SystemCAFile || len(public.TrustedCA) != 0 || public.SubjectAltNames[0].Value != "api.example.com" {
		t.Errorf("system CAs, the hostname as SAN: %+v", public)
	}
	var optional, required *model.ClientValidation
	for _, l := range res.Model.Listeners {
		for _, fc := range l.FilterChains {
			switch fc.Listener {
			case "https":
				required = fc.TLS.ClientValidation
			case "https-optional":
				optional = fc.TLS.ClientValidation
			case "https-nogrant":
				t.Error("a listener without a usable CA must not be programmed")
			}
		}
	}
	if required == nil || required.Optional || optional == nil || !optional.Optional {
		t.Errorf("client validation: default %+v, AllowInsecureFallback %+v", required, optional)
	}
}

// TestValidateUpstreamTLS: Validate refuses what Envoy refuses in a TLS
// context.
func TestValidateUpstreamTLS(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		edit       func(*tlsv3.CertificateValidationContext)
	}{
		{"inline CA without certificate", "no PEM certificate", func(vc *tlsv3.CertificateValidationContext) {
			vc.TrustedCa = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "not a certificate"}}
		}},
		{"SAN matching without CA", "without a trusted CA", func(vc *tlsv3.CertificateValidationContext) { vc.TrustedCa = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := translate.Translate(loadInput(t, "testdata/backendtls.in.yaml"), translate.DefaultOptions())[0]
			if err := translate.Validate(res.Resources); err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Resources[resourcev3.ClusterType] {
				c := r.(*clusterv3.Cluster)
				if c.GetTransportSocket() == nil {
					continue
				}
				ctx := &tlsv3.UpstreamTlsContext{}
				if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(ctx); err != nil {
					t.Fatal(err)
				}
				tc.edit(ctx.GetCommonTlsContext().GetValidationContext())
				a, err := anypb.New(ctx)
				if err != nil {
					t.Fatal(err)
				}
				c.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: a}
				break
			}
			err := translate.Validate(res.Resources)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}
