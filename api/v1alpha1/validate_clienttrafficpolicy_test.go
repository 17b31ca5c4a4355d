package v1alpha1

import (
	"errors"
	"reflect"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestValidateClientTrafficPolicy(t *testing.T) {
	gw := []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: "gw"}}}
	q := resource.MustParse
	for _, tc := range []struct {
		name string
		spec ClientTrafficPolicySpec
		want []string
	}{
		{"valid", ClientTrafficPolicySpec{TargetRefs: gw,
			Timeout: &ClientTimeout{HTTP: &HTTPClientTimeout{RequestReceivedTimeout: ptr.To(gwv1.Duration("30s")), StreamIdleTimeout: ptr.To(gwv1.Duration("1h"))}},
			HTTP2:   &HTTP2Settings{InitialStreamWindowSize: ptr.To(q("64Ki")), InitialConnectionWindowSize: ptr.To(q("1Mi")), MaxConcurrentStreams: ptr.To[uint32](100)},
			Headers: &HeaderSettings{WithUnderscoresAction: ptr.To(WithUnderscoresAction("DropHeader"))},
			Path:    &PathSettings{EscapedSlashesAction: ptr.To(PathEscapedSlashAction("KeepUnchanged"))},
		}, nil},
		{"no targets", ClientTrafficPolicySpec{}, []string{"spec.targetRefs"}},
		{"not a Gateway", ClientTrafficPolicySpec{TargetRefs: []gwv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gwv1.LocalPolicyTargetReference{Kind: "Service", Name: "s"}}}},
			[]string{"spec.targetRefs[0]"}},
		{"values", ClientTrafficPolicySpec{TargetRefs: gw,
			Timeout:           &ClientTimeout{HTTP: &HTTPClientTimeout{StreamIdleTimeout: ptr.To(gwv1.Duration("soon"))}},
			HTTP2:             &HTTP2Settings{InitialStreamWindowSize: ptr.To(q("1Ki")), InitialConnectionWindowSize: ptr.To(q("4Gi")), MaxConcurrentStreams: ptr.To[uint32](0)},
			Headers:           &HeaderSettings{WithUnderscoresAction: ptr.To(WithUnderscoresAction("Ignore"))},
			ClientIPDetection: &ClientIPDetectionSettings{XForwardedFor: &XForwardedForSettings{NumTrustedHops: ptr.To[uint32](33)}},
			Path:              &PathSettings{EscapedSlashesAction: ptr.To(PathEscapedSlashAction("Decode"))},
		}, []string{"spec.timeout.http.streamIdleTimeout", "spec.http2.initialStreamWindowSize", "spec.http2.initialConnectionWindowSize",
			"spec.http2.maxConcurrentStreams", "spec.headers.withUnderscoresAction", "spec.clientIPDetection.xForwardedFor.numTrustedHops", "spec.path.escapedSlashesAction"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			var got []string
			var fe FieldErrors
			if errors.As(err, &fe) {
				for _, e := range fe {
					got = append(got, e.Field)
				}
			} else if err != nil {
				t.Fatalf("error is not FieldErrors: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("fields in error = %v, want %v (%v)", got, tc.want, err)
			}
		})
	}
	raw := &apiextensionsv1.JSON{Raw: []byte("{}")}
	s := ClientTrafficPolicySpec{TLS: raw, TCPKeepalive: raw, Timeout: &ClientTimeout{TCP: raw}, Headers: &HeaderSettings{XForwardedClientCert: raw}}
	if got, want := s.Unsupported(), []string{"spec.headers.xForwardedClientCert", "spec.tcpKeepalive", "spec.timeout.tcp", "spec.tls"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Unsupported() = %v, want %v", got, want)
	}
}
