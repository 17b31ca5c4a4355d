package translate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"sort"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
)

// Versions are the content versions of one snapshot: one per resource type
// (what an xDS response of that type carries as version_info) and one for
// the whole (what Result.Version, `berth translate` and the xDS server's
// Publish report). This is the one version hash of berth: the command and
// the server compute it with the same function, so the version the command
// prints is the version the proxy receives.
type Versions struct {
	// Snapshot is a hash over the non-empty types' versions: the same
	// resources always give the same version, any change gives another, and
	// a type listed without resources counts as absent.
	Snapshot string
	// ByType holds the version of each type listed in the input.
	ByType map[string]string
}

// emptyTypeVersion is the version of a type without resources.
var emptyTypeVersion = typeVersion(nil)

// Type is the version of one resource type; a type the input did not list
// has the version of an empty list.
func (v Versions) Type(typeURL string) string {
	if tv, ok := v.ByType[typeURL]; ok {
		return tv
	}
	return emptyTypeVersion
}

// Version is the snapshot version of resources (ResourceVersions' Snapshot).
func Version(resources map[string][]types.Resource) string {
	return ResourceVersions(resources).Snapshot
}

// ResourceVersions hashes resources by type. Each type's version covers its
// resources in name order (name and deterministic wire encoding), so the
// order of a list does not matter.
func ResourceVersions(resources map[string][]types.Resource) Versions {
	typs := make([]string, 0, len(resources))
	for typ := range resources {
		typs = append(typs, typ)
	}
	sort.Strings(typs)
	v := Versions{ByType: make(map[string]string, len(typs))}
	all := sha256.New()
	for _, typ := range typs {
		tv := typeVersion(resources[typ])
		v.ByType[typ] = tv
		if len(resources[typ]) > 0 {
			all.Write([]byte(typ))
			all.Write([]byte(tv))
		}
	}
	v.Snapshot = hex.EncodeToString(all.Sum(nil)[:8])
	return v
}

// typeVersion hashes one type's resources in name order.
func typeVersion(items []types.Resource) string {
	type named struct {
		name string
		r    types.Resource
	}
	list := make([]named, 0, len(items))
	for _, r := range items {
		list = append(list, named{resourceName(r), r})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].name < list[j].name })
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	var n [8]byte
	for _, it := range list {
		var err error
		if buf, err = opts.MarshalAppend(buf[:0], it.r); err != nil {
			// Generated messages always marshal (and Validate runs first
			// where it matters); keep the version distinct rather than crash.
			buf = append(buf[:0], err.Error()...)
		}
		binary.BigEndian.PutUint64(n[:], uint64(len(it.name)))
		h.Write(n[:])
		h.Write([]byte(it.name))
		binary.BigEndian.PutUint64(n[:], uint64(len(buf)))
		h.Write(n[:])
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func validIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}
