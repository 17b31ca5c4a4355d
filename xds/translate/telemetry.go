package translate

import (
	"strings"

	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate/model"
)

// The access logs of a Gateway's listeners come from the EnvoyProxy that
// applies to it (spec.telemetry.accessLog), merged and checked exactly as
// render merges and checks it for the Gateway's bundle
// (render.EffectiveParameters), so both halves of the data plane read one
// configuration. Metrics live in the bootstrap (render).
//
// An EnvoyProxy that is missing or invalid leaves the access logs at their
// default: render refuses such an EnvoyProxy and the Gateway's status says
// so (InvalidParameters); translation does not fail with it, because the
// routes it programs do not depend on it.

// telemetry returns the spec.telemetry that applies to the Gateway (nil for
// none, or for an EnvoyProxy render refuses), recording the EnvoyProxies
// it depends on.
func (t *gatewayTranslator) telemetry() *v1alpha1.ProxyTelemetry {
	class := t.ix.classes[string(t.gw.Spec.GatewayClassName)]
	refs, err := render.ResolveParametersRefs(class, t.gw)
	if err != nil {
		return nil
	}
	in := render.Input{GatewayClass: class, Gateway: t.gw}
	for _, r := range []struct {
		ref *k8stypes.NamespacedName
		ep  **v1alpha1.EnvoyProxy
	}{{refs.Class, &in.ClassParameters}, {refs.Gateway, &in.GatewayParameters}} {
		if r.ref != nil {
			t.deps.add(&t.deps.proxies, *r.ref)
			*r.ep = t.ix.proxies[*r.ref]
		}
	}
	spec, err := render.EffectiveParameters(in)
	if err != nil {
		return nil
	}
	return spec.Telemetry
}

// accessLogs are the access logs of the listeners (listener) and of their
// HTTP connection managers (http), after the reference implementation: by
// default one JSON line per request on standard output, and the same at
// the listener for what matched no route; each setting of
// spec.telemetry.accessLog.settings replaces the default and logs, per its
// type, at both places (unset), at the listener only (Listener: every
// connection) or in the connection managers only (Route). Sinks berth does
// not implement (ALS, OpenTelemetry) write nothing; render reports them.
func accessLogs(tel *v1alpha1.ProxyTelemetry) (listener, http []model.AccessLog) {
	if tel.AccessLogDisabled() {
		return nil, nil
	}
	var settings []v1alpha1.ProxyAccessLogSetting
	if tel != nil && tel.AccessLog != nil {
		settings = tel.AccessLog.Settings
	}
	if len(settings) == 0 {
		def := model.AccessLog{Path: model.DefaultAccessLogPath, JSON: model.DefaultAccessLogJSON()}
		noRoute := def
		noRoute.NoRouteOnly = true
		return []model.AccessLog{noRoute}, []model.AccessLog{def}
	}
	for _, s := range settings {
		format := model.AccessLog{JSON: model.DefaultAccessLogJSON()}
		if f := s.Format; f != nil {
			switch f.Type {
			case v1alpha1.ProxyAccessLogFormatTypeText:
				format = model.AccessLog{Text: *f.Text}
				if !strings.HasSuffix(format.Text, "\n") {
					format.Text += "\n"
				}
			case v1alpha1.ProxyAccessLogFormatTypeJSON:
				format = model.AccessLog{JSON: f.JSON}
			}
		}
		for _, sink := range s.Sinks {
			if sink.Type != v1alpha1.ProxyAccessLogSinkTypeFile || sink.File == nil {
				continue
			}
			l := format
			l.Path = sink.File.Path
			if s.Type == nil || *s.Type == v1alpha1.ProxyAccessLogTypeRoute {
				http = append(http, l)
			}
			if s.Type == nil || *s.Type == v1alpha1.ProxyAccessLogTypeListener {
				l.NoRouteOnly = s.Type == nil
				listener = append(listener, l)
			}
		}
	}
	return listener, http
}
