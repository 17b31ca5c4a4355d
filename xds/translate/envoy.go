package translate

import (
	"fmt"
	"sort"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/berth-gateway/berth/xds/translate/model"
)

// The builders turn the model into go-control-plane resources, one small
// pure function per Envoy resource kind (envoy_listener.go,
// envoy_route.go, envoy_cluster.go); they decide nothing the model does not
// say, so every Gateway API decision is tested on the model and every
// Envoy spelling in one place.

// buildResources builds the Envoy resources of a Gateway's data plane, by
// type URL, each list sorted by name.
func buildResources(g *model.Gateway) map[string][]types.Resource {
	listeners := make([]types.Resource, 0, len(g.Listeners))
	var routes []types.Resource
	for _, l := range g.Listeners {
		listeners = append(listeners, buildListener(l))
		for _, fc := range l.FilterChains {
			if fc.HTTP != nil && fc.HTTP.Routes != nil {
				routes = append(routes, buildRouteConfiguration(fc.HTTP.Routes))
			}
		}
	}
	clusters := make([]types.Resource, 0, len(g.Clusters))
	endpoints := make([]types.Resource, 0, len(g.Clusters))
	for _, c := range g.Clusters {
		clusters = append(clusters, buildCluster(c))
		endpoints = append(endpoints, buildClusterLoadAssignment(c))
	}
	secrets := make([]types.Resource, 0, len(g.Secrets))
	for _, s := range g.Secrets {
		secrets = append(secrets, buildSecret(s))
	}
	out := map[string][]types.Resource{
		resourcev3.ListenerType: listeners,
		resourcev3.RouteType:    routes,
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: endpoints,
		resourcev3.SecretType:   secrets,
	}
	for typ, rs := range out {
		if rs == nil {
			out[typ] = []types.Resource{}
		}
		sortByName(out[typ])
	}
	return out
}

func adsConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// mustAny packs m deterministically; packing a generated message cannot
// fail.
func mustAny(m proto.Message) *anypb.Any {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, m, proto.MarshalOptions{Deterministic: true}); err != nil {
		panic(fmt.Sprintf("pack %T: %v", m, err))
	}
	return a
}

func sortByName(rs []types.Resource) {
	sort.Slice(rs, func(i, j int) bool { return resourceName(rs[i]) < resourceName(rs[j]) })
}

// resourceName is the xDS name of a resource.
func resourceName(r types.Resource) string {
	switch v := r.(type) {
	case *endpointv3.ClusterLoadAssignment:
		return v.GetClusterName()
	case interface{ GetName() string }:
		return v.GetName()
	}
	return ""
}
