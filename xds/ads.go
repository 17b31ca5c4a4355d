package xds

import (
	"context"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	deltav3 "github.com/envoyproxy/go-control-plane/pkg/server/delta/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
)

// ads is the aggregated discovery service and nothing else: no per-type
// xDS services, no REST fetch.
type ads struct {
	sotw  sotwv3.Server
	delta deltav3.Server
}

var _ discoverygrpc.AggregatedDiscoveryServiceServer = ads{}

func (a ads) StreamAggregatedResources(s discoverygrpc.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	return a.sotw.StreamHandler(s, resourcev3.AnyType)
}

func (a ads) DeltaAggregatedResources(s discoverygrpc.AggregatedDiscoveryService_DeltaAggregatedResourcesServer) error {
	return a.delta.DeltaStreamHandler(s, resourcev3.AnyType)
}

// callbacks record when streams open and observe push latency.
type callbacks struct{ s *Server }

var (
	_ sotwv3.Callbacks  = callbacks{}
	_ deltav3.Callbacks = callbacks{}
)

func (c callbacks) OnStreamOpen(_ context.Context, id int64, _ string) error {
	c.s.streamOpened(streamID{false, id})
	return nil
}
func (c callbacks) OnStreamClosed(id int64, _ *corev3.Node) { c.s.streamClosed(streamID{false, id}) }
func (c callbacks) OnStreamRequest(_ int64, req *discoverygrpc.DiscoveryRequest) error {
	runRequestHook(req)
	return nil
}
func (c callbacks) OnStreamResponse(_ context.Context, id int64, req *discoverygrpc.DiscoveryRequest, resp *discoverygrpc.DiscoveryResponse) {
	c.s.observePush(streamID{false, id}, req.GetNode().GetId(), resp.GetTypeUrl(), resp.GetVersionInfo())
}
func (c callbacks) OnDeltaStreamOpen(_ context.Context, id int64, _ string) error {
	c.s.streamOpened(streamID{true, id})
	return nil
}
func (c callbacks) OnDeltaStreamClosed(id int64, _ *corev3.Node) {
	c.s.streamClosed(streamID{true, id})
}
func (c callbacks) OnStreamDeltaRequest(_ int64, req *discoverygrpc.DeltaDiscoveryRequest) error {
	runRequestHook(req)
	return nil
}
func (c callbacks) OnStreamDeltaResponse(id int64, req *discoverygrpc.DeltaDiscoveryRequest, resp *discoverygrpc.DeltaDiscoveryResponse) {
	c.s.observePush(streamID{true, id}, req.GetNode().GetId(), resp.GetTypeUrl(), resp.GetSystemVersionInfo())
}
