package xds

import (
	"context"
	"fmt"
	"strings"
	"time"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"go.uber.org/zap"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/xds/auth"
)

// NodeCluster is the node cluster a proxy of Gateway gw must report
// (dataplane.NodeCluster); it is also the Gateway's snapshot cache key.
func NodeCluster(gw k8stypes.NamespacedName) string {
	return dataplane.NodeCluster(gw.Namespace, gw.Name)
}

func gatewayOfKey(key string) k8stypes.NamespacedName {
	ns, name, _ := strings.Cut(key, "/")
	return k8stypes.NamespacedName{Namespace: ns, Name: name}
}

// Publish makes resources (keyed by type URL, as cachev3.NewSnapshot takes
// them) the snapshot of Gateway gw, served to streams authenticated as id,
// and returns its version (translate.Version of resources, the version
// `berth translate` prints). The snapshot is validated first with
// translate.Validate, the checks `berth translate` applies: only what would
// pass there is served. An invalid one returns an error wrapping
// translate.ErrInvalidResources that names each bad resource, and leaves what
// was published before in place. Unchanged content is a no-op
// returning the same version. id must be in gw's namespace and may serve
// only one Gateway; republishing gw under another id ends the streams of the
// old one.
func (s *Server) Publish(gw k8stypes.NamespacedName, id Identity, resources map[string][]cachetypes.Resource) (string, error) {
	switch {
	case gw.Namespace == "" || gw.Name == "":
		return "", fmt.Errorf("publish xds snapshot for Gateway %q: namespace and name are required", gw)
	case id.ServiceAccount == "":
		return "", fmt.Errorf("publish xds snapshot for Gateway %s: identity has no ServiceAccount", gw)
	case id.Namespace != gw.Namespace:
		return "", fmt.Errorf("publish xds snapshot for Gateway %s: identity %s is not in the Gateway's namespace", gw, id)
	}
	// Content already served for gw passed validation: only what changed
	// is checked resource by resource (a racing Publish may replace prev,
	// but whatever gw holds was validated).
	var served *cachev3.Snapshot
	s.mu.RLock()
	if prev := s.gateways[gw]; prev != nil {
		served = prev.snap
	}
	s.mu.RUnlock()
	b, err := buildSnapshot(resources, served)
	if err != nil {
		s.metrics.Publishes.WithLabelValues(publishInvalid).Inc()
		return "", fmt.Errorf("publish xds snapshot for Gateway %s: %w", gw, err)
	}

	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.mu.RLock()
	prev := s.gateways[gw]
	other, taken := s.byIdentity[id]
	s.mu.RUnlock()
	if taken && other != gw {
		s.metrics.Publishes.WithLabelValues(publishInvalid).Inc()
		return "", fmt.Errorf("publish xds snapshot for Gateway %s: ServiceAccount %s already serves Gateway %s", gw, id, other)
	}
	if prev != nil && prev.version == b.version && prev.id == id {
		s.metrics.Publishes.WithLabelValues(publishUnchanged).Inc()
		return b.version, nil
	}

	// Record the state before the cache pushes, so push latency finds it.
	now := time.Now()
	s.mu.Lock()
	s.gateways[gw] = &gateway{id: id, version: b.version, snap: b.snap, publishedAt: now}
	s.byIdentity[id] = gw
	if prev != nil && prev.id != id {
		delete(s.byIdentity, prev.id)
		s.endStreamsLocked(gw, func(st *serverStream) bool { return st.id == prev.id },
			auth.Errorf(auth.ReasonUnknownIdentity, "Gateway %s is now served to another ServiceAccount", gw))
	}
	s.mu.Unlock()
	if err := s.cache.SetSnapshot(context.Background(), NodeCluster(gw), b.snap); err != nil {
		// Only fails on a nil snapshot; keep the state honest anyway.
		s.mu.Lock()
		if prev != nil {
			s.gateways[gw] = prev
		} else {
			delete(s.gateways, gw)
			delete(s.byIdentity, id)
		}
		s.mu.Unlock()
		return "", fmt.Errorf("publish xds snapshot for Gateway %s: %w", gw, err)
	}
	s.metrics.Publishes.WithLabelValues(publishChanged).Inc()
	s.log.Debug("published xDS snapshot", zap.Stringer("gateway", gw), zap.String("version", b.version))
	return b.version, nil
}

// Published returns the version last published for gw.
func (s *Server) Published(gw k8stypes.NamespacedName) (version string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.gateways[gw]
	if !ok {
		return "", false
	}
	return g.version, true
}

// PublishedResources returns the resources of typeURL in the snapshot
// served to gw's proxies, by name (nil when nothing is published).
func (s *Server) PublishedResources(gw k8stypes.NamespacedName, typeURL string) map[string]cachetypes.Resource {
	snap, err := s.cache.GetSnapshot(NodeCluster(gw))
	if err != nil {
		return nil
	}
	return snap.GetResources(typeURL)
}

// Remove forgets gw: its snapshot and identity mapping go, and its streams
// end with PermissionDenied. Removing an unknown Gateway is a no-op.
func (s *Server) Remove(gw k8stypes.NamespacedName) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	s.mu.Lock()
	g, ok := s.gateways[gw]
	if ok {
		delete(s.gateways, gw)
		delete(s.byIdentity, g.id)
	}
	s.endStreamsLocked(gw, func(*serverStream) bool { return true },
		auth.Errorf(auth.ReasonUnknownIdentity, "Gateway %s is no longer served", gw))
	s.mu.Unlock()
	s.cache.ClearSnapshot(NodeCluster(gw))
}

// endStreamsLocked ends gw's streams matching keep with err. s.mu held.
func (s *Server) endStreamsLocked(gw k8stypes.NamespacedName, match func(*serverStream) bool, err *auth.Error) {
	for st := range s.streams[gw] {
		if match(st) {
			st.end(err)
		}
	}
}
