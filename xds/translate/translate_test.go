package translate_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/xds/translate"
)

// TestTranslateGatewayMatchesTranslate checks that translating one Gateway
// from an index gives exactly what translating everything gives for it.
func TestTranslateGatewayMatchesTranslate(t *testing.T) {
	in := loadInput(t, "testdata/https.in.yaml")
	in.Gateways = append(in.Gateways, loadInput(t, "testdata/seed.in.yaml").Gateways...)
	all := translate.Translate(in, translate.DefaultOptions())
	ix := translate.NewIndex(in, translate.DefaultOptions())
	keys := ix.Gateways()
	if len(keys) != len(all) || len(keys) != 3 {
		t.Fatalf("index has %d gateways, Translate %d; want 3", len(keys), len(all))
	}
	for i, key := range keys {
		one, err := ix.TranslateGateway(key)
		if err != nil {
			t.Fatal(err)
		}
		if one.Version != all[i].Version || one.Gateway != all[i].Gateway {
			t.Errorf("%s: TranslateGateway version %s, Translate %s (%s)", key, one.Version, all[i].Version, all[i].Gateway)
		}
	}
	_, err := ix.TranslateGateway(k8stypes.NamespacedName{Namespace: "nope", Name: "gw"})
	if !errors.Is(err, translate.ErrGatewayNotFound) {
		t.Errorf("unknown gateway: err = %v, want ErrGatewayNotFound", err)
	}
}

// TestOnlyOwnSecrets checks that a Gateway's snapshot carries the secrets
// of its own HTTPS listeners and nothing else.
func TestOnlyOwnSecrets(t *testing.T) {
	in := loadInput(t, "testdata/https.in.yaml")
	in.Gateways = append(in.Gateways, loadInput(t, "testdata/seed.in.yaml").Gateways...)
	for _, r := range translate.Translate(in, translate.DefaultOptions()) {
		var names []string
		for _, s := range r.Resources[resourcev3.SecretType] {
			names = append(names, s.(*tlsv3.Secret).Name)
		}
		got := strings.Join(names, ",")
		want := ""
		if r.Gateway.String() == "web/gw" {
			want = "secret/certs/shop-cert,secret/web/wildcard-cert"
		}
		if got != want {
			t.Errorf("%s: secrets %q, want %q", r.Gateway, got, want)
		}
	}
}

// TestVersionFollowsContent checks that the version is a function of the
// content: the same input in another order gives the same version, and a
// changed backend gives another.
func TestVersionFollowsContent(t *testing.T) {
	in := loadInput(t, "testdata/matching.in.yaml")
	a := translate.Translate(in, translate.DefaultOptions())[0]

	rev := in
	rev.HTTPRoutes = nil
	for i := len(in.HTTPRoutes) - 1; i >= 0; i-- {
		rev.HTTPRoutes = append(rev.HTTPRoutes, in.HTTPRoutes[i])
	}
	rev.Services = nil
	for i := len(in.Services) - 1; i >= 0; i-- {
		rev.Services = append(rev.Services, in.Services[i])
	}
	b := translate.Translate(rev, translate.DefaultOptions())[0]
	if a.Version != b.Version {
		t.Errorf("reordered input: version %s, want %s", b.Version, a.Version)
	}
	for typ := range a.Resources {
		for i := range a.Resources[typ] {
			if !proto.Equal(a.Resources[typ][i], b.Resources[typ][i]) {
				t.Errorf("reordered input changed %s %d", typ, i)
			}
		}
	}

	changed := in
	changed.HTTPRoutes = append(changed.HTTPRoutes[:0:0], in.HTTPRoutes...)
	r := changed.HTTPRoutes[0].DeepCopy()
	r.Spec.Rules[0].BackendRefs[0].Name = "svc-f"
	changed.HTTPRoutes[0] = r
	c := translate.Translate(changed, translate.DefaultOptions())[0]
	if c.Version == a.Version {
		t.Errorf("changed backend kept version %s", a.Version)
	}
}

// TestPrivilegedPorts checks the port Envoy binds for listener ports below
// 1024 and that the offset is an option (listeners sorted by name:
// listener/443 before listener/80).
func TestPrivilegedPorts(t *testing.T) {
	in := loadInput(t, "testdata/https.in.yaml")
	for _, tc := range []struct {
		offset int32
		want   string
	}{{10000, "10443,10080,"}, {20000, "20443,20080,"}} {
		opts := translate.DefaultOptions()
		opts.PrivilegedPortOffset = tc.offset
		r := translate.Translate(in, opts)[0]
		var got strings.Builder
		for _, l := range r.Resources[resourcev3.ListenerType] {
			got.WriteString(strconv.Itoa(int(l.(*listenerv3.Listener).GetAddress().GetSocketAddress().GetPortValue())) + ",")
		}
		if got.String() != tc.want {
			t.Errorf("offset %d: Envoy ports %s, want %s", tc.offset, got.String(), tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := translate.DefaultOptions().Validate(); err != nil {
		t.Fatalf("default options: %v", err)
	}
	for name, mutate := range map[string]func(*translate.Options){
		"negative offset":  func(o *translate.Options) { o.PrivilegedPortOffset = -1 },
		"offset too large": func(o *translate.Options) { o.PrivilegedPortOffset = 65000 },
		"bad address":      func(o *translate.Options) { o.ListenAddress = "localhost" },
		"zero timeout":     func(o *translate.Options) { o.ConnectTimeout = 0 },
	} {
		o := translate.DefaultOptions()
		mutate(&o)
		if o.Validate() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestTranslateGatewayConcurrent translates every Gateway of one index
// from several goroutines at once (run with -race): the index is
// read-only and each translation has its own state.
func TestTranslateGatewayConcurrent(t *testing.T) {
	ix := translate.NewIndex(scaleInput(8, 80), translate.DefaultOptions())
	want := map[k8stypes.NamespacedName]string{}
	for _, key := range ix.Gateways() {
		r, err := ix.TranslateGateway(key)
		if err != nil {
			t.Fatal(err)
		}
		want[key] = r.Version
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(want))
	for i := 0; i < 4; i++ {
		for _, key := range ix.Gateways() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := ix.TranslateGateway(key)
				if err == nil && r.Version != want[key] {
					err = fmt.Errorf("%s: version %s, want %s", key, r.Version, want[key])
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDuplicateObjects checks that an object given twice counts once (the
// later copy wins), as in an informer cache.
func TestDuplicateObjects(t *testing.T) {
	in := loadInput(t, "testdata/seed.in.yaml")
	want := translate.Translate(in, translate.DefaultOptions())
	dup := in
	dup.Gateways = append(append(dup.Gateways[:0:0], in.Gateways...), in.Gateways...)
	dup.HTTPRoutes = append(append(dup.HTTPRoutes[:0:0], in.HTTPRoutes...), in.HTTPRoutes...)
	got := translate.Translate(dup, translate.DefaultOptions())
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Version != want[i].Version || len(got[i].Routes) != len(want[i].Routes) {
			t.Errorf("%s: version %s with %d route statuses, want %s with %d", got[i].Gateway, got[i].Version, len(got[i].Routes), want[i].Version, len(want[i].Routes))
		}
	}
}
