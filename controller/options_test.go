package controller

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/berth-gateway/berth/internal/dataplane"
)

// Translation takes the privileged port offset from the render options,
// whatever it is: 0 (Envoy binds the listener ports themselves) is an offset
// like any other and must not become the default.
func TestCompleteSharesPrivilegedPortOffset(t *testing.T) {
	for _, offset := range []int32{0, 5000, dataplane.DefaultPrivilegedPortOffset} {
		o := DefaultOptions()
		o.Namespace = "berth-system"
		o.Render.PrivilegedPortOffset = offset
		o.Translate.PrivilegedPortOffset = 1 // overwritten: render's is the one setting
		if err := o.complete(); err != nil {
			t.Fatalf("offset %d: %v", offset, err)
		}
		if o.Translate.PrivilegedPortOffset != offset {
			t.Errorf("render offset %d: translate uses %d", offset, o.Translate.PrivilegedPortOffset)
		}
	}
	o := DefaultOptions()
	o.Render.PrivilegedPortOffset = -1
	if err := o.complete(); err == nil {
		t.Error("negative offset accepted")
	}
}

// The defaults of every part agree on the shared facts.
func TestDefaultOptionsAgree(t *testing.T) {
	o := DefaultOptions()
	if err := o.complete(); err != nil {
		t.Fatal(err)
	}
	if o.ControllerName != dataplane.DefaultControllerName || string(o.Translate.ControllerName) != o.ControllerName {
		t.Errorf("controller name %q, translate %q, want %q", o.ControllerName, o.Translate.ControllerName, dataplane.DefaultControllerName)
	}
	if o.Render.TokenAudience != o.XDS.Auth.Audience {
		t.Errorf("render token audience %q, xDS server reviews for %q", o.Render.TokenAudience, o.XDS.Auth.Audience)
	}
	if o.Render.PrivilegedPortOffset != dataplane.DefaultPrivilegedPortOffset || o.Translate.PrivilegedPortOffset != o.Render.PrivilegedPortOffset {
		t.Errorf("offsets: render %d, translate %d", o.Render.PrivilegedPortOffset, o.Translate.PrivilegedPortOffset)
	}
}

// --kind-discovery-interval sets how often missing CRDs are looked up
// again; it must be positive.
func TestKindDiscoveryIntervalFlag(t *testing.T) {
	o := DefaultOptions()
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse([]string{"--kind-discovery-interval=5s", "--controller-namespace=berth-system"}); err != nil {
		t.Fatal(err)
	}
	if o.KindDiscoveryInterval != 5*time.Second {
		t.Errorf("interval %s, want 5s", o.KindDiscoveryInterval)
	}
	if err := o.complete(); err != nil {
		t.Fatal(err)
	}
	o.KindDiscoveryInterval = 0
	if err := o.complete(); err == nil || !strings.Contains(err.Error(), "kind discovery interval must be positive") {
		t.Errorf("zero interval: err = %v", err)
	}
}

// Profiling is served on the metrics address: without one it is refused,
// not silently off.
func TestProfilingNeedsMetricsAddress(t *testing.T) {
	o := DefaultOptions()
	o.Profiling, o.MetricsBindAddress = true, "0"
	if err := o.complete(); err == nil || !strings.Contains(err.Error(), "profiling") {
		t.Errorf("profiling without metrics: %v", err)
	}
	o = DefaultOptions()
	o.Profiling, o.MetricsBindAddress = true, "127.0.0.1:0"
	if err := o.complete(); err != nil {
		t.Errorf("profiling on a metrics address: %v", err)
	}
	if DefaultOptions().Profiling {
		t.Error("profiling on by default")
	}
}

// The controller's clients ask for uncompressed responses (watch streams
// included) unless --kube-api-compression: what a client built from its
// config sends.
func TestAPICompression(t *testing.T) {
	var (
		mu   sync.Mutex
		seen string
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Get("Accept-Encoding")
		mu.Unlock()
		_, _ = w.Write([]byte("{}"))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"--kube-api-compression"}, "gzip"},
	} {
		o := DefaultOptions()
		fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
		o.BindFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		hc, err := rest.HTTPClientFor(restConfig(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, o))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(srv.URL + "/api/v1/configmaps?watch=true")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		mu.Lock()
		if seen != tc.want {
			t.Errorf("%v: Accept-Encoding %q, want %q", tc.args, seen, tc.want)
		}
		mu.Unlock()
	}
}

// --initial-status-delay: 0 writes a new Gateway's first status at once; a
// negative delay is refused.
func TestInitialStatusDelayFlag(t *testing.T) {
	o := DefaultOptions()
	if o.InitialStatusDelay != 10*time.Second {
		t.Errorf("default %s, want 10s", o.InitialStatusDelay)
	}
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse([]string{"--initial-status-delay=0", "--controller-namespace=berth-system"}); err != nil {
		t.Fatal(err)
	}
	if err := o.complete(); err != nil || o.InitialStatusDelay != 0 {
		t.Fatalf("delay %s, err %v", o.InitialStatusDelay, err)
	}
	o.InitialStatusDelay = -time.Second
	if err := o.complete(); err == nil || !strings.Contains(err.Error(), "initial status delay must not be negative") {
		t.Errorf("negative delay: err = %v", err)
	}
}
