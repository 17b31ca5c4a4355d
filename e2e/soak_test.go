package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

// faultRun sizes one fault and load run.
type faultRun struct {
	Gateways   int           // created at the start (names never reused except by "recreate")
	Namespaces int           // they are spread over
	Changes    int           // random changes and deletions after the creations
	Restarts   int           // controller restarts at random moments during the churn
	Settle     time.Duration // how long convergence may take after the last restart
}

// TestFaultAndLoadShort is the small run that `make test` includes: 10
// Gateways, 3 controller restarts.
func TestFaultAndLoadShort(t *testing.T) {
	runFaultAndLoad(t, faultRun{Gateways: 10, Namespaces: 2, Changes: 20, Restarts: 3, Settle: 3 * time.Minute})
}

// TestFaultAndLoadSoak is the full run (BERTH_SOAK=1, `make soak`): 50
// Gateways created, changed and deleted while the controller is restarted
// at random moments. BERTH_SOAK_GATEWAYS and BERTH_SOAK_RESTARTS resize it.
func TestFaultAndLoadSoak(t *testing.T) {
	if os.Getenv("BERTH_SOAK") == "" {
		t.Skip("set BERTH_SOAK=1 to run the 50-Gateway fault and load run (make soak)")
	}
	r := faultRun{Gateways: 50, Namespaces: 5, Changes: 100, Restarts: 10, Settle: 10 * time.Minute}
	if v, err := strconv.Atoi(os.Getenv("BERTH_SOAK_GATEWAYS")); err == nil && v > 0 {
		r.Gateways, r.Changes = v, 2*v
	}
	if v, err := strconv.Atoi(os.Getenv("BERTH_SOAK_RESTARTS")); err == nil && v >= 0 {
		r.Restarts = v
	}
	runFaultAndLoad(t, r)
}

// gwModel is what the test last asked of one Gateway.
type gwModel struct {
	key      types.NamespacedName
	exists   bool // created and not deleted since
	port     int32
	replicas int32
	lb       bool // Service type LoadBalancer (else ClusterIP)
}

func runFaultAndLoad(t *testing.T, r faultRun) {
	env := testenv.Get(t)
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("BERTH_SOAK_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("run %+v, seed %d (BERTH_SOAK_SEED reproduces the operation sequence; restart timing still varies)", r, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	ctx := ctxT(t, r.Settle+15*time.Minute)
	c := adminClient(t, env)

	var namespaces []string
	for range r.Namespaces {
		namespaces = append(namespaces, env.Namespace(t))
	}
	class := &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("berth-e2e-%x", rng.Uint32())},
		Spec:       gwv1.GatewayClassSpec{ControllerName: render.DefaultControllerName},
	}
	if err := c.Create(ctx, class); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// With the controller stopped: leave no Gateway stuck on berth's
		// finalizer when the run failed half-way.
		uninstallAll(ctx, t, env, namespaces)
		_ = c.Delete(ctx, class)
	})
	h := newHarness(t, berthIdentity(t, env))

	models := make([]*gwModel, r.Gateways)
	for i := range models {
		models[i] = &gwModel{key: nsName(namespaces[i%len(namespaces)], fmt.Sprintf("gw-%02d", i))}
	}

	// Restarts at random moments over the churn, which takes roughly
	// (Gateways+Changes) × (API calls + up to 100 ms pause).
	churnDone := make(chan struct{})
	var (
		restartErrs []string
		restarted   atomic.Int32
		wg          sync.WaitGroup
	)
	wg.Add(1)
	rngRestart := rand.New(rand.NewPCG(seed+1, seed)) // rand.Rand is not safe for concurrent use
	go func() {
		defer wg.Done()
		rng := rngRestart
		budget := time.Duration(r.Gateways+r.Changes) * 80 * time.Millisecond
		for i := range r.Restarts {
			wait := time.Duration(rng.Int64N(int64(2*budget/time.Duration(max(r.Restarts, 1))) + 1))
			select {
			case <-time.After(wait):
			case <-churnDone:
				if i > 0 {
					// The churn ended first: still restart, but promptly,
					// while the controller is catching up.
					time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
				}
			}
			if err := h.restart(); err != nil {
				restartErrs = append(restartErrs, err.Error())
				return
			}
			restarted.Add(1)
		}
	}()

	ops := map[string]int{}
	op := func(name string, f func() error) {
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ops[name]++
		time.Sleep(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
	}
	churnStart := time.Now()
	for _, m := range models {
		m := m
		m.exists, m.port, m.replicas, m.lb = true, 8000+int32(rng.IntN(100)), 1+int32(rng.IntN(2)), rng.IntN(2) == 0
		op("create", func() error { return createGateway(ctx, c, class.Name, m) })
	}
	for range r.Changes {
		m := models[rng.IntN(len(models))]
		switch k := rng.IntN(10); {
		case !m.exists:
			m.exists, m.port, m.replicas, m.lb = true, 8000+int32(rng.IntN(100)), 1, rng.IntN(2) == 0
			op("recreate", func() error { return createGateway(ctx, c, class.Name, m) })
		case k < 3:
			m.port = 8000 + int32(rng.IntN(100))
			op("port", func() error { return updateGateway(ctx, c, m) })
		case k < 5:
			m.replicas = 3 - m.replicas // 1 <-> 2
			op("replicas", func() error { return updateProxy(ctx, c, m) })
		case k < 7:
			m.lb = !m.lb
			op("service-type", func() error { return updateProxy(ctx, c, m) })
		default:
			m.exists = false
			op("delete", func() error { return deleteGateway(ctx, c, m) })
		}
	}
	close(churnDone)
	churn := time.Since(churnStart)
	wg.Wait()
	if len(restartErrs) > 0 {
		t.Fatalf("controller restarts: %s", strings.Join(restartErrs, "; "))
	}
	lastRestart := time.Now()
	var live, deleted int
	for _, m := range models {
		if m.exists {
			live++
		} else {
			deleted++
		}
	}
	t.Logf("churn: %v operations in %s, %d restarts; %d Gateways should exist, %d should be gone", ops, churn.Round(time.Millisecond), restarted.Load(), live, deleted)

	// Convergence: every Gateway that exists is Programmed with exactly its
	// bundle; nothing of a deleted one exists.
	ro := waitRenderOptions(t, ctx, env)
	sctx, cancel := context.WithTimeout(ctx, r.Settle)
	defer cancel()
	pending := map[types.NamespacedName]*gwModel{}
	for _, m := range models {
		pending[m.key] = m
	}
	err := eventually(sctx, time.Second, func(ctx context.Context) (bool, string, error) {
		var whys []string
		for key, m := range pending {
			why, err := modelState(ctx, env, c, ro, m)
			if err != nil {
				return false, "", err
			}
			if why == "" {
				delete(pending, key)
				continue
			}
			whys = append(whys, why)
		}
		sort.Strings(whys)
		if len(whys) > 5 {
			whys = append(whys[:5], fmt.Sprintf("… and %d more", len(whys)-5))
		}
		return len(pending) == 0, fmt.Sprintf("%d Gateways not converged: %s", len(pending), strings.Join(whys, "; ")), nil
	})
	if err != nil {
		t.Fatalf("after %s: %v", time.Since(lastRestart).Round(time.Millisecond), err)
	}
	converged := time.Since(lastRestart)
	// A Gateway checked early must still hold at the end (nothing undid it).
	for _, m := range models {
		if why, err := modelState(ctx, env, c, ro, m); err != nil || why != "" {
			t.Errorf("Gateway %s regressed after converging: %s %v", m.key, why, err)
		}
	}
	t.Logf("converged %s after the last restart (%s after the churn began): %d Gateways Programmed with exactly their bundle, %d deleted with nothing left",
		converged.Round(time.Millisecond), time.Since(churnStart).Round(time.Millisecond), live, deleted)
}

// modelState explains how Gateway m differs from what the test asked ("" when
// it matches): an existing one Programmed with its exact bundle and the
// asked port, replicas and Service type; a deleted one gone with all of its
// objects.
func modelState(ctx context.Context, env *testenv.Env, c client.Client, ro render.Options, m *gwModel) (string, error) {
	if !m.exists {
		var gw gwv1.Gateway
		err := c.Get(ctx, m.key, &gw)
		switch {
		case err == nil:
			return fmt.Sprintf("deleted Gateway %s still exists (finalizers %v)", m.key, gw.Finalizers), nil
		case !apierrors.IsNotFound(err):
			return "", err
		}
		left, err := leftovers(ctx, env, m.key.Namespace, m.key.Name)
		if err != nil || len(left) == 0 {
			return "", err
		}
		return fmt.Sprintf("deleted Gateway %s left %s", m.key, strings.Join(left, ", ")), nil
	}
	why, err := gatewayState(ctx, env, c, ro, m.key)
	if why != "" || err != nil {
		return why, err
	}
	// The bundle matches what render makes of the live objects; check the
	// live objects are what the test last asked for, too.
	name := render.ProxyName(m.key.Namespace, m.key.Name)
	dep, err := env.Client.AppsV1().Deployments(m.key.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != m.replicas || dep.Status.AvailableReplicas != m.replicas {
		return fmt.Sprintf("Deployment %s/%s: %d available of %v, want %d", m.key.Namespace, name, dep.Status.AvailableReplicas, dep.Spec.Replicas, m.replicas), nil
	}
	svc, err := env.Client.CoreV1().Services(m.key.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if lb := svc.Spec.Type == "LoadBalancer"; lb != m.lb || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != m.port {
		return fmt.Sprintf("Service %s/%s: %s %+v, want LoadBalancer=%v port %d", m.key.Namespace, name, svc.Spec.Type, svc.Spec.Ports, m.lb, m.port), nil
	}
	// Status addresses follow the Service even though neither an EnvoyProxy
	// change nor a Service change bumps the Gateway's generation.
	var gw gwv1.Gateway
	if err := c.Get(ctx, m.key, &gw); err != nil {
		return "", err
	}
	want := svc.Spec.ClusterIP
	if m.lb && len(svc.Status.LoadBalancer.Ingress) > 0 {
		want = svc.Status.LoadBalancer.Ingress[0].IP
	}
	if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Value != want {
		return fmt.Sprintf("Gateway %s addresses %+v, want %s", m.key, gw.Status.Addresses, want), nil
	}
	return "", nil
}

func createGateway(ctx context.Context, c client.Client, class string, m *gwModel) error {
	ep := &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: m.key.Namespace, Name: m.key.Name}}
	setProxy(ep, m)
	if err := c.Create(ctx, ep); apierrors.IsAlreadyExists(err) {
		if err := updateProxy(ctx, c, m); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.key.Namespace, Name: m.key.Name},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: gwv1.ObjectName(class),
			Infrastructure: &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{
				Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: m.key.Name,
			}},
		},
	}
	setListener(gw, m)
	// The previous Gateway of this name may still be terminating (berth's
	// finalizer): creating waits for it, as a user would.
	return wait(ctx, func() error { return c.Create(ctx, gw.DeepCopy()) })
}

// wait retries f for up to a minute while the name is taken.
func wait(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if !apierrors.IsAlreadyExists(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func setListener(gw *gwv1.Gateway, m *gwModel) {
	same := gwv1.NamespacesFromSame
	gw.Spec.Listeners = []gwv1.Listener{{
		Name: "http", Port: gwv1.PortNumber(m.port), Protocol: gwv1.HTTPProtocolType,
		AllowedRoutes: &gwv1.AllowedRoutes{Namespaces: &gwv1.RouteNamespaces{From: &same}},
	}}
}

func setProxy(ep *v1alpha1.EnvoyProxy, m *gwModel) {
	typ := v1alpha1.ServiceType("ClusterIP")
	if m.lb {
		typ = "LoadBalancer"
	}
	replicas := m.replicas
	ep.Spec.Provider = &v1alpha1.EnvoyProxyProvider{
		Type: v1alpha1.ProviderTypeKubernetes,
		Kubernetes: &v1alpha1.EnvoyProxyKubernetesProvider{
			EnvoyDeployment: &v1alpha1.KubernetesDeploymentSpec{Replicas: &replicas},
			EnvoyService:    &v1alpha1.KubernetesServiceSpec{Type: &typ},
		},
	}
}

func updateGateway(ctx context.Context, c client.Client, m *gwModel) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var gw gwv1.Gateway
		if err := c.Get(ctx, m.key, &gw); err != nil {
			return err
		}
		setListener(&gw, m)
		return c.Update(ctx, &gw)
	})
}

func updateProxy(ctx context.Context, c client.Client, m *gwModel) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var ep v1alpha1.EnvoyProxy
		if err := c.Get(ctx, m.key, &ep); err != nil {
			return err
		}
		setProxy(&ep, m)
		return c.Update(ctx, &ep)
	})
}

// deleteGateway deletes the Gateway and its EnvoyProxy at once (the
// EnvoyProxy may well go first: berth must still clean up).
func deleteGateway(ctx context.Context, c client.Client, m *gwModel) error {
	if err := c.Delete(ctx, &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: m.key.Namespace, Name: m.key.Name}}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	err := c.Delete(ctx, &v1alpha1.EnvoyProxy{ObjectMeta: metav1.ObjectMeta{Namespace: m.key.Namespace, Name: m.key.Name}})
	return client.IgnoreNotFound(err)
}
