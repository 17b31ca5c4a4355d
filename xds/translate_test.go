package xds_test

import (
	"path/filepath"
	"testing"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds"
	"github.com/berth-gateway/berth/xds/translate"
	"github.com/berth-gateway/berth/xds/xdstest"
)

// The two halves agree: every translation golden input translates into
// snapshots the server accepts (its consistency checks included) and
// serves, each Gateway's proxy receiving all of its own translation.
func TestServesTranslatorOutput(t *testing.T) {
	files, err := filepath.Glob("translate/testdata/*.in.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no translate golden inputs: %v", err)
	}
	h := newHarness(t, nil)
	served := 0
	for _, f := range files {
		set, err := manifest.ReadFiles([]string{f}, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, res := range translate.Translate(translate.InputFromSet(set), translate.DefaultOptions()) {
			gw := res.Gateway
			id := xds.Identity{Namespace: gw.Namespace, ServiceAccount: "envoy-" + filepath.Base(f) + "-" + gw.Name}
			// A fresh Gateway key per file: golden files reuse names.
			gw.Name = filepath.Base(f) + "." + gw.Name
			v, err := h.srv.Publish(gw, id, res.Resources)
			if err != nil {
				t.Errorf("%s: Gateway %s: %v", f, res.Gateway, err)
				continue
			}
			if v != res.Version {
				t.Errorf("%s: Gateway %s: served version %s, translated version %s", f, res.Gateway, v, res.Version)
			}
			c := start(t, h, xdstest.Options{Token: h.reviewer.tokenFor(t, id, time.Hour), Node: node(gw), Delta: served%2 == 1})
			if err := c.Wait(ctxT(t), func(s xdstest.State) bool { return len(s.Versions) == len(xdstest.AllTypes) }); err != nil {
				t.Fatalf("%s: Gateway %s: %v", f, res.Gateway, err)
			}
			got := c.State()
			for _, typ := range []string{resourcev3.ListenerType, resourcev3.RouteType, resourcev3.ClusterType, resourcev3.EndpointType, resourcev3.SecretType} {
				if len(got.Resources[typ]) != len(res.Resources[typ]) {
					t.Errorf("%s: Gateway %s: %d of %d %s received", f, res.Gateway, len(got.Resources[typ]), len(res.Resources[typ]), typ)
				}
			}
			served++
		}
	}
	if served < 5 {
		t.Fatalf("only %d Gateways served", served)
	}
}
