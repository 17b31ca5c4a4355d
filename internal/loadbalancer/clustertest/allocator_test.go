package clustertest

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/berth-gateway/berth/internal/loadbalancer"
	"github.com/berth-gateway/berth/internal/testenv"
)

// The tests run their own allocators, scoped to their namespaces.
func TestMain(m *testing.M) { os.Exit(testenv.MainWith(m, testenv.Options{NoLoadBalancer: true})) }

// assignWithin is the promise: an address within a second or two.
const assignWithin = 2 * time.Second

// startAllocator runs an allocator for ns until the returned stop is
// called (or the test ends); stop returns once Run has returned.
func startAllocator(t *testing.T, env *testenv.Env, ns string, pool netip.Prefix) (stop func()) {
	t.Helper()
	a, err := loadbalancer.New(env.Client, loadbalancer.Options{Pool: pool, Namespace: ns, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of its context ending")
		}
	}
	t.Cleanup(stop)
	return stop
}

func createService(t *testing.T, env *testenv.Env, ns, name string, typ corev1.ServiceType, class *string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:              typ,
			LoadBalancerClass: class,
			Selector:          map[string]string{"app": name},
			Ports:             []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(10080)}},
		},
	}
	if _, err := env.Client.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Service %s/%s: %v", ns, name, err)
	}
}

func getService(t *testing.T, env *testenv.Env, ns, name string) *corev1.Service {
	t.Helper()
	svc, err := env.Client.CoreV1().Services(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Service %s/%s: %v", ns, name, err)
	}
	return svc
}

// waitAddress waits for the Service's ingress address and checks its shape.
func waitAddress(t *testing.T, env *testenv.Env, ns, name string, pool netip.Prefix, within time.Duration) netip.Addr {
	t.Helper()
	start := time.Now()
	for {
		svc := getService(t, env, ns, name)
		if ing := svc.Status.LoadBalancer.Ingress; len(ing) > 0 {
			addr, err := netip.ParseAddr(ing[0].IP)
			if err != nil || !pool.Contains(addr) || len(ing) != 1 || ing[0].IPMode == nil || *ing[0].IPMode != corev1.LoadBalancerIPModeVIP {
				t.Fatalf("Service %s/%s ingress %+v: want one IP from %s with ipMode VIP", ns, name, ing, pool)
			}
			t.Logf("Service %s/%s got %s after %s", ns, name, addr, time.Since(start).Round(time.Millisecond))
			return addr
		}
		if time.Since(start) > within {
			t.Fatalf("Service %s/%s has no address after %s", ns, name, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func noAddress(t *testing.T, env *testenv.Env, ns, name string) {
	t.Helper()
	if ing := getService(t, env, ns, name).Status.LoadBalancer.Ingress; len(ing) != 0 {
		t.Errorf("Service %s/%s got %+v, want no address", ns, name, ing)
	}
}

func TestLoadBalancerServiceGetsAnAddress(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	startAllocator(t, env, ns, loadbalancer.DefaultPool)
	createService(t, env, ns, "lb", corev1.ServiceTypeLoadBalancer, nil)
	waitAddress(t, env, ns, "lb", loadbalancer.DefaultPool, assignWithin)
}

func TestOnlyUnclassedLoadBalancerServices(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	startAllocator(t, env, ns, loadbalancer.DefaultPool)
	createService(t, env, ns, "classed", corev1.ServiceTypeLoadBalancer, ptr.To("example.com/other-lb"))
	createService(t, env, ns, "cluster-ip", corev1.ServiceTypeClusterIP, nil)
	createService(t, env, ns, "node-port", corev1.ServiceTypeNodePort, nil)
	// Created last: one worker takes Services in order, so once this one
	// has its address the others have been looked at.
	createService(t, env, ns, "lb", corev1.ServiceTypeLoadBalancer, nil)
	waitAddress(t, env, ns, "lb", loadbalancer.DefaultPool, assignWithin)
	time.Sleep(200 * time.Millisecond)
	for _, name := range []string{"classed", "cluster-ip", "node-port"} {
		noAddress(t, env, ns, name)
	}
}

func TestServicesGetDistinctAddresses(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	startAllocator(t, env, ns, loadbalancer.DefaultPool)
	names := []string{"a", "b", "c", "d", "e"}
	for _, n := range names {
		createService(t, env, ns, n, corev1.ServiceTypeLoadBalancer, nil)
	}
	seen := map[netip.Addr]string{}
	for _, n := range names {
		addr := waitAddress(t, env, ns, n, loadbalancer.DefaultPool, assignWithin)
		if other, dup := seen[addr]; dup {
			t.Errorf("Services %s and %s both got %s", other, n, addr)
		}
		seen[addr] = n
	}
}

// A pool of two addresses: a third Service waits, and gets an address as
// soon as one is released, by a type switch or a deletion.
func TestReleasedOnTypeSwitchAndDeletion(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	pool := netip.MustParsePrefix("127.241.0.0/30")
	startAllocator(t, env, ns, pool)
	createService(t, env, ns, "a", corev1.ServiceTypeLoadBalancer, nil)
	addrA := waitAddress(t, env, ns, "a", pool, assignWithin)
	createService(t, env, ns, "b", corev1.ServiceTypeLoadBalancer, nil)
	addrB := waitAddress(t, env, ns, "b", pool, assignWithin)
	createService(t, env, ns, "c", corev1.ServiceTypeLoadBalancer, nil)
	time.Sleep(500 * time.Millisecond)
	noAddress(t, env, ns, "c") // pool exhausted

	svc := getService(t, env, ns, "a")
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if _, err := env.Client.CoreV1().Services(ns).Update(t.Context(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("switch a to ClusterIP: %v", err)
	}
	noAddress(t, env, ns, "a") // the apiserver clears the status on a type change
	if got := waitAddress(t, env, ns, "c", pool, assignWithin); got != addrA {
		t.Errorf("c got %s, want %s released by a", got, addrA)
	}

	// Back to LoadBalancer: a waits until b is deleted, then gets b's.
	svc = getService(t, env, ns, "a")
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	if _, err := env.Client.CoreV1().Services(ns).Update(t.Context(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("switch a back to LoadBalancer: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	noAddress(t, env, ns, "a")
	if err := env.Client.CoreV1().Services(ns).Delete(t.Context(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := waitAddress(t, env, ns, "a", pool, assignWithin); got != addrB {
		t.Errorf("a got %s, want %s released by deleting b", got, addrB)
	}
}

func TestRestartKeepsAssignments(t *testing.T) {
	env := testenv.Get(t)
	ns := env.Namespace(t)
	stop := startAllocator(t, env, ns, loadbalancer.DefaultPool)
	createService(t, env, ns, "one", corev1.ServiceTypeLoadBalancer, nil)
	createService(t, env, ns, "two", corev1.ServiceTypeLoadBalancer, nil)
	one := waitAddress(t, env, ns, "one", loadbalancer.DefaultPool, assignWithin)
	two := waitAddress(t, env, ns, "two", loadbalancer.DefaultPool, assignWithin)
	stop()

	createService(t, env, ns, "three", corev1.ServiceTypeLoadBalancer, nil) // while no allocator runs
	rvOne := getService(t, env, ns, "one").ResourceVersion
	startAllocator(t, env, ns, loadbalancer.DefaultPool)
	// A fresh pool would hand "three" the first address, "one"'s.
	three := waitAddress(t, env, ns, "three", loadbalancer.DefaultPool, assignWithin)
	if three == one || three == two {
		t.Errorf("three got %s, already held by one (%s) or two (%s)", three, one, two)
	}
	svc := getService(t, env, ns, "one")
	if got := waitAddress(t, env, ns, "one", loadbalancer.DefaultPool, 0); got != one {
		t.Errorf("one moved from %s to %s across a restart", one, got)
	}
	if got := waitAddress(t, env, ns, "two", loadbalancer.DefaultPool, 0); got != two {
		t.Errorf("two moved from %s to %s across a restart", two, got)
	}
	if svc.ResourceVersion != rvOne {
		t.Errorf("one was written again after the restart (resourceVersion %s → %s)", rvOne, svc.ResourceVersion)
	}
}
