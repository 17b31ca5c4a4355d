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

// Version is a content hash of resources: the same resources (by type, in
// order) always give the same version, and any change gives another. The
// xDS server publishes a new snapshot only when it changes.
func Version(resources map[string][]types.Resource) string {
	typs := make([]string, 0, len(resources))
	for typ := range resources {
		typs = append(typs, typ)
	}
	sort.Strings(typs)
	h := sha256.New()
	opts := proto.MarshalOptions{Deterministic: true}
	var buf []byte
	var n [8]byte
	for _, typ := range typs {
		h.Write([]byte(typ))
		binary.BigEndian.PutUint64(n[:], uint64(len(resources[typ])))
		h.Write(n[:])
		for _, r := range resources[typ] {
			var err error
			buf, err = opts.MarshalAppend(buf[:0], r)
			if err != nil {
				// Generated messages always marshal; keep the version
				// distinct rather than crash.
				buf = append(buf[:0], err.Error()...)
			}
			binary.BigEndian.PutUint64(n[:], uint64(len(buf)))
			h.Write(n[:])
			h.Write(buf)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func validIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}
