package v1alpha1

import (
	"errors"
	"reflect"
	"testing"

	"k8s.io/utils/ptr"
)

func TestValidateTelemetry(t *testing.T) {
	file := func(p string) ProxyAccessLogSink {
		return ProxyAccessLogSink{Type: ProxyAccessLogSinkTypeFile, File: &FileEnvoyProxyAccessLog{Path: p}}
	}
	stdout := []ProxyAccessLogSink{file("/dev/stdout")}
	setting := func(f *ProxyAccessLogFormat, sinks ...ProxyAccessLogSink) *EnvoyProxySpec {
		return &EnvoyProxySpec{Telemetry: &ProxyTelemetry{AccessLog: &ProxyAccessLog{Settings: []ProxyAccessLogSetting{{Format: f, Sinks: sinks}}}}}
	}
	const s0 = "spec.telemetry.accessLog.settings[0]"
	for _, tc := range []struct {
		name string
		spec *EnvoyProxySpec
		want []string
	}{
		{"disabled", &EnvoyProxySpec{Telemetry: &ProxyTelemetry{AccessLog: &ProxyAccessLog{Disable: ptr.To(true)}}}, nil},
		{"text", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeText, Text: ptr.To("%RESPONSE_CODE%")}, stdout...), nil},
		{"json", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeJSON, JSON: map[string]string{"code": "%RESPONSE_CODE%"}}, stdout...), nil},
		{"default format", setting(nil, stdout...), nil},
		{"text without text", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeText}, stdout...), []string{s0 + ".format.text"}},
		{"text with json", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeText, Text: ptr.To("x"), JSON: map[string]string{"a": "b"}}, stdout...),
			[]string{s0 + ".format.json"}},
		{"json without json", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeJSON, Text: ptr.To("x")}, stdout...),
			[]string{s0 + ".format.json", s0 + ".format.text"}},
		{"json empty key", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeJSON, JSON: map[string]string{"": "x"}}, stdout...), []string{s0 + ".format.json"}},
		{"mix", setting(&ProxyAccessLogFormat{Type: ProxyAccessLogFormatTypeMix, Text: ptr.To("x")}, stdout...), []string{s0 + ".format.type"}},
		{"format type", setting(&ProxyAccessLogFormat{Type: "YAML"}, stdout...), []string{s0 + ".format.type"}},
		{"no sinks", setting(nil), []string{s0 + ".sinks"}},
		{"relative path", setting(nil, file("access.log")), []string{s0 + ".sinks[0].file.path"}},
		{"read-only file system", setting(nil, file("/var/log/access.log")), []string{s0 + ".sinks[0].file.path"}},
		{"stderr", setting(nil, file("/dev/stderr")), nil},
		{"file missing", setting(nil, ProxyAccessLogSink{Type: ProxyAccessLogSinkTypeFile}), []string{s0 + ".sinks[0].file"}},
		{"sink type", setting(nil, ProxyAccessLogSink{Type: "Syslog"}), []string{s0 + ".sinks[0].type"}},
		{"file on otel sink", setting(nil, ProxyAccessLogSink{Type: ProxyAccessLogSinkTypeOpenTelemetry, File: &FileEnvoyProxyAccessLog{Path: "/x"}}),
			[]string{s0 + ".sinks[0].file"}},
		{"setting type", &EnvoyProxySpec{Telemetry: &ProxyTelemetry{AccessLog: &ProxyAccessLog{Settings: []ProxyAccessLogSetting{
			{Type: ptr.To(ProxyAccessLogType("Cluster")), Sinks: stdout},
		}}}}, []string{s0 + ".type"}},
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
}

func TestTelemetrySwitches(t *testing.T) {
	var none *ProxyTelemetry
	if none.AccessLogDisabled() || none.PrometheusDisabled() {
		t.Fatal("nil telemetry disables something")
	}
	off := &ProxyTelemetry{AccessLog: &ProxyAccessLog{Disable: ptr.To(true)}, Metrics: &ProxyMetrics{Prometheus: &ProxyPrometheusProvider{Disable: true}}}
	if !off.AccessLogDisabled() || !off.PrometheusDisabled() {
		t.Fatal("disable switches not read")
	}
	if (&ProxyTelemetry{AccessLog: &ProxyAccessLog{Disable: ptr.To(false)}}).AccessLogDisabled() {
		t.Fatal("disable: false disables")
	}
}
