package xds

import (
	"fmt"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/berth-gateway/berth/xds/translate"
)

// built is a validated snapshot with its content versions.
type built struct {
	snap *cachev3.Snapshot
	// version is the snapshot version: what Publish returns, equal to the
	// translate.Result.Version of the same resources.
	version string
	// typeVersions are the per-type content hashes, by type URL.
	typeVersions map[string]string
}

// buildSnapshot validates resources with translate.Validate (the checks
// `berth translate` applies to the same output) and builds a snapshot whose
// per-type versions are translate.ResourceVersions. served are the type
// versions of a snapshot that passed (nil: none): types whose content it
// already had are not checked resource by resource again
// (translate.ValidateChange). Types absent from resources are served empty
// (so a proxy asking for them completes initialisation).
func buildSnapshot(resources map[string][]cachetypes.Resource, served map[string]string) (*built, error) {
	v := translate.ResourceVersions(resources)
	unchanged := map[string]bool{}
	for typ, tv := range v.ByType {
		unchanged[typ] = served != nil && served[typ] == tv
	}
	if err := translate.ValidateChange(resources, unchanged); err != nil {
		return nil, err
	}
	b := &built{snap: &cachev3.Snapshot{}, version: v.Snapshot, typeVersions: map[string]string{}}
	for i := range cachetypes.UnknownType {
		typ, err := cachev3.GetResponseTypeURL(i)
		if err != nil {
			return nil, fmt.Errorf("resource type %d: %w", i, err)
		}
		b.snap.Resources[i] = cachev3.NewResources(v.Type(typ), resources[typ])
		b.typeVersions[typ] = v.Type(typ)
	}
	return b, nil
}
