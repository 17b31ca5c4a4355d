package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/rbac"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// berthNamespace is where the chart installs berth (its ServiceAccount,
// the xDS TLS Secret); the seed's bundles carry berth-xds.<this>.svc.
const berthNamespace = "berth-system"

func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it reports done, returns an error, or ctx
// ends; the error then carries cond's last explanation, so a timeout says
// what was still missing.
func eventually(ctx context.Context, every time.Duration, cond func(context.Context) (done bool, why string, err error)) error {
	var last string
	for {
		done, why, err := cond(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last: %s", ctx.Err(), last)
		case <-time.After(every):
		}
	}
}

// berthIdentity installs the RBAC berth declares (package rbac, what the
// chart grants) for ServiceAccount berth-system/berth and returns a client
// configuration acting as that ServiceAccount, so the in-process controller
// has exactly the chart's rights and nothing of the admin's.
func berthIdentity(t *testing.T, env *testenv.Env) *rest.Config {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	_, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: berthNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", berthNamespace, err)
	}
	ro := rbac.DefaultOptions()
	ro.Namespace = berthNamespace
	set, err := rbac.Build(ro)
	if err != nil {
		t.Fatal(err)
	}
	rc := env.Client.RbacV1()
	for _, r := range set.ClusterRoles {
		if err := createOrUpdate(ctx, r, rc.ClusterRoles().Create, rc.ClusterRoles().Update); err != nil {
			t.Fatalf("ClusterRole %s: %v", r.Name, err)
		}
	}
	for _, b := range set.ClusterRoleBindings {
		if err := createOrUpdate(ctx, b, rc.ClusterRoleBindings().Create, rc.ClusterRoleBindings().Update); err != nil {
			t.Fatalf("ClusterRoleBinding %s: %v", b.Name, err)
		}
	}
	for i, r := range set.Roles {
		if err := ensureNamespace(ctx, env.Client, r.Namespace); err != nil {
			t.Fatal(err)
		}
		if err := createOrUpdate(ctx, r, rc.Roles(r.Namespace).Create, rc.Roles(r.Namespace).Update); err != nil {
			t.Fatalf("Role %s/%s: %v", r.Namespace, r.Name, err)
		}
		b := set.RoleBindings[i]
		if err := createOrUpdate(ctx, b, rc.RoleBindings(b.Namespace).Create, rc.RoleBindings(b.Namespace).Update); err != nil {
			t.Fatalf("RoleBinding %s/%s: %v", b.Namespace, b.Name, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, b := range set.ClusterRoleBindings {
			_ = rc.ClusterRoleBindings().Delete(ctx, b.Name, metav1.DeleteOptions{})
		}
		for _, r := range set.ClusterRoles {
			_ = rc.ClusterRoles().Delete(ctx, r.Name, metav1.DeleteOptions{})
		}
		for i, r := range set.Roles {
			_ = rc.RoleBindings(r.Namespace).Delete(ctx, set.RoleBindings[i].Name, metav1.DeleteOptions{})
			_ = rc.Roles(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		}
	})
	return env.ServiceAccountConfig(t, ro.Namespace, ro.ServiceAccount)
}

func ensureNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// createOrUpdate creates obj, or replaces it when it exists (a previous run
// against a joined cluster may have left it).
func createOrUpdate[T interface {
	*rbacv1.ClusterRole | *rbacv1.ClusterRoleBinding | *rbacv1.Role | *rbacv1.RoleBinding
}](
	ctx context.Context, obj T,
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
) error {
	_, err := create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = update(ctx, obj, metav1.UpdateOptions{})
	}
	return err
}

// logger writes the controller's logs to a file next to the test's
// temporary files (kept on failure, printed as a path), since they are too
// many for t.Log in the load runs.
func logger(t *testing.T) logr.Logger {
	t.Helper()
	dir := os.Getenv("BERTH_E2E_LOG_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "berth-e2e-"+strings.ReplaceAll(t.Name(), "/", "_")+".log")
	cfg := zap.NewDevelopmentConfig()
	cfg.OutputPaths = []string{path}
	cfg.ErrorOutputPaths = []string{path}
	cfg.DisableStacktrace = true
	z, err := cfg.Build()
	if err != nil {
		t.Fatal(err)
	}
	// controller-runtime's global logger (used by some informers) goes to
	// the same file instead of warning that it was never set.
	ctrllog.SetLogger(zapr.NewLogger(z).WithName("controller-runtime"))
	t.Cleanup(func() {
		_ = z.Sync()
		if t.Failed() {
			t.Logf("controller logs: %s", path)
		}
	})
	return zapr.NewLogger(z)
}

// harness runs berth's controller in-process and restarts it on demand
// (context cancelled, a new Controller built), as a crash and a new pod
// would.
type harness struct {
	t   *testing.T
	cfg *rest.Config
	log logr.Logger
	// configure, when set, adjusts the options of every start (e.g. the
	// watched namespaces of a namespaced install).
	configure func(*controller.Options)

	mu       sync.Mutex
	run      *testenv.Run
	ctrl     *controller.Controller
	addr     string
	restarts int
}

// controllerOptions are the defaults of an installation in berth-system,
// with the xDS server on a free loopback port and no metrics or health
// listeners (several controllers run, one after the other, in one process).
func controllerOptions(log logr.Logger) (controller.Options, error) {
	o := controller.DefaultOptions()
	o.Namespace = berthNamespace
	o.MetricsBindAddress = "0"
	o.HealthProbeBindAddress = "0"
	o.Logger = log
	addr, err := freeAddr()
	if err != nil {
		return o, err
	}
	o.XDS.Address = addr
	return o, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func newHarness(t *testing.T, cfg *rest.Config) *harness { return newHarnessWith(t, cfg, nil) }

// newHarnessWith is newHarness with configure applied to the options of
// every start.
func newHarnessWith(t *testing.T, cfg *rest.Config, configure func(*controller.Options)) *harness {
	h := &harness{t: t, cfg: cfg, log: logger(t), configure: configure}
	h.start()
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	return h
}

func (h *harness) start() {
	h.t.Helper()
	if err := h.startErr(); err != nil {
		h.t.Fatal(err)
	}
}

// startErr builds and runs a new Controller and waits for its xDS server.
// It may run on any goroutine (no t.Fatal).
func (h *harness) startErr() error {
	h.mu.Lock()
	run := h.restarts
	h.mu.Unlock()
	opts, err := controllerOptions(h.log.WithValues("run", run))
	if err != nil {
		return err
	}
	if h.configure != nil {
		h.configure(&opts)
	}
	c, err := controller.New(h.cfg, opts)
	if err != nil {
		return fmt.Errorf("controller.New: %w", err)
	}
	bg := testenv.Background(h.t, c.Run)
	h.mu.Lock()
	h.ctrl, h.run, h.addr = c, bg, opts.XDS.Address
	h.mu.Unlock()
	// The xDS server must be listening before a probe dials it.
	lctx, lcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer lcancel()
	if err := waitListening(lctx, opts.XDS.Address, bg); err != nil {
		return fmt.Errorf("xDS server of the controller: %w", err)
	}
	return nil
}

func waitListening(ctx context.Context, addr string, run *testenv.Run) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-run.Done():
			return fmt.Errorf("controller stopped before listening on %s: %v", addr, run.Err())
		case <-ctx.Done():
			return fmt.Errorf("not listening on %s: %w", addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop cancels the running controller and waits (bounded) for Run to
// return. A Run that outlives its context is a bug worth a failure.
func (h *harness) stop() error {
	h.mu.Lock()
	run := h.run
	h.run = nil
	h.mu.Unlock()
	if run == nil {
		return nil
	}
	return run.Stop()
}

// restart stops the controller and starts a new one, as a crash and a new
// pod would. It may run on any goroutine.
func (h *harness) restart() error {
	stopErr := h.stop()
	h.mu.Lock()
	h.restarts++
	n := h.restarts
	h.mu.Unlock()
	if stopErr != nil {
		return fmt.Errorf("stop before restart %d: %w", n, stopErr)
	}
	return h.startErr()
}

func (h *harness) xdsAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// kube applies and deletes manifests the way kubectl does (server-side
// apply through discovery), as an admin: the user, not berth.
type kube struct {
	env    *testenv.Env
	mapper meta.RESTMapper
}

func newKube(t *testing.T, env *testenv.Env) *kube {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))
	return &kube{env: env, mapper: mapper}
}

// readManifest splits a multi-document YAML file into objects, in order.
func readManifest(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

func (k *kube) resource(obj *unstructured.Unstructured) (schemaResource, error) {
	gvk := obj.GroupVersionKind()
	m, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return schemaResource{}, fmt.Errorf("mapping of %s: %w", gvk, err)
	}
	return schemaResource{gvr: m.Resource, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

type schemaResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// apply server-side applies every object (field manager "kubectl").
func (k *kube) apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		r, err := k.resource(obj)
		if err != nil {
			return err
		}
		ri := k.env.Dynamic.Resource(r.gvr)
		var err2 error
		if r.namespaced {
			_, err2 = ri.Namespace(obj.GetNamespace()).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kubectl", Force: true})
		} else {
			_, err2 = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kubectl", Force: true})
		}
		if err2 != nil {
			return fmt.Errorf("apply %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err2)
		}
	}
	return nil
}

// delete deletes every object (in reverse order, as kubectl delete -f
// does not promise any) and waits until each is gone.
func (k *kube) delete(ctx context.Context, objs []*unstructured.Unstructured) error {
	for i := len(objs) - 1; i >= 0; i-- {
		obj := objs[i]
		r, err := k.resource(obj)
		if err != nil {
			return err
		}
		ri := k.env.Dynamic.Resource(r.gvr).Namespace(obj.GetNamespace())
		if !r.namespaced {
			ri = k.env.Dynamic.Resource(r.gvr).Namespace("")
		}
		if err := ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
	}
	for _, obj := range objs {
		r, _ := k.resource(obj)
		ns := obj.GetNamespace()
		if !r.namespaced {
			ns = ""
		}
		err := eventually(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			live, err := k.env.Dynamic.Resource(r.gvr).Namespace(ns).Get(ctx, obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, "", nil
			}
			if err != nil {
				return false, err.Error(), nil
			}
			return false, fmt.Sprintf("%s %s/%s still exists (finalizers %v)", obj.GetKind(), ns, obj.GetName(), live.GetFinalizers()), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func nsName(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// uninstallAll destroys every bundle and removes berth's finalizer in
// namespaces, as `berth controller --uninstall` does: for clean-ups after the
// controller stopped, so a failed run leaves no Gateway (or namespace) stuck.
func uninstallAll(ctx context.Context, t *testing.T, env *testenv.Env, namespaces []string) {
	t.Helper()
	opts := controller.DefaultOptions()
	opts.Namespace = berthNamespace
	opts.WatchNamespaces = namespaces
	if err := controller.Uninstall(ctx, env.Config, opts); err != nil {
		t.Errorf("uninstall: %v", err)
	}
}
