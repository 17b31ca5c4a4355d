package xds

import (
	"testing"

	cachetypes "github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// TestSnapshotEmptyTypes: a snapshot serves every type at the version
// translate gives it, keeps an index only for the types that have
// resources (empty ones hold none: most of a Gateway's types are empty and
// a snapshot lives as long as its Gateway), and its per-type versions are
// what typeVersion reads back.
func TestSnapshotEmptyTypes(t *testing.T) {
	resources := xdstest.Fixture{Domain: "www.example.com", Cluster: "backend", EndpointIP: "10.0.0.1"}.Resources()
	b, err := buildSnapshot(resources, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := translate.ResourceVersions(resources)
	for i := range cachetypes.UnknownType {
		typ, err := cachev3.GetResponseTypeURL(i)
		if err != nil {
			t.Fatal(err)
		}
		r := b.snap.Resources[i]
		if r.Version != v.Type(typ) || typeVersion(b.snap, typ) != v.Type(typ) {
			t.Errorf("%s: version %q (typeVersion %q), want %q", typ, r.Version, typeVersion(b.snap, typ), v.Type(typ))
		}
		switch n := len(resources[typ]); {
		case n > 0 && len(r.Items) != n:
			t.Errorf("%s: %d items, want %d", typ, len(r.Items), n)
		case n == 0 && r.Items != nil:
			t.Errorf("%s: an index for no resources", typ)
		}
	}
	if got := typeVersion(b.snap, "type.googleapis.com/unknown"); got != "" {
		t.Errorf("version of an unknown type %q", got)
	}
	if got := typeVersion(nil, resourcev3.ListenerType); got != "" {
		t.Errorf("version in no snapshot %q", got)
	}
}
