package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

// The measurements of docs/benchmarks.md "Controller" beyond TestScale
// (opt-in, not part of `make test`):
//
//	BERTH_MEASURE_IDLE=50 go test -count=1 -run TestMeasureIdle -timeout 20m -v ./controller/clustertest/
//	BERTH_MEASURE_READINESS=50 go test -count=1 -run TestMeasureReadiness -timeout 20m -v ./controller/clustertest/

// startMeasured runs a controller with the defaults of an installation
// (workers, apply settings) on cfg, changed by tune, until the test ends.
func (h *harness) startMeasured(cfg *rest.Config, tune func(*controller.Options)) {
	h.t.Helper()
	o := h.options()
	def := controller.DefaultOptions()
	o.Workers = def.Workers // the harness's 4 are for parallel tests
	if n, err := strconv.Atoi(os.Getenv("BERTH_MEASURE_WORKERS")); err == nil && n > 0 {
		o.Workers = n
	}
	if tune != nil {
		tune(&o)
	}
	c, err := controller.New(cfg, o)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("controller: %v", err)
		}
	})
}

// gateways creates n Gateways gw000… in h.ns, all of EnvoyProxy proxy.
func (h *harness) gateways(n int, proxy string) []string {
	h.t.Helper()
	names := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	for i := range names {
		names[i] = fmt.Sprintf("gw%03d", i)
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name}, Spec: gwv1.GatewaySpec{
				GatewayClassName: gwv1.ObjectName(h.class),
				Infrastructure:   &gwv1.GatewayInfrastructure{ParametersRef: &gwv1.LocalParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: proxy}},
				Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
			}}
			if err := h.cl.Create(context.Background(), gw); err != nil {
				h.t.Errorf("create Gateway %s: %v", name, err)
			}
		}(names[i])
	}
	wg.Wait()
	if h.t.Failed() {
		h.t.FailNow()
	}
	return names
}

// waitProgrammed waits until every Gateway of h.ns has Programmed=status
// (for its generation) and its message contains msg.
func (h *harness) waitProgrammed(n int, status metav1.ConditionStatus, msg string, timeout time.Duration) {
	h.t.Helper()
	start := time.Now()
	waitFor(h.t, timeout, fmt.Sprintf("%d Gateways Programmed=%s", n, status), func() error {
		var list gwv1.GatewayList
		if err := h.cl.List(context.Background(), &list, client.InNamespace(h.ns)); err != nil {
			return err
		}
		ok := 0
		var other string
		for _, gw := range list.Items {
			c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
			if c != nil && c.Status == status && c.ObservedGeneration == gw.Generation && strings.Contains(c.Message, msg) {
				ok++
			} else if c != nil {
				other = gw.Name + ": " + string(c.Status) + " " + c.Message
			}
		}
		if ok != n {
			return fmt.Errorf("%d/%d; e.g. %s", ok, n, other)
		}
		return nil
	})
	h.t.Logf("%d Gateways Programmed=%s after %s", n, status, time.Since(start).Round(100*time.Millisecond))
}

// queueStats returns the gateway controller's workqueue wait and work time
// totals (seconds) and counts, to tell queueing from reconcile time.
func queueStats(t *testing.T) (waitSum, workSum float64, waitN, workN uint64) {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			gateway := false
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == "gateway" {
					gateway = true
				}
			}
			if !gateway || m.GetHistogram() == nil {
				continue
			}
			switch mf.GetName() {
			case "workqueue_queue_duration_seconds":
				waitSum, waitN = waitSum+m.GetHistogram().GetSampleSum(), waitN+m.GetHistogram().GetSampleCount()
			case "workqueue_work_duration_seconds":
				workSum, workN = workSum+m.GetHistogram().GetSampleSum(), workN+m.GetHistogram().GetSampleCount()
			}
		}
	}
	return
}

// reconcileCounts returns controller-runtime's reconcile_total by controller.
func reconcileCounts(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ctl string
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" {
					ctl = l.GetValue()
				}
			}
			out[ctl] += m.GetCounter().GetValue()
		}
	}
	return out
}

func envInt(t *testing.T, name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	if n <= 0 {
		t.Skipf("set %s=N to run", name)
	}
	return n
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

// TestMeasureIdle: N Programmed Gateways (ClusterIP), then an idle window
// (default 5 min, BERTH_MEASURE_IDLE_WINDOW) with the informers' resync
// period at 2 min (BERTH_MEASURE_RESYNC) and the garbage-collection sweep at
// 2 min, so at least one full resync and one sweep fall inside it. It counts
// the controller's API requests by verb and resource during the window and
// fails on any write other than the leader-election Lease renewal.
func TestMeasureIdle(t *testing.T) {
	n := envInt(t, "BERTH_MEASURE_IDLE")
	window := envDuration("BERTH_MEASURE_IDLE_WINDOW", 5*time.Minute)
	resync := envDuration("BERTH_MEASURE_RESYNC", 2*time.Minute)
	h := newHarness(t)
	h.create(clusterIPProxy(h.ns, "proxy"))
	// Every client the controller builds from the config (manager, apply
	// engine, certificate manager, token reviewer) records its requests.
	var reqs testenv.Requests
	h.startMeasured(reqs.Wrap(h.env.Config), func(o *controller.Options) {
		o.ResyncPeriod = resync
		o.SweepInterval = resync
		// As installed (the chart runs 2 replicas with leader election).
		o.LeaderElection = true
		o.LeaderElectionID = "berth-measure-idle"
	})
	h.gateways(n, "proxy")
	h.waitProgrammed(n, metav1.ConditionTrue, "", 10*time.Minute)
	time.Sleep(5 * time.Second) // let the last status writes and events land

	before := reconcileCounts(t)
	mark := reqs.Mark()
	start := time.Now()
	time.Sleep(window)
	inWindow := reqs.Since(mark)
	elapsed := time.Since(start)
	after := reconcileCounts(t)

	counts := map[string]int{}
	for _, r := range inWindow {
		counts[r.Verb+" "+r.Resource]++
	}
	keys := make([]string, 0, len(counts))
	var total, reads, writes, leaseWrites int
	for k, v := range counts {
		keys = append(keys, k)
		total += v
		verb := strings.SplitN(k, " ", 2)[0]
		switch {
		case verb == "get" || verb == "list" || verb == "watch":
			reads += v
		case strings.Contains(k, "leases.coordination.k8s.io"):
			leaseWrites += v
		default:
			writes += v
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-60s %d", k, counts[k])
	}
	var rec []string
	for ctl, v := range after {
		if d := v - before[ctl]; d > 0 {
			rec = append(rec, fmt.Sprintf("%s %.0f", ctl, d))
		}
	}
	slices.Sort(rec)
	t.Logf("idle %s, %d Gateways, resync period %s: %d requests (%.2f per Gateway, %.2f per Gateway per minute): %d reads, %d writes, %d leader-election Lease writes; reconciles in the window: %s; by verb and resource:%s",
		elapsed.Round(time.Second), n, resync, total, float64(total)/float64(n), float64(total)/float64(n)/elapsed.Minutes(), reads, writes, leaseWrites, strings.Join(rec, ", "), b.String())
	if gw := after["gateway"] - before["gateway"]; gw < float64(n) {
		t.Errorf("only %.0f Gateway reconciles in the window: no full resync happened inside it", gw)
	}
	if writes > 0 {
		var w []string
		for _, r := range inWindow {
			if r.Method != http.MethodGet && !strings.Contains(r.Path, "/leases/") {
				w = append(w, r.Method+" "+r.Path)
			}
		}
		t.Errorf("%d writes while idle: %v", writes, w)
	}
}

// TestMeasureReadiness: M Gateways whose Deployments are held unavailable (an
// EnvoyProxy nodeSelector matching no node); the nodeSelector is removed, and
// for every Gateway the test takes the arrival time of the watch event that
// shows its Deployment Available=True and of the one that shows the Gateway
// Programmed=True, and reports the lag's distribution (target p99 ≤ 1 s).
func TestMeasureReadiness(t *testing.T) {
	m := envInt(t, "BERTH_MEASURE_READINESS")
	h := newHarness(t)
	ep := clusterIPProxy(h.ns, "proxy")
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = &v1alpha1.KubernetesDeploymentSpec{Pod: &v1alpha1.KubernetesPodSpec{NodeSelector: map[string]string{"berth.test/no-such-node": "true"}}}
	h.create(ep)
	h.startMeasured(h.env.Config, nil)
	names := h.gateways(m, "proxy")
	h.waitProgrammed(m, metav1.ConditionFalse, ": InProgress", 10*time.Minute)
	// The Gateways name their Deployment, not its progress: wait until every
	// pod exists and is unschedulable (kstatus "Available: 0/1").
	waitFor(t, 10*time.Minute, fmt.Sprintf("%d Deployments with an unschedulable pod", m), func() error {
		var list appsv1.DeploymentList
		if err := h.cl.List(context.Background(), &list, client.InNamespace(h.ns)); err != nil {
			return err
		}
		held := 0
		for _, d := range list.Items {
			if d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == 1 && d.Status.AvailableReplicas == 0 {
				held++
			}
		}
		if held != m {
			return fmt.Errorf("%d/%d", held, m)
		}
		return nil
	})

	wcl, err := client.NewWithWatch(h.env.Config, client.Options{Scheme: h.cl.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deployOf := map[string]string{} // Deployment name -> Gateway name
	for _, n := range names {
		deployOf[render.ProxyName(h.ns, n)] = n
	}
	var (
		mu         sync.Mutex
		available  = map[string]time.Time{} // by Gateway
		programmed = map[string]time.Time{}
		early      []string // Available or Programmed before the release
		released   bool
	)
	var rewatches atomic.Int64
	watchAll := func(list client.ObjectList, seen func(obj any, at time.Time)) {
		w, err := wcl.Watch(ctx, list, client.InNamespace(h.ns))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				for ev := range w.ResultChan() {
					at := time.Now()
					if ev.Type == watch.Added || ev.Type == watch.Modified {
						seen(ev.Object, at)
					}
				}
				w.Stop()
				// A watch the server ended is reopened (the initial Added
				// events replay the current state; a transition inside the
				// gap is then timed late, so the count is reported).
				if ctx.Err() != nil {
					return
				}
				rewatches.Add(1)
				if w, err = wcl.Watch(ctx, list, client.InNamespace(h.ns)); err != nil {
					t.Errorf("rewatch: %v", err)
					return
				}
			}
		}()
	}
	watchAll(&appsv1.DeploymentList{}, func(obj any, at time.Time) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			return
		}
		gw, ok := deployOf[d.Name]
		if !ok {
			return
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && d.Status.ObservedGeneration == d.Generation {
				mu.Lock()
				if !released {
					early = append(early, "Deployment "+d.Name)
				} else if _, dup := available[gw]; !dup {
					available[gw] = at
				}
				mu.Unlock()
			}
		}
	})
	watchAll(&gwv1.GatewayList{}, func(obj any, at time.Time) {
		gw, ok := obj.(*gwv1.Gateway)
		if !ok {
			return
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
		if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != gw.Generation {
			return
		}
		mu.Lock()
		if !released {
			early = append(early, "Gateway "+gw.Name)
		} else if _, dup := programmed[gw.Name]; !dup {
			programmed[gw.Name] = at
		}
		mu.Unlock()
	})
	time.Sleep(2 * time.Second) // both watches delivered their initial state
	mu.Lock()
	released = true
	if len(early) > 0 {
		mu.Unlock()
		t.Fatalf("already Available/Programmed before the release: %v", early)
	}
	mu.Unlock()

	if err := h.cl.Get(context.Background(), client.ObjectKeyFromObject(ep), ep); err != nil {
		t.Fatal(err)
	}
	ep.Spec.Provider.Kubernetes.EnvoyDeployment = nil
	ws0, ks0, wn0, kn0 := queueStats(t)
	release := time.Now()
	if err := h.cl.Update(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 4*time.Minute, "every Gateway Programmed", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(programmed) < m || len(available) < m {
			return fmt.Errorf("%d/%d Deployments Available, %d/%d Gateways Programmed (%d watches reopened)", len(available), m, len(programmed), m, rewatches.Load())
		}
		return nil
	})
	ws1, ks1, wn1, kn1 := queueStats(t)
	t.Logf("gateway controller after the release: %d reconciles, mean queue wait %s, mean reconcile %s",
		kn1-kn0, meanSec(ws1-ws0, wn1-wn0), meanSec(ks1-ks0, kn1-kn0))
	mu.Lock()
	defer mu.Unlock()
	lags := make([]time.Duration, 0, m)
	var lastAvail time.Time
	for _, n := range names {
		lags = append(lags, programmed[n].Sub(available[n]))
		if available[n].After(lastAvail) {
			lastAvail = available[n]
		}
	}
	slices.Sort(lags)
	q := func(p float64) time.Duration {
		// Nearest rank.
		i := int(p*float64(len(lags))+0.999999) - 1
		return lags[max(0, min(i, len(lags)-1))].Round(time.Millisecond)
	}
	t.Logf("%d Gateways: Deployment Available (watch) → Gateway Programmed=True (watch): min %s p50 %s p90 %s p99 %s max %s; last Deployment Available %s after the release; %d watches reopened",
		m, lags[0].Round(time.Millisecond), q(0.50), q(0.90), q(0.99), q(1), lastAvail.Sub(release).Round(100*time.Millisecond), rewatches.Load())
	if lags[0] < 0 {
		t.Errorf("a Gateway was Programmed %s before its Deployment was seen Available", -lags[0])
	}
	if p99 := q(0.99); p99 > time.Second {
		t.Errorf("p99 %s > 1s", p99)
	}
}

func meanSec(sum float64, n uint64) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(sum / float64(n) * float64(time.Second)).Round(time.Millisecond)
}
