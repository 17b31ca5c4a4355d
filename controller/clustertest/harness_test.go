package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8stypes "k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// harness is one test's view of the cluster: an admin client and a
// controller serving its own controllerName, so tests run in parallel
// without seeing each other's Gateways.
type harness struct {
	t       *testing.T
	env     *testenv.Env
	cl      client.Client
	ns      string // the test's namespace (Gateways live here)
	ctrlNS  string // berth's namespace (xDS certificate Secret)
	name    string // controllerName
	class   string // a GatewayClass of name
	watchNS []string
	// tune, when set, changes the controller's options before start.
	tune func(*controller.Options)
	// reqs, when set, records the requests of the controllers start runs.
	reqs *testenv.Requests
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.Get(t)
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, env: env, cl: cl, ns: env.Namespace(t), ctrlNS: env.Namespace(t)}
	h.name = "berth.test/" + h.ns
	h.class = h.ns
	h.watchNS = []string{h.ns, h.ctrlNS}
	h.create(&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: h.class}, Spec: gwv1.GatewayClassSpec{ControllerName: gwv1.GatewayController(h.name)}})
	t.Cleanup(func() {
		_ = cl.Delete(context.Background(), &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: h.class}})
	})
	return h
}

var setLoggerOnce sync.Once

func (h *harness) options() controller.Options {
	o := controller.DefaultOptions()
	o.ControllerName = h.name
	o.Namespace = h.ctrlNS
	o.WatchNamespaces = h.watchNS
	o.XDS.Address = "127.0.0.1:0"
	o.MetricsBindAddress = "0"
	o.HealthProbeBindAddress = "0"
	if os.Getenv("BERTH_TEST_LOG") != "" {
		o.Logger = testr.NewWithOptions(h.t, testr.Options{Verbosity: 1})
	}
	// controller-runtime's global logger is set once: tests run in
	// parallel and SetLogger is not safe to call concurrently.
	setLoggerOnce.Do(func() { ctrllog.SetLogger(o.Logger) })
	o.Workers = 4
	if h.tune != nil {
		h.tune(&o)
	}
	return o
}

// start runs a controller until the returned stop is called (or the test ends).
func (h *harness) start() (stop func()) {
	h.t.Helper()
	cfg := h.env.Config
	if h.reqs != nil {
		cfg = h.reqs.Wrap(cfg)
	}
	c, err := controller.New(cfg, h.options())
	if err != nil {
		h.t.Fatal(err)
	}
	run := testenv.Background(h.t, c.Run)
	return func() {
		if err := run.Stop(); err != nil {
			h.t.Errorf("controller: %v", err)
		}
	}
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) create(o client.Object) {
	h.t.Helper()
	if err := h.cl.Create(h.ctx(), o); err != nil {
		h.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
	}
}

func (h *harness) gateway(name string, port int32, infra string) *gwv1.Gateway {
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(h.class),
			Listeners:        []gwv1.Listener{{Name: "http", Port: port, Protocol: gwv1.HTTPProtocolType}},
		},
	}
	if infra != "" {
		gw.Spec.Infrastructure = &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: infra}}
	}
	h.create(gw)
	return gw
}

func clusterIPProxy(ns, name string) *v1alpha1.EnvoyProxy {
	return &v1alpha1.EnvoyProxy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.EnvoyProxySpec{Provider: &v1alpha1.EnvoyProxyProvider{
			Type: v1alpha1.ProviderTypeKubernetes,
			Kubernetes: &v1alpha1.EnvoyProxyKubernetesProvider{
				EnvoyService: &v1alpha1.KubernetesServiceSpec{Type: ptr.To(v1alpha1.ServiceTypeClusterIP)},
			},
		}},
	}
}

// waitFor polls cond (watch-driven readiness is what is tested elsewhere;
// polling here only observes it) until it returns nil or the timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = cond(); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, last)
}

// condition waits until gw's condition typ has status and (when non-empty)
// reason, for gw's current generation, and returns it.
func (h *harness) condition(key k8stypes.NamespacedName, typ string, status metav1.ConditionStatus, reason string, timeout time.Duration) (*gwv1.Gateway, metav1.Condition) {
	h.t.Helper()
	var (
		gw gwv1.Gateway
		c  metav1.Condition
	)
	waitFor(h.t, timeout, fmt.Sprintf("Gateway %s %s=%s %s", key, typ, status, reason), func() error {
		if err := h.cl.Get(context.Background(), key, &gw); err != nil {
			return err
		}
		got := meta.FindStatusCondition(gw.Status.Conditions, typ)
		if got == nil {
			return errors.New("no condition")
		}
		c = *got
		if got.Status != status || (reason != "" && got.Reason != reason) || got.ObservedGeneration != gw.Generation {
			return fmt.Errorf("%s=%s reason %s (gen %d of %d): %s", typ, got.Status, got.Reason, got.ObservedGeneration, gw.Generation, got.Message)
		}
		return nil
	})
	return &gw, c
}

func (h *harness) programmed(key k8stypes.NamespacedName) *gwv1.Gateway {
	h.t.Helper()
	gw, _ := h.condition(key, "Programmed", metav1.ConditionTrue, "Programmed", 60*time.Second)
	return gw
}

// bundleObjects lists the objects carrying gw's bundle labels, by "Kind name".
func (h *harness) bundleObjects(ns, gw string) []string {
	h.t.Helper()
	sel := client.MatchingLabels{render.LabelOwningGatewayName: gw, render.LabelOwningGatewayNamespace: ns}
	var out []string
	lists := map[string]client.ObjectList{
		"ServiceAccount": &corev1.ServiceAccountList{}, "ConfigMap": &corev1.ConfigMapList{}, "Service": &corev1.ServiceList{},
		"Deployment": &appsv1.DeploymentList{}, "HorizontalPodAutoscaler": &autoscalingv2.HorizontalPodAutoscalerList{},
	}
	for kind, l := range lists {
		if err := h.cl.List(context.Background(), l, client.InNamespace(ns), sel); err != nil {
			h.t.Fatal(err)
		}
		items, _ := meta.ExtractList(l)
		for _, it := range items {
			out = append(out, kind+" "+it.(client.Object).GetName())
		}
	}
	return out
}

func (h *harness) waitGone(ns, gw string) {
	h.t.Helper()
	waitFor(h.t, 60*time.Second, "bundle of "+ns+"/"+gw+" gone", func() error {
		if left := h.bundleObjects(ns, gw); len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})
}

// events returns the notes of events regarding obj with reason.
func (h *harness) events(ns, name, reason string) []string {
	var list eventsv1.EventList
	if err := h.cl.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// applyFile server-side applies every document of a YAML file unchanged.
func applyFile(t *testing.T, cl client.Client, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		//nolint:staticcheck // server-side apply of unstructured documents
		if err := cl.Patch(context.Background(), u, client.Apply, client.FieldOwner("e2e"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// seedFile is the path of a seed manifest: the repository's one copy, in
// examples/ (examples.TestSeedCopiesUnchanged checks it against the user's).
func seedFile(name string) string { return filepath.Join("..", "..", "examples", name) }

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// controllerDefaultName is the default controllerName (the seed manifests').
const controllerDefaultName = render.DefaultControllerName
