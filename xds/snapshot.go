package xds

import (
	"fmt"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/berth-gateway/berth/xds/translate"
)

// built is a validated snapshot with its content version.
type built struct {
	snap *cachev3.Snapshot
	// version is the snapshot version: what Publish returns, equal to the
	// translate.Result.Version of the same resources.
	version string
}

// typeVersion is the version of typeURL's resources in snap (its
// per-type content hash); "" for a nil snapshot or an unknown type.
func typeVersion(snap *cachev3.Snapshot, typeURL string) string {
	i := cachev3.GetResponseType(typeURL)
	if snap == nil || i == cachetypes.UnknownType {
		return ""
	}
	return snap.Resources[i].Version
}

// buildSnapshot validates resources with translate.Validate (the checks
// `berth translate` applies to the same output) and builds a snapshot whose
// per-type versions are translate.ResourceVersions. served is the snapshot
// that passed before (nil: none): types whose content it already had are
// not checked resource by resource again (translate.ValidateChange). Types
// absent from resources are served empty (so a proxy asking for them
// completes initialisation), without an index of their own: most of a
// Gateway's snapshot types are empty, and a snapshot lives as long as its
// Gateway.
func buildSnapshot(resources map[string][]cachetypes.Resource, served *cachev3.Snapshot) (*built, error) {
	v := translate.ResourceVersions(resources)
	unchanged := map[string]bool{}
	for typ, tv := range v.ByType {
		unchanged[typ] = served != nil && typeVersion(served, typ) == tv
	}
	if err := translate.ValidateChange(resources, unchanged); err != nil {
		return nil, err
	}
	b := &built{snap: &cachev3.Snapshot{}, version: v.Snapshot}
	for i := range cachetypes.UnknownType {
		typ, err := cachev3.GetResponseTypeURL(i)
		if err != nil {
			return nil, fmt.Errorf("resource type %d: %w", i, err)
		}
		if len(resources[typ]) == 0 {
			b.snap.Resources[i] = cachev3.Resources{Version: v.Type(typ)}
			continue
		}
		b.snap.Resources[i] = cachev3.NewResources(v.Type(typ), resources[typ])
	}
	return b, nil
}
