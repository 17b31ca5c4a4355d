package xds

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// built is a validated snapshot with its content versions.
type built struct {
	snap *cachev3.Snapshot
	// version is the hash of all type versions: what Publish returns.
	version string
	// typeVersions are the per-type content hashes, by type URL.
	typeVersions map[string]string
}

// buildSnapshot validates resources and builds a snapshot whose per-type
// versions are content hashes. Types absent from resources are served
// empty (so a proxy asking for them completes initialisation).
func buildSnapshot(resources map[string][]cachetypes.Resource) (*built, error) {
	var errs []error
	for typ := range resources {
		if cachev3.GetResponseType(typ) == cachetypes.UnknownType {
			errs = append(errs, fmt.Errorf("unknown resource type %q", typ))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b := &built{snap: &cachev3.Snapshot{}, typeVersions: map[string]string{}}
	all := sha256.New()
	for i := range cachetypes.UnknownType {
		typ, err := cachev3.GetResponseTypeURL(i)
		if err != nil {
			return nil, err
		}
		items := resources[typ]
		v, err := typeVersion(typ, items)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.snap.Resources[i] = cachev3.NewResources(v, items)
		b.typeVersions[typ] = v
		all.Write([]byte(typ))
		all.Write([]byte(v))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := b.snap.Consistent(); err != nil {
		return nil, fmt.Errorf("inconsistent snapshot: %w", err)
	}
	if err := secretsConsistent(resources); err != nil {
		return nil, err
	}
	b.version = hex.EncodeToString(all.Sum(nil)[:8])
	return b, nil
}

// typeVersion checks one type's resources (non-nil, of that type, named,
// unique names) and hashes them in name order.
func typeVersion(typ string, items []cachetypes.Resource) (string, error) {
	type named struct {
		name string
		r    cachetypes.Resource
	}
	list := make([]named, 0, len(items))
	seen := make(map[string]bool, len(items))
	var errs []error
	for i, r := range items {
		if r == nil {
			errs = append(errs, fmt.Errorf("%s #%d is nil", typ, i))
			continue
		}
		if got := resourcev3.APITypePrefix + string(proto.MessageName(r)); got != typ {
			errs = append(errs, fmt.Errorf("%s #%d is a %s", typ, i, got))
			continue
		}
		name := cachev3.GetResourceName(r)
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s #%d has no name", typ, i))
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s %q appears twice", typ, name))
		}
		seen[name] = true
		list = append(list, named{name, r})
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	var n [8]byte
	for _, it := range list {
		var err error
		if buf, err = opts.MarshalAppend(buf[:0], it.r); err != nil {
			return "", fmt.Errorf("marshal %s %q: %w", typ, it.name, err)
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(it.name)))
		h.Write(n[:])
		h.Write([]byte(it.name))
		binary.BigEndian.PutUint64(n[:], uint64(len(buf)))
		h.Write(n[:])
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// secretsConsistent checks that every secret a listener or cluster asks for
// over ADS (an SDS config with ads) is in the snapshot: otherwise Envoy would
// keep that listener or cluster warming forever.
func secretsConsistent(resources map[string][]cachetypes.Resource) error {
	have := map[string]bool{}
	for _, r := range resources[resourcev3.SecretType] {
		have[cachev3.GetResourceName(r)] = true
	}
	var missing []string
	want := func(where string, sds *tlsv3.SdsSecretConfig) {
		if sds == nil || sds.GetSdsConfig() == nil || sds.GetSdsConfig().GetAds() == nil {
			return // inline, file-based or another source: not ours to serve
		}
		if !have[sds.GetName()] {
			missing = append(missing, fmt.Sprintf("%s needs secret %q", where, sds.GetName()))
		}
	}
	common := func(where string, c *tlsv3.CommonTlsContext) {
		for _, s := range c.GetTlsCertificateSdsSecretConfigs() {
			want(where, s)
		}
		want(where, c.GetValidationContextSdsSecretConfig())
		want(where, c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig())
	}
	socket := func(where string, ts *corev3.TransportSocket) error {
		tc := ts.GetTypedConfig()
		if tc == nil {
			return nil
		}
		msg, err := tc.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: transport socket: %w", where, err)
		}
		switch t := msg.(type) {
		case *tlsv3.DownstreamTlsContext:
			common(where, t.GetCommonTlsContext())
		case *tlsv3.UpstreamTlsContext:
			common(where, t.GetCommonTlsContext())
		}
		return nil
	}
	var errs []error
	for _, r := range resources[resourcev3.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue
		}
		chains := slices.Clone(l.GetFilterChains())
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
		}
		for _, fc := range chains {
			if err := socket("listener "+l.GetName(), fc.GetTransportSocket()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range resources[resourcev3.ClusterType] {
		c, ok := r.(*clusterv3.Cluster)
		if !ok {
			continue
		}
		if err := socket("cluster "+c.GetName(), c.GetTransportSocket()); err != nil {
			errs = append(errs, err)
		}
		for _, m := range c.GetTransportSocketMatches() {
			if err := socket("cluster "+c.GetName(), m.GetTransportSocket()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, m := range missing {
		errs = append(errs, errors.New("inconsistent snapshot: "+m))
	}
	return errors.Join(errs...)
}
