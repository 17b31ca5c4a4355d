package v1alpha1

import (
	"fmt"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// validate checks spec.telemetry (nil is valid).
func (t *ProxyTelemetry) validate(v *fieldErrs) {
	if t == nil || t.AccessLog == nil {
		return
	}
	const base = "spec.telemetry.accessLog.settings"
	for i, s := range t.AccessLog.Settings {
		sp := fmt.Sprintf("%s[%d]", base, i)
		if s.Type != nil && *s.Type != ProxyAccessLogTypeListener && *s.Type != ProxyAccessLogTypeRoute {
			v.add(sp+".type", "unsupported value %q (supported: Listener, Route)", *s.Type)
		}
		if f := s.Format; f != nil {
			fp := sp + ".format"
			switch f.Type {
			case ProxyAccessLogFormatTypeText:
				if f.Text == nil || *f.Text == "" {
					v.add(fp+".text", "must be set for type Text")
				}
				if f.JSON != nil {
					v.add(fp+".json", "must not be set for type Text")
				}
			case ProxyAccessLogFormatTypeJSON:
				if len(f.JSON) == 0 {
					v.add(fp+".json", "must be set for type JSON")
				}
				if f.Text != nil {
					v.add(fp+".text", "must not be set for type JSON")
				}
				keys := make([]string, 0, len(f.JSON))
				for k := range f.JSON {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if k == "" {
						v.add(fp+".json", "field names must not be empty")
					}
				}
			case ProxyAccessLogFormatTypeMix:
				v.add(fp+".type", "Mix is the format of OpenTelemetry sinks, which berth does not implement (use Text or JSON)")
			default:
				v.add(fp+".type", "unsupported value %q (supported: Text, JSON)", f.Type)
			}
		}
		if len(s.Sinks) == 0 {
			v.add(sp+".sinks", "must have at least one sink")
		}
		for j, k := range s.Sinks {
			kp := fmt.Sprintf("%s.sinks[%d]", sp, j)
			switch k.Type {
			case ProxyAccessLogSinkTypeFile:
				switch {
				case k.File == nil:
					v.add(kp+".file", "must be set for type File")
				case k.File.Path != "/dev/stdout" && k.File.Path != "/dev/stderr":
					// The envoy container's root file system is read-only
					// and berth mounts no volume it could write to.
					v.add(kp+".file.path", "must be /dev/stdout or /dev/stderr (the envoy container has no writable file system), got %q", k.File.Path)
				}
			case ProxyAccessLogSinkTypeALS, ProxyAccessLogSinkTypeOpenTelemetry:
				// Reported by unsupported.
				if k.File != nil {
					v.add(kp+".file", "must not be set for type %s", k.Type)
				}
			default:
				v.add(kp+".type", "unsupported value %q (supported: File)", k.Type)
			}
		}
	}
}

// unsupported lists the set spec.telemetry fields berth does not
// implement, in field order: a sink of type ALS or OpenTelemetry is listed
// by its type even when its settings object is missing.
func (t *ProxyTelemetry) unsupported() []string {
	if t == nil {
		return nil
	}
	var out []string
	add := func(path string, j *apiextensionsv1.JSON) {
		if j != nil {
			out = append(out, path)
		}
	}
	if al := t.AccessLog; al != nil {
		for i, s := range al.Settings {
			sp := fmt.Sprintf("spec.telemetry.accessLog.settings[%d]", i)
			add(sp+".matches", s.Matches)
			for j, k := range s.Sinks {
				switch k.Type {
				case ProxyAccessLogSinkTypeALS:
					out = append(out, fmt.Sprintf("%s.sinks[%d] (type ALS)", sp, j))
				case ProxyAccessLogSinkTypeOpenTelemetry:
					out = append(out, fmt.Sprintf("%s.sinks[%d] (type OpenTelemetry)", sp, j))
				}
			}
		}
	}
	if m := t.Metrics; m != nil {
		const mp = "spec.telemetry.metrics."
		add(mp+"clusterStatName", m.ClusterStatName)
		add(mp+"enablePerEndpointStats", m.EnablePerEndpointStats)
		add(mp+"enableRequestResponseSizesStats", m.EnableRequestResponseSizesStats)
		add(mp+"enableVirtualHostStats", m.EnableVirtualHostStats)
		add(mp+"matches", m.Matches)
		if m.Prometheus != nil {
			add(mp+"prometheus.compression", m.Prometheus.Compression)
		}
		add(mp+"sinks", m.Sinks)
	}
	add("spec.telemetry.tracing", t.Tracing)
	return out
}

// AccessLogDisabled reports whether access logs are turned off.
func (t *ProxyTelemetry) AccessLogDisabled() bool {
	return t != nil && t.AccessLog != nil && t.AccessLog.Disable != nil && *t.AccessLog.Disable
}

// PrometheusDisabled reports whether the Prometheus endpoint is turned off.
func (t *ProxyTelemetry) PrometheusDisabled() bool {
	return t != nil && t.Metrics != nil && t.Metrics.Prometheus != nil && t.Metrics.Prometheus.Disable
}
