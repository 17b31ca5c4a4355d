package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/apirequest"
	"github.com/berth-gateway/berth/internal/testenv"
)

// measured is the controller a scale run measures: in the test process
// (controller.New, for CPU profiles of the run) or a `berth controller`
// process of its own (BERTH_SCALE_BIN), as users run it.
type measured interface {
	// sample reads RSS, peak RSS and CPU time; with heap, also the live
	// Go heap after a GC.
	sample(t *testing.T, heap bool) processSample
	// requests counts the controller's API requests so far.
	requests(t *testing.T) map[reqKey]int
	// activity grows with every request the controller sends (cheap: it
	// is polled until the controller is quiet).
	activity(t *testing.T) int
	// writeHeap writes a heap profile (in use after a GC) to path.
	writeHeap(t *testing.T, path string)
	// reconciles counts the controller's reconciles so far, by controller.
	reconciles(t *testing.T) map[string]int
}

// reqKey is what requestTable counts requests by.
type reqKey struct {
	verb, resource string
	code           int // 0: no response
}

// inProcess is a controller of the test process, its requests recorded
// by reqs.
type inProcess struct{ reqs *testenv.Requests }

func (p inProcess) sample(_ *testing.T, _ bool) processSample { return sampleProcess() }

func (p inProcess) requests(*testing.T) map[reqKey]int {
	out := map[reqKey]int{}
	for _, r := range p.reqs.Since(0) {
		out[reqKey{r.Verb, r.Resource, r.Code}]++
	}
	return out
}

func (p inProcess) activity(*testing.T) int { return p.reqs.Mark() }

func (p inProcess) reconciles(t *testing.T) map[string]int {
	out := map[string]int{}
	for name, v := range reconcileCounts(t) {
		out[name] = int(v)
	}
	return out
}

func (p *controllerProcess) reconciles(t *testing.T) map[string]int {
	t.Helper()
	mfs, err := p.scrape()
	if err != nil {
		t.Fatal(err)
	}
	// controller-runtime's reconcile counter, by controller.
	out := map[string]int{}
	for _, m := range mfs["controller_runtime_reconcile_total"].GetMetric() {
		var name string
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" {
				name = l.GetValue()
			}
		}
		out[name] += int(m.GetCounter().GetValue())
	}
	return out
}

func (p inProcess) writeHeap(t *testing.T, path string) { writeHeapProfile(t, path) }

// controllerProcess is `berth controller` run from a built binary: its
// memory and CPU from /proc, its requests from its
// berth_kube_api_requests_total metric, its heap from --profiling.
type controllerProcess struct {
	cmd     *exec.Cmd
	metrics string // http://host:port
	log     string // its stderr (JSON logs)
	exited  chan struct{}
}

// startProcess runs bin as `berth controller` with the options of
// h.options() and the defaults of an installation (as startMeasured),
// cluster-wide unless h.watchNS says otherwise, until the test ends; it
// returns once the controller serves metrics.
func (h *harness) startProcess(bin string) (p *controllerProcess, workers int) {
	t := h.t
	t.Helper()
	if !filepath.IsAbs(bin) {
		// Relative to the module root, where `make build` writes bin/berth.
		bin = filepath.Join("..", "..", bin)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("BERTH_SCALE_BIN: %v (a path absolute or relative to the module root; build it with `make build`)", err)
	}
	o := h.options()
	workers = controller.DefaultOptions().Workers // the harness's 4 are for parallel tests
	if n, err := strconv.Atoi(os.Getenv("BERTH_MEASURE_WORKERS")); err == nil && n > 0 {
		workers = n
	}
	metricsAddr, xdsAddr := freeLoopback(t), freeLoopback(t)
	args := []string{"controller",
		"--kubeconfig", h.env.Kubeconfig,
		"--controller-name", o.ControllerName,
		"--controller-namespace", o.Namespace,
		"--workers", strconv.Itoa(workers),
		"--xds-address", xdsAddr,
		"--metrics-bind-address", metricsAddr,
		"--health-probe-bind-address", "0",
		"--profiling",
		// The image the in-process controller renders (the binary's
		// own would differ only in the tag).
		"--shutdown-manager-image", o.Render.ShutdownManagerImage,
	}
	if len(o.WatchNamespaces) > 0 {
		args = append(args, "--watch-namespaces", strings.Join(o.WatchNamespaces, ","))
	}
	args = append(args, strings.Fields(os.Getenv("BERTH_SCALE_ARGS"))...)
	p = &controllerProcess{metrics: "http://" + metricsAddr, log: filepath.Join(t.TempDir(), "controller.log"), exited: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = p.cmd.Wait(); _ = logf.Close(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("controller log (last lines):\n%s", p.logTail(40))
		}
	})
	t.Logf("controller process %d: %s %s", p.cmd.Process.Pid, bin, strings.Join(args, " "))
	waitFor(t, time.Minute, "controller serving metrics", func() error {
		select {
		case <-p.exited:
			t.Fatalf("controller exited: %v\n%s", p.cmd.ProcessState, p.logTail(40))
		default:
		}
		_, err := p.scrape()
		return err
	})
	return p, workers
}

func (p *controllerProcess) logTail(lines int) string {
	b, _ := os.ReadFile(p.log)
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func (p *controllerProcess) get(path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metrics+path, nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: the controller's gzip writers would stay in its heap.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, err
}

// scrape reads the process's metrics.
func (p *controllerProcess) scrape() (map[string]*dto.MetricFamily, error) {
	b, err := p.get("/metrics")
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bytes.NewReader(b))
}

func (p *controllerProcess) sample(t *testing.T, heap bool) processSample {
	t.Helper()
	pid := p.cmd.Process.Pid
	var s processSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("controller process: %v", err)
	}
	s.rss, s.peakRSS = statusKiB(b, "VmRSS:")*1024, statusKiB(b, "VmHWM:")*1024
	if heap {
		// A GC (the heap profile's gc=1), then the heap it left.
		if _, err := p.get("/debug/pprof/heap?gc=1"); err != nil {
			t.Fatal(err)
		}
		mfs, err := p.scrape()
		if err != nil {
			t.Fatal(err)
		}
		if mf := mfs["go_memstats_heap_alloc_bytes"]; mf != nil && len(mf.GetMetric()) == 1 {
			s.heap = int64(mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	if s.cpu, err = procCPU(pid); err != nil {
		t.Fatalf("controller process: %v", err)
	}
	return s
}

// statusKiB is the value of a "Name: N kB" line of /proc/PID/status.
func statusKiB(status []byte, name string) int64 {
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == name {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

func (p *controllerProcess) requests(t *testing.T) map[reqKey]int {
	t.Helper()
	mfs, err := p.scrape()
	if err != nil {
		t.Fatal(err)
	}
	out := map[reqKey]int{}
	mf := mfs["berth_kube_api_requests_total"]
	if mf == nil {
		t.Fatal("controller process: no berth_kube_api_requests_total")
	}
	for _, m := range mf.GetMetric() {
		var info apirequest.Info
		var code int
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "verb":
				info.Verb = l.GetValue()
			case "group":
				info.Group = l.GetValue()
			case "resource":
				info.Resource = l.GetValue()
			case "subresource":
				info.Subresource = l.GetValue()
			case "code":
				code, _ = strconv.Atoi(l.GetValue()) // "<error>": 0, as recorded in process
			}
		}
		out[reqKey{info.Verb, info.Name(), code}] += int(m.GetCounter().GetValue())
	}
	return out
}

func (p *controllerProcess) activity(t *testing.T) int { return total(p.requests(t)) }

func (p *controllerProcess) writeHeap(t *testing.T, path string) {
	t.Helper()
	b, err := p.get("/debug/pprof/heap?gc=1")
	if err != nil {
		t.Errorf("heap profile: %v", err)
		return
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Errorf("heap profile: %v", err)
	}
}

// since is after minus before, by key.
func since(before, after map[reqKey]int) map[reqKey]int {
	out := map[reqKey]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func total(m map[reqKey]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// freeLoopback is a free 127.0.0.1 address.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
