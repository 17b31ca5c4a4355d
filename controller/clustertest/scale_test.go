package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/render"
)

// TestScale is the scale measurement of docs/benchmarks.md (opt-in, not part
// of `make test`): BERTH_SCALE=N Gateways in N namespaces, ClusterIP
// Services, created at once against a controller running cluster-wide with
// the defaults of an installation. It reports the time until every one is
// Programmed; the controller's RSS and Go heap before the first Gateway and
// after the last is Programmed, its CPU time, its API requests per Gateway
// by verb and resource, and writes a heap profile (BERTH_SCALE_HEAP,
// default in the temp directory). Then, in the same run, the cluster's
// floor: the same ServiceAccounts, ConfigMaps, Services and Deployments
// written by a plain client at the controller's concurrency (its workers)
// in N other namespaces, until every Deployment is Available — once
// created, once server-side applied (BERTH_SCALE_FLOOR=0 skips the floor,
// for profiling runs; =create or =apply runs one). Each phase logs the CPU
// time of every process (the cluster's components from /proc, the
// controller, the test process); BERTH_SCALE_APISERVER_PROFILE=DIR writes a
// kube-apiserver CPU profile of the first BERTH_SCALE_PROFILE_SECONDS
// (default 20) of each phase into DIR.
//
// With BERTH_SCALE_BIN=path/to/berth (`make build`'s bin/berth, relative
// to the module root; the test does not build it) the controller is
// `berth controller` in a process of its own, as users run it: RSS and peak RSS from /proc/PID/status, CPU
// from /proc/PID/stat, requests from its berth_kube_api_requests_total
// metric, the live heap and the heap profile from --profiling
// (/debug/pprof/heap?gc=1); the test process's own CPU is reported apart.
// BERTH_SCALE_ARGS adds flags to that process's command line (split on
// spaces, e.g. "--initial-status-delay=60s").
// Without it the controller runs in the test process (controller.New on a
// request-recording config): RSS and CPU (getrusage) are the whole test
// process's, which also creates and watches the Gateways; the heap profile
// is finer (MemProfileRate 16 KiB) and BERTH_SCALE_CPU=FILE writes a CPU
// profile of the run.
//
//	BERTH_SCALE=200 go test -count=1 -run 'TestScale$' -timeout 30m -v ./controller/clustertest/
//	make build && BERTH_SCALE=1000 BERTH_SCALE_BIN=bin/berth go test -count=1 -run 'TestScale$' -timeout 60m -v ./controller/clustertest/
//	go tool pprof -top -sample_index=inuse_space $TMPDIR/berth-scale-200.heap
func TestScale(t *testing.T) {
	n := envInt(t, "BERTH_SCALE")
	bin := os.Getenv("BERTH_SCALE_BIN")
	if bin == "" && os.Getenv("BERTH_SCALE_ARGS") != "" {
		t.Fatal("BERTH_SCALE_ARGS are flags of the controller process: set BERTH_SCALE_BIN too")
	}
	if bin == "" {
		// A finer heap profile than the default one sample per 512 KiB.
		runtime.MemProfileRate = 16 << 10
	} else if os.Getenv("BERTH_SCALE_CPU") != "" {
		t.Fatal("BERTH_SCALE_CPU profiles the test process: unset BERTH_SCALE_BIN to profile an in-process controller")
	}
	h := newHarness(t)
	h.watchNS = nil // cluster-wide, as installed
	ep := clusterIPProxy(h.ctrlNS, "proxy")
	h.create(ep)
	var class gwv1.GatewayClass
	if err := h.cl.Get(context.Background(), client.ObjectKey{Name: h.class}, &class); err != nil {
		t.Fatal(err)
	}
	ns := gwv1.Namespace(h.ctrlNS)
	class.Spec.ParametersRef = &gwv1.ParametersReference{Group: "gateway.envoyproxy.io", Kind: "EnvoyProxy", Name: "proxy", Namespace: &ns}
	if err := h.cl.Update(context.Background(), &class); err != nil {
		t.Fatal(err)
	}
	// Room for the run's pods (berth's and the two floors', N each) beside the
	// cluster's own nodes: simulated nodes, removed at the end.
	for i := 0; i < (3*n+localcluster.NodePods-1)/localcluster.NodePods; i++ {
		name := fmt.Sprintf("%s-node-%d", strings.TrimSuffix(h.ns, "-"), i)
		if err := localcluster.CreateNode(context.Background(), h.env.Client, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.env.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	var (
		ctrl    measured
		proc    *controllerProcess
		workers int
	)
	if bin != "" {
		proc, workers = h.startProcess(bin)
		ctrl = proc
	} else {
		// Every client the controller builds from the config records its requests.
		var reqs testenv.Requests
		h.startMeasured(reqs.Wrap(h.env.Config), func(o *controller.Options) { workers = o.Workers })
		ctrl = inProcess{&reqs}
	}
	wcl, err := client.NewWithWatch(h.env.Config, client.Options{Scheme: h.cl.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.TrimSuffix(h.ns, "-") + "-s"
	// The Programmed conditions each Gateway showed, in order (names of
	// the Gateway's namespace and objects replaced by NS), to tell which
	// status writes happen.
	var seqMu sync.Mutex
	seq := map[string][]string{}
	programmed := watchCount(t, wcl, &gwv1.GatewayList{}, func(obj client.Object) bool {
		gw, ok := obj.(*gwv1.Gateway)
		if !ok || string(gw.Spec.GatewayClassName) != h.class {
			return false
		}
		c := meta.FindStatusCondition(gw.Status.Conditions, "Programmed")
		shown := "none"
		if c != nil {
			shown = string(c.Status) + " " + c.Reason + ": " + strings.ReplaceAll(c.Message, render.ProxyName(gw.Namespace, gw.Name), "PROXY")
			shown = strings.ReplaceAll(shown, gw.Namespace, "NS")
		}
		seqMu.Lock()
		if l := seq[gw.Namespace]; len(l) == 0 || l[len(l)-1] != shown {
			seq[gw.Namespace] = append(l, shown)
		}
		seqMu.Unlock()
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gw.Generation
	})

	waitFor(t, time.Minute, "GatewayClass Accepted", func() error {
		var c gwv1.GatewayClass
		if err := h.cl.Get(context.Background(), client.ObjectKey{Name: h.class}, &c); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(c.Status.Conditions, "Accepted") {
			return fmt.Errorf("not accepted: %v", c.Status.Conditions)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // caches synced, idle baseline
	before := ctrl.sample(t, true)
	beforeReturned := before
	var self processSample // the test process, when the controller is not in it
	if proc == nil {
		debug.FreeOSMemory()
		beforeReturned = sampleProcess()
	} else {
		self = sampleProcess()
	}
	mark := ctrl.requests(t)
	recMark := ctrl.reconciles(t)
	if path := os.Getenv("BERTH_SCALE_CPU"); path != "" {
		// A CPU profile of the run (until quiet), when asked for.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}

	cpuBefore := h.sampleCPU(proc)
	profiled := h.apiserverProfile("berth")
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("%s%04d", prefix, i)
			ctx := context.Background()
			if err := h.cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"berth.dev/test": "true"}}}); err != nil {
				t.Error(err)
				return
			}
			gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "gw"}, Spec: gwv1.GatewaySpec{
				GatewayClassName: gwv1.ObjectName(h.class),
				Listeners:        []gwv1.Listener{{Name: "http", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
			}}
			if err := h.cl.Create(ctx, gw); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	created := time.Since(start)
	elapsed := waitCount(t, programmed, n, start, 20*time.Minute, "Gateways Programmed")
	atProgrammed := ctrl.sample(t, false)
	cpuAtProgrammed := h.sampleCPU(proc)
	// The last status writes and events land; then the controller is idle.
	quiet(func() int { return ctrl.activity(t) }, 3*time.Second, time.Minute)
	afterRSS := ctrl.sample(t, false) // before the GC of the heap sample
	after := ctrl.sample(t, true)
	after.rss, after.peakRSS = afterRSS.rss, afterRSS.peakRSS
	pprof.StopCPUProfile()
	runReqs := since(mark, ctrl.requests(t))
	runRecs := ctrl.reconciles(t)
	heapFile := os.Getenv("BERTH_SCALE_HEAP")
	if heapFile == "" {
		heapFile = filepath.Join(os.TempDir(), fmt.Sprintf("berth-scale-%d.heap", n))
	}
	ctrl.writeHeap(t, heapFile)
	var returned processSample
	if proc == nil {
		// What the Go runtime holds beyond the live heap (garbage between
		// collections, freed spans not yet returned) is most of the RSS growth;
		// returned at once here, for the record (the runtime's scavenger
		// returns it over minutes).
		debug.FreeOSMemory()
		returned = sampleProcess()
	}

	t.Logf("%d Gateways (%d workers): created in %s, all Programmed after %s (%.3f s per Gateway); load %s",
		n, workers, created.Round(time.Millisecond), elapsed.Round(time.Millisecond), elapsed.Seconds()/float64(n), loadAvg())
	what := "process"
	if proc != nil {
		what = fmt.Sprintf("controller process %d", proc.cmd.Process.Pid)
		t.Logf("%s: RSS before the first Gateway %s, when all Programmed %s (+%s, %s per Gateway)",
			what, kib(before.rss), kib(atProgrammed.rss), kib(atProgrammed.rss-before.rss), kib((atProgrammed.rss-before.rss)/int64(n)))
	}
	t.Logf("%s: RSS %s → %s (+%s, %s per Gateway); live Go heap after GC %s → %s (%s per Gateway); peak RSS %s",
		what, kib(before.rss), kib(after.rss), kib(after.rss-before.rss), kib((after.rss-before.rss)/int64(n)),
		kib(before.heap), kib(after.heap), kib((after.heap-before.heap)/int64(n)), kib(after.peakRSS))
	if proc == nil {
		t.Logf("RSS with free memory returned to the OS (debug.FreeOSMemory, before and after): %s → %s (+%s, %s per Gateway)",
			kib(beforeReturned.rss), kib(returned.rss), kib(returned.rss-beforeReturned.rss), kib((returned.rss-beforeReturned.rss)/int64(n)))
	}
	t.Logf("CPU (user+system) until all Programmed %s, %.1f ms per Gateway; until quiet %s, %.1f ms per Gateway",
		(atProgrammed.cpu - beforeReturned.cpu).Round(time.Millisecond), float64((atProgrammed.cpu-beforeReturned.cpu).Microseconds())/1000/float64(n),
		(after.cpu - beforeReturned.cpu).Round(time.Millisecond), float64((after.cpu-beforeReturned.cpu).Microseconds())/1000/float64(n))
	if proc != nil {
		// The test process: creating the Gateways, watching their status
		// (decoding every change), the floor not yet.
		mine := sampleProcess()
		t.Logf("test process (not the controller): CPU %s, %.1f ms per Gateway; RSS %s → %s",
			(mine.cpu - self.cpu).Round(time.Millisecond), float64((mine.cpu-self.cpu).Microseconds())/1000/float64(n), kib(self.rss), kib(mine.rss))
	}
	t.Logf("API requests per Gateway: %s", requestTable(runReqs, n))
	var recs []string
	for name, v := range runRecs {
		if d := v - recMark[name]; d > 0 {
			recs = append(recs, fmt.Sprintf("%s %.2f", name, float64(d)/float64(n)))
		}
	}
	slices.Sort(recs)
	t.Logf("reconciles per Gateway, by controller: %s", strings.Join(recs, ", "))
	t.Logf("heap profile: %s", heapFile)
	seqMu.Lock()
	t.Logf("Programmed conditions seen per Gateway (most common sequences): %s", sequences(seq, 3))
	seqMu.Unlock()
	// What every write of a Gateway and every watch event of it decode
	// (Gateway API objects travel as JSON only).
	var one gwv1.Gateway
	if err := h.cl.Get(context.Background(), client.ObjectKey{Namespace: prefix + "0000", Name: "gw"}, &one); err == nil {
		all, _ := json.Marshal(&one)
		mf, _ := json.Marshal(one.ManagedFields)
		st, _ := json.Marshal(one.Status)
		t.Logf("a Programmed Gateway is %d bytes of JSON: status %d, managedFields %d (%d entries)", len(all), len(st), len(mf), len(one.ManagedFields))
	}
	t.Logf("CPU by process from the first Gateway created until all Programmed (the test process creates and watches the Gateways): %s",
		cpuTable(cpuBefore, cpuAtProgrammed, n))
	profiled()

	// The floor: the same objects, written by a plain client — created,
	// then (in other namespaces) server-side applied; BERTH_SCALE_FLOOR=0
	// skips it (profiling runs), =create or =apply runs one of the two.
	floors := map[string][]floorMode{"0": nil, "create": {floorCreate}, "apply": {floorApply}}
	modes, ok := floors[os.Getenv("BERTH_SCALE_FLOOR")]
	if !ok {
		modes = []floorMode{floorCreate, floorApply}
	}
	for _, mode := range modes {
		suffix := map[floorMode]string{floorCreate: "-f", floorApply: "-a"}[mode]
		cpu0 := h.sampleCPU(proc)
		profiled := h.apiserverProfile(map[floorMode]string{floorCreate: "floor-create", floorApply: "floor-apply"}[mode])
		floor := measureFloor(t, h, wcl, prefix+"0000", strings.TrimSuffix(h.ns, "-")+suffix, n, workers, mode)
		cpu1 := h.sampleCPU(proc)
		t.Logf("floor (%s): %d Deployments (with their ServiceAccount, ConfigMap and Service) %s by a client, %d at a time, all Available after %s (%.3f s per Deployment); berth/floor = %.2f",
			mode, n, mode, workers, floor.Round(time.Millisecond), floor.Seconds()/float64(n), elapsed.Seconds()/floor.Seconds())
		t.Logf("floor (%s): CPU by process until all Available: %s", mode, cpuTable(cpu0, cpu1, n))
		profiled()
	}

	// Clean up: Gateways first (finalizers), then namespaces.
	for i := 0; i < n; i++ {
		_ = h.cl.Delete(context.Background(), &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("%s%04d", prefix, i), Name: "gw"}})
	}
	waitFor(t, 10*time.Minute, "Gateways deleted", func() error {
		var list gwv1.GatewayList
		if err := h.cl.List(context.Background(), &list); err != nil {
			return err
		}
		for _, gw := range list.Items {
			if string(gw.Spec.GatewayClassName) == h.class {
				return fmt.Errorf("%s/%s left", gw.Namespace, gw.Name)
			}
		}
		return nil
	})
	for i := 0; i < n; i++ {
		_ = h.cl.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s%04d", prefix, i)}})
	}
}

// floorMode is how measureFloor writes the objects.
type floorMode int

const (
	// floorCreate: plain creates (POST), as a client that knows the
	// objects are new.
	floorCreate floorMode = iota
	// floorApply: server-side apply (PATCH application/apply-patch+yaml,
	// its own field manager, force), as a declarative client.
	floorApply
)

func (m floorMode) String() string {
	if m == floorApply {
		return "server-side applied"
	}
	return "created"
}

// measureFloor copies the bundle objects berth made in namespace from (a
// ServiceAccount, ConfigMaps, a Service, a Deployment; not the inventory)
// into n new namespaces prefix0000…, conc namespaces at a time, each
// object written as a plain client would (mode), and returns the time until every
// Deployment is Available. The copies carry no berth label, so berth's
// watches of its own objects do not see them.
func measureFloor(t *testing.T, h *harness, wcl client.WithWatch, from, prefix string, n, conc int, mode floorMode) time.Duration {
	t.Helper()
	ctx := context.Background()
	sel := client.MatchingLabels{render.LabelOwningGatewayNamespace: from}
	var (
		sas  corev1.ServiceAccountList
		cms  corev1.ConfigMapList
		svcs corev1.ServiceList
		deps appsv1.DeploymentList
	)
	for _, l := range []client.ObjectList{&sas, &cms, &svcs, &deps} {
		if err := h.cl.List(ctx, l, client.InNamespace(from), sel); err != nil {
			t.Fatal(err)
		}
	}
	if len(deps.Items) != 1 || len(svcs.Items) != 1 || len(sas.Items) != 1 {
		t.Fatalf("bundle of %s: %d Deployments, %d Services, %d ServiceAccounts", from, len(deps.Items), len(svcs.Items), len(sas.Items))
	}
	floorLabel := map[string]string{"berth.test/floor": prefix}
	clean := func(m metav1.ObjectMeta, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: m.Name, Labels: floorLabel}
	}
	var objs func(ns string) []client.Object
	objs = func(ns string) []client.Object {
		var out []client.Object
		for _, o := range sas.Items {
			out = append(out, &corev1.ServiceAccount{ObjectMeta: clean(o.ObjectMeta, ns), AutomountServiceAccountToken: o.AutomountServiceAccountToken})
		}
		for _, o := range cms.Items {
			if _, inv := o.Labels["cli-utils.sigs.k8s.io/inventory-id"]; inv {
				continue
			}
			out = append(out, &corev1.ConfigMap{ObjectMeta: clean(o.ObjectMeta, ns), Data: o.Data})
		}
		for _, o := range svcs.Items {
			s := &corev1.Service{ObjectMeta: clean(o.ObjectMeta, ns), Spec: *o.Spec.DeepCopy()}
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
			out = append(out, s)
		}
		for _, o := range deps.Items {
			out = append(out, &appsv1.Deployment{ObjectMeta: clean(o.ObjectMeta, ns), Spec: *o.Spec.DeepCopy()})
		}
		return out
	}
	t.Logf("floor objects per namespace: %d ServiceAccount, %d ConfigMap (without the inventory), %d Service, %d Deployment", len(sas.Items), len(objs("x"))-3, len(svcs.Items), len(deps.Items))
	available := watchCount(t, wcl, &appsv1.DeploymentList{}, func(obj client.Object) bool {
		d, ok := obj.(*appsv1.Deployment)
		if !ok || d.Labels["berth.test/floor"] != prefix || d.Status.ObservedGeneration != d.Generation {
			return false
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ns := fmt.Sprintf("%s%04d", prefix, i)
			if err := h.cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"berth.dev/test": "true"}}}); err != nil {
				t.Error(err)
				return
			}
			for _, o := range objs(ns) {
				var err error
				if mode == floorApply {
					err = applyObject(ctx, h, o)
				} else {
					err = h.cl.Create(ctx, o)
				}
				if err != nil {
					t.Errorf("floor: %s %T %s/%s: %v", mode, o, ns, o.GetName(), err)
				}
			}
		}(i)
	}
	wg.Wait()
	d := waitCount(t, available, n, start, 20*time.Minute, "floor Deployments Available")
	t.Cleanup(func() {
		for i := 0; i < n; i++ {
			_ = h.cl.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s%04d", prefix, i)}})
		}
	})
	return d
}

// applyObject server-side applies o (a typed object of the floor) as the
// field manager berth-floor, forcing conflicts, without its status and
// creation timestamp (what a client applying a manifest sends).
func applyObject(ctx context.Context, h *harness, o client.Object) error {
	gvk, err := apiutil.GVKForObject(o, h.cl.Scheme())
	if err != nil {
		return err
	}
	m, err := h.env.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	obj, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(gvk)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	_, err = h.env.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace()).Apply(ctx, o.GetName(), u, metav1.ApplyOptions{FieldManager: "berth-floor", Force: true})
	return err
}

// watchCount watches every object of list's kind (cluster-wide) and returns
// the number of objects for which ok last held; a watch the server ends is
// reopened (its initial events replay the current state). A watch, not a
// cache: the test process is the controller's, and its memory is measured.
func watchCount(t *testing.T, wcl client.WithWatch, list client.ObjectList, ok func(client.Object) bool) func() int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var (
		mu  sync.Mutex
		yes = map[string]bool{}
	)
	w, err := wcl.Watch(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				obj, isObj := ev.Object.(client.Object)
				if !isObj {
					continue
				}
				key := obj.GetNamespace() + "/" + obj.GetName()
				mu.Lock()
				if ev.Type == watch.Deleted || !ok(obj) {
					delete(yes, key)
				} else {
					yes[key] = true
				}
				mu.Unlock()
			}
			w.Stop()
			if ctx.Err() != nil {
				return
			}
			if w, err = wcl.Watch(ctx, list); err != nil {
				t.Errorf("rewatch: %v", err)
				return
			}
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(yes)
	}
}

// waitCount waits until count() reaches n and returns the time since start.
func waitCount(t *testing.T, count func() int, n int, start time.Time, timeout time.Duration, what string) time.Duration {
	t.Helper()
	last := time.Now()
	for count() < n {
		if time.Since(start) > timeout {
			t.Fatalf("%d of %d %s after %s", count(), n, what, timeout)
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			t.Logf("%s: %d/%d %s; load %s", time.Since(start).Round(time.Second), count(), n, what, loadAvg())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// quiet waits until the request count stays the same for idle (at most
// max).
func quiet(count func() int, idle, max time.Duration) {
	deadline := time.Now().Add(max)
	for last := count(); time.Now().Before(deadline); {
		time.Sleep(idle)
		m := count()
		if m == last {
			return
		}
		last = m
	}
}

type processSample struct {
	rss, peakRSS, heap int64 // bytes
	cpu                time.Duration
}

// sampleProcess reads the process's RSS (VmRSS, VmHWM), its live Go heap
// after a GC (HeapAlloc), and its CPU time (user + system).
func sampleProcess() processSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := processSample{heap: int64(ms.HeapAlloc)}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			v, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				s.rss = v * 1024
			case "VmHWM:":
				s.peakRSS = v * 1024
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

func writeHeapProfile(t *testing.T, path string) {
	t.Helper()
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		t.Errorf("heap profile: %v", err)
		return
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Errorf("heap profile: %v", err)
	}
}

// requestTable lists requests by verb and resource, per Gateway, writes
// first.
func requestTable(reqs map[reqKey]int, n int) string {
	counts := map[string]int{}
	var reads, writes, watches, all int
	for r, c := range reqs {
		k := r.verb + " " + r.resource
		if r.code >= 400 {
			k += fmt.Sprintf(" (%d)", r.code)
		}
		counts[k] += c
		all += c
		switch r.verb {
		case "watch":
			watches += c
		case "get", "list":
			reads += c
		default:
			writes += c
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return counts[keys[i]] > counts[keys[j]] || counts[keys[i]] == counts[keys[j]] && keys[i] < keys[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%.2f writes, %.2f reads, %d watches started (%d requests in all)", float64(writes)/float64(n), float64(reads)/float64(n), watches, all)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-60s %6d  %.2f", k, counts[k], float64(counts[k])/float64(n))
	}
	return b.String()
}

func kib(b int64) string {
	if b > 10<<20 || b < -10<<20 {
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/1024)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// sequences summarises the condition sequences of seq: how many Gateways
// showed how many distinct conditions, and the top most common sequences.
func sequences(seq map[string][]string, top int) string {
	lens := map[int]int{}
	same := map[string]int{}
	for _, l := range seq {
		lens[len(l)]++
		same[strings.Join(l, "\n      → ")]++
	}
	keys := make([]string, 0, len(same))
	for k := range same {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return same[keys[i]] > same[keys[j]] || same[keys[i]] == same[keys[j]] && keys[i] < keys[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "Gateways by number of distinct Programmed conditions: %v", lens)
	for i, k := range keys {
		if i == top {
			break
		}
		fmt.Fprintf(&b, "\n  %d Gateways:\n      %s", same[k], k)
	}
	return b.String()
}
