package render

import (
	"errors"
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	credentialv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/credential_injector/v3"
	healthcheckv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	upstreamcodecv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/upstream_codec/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	genericv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/injected_credentials/generic/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	upstreamhttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/internal/envoyvalidate"
)

// checkBundle checks a bundle the way Envoy and Kubernetes would read it:
// the bootstrap and SDS files decode strictly and validate (into every Any),
// the SDS files hold exactly the secret the bootstrap names, the pod mounts
// only the config and the token, and the Deployment's selector matches its
// pods.
func checkBundle(b *Bundle, opts Options) error {
	var cm corev1.ConfigMap
	var dep appsv1.Deployment
	var svc corev1.Service
	objects, err := b.Unstructured()
	if err != nil {
		return err
	}
	// Read back what apply would send, strictly.
	for _, obj := range objects {
		var target any
		switch obj.GetKind() {
		case "ConfigMap":
			target = &cm
		case "Deployment":
			target = &dep
		case "Service":
			target = &svc
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, target, true); err != nil {
			return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	bs := &bootstrapv3.Bootstrap{}
	if err := envoyvalidate.UnmarshalAndValidate([]byte(cm.Data[ConfigKeyBootstrap]), bs); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := checkBootstrap(bs, b.Gateway.Namespace, b.Gateway.Name, opts); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	for key, name := range map[string]string{ConfigKeySDSToken: SDSSecretToken, ConfigKeySDSCA: SDSSecretCA} {
		resp := &discoveryv3.DiscoveryResponse{}
		if err := envoyvalidate.UnmarshalAndValidate([]byte(cm.Data[key]), resp); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if len(resp.Resources) != 1 {
			return fmt.Errorf("%s: %d resources, Envoy accepts exactly 1", key, len(resp.Resources))
		}
		s := &tlsv3.Secret{}
		if err := resp.Resources[0].UnmarshalTo(s); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if s.Name != name {
			return fmt.Errorf("%s: secret %q, want %q", key, s.Name, name)
		}
		// The token secret reads the projected token, the CA secret the
		// ConfigMap's CA bundle.
		switch want := TokenDir + "/" + TokenFile; {
		case name == SDSSecretToken && s.GetGenericSecret().GetSecret().GetFilename() != want:
			return fmt.Errorf("%s: token secret reads %v, want file %s", key, s.GetGenericSecret().GetSecret(), want)
		case name == SDSSecretCA && s.GetValidationContext().GetTrustedCa().GetFilename() != ConfigDir+"/"+ConfigKeyCA:
			return fmt.Errorf("%s: CA secret reads %v, want file %s/%s", key, s.GetValidationContext().GetTrustedCa(), ConfigDir, ConfigKeyCA)
		}
	}
	if _, ok := cm.Data[ConfigKeyCA]; !ok {
		return fmt.Errorf("ConfigMap has no %s", ConfigKeyCA)
	}
	mounts := map[string]string{}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == ContainerEnvoy {
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
		}
	}
	if mounts[ConfigDir] == "" || mounts[TokenDir] == "" {
		return fmt.Errorf("envoy mounts %v, want %s (config) and %s (token)", mounts, ConfigDir, TokenDir)
	}
	if dep.Spec.Selector == nil {
		return fmt.Errorf("deployment has no selector")
	}
	for k, v := range dep.Spec.Selector.MatchLabels {
		if dep.Spec.Template.Labels[k] != v {
			return fmt.Errorf("deployment selector %s=%s does not match its pod template", k, v)
		}
		if svc.Spec.Selector[k] != v {
			return fmt.Errorf("service selector misses %s=%s", k, v)
		}
	}
	// The stats listener, the named container port and the scrape
	// annotations come together.
	statsListener := len(bs.GetStaticResources().GetListeners()) == 2
	statsPort := false
	for _, c := range dep.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == dataplane.StatsPortName {
				statsPort = c.Name == ContainerEnvoy && p.ContainerPort == dataplane.StatsPort
			}
		}
	}
	_, annotated := dep.Spec.Template.Annotations[AnnotationPrometheusPort]
	if statsListener != statsPort || statsListener != annotated {
		return fmt.Errorf("stats listener %v, container port %s %v, scrape annotations %v: want all or none", statsListener, dataplane.StatsPortName, statsPort, annotated)
	}
	if n := len(dep.Spec.Template.Spec.Volumes); n != 2 {
		return fmt.Errorf("pod has %d volumes, want 2 (config and token)", n)
	}
	return nil
}

// checkNames checks every object's name, labels and annotation keys as the
// API server would.
func checkNames(b *Bundle) error {
	for _, obj := range b.Objects {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		nameRule := validation.IsDNS1123Subdomain
		if kind == "Service" {
			nameRule = validation.IsDNS1035Label
		}
		if errs := nameRule(obj.GetName()); len(errs) > 0 {
			return fmt.Errorf("%s name %q: %v", kind, obj.GetName(), errs)
		}
		if errs := validation.IsDNS1123Label(obj.GetNamespace()); len(errs) > 0 {
			return fmt.Errorf("%s namespace %q: %v", kind, obj.GetNamespace(), errs)
		}
		for k, v := range obj.GetLabels() {
			if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
				return fmt.Errorf("%s label %s=%q: %v", kind, k, v, errs)
			}
		}
		for k := range obj.GetAnnotations() {
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return fmt.Errorf("%s annotation %q: %v", kind, k, errs)
			}
		}
	}
	return nil
}

// checkBootstrap checks the typed shape of the bootstrap of Gateway ns/gw
// rendered with opts: node cluster, admin on loopback, delta ADS through the
// xDS cluster, the ready listener, and the xDS cluster itself (its endpoint,
// TLS verified against the server name and the CA's SDS file, HTTP/2, and
// the credential injector reading the token through its SDS file).
func checkBootstrap(bs *bootstrapv3.Bootstrap, ns, gw string, opts Options) error {
	opts = opts.withDefaults()
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if got := bs.GetNode().GetCluster(); got != dataplane.NodeCluster(ns, gw) {
		fail("node cluster %q, want %q", got, dataplane.NodeCluster(ns, gw))
	}
	if a := bs.GetAdmin().GetAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != dataplane.AdminPort {
		fail("admin on %s:%d, want 127.0.0.1:%d", a.GetAddress(), a.GetPortValue(), dataplane.AdminPort)
	}
	ads := bs.GetDynamicResources().GetAdsConfig()
	if ads.GetApiType() != corev3.ApiConfigSource_DELTA_GRPC || len(ads.GetGrpcServices()) != 1 ||
		ads.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != XDSClusterName {
		fail("ADS is %v, want delta gRPC through %s", ads, XDSClusterName)
	}
	for name, src := range map[string]*corev3.ConfigSource{"cds": bs.GetDynamicResources().GetCdsConfig(), "lds": bs.GetDynamicResources().GetLdsConfig()} {
		if src.GetAds() == nil {
			fail("%s_config is not ADS", name)
		}
	}

	ls := bs.GetStaticResources().GetListeners()
	cs := bs.GetStaticResources().GetClusters()
	if len(ls) == 2 && len(cs) == 2 {
		// The stats listener and the admin cluster (Prometheus on).
		if err := checkStats(ls[1], cs[1]); err != nil {
			fail("%v", err)
		}
		ls, cs = ls[:1], cs[:1]
	}
	if len(ls) != 1 || ls[0].GetName() != "ready" {
		fail("static listeners %d, want the ready listener (and the stats listener)", len(ls))
	} else {
		if a := ls[0].GetAddress().GetSocketAddress(); a.GetPortValue() != dataplane.ReadyPort {
			fail("ready listener on port %d, want %d", a.GetPortValue(), dataplane.ReadyPort)
		}
		hcm := &hcmv3.HttpConnectionManager{}
		if err := ls[0].GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
			fail("ready listener: %v", err)
		}
		hc := &healthcheckv3.HealthCheck{}
		if fs := hcm.GetHttpFilters(); len(fs) != 2 || fs[0].GetTypedConfig().UnmarshalTo(hc) != nil {
			fail("ready listener: http filters %v, want health_check then router", fs)
		} else if hc.GetPassThroughMode().GetValue() || len(hc.GetHeaders()) != 1 ||
			hc.GetHeaders()[0].GetName() != ":path" || hc.GetHeaders()[0].GetStringMatch().GetExact() != dataplane.ReadyPath {
			fail("ready listener: health check %v, want %s answered by Envoy", hc, dataplane.ReadyPath)
		}
	}

	if len(cs) != 1 || cs[0].GetName() != XDSClusterName {
		fail("static clusters %d, want %s (and the admin cluster)", len(cs), XDSClusterName)
		return errors.Join(errs...)
	}
	c := cs[0]
	eps := c.GetLoadAssignment().GetEndpoints()
	if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
		fail("xDS cluster: want exactly one endpoint")
	} else if a := eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress(); a.GetAddress() != opts.XDSHost || a.GetPortValue() != uint32(opts.XDSPort) {
		fail("xDS cluster dials %s:%d, want %s:%d", a.GetAddress(), a.GetPortValue(), opts.XDSHost, opts.XDSPort)
	}
	tls := &tlsv3.UpstreamTlsContext{}
	if err := c.GetTransportSocket().GetTypedConfig().UnmarshalTo(tls); err != nil {
		fail("xDS cluster: no TLS: %v", err)
	}
	vc := tls.GetCommonTlsContext().GetCombinedValidationContext()
	sans := vc.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
	switch {
	case tls.GetSni() != opts.XDSServerName:
		fail("xDS cluster: SNI %q, want %q", tls.GetSni(), opts.XDSServerName)
	case len(sans) != 1 || sans[0].GetSanType() != tlsv3.SubjectAltNameMatcher_DNS || sans[0].GetMatcher().GetExact() != opts.XDSServerName:
		fail("xDS cluster: SAN matchers %v, want DNS %q", sans, opts.XDSServerName)
	}
	if err := checkSDSFile(vc.GetValidationContextSdsSecretConfig(), SDSSecretCA, ConfigKeySDSCA); err != nil {
		fail("xDS cluster CA: %v", err)
	}
	po := &upstreamhttpv3.HttpProtocolOptions{}
	if err := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(po); err != nil {
		fail("xDS cluster: protocol options: %v", err)
	}
	if po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		fail("xDS cluster is not HTTP/2")
	}
	ci, gen := &credentialv3.CredentialInjector{}, &genericv3.Generic{}
	fs := po.GetHttpFilters()
	switch {
	case len(fs) != 2 || fs[0].GetTypedConfig().UnmarshalTo(ci) != nil || ci.GetCredential().GetTypedConfig().UnmarshalTo(gen) != nil:
		fail("xDS cluster: upstream filters %v, want the generic credential injector then the codec", fs)
	case !fs[1].GetTypedConfig().MessageIs(&upstreamcodecv3.UpstreamCodec{}):
		fail("xDS cluster: last upstream filter %s, want the upstream codec", fs[1].GetName())
	case !ci.GetOverwrite() || gen.GetHeader() != "authorization" || gen.GetHeaderValuePrefix() != "Bearer ":
		fail("xDS cluster: credential injector %v / %v, want authorization: Bearer <token>", ci, gen)
	default:
		if err := checkSDSFile(gen.GetCredential(), SDSSecretToken, ConfigKeySDSToken); err != nil {
			fail("xDS cluster token: %v", err)
		}
	}
	return errors.Join(errs...)
}

// checkStats checks that the stats listener forwards GET StatsPath, and
// only that, to the admin API on the loopback address.
func checkStats(l *listenerv3.Listener, c *clusterv3.Cluster) error {
	if a := l.GetAddress().GetSocketAddress(); l.GetName() != "stats" || a.GetAddress() != "0.0.0.0" || a.GetPortValue() != dataplane.StatsPort {
		return fmt.Errorf("stats listener %s on %s:%d, want stats on 0.0.0.0:%d", l.GetName(), a.GetAddress(), a.GetPortValue(), dataplane.StatsPort)
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
		return fmt.Errorf("stats listener: %v", err)
	}
	vhs := hcm.GetRouteConfig().GetVirtualHosts()
	if len(vhs) != 1 || len(vhs[0].GetRoutes()) != 1 {
		return fmt.Errorf("stats listener: want one route, got %v", vhs)
	}
	r := vhs[0].GetRoutes()[0]
	if r.GetMatch().GetPath() != dataplane.StatsPath || r.GetRoute().GetCluster() != c.GetName() ||
		len(r.GetMatch().GetHeaders()) != 1 || r.GetMatch().GetHeaders()[0].GetStringMatch().GetExact() != "GET" {
		return fmt.Errorf("stats listener: route %v, want GET %s to %s", r, dataplane.StatsPath, c.GetName())
	}
	eps := c.GetLoadAssignment().GetEndpoints()
	if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
		return fmt.Errorf("admin cluster: want exactly one endpoint")
	}
	if a := eps[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetSocketAddress(); a.GetAddress() != "127.0.0.1" || a.GetPortValue() != dataplane.AdminPort {
		return fmt.Errorf("admin cluster dials %s:%d, want 127.0.0.1:%d", a.GetAddress(), a.GetPortValue(), dataplane.AdminPort)
	}
	return nil
}

// checkSDSFile checks that s names secret name from the SDS file at
// ConfigDir/key, watching ConfigDir.
func checkSDSFile(s *tlsv3.SdsSecretConfig, name, key string) error {
	p := s.GetSdsConfig().GetPathConfigSource()
	if s.GetName() != name || p.GetPath() != ConfigDir+"/"+key || p.GetWatchedDirectory().GetPath() != ConfigDir {
		return fmt.Errorf("SDS secret %v, want %s from %s/%s watching %s", s, name, ConfigDir, key, ConfigDir)
	}
	return nil
}
