package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientset "k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
	gwv1alpha3 "sigs.k8s.io/gateway-api/apis/v1alpha3"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	gwxv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	gwconformance "sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/conformance"
	"github.com/berth-gateway/berth/controller"
	"github.com/berth-gateway/berth/internal/loadbalancer"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const (
	// ReportEnv names the Markdown report to write (relative paths are
	// relative to the repository root), e.g. docs/conformance.md.
	ReportEnv = "BERTH_CONFORMANCE_REPORT"

	// ClusterIPEnv, when set, gives the suite's Gateways ClusterIP Services
	// (for a joined cluster, BERTH_TEST_KUBECONFIG, that has no LoadBalancer
	// address allocator).
	ClusterIPEnv = "BERTH_CONFORMANCE_CLUSTERIP"

	// childEnv marks the child process that runs the suite itself.
	childEnv = "BERTH_CONFORMANCE_CHILD"

	// The suite's GatewayClass and the controller serving it. The
	// controllerName is berth's own for this run, so a cluster shared with
	// other tests (BERTH_TEST_KUBECONFIG) never has two controllers on one
	// class.
	gatewayClass   = "berth-conformance"
	controllerName = "gateway.berth.dev/conformance"
	// berthNamespace is the controller's own namespace (xDS certificate
	// Secret); it holds the GatewayClass's EnvoyProxy in ClusterIP mode.
	berthNamespace = "berth-system"
	envoyProxyName = "conformance-clusterip"

	// suiteTimeout bounds the child process; the status-only tests take a
	// few minutes at most, and a known failure costs one condition timeout.
	suiteTimeout = 15 * time.Minute
)

// The static addresses the suite's GatewayStaticAddresses test requests
// (Gateway spec.addresses become the LoadBalancer Service's
// spec.loadBalancerIP). The test cluster's internal/loadbalancer, like a
// cloud, assigns a requested address only from its pool: usableAddress is in
// the part of the pool it hands out only on request
// (loadbalancer.DefaultRequestOnly), so no other Service holds it;
// unusableAddress (TEST-NET-1) is outside the pool and would never be
// assigned. A joined cluster (BERTH_TEST_KUBECONFIG) must run a load
// balancer with the same pool for the test to pass; with ClusterIPEnv the
// usable address is no cluster IP either, and the test fails.
var (
	usableAddress   = gwv1.GatewaySpecAddress{Type: ptr.To(gwv1.IPAddressType), Value: "127.240.255.10"}
	unusableAddress = gwv1.GatewaySpecAddress{Type: ptr.To(gwv1.IPAddressType), Value: "192.0.2.10"}
)

// timeouts shortens the suite's defaults (made for cloud load balancers
// and image pulls): on the local cluster a Gateway is Programmed within
// seconds, so a condition that has not appeared after 30 s will not, and a
// known failure should not cost three minutes.
func timeouts() config.TimeoutConfig {
	tc := config.DefaultTimeoutConfig()
	const condition = 30 * time.Second
	tc.CreateTimeout = condition
	tc.DeleteTimeout = condition // Gateways carry berth's finalizer until their bundle is gone
	tc.GatewayMustHaveAddress = time.Minute
	tc.GatewayMustHaveCondition = condition
	tc.GatewayStatusMustHaveListeners = condition
	tc.GatewayListenersMustHaveConditions = condition
	tc.GWCMustBeAccepted = time.Minute
	tc.HTTPRouteMustNotHaveParents = condition
	tc.HTTPRouteMustHaveCondition = condition
	tc.RouteMustHaveParents = condition
	tc.NamespacesMustBeReady = 2 * time.Minute
	tc.LatestObservedGenerationSet = condition
	tc.DefaultTestTimeout = condition
	tc.DefaultPollInterval = 250 * time.Millisecond
	return tc
}

// TestConformance runs the status-only tests of the official suite against
// an in-process berth controller and judges the outcome against
// conformance.KnownFailures. The suite itself runs in a child process (this binary,
// TestConformanceSuite) joined to the same cluster: a failing Go subtest
// cannot be un-failed, so only a separate process lets a known failure be
// recorded as such while `make test` stays green.
func TestConformance(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("this is the suite's child process")
	}
	env := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout+2*time.Minute)
	defer cancel()

	cl := adminClient(t, env.Config)
	setUpClass(ctx, t, cl)
	logPath := startController(t, env.Config)
	waitClassAccepted(ctx, t, cl)

	started := time.Now()
	res, err := runSuite(ctx, t, env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(started)

	j := judge(conformance.Plan(), res)
	j.leftovers = namespacesGone(ctx, cl)
	if j.leftovers != "" {
		j.problems = append(j.problems, j.leftovers)
	}
	for _, p := range j.problems {
		t.Error(p)
	}
	if len(j.problems) > 0 {
		t.Logf("kept for diagnosis: controller log %s, suite events %s", logPath, res.outputPath)
	} else {
		// Registered after startController's clean-up, so it runs before the
		// log file is closed: remove both only when nothing needs them.
		t.Cleanup(func() {
			if !t.Failed() {
				os.Remove(logPath)
				os.Remove(res.outputPath)
			}
		})
	}
	if path := os.Getenv(ReportEnv); path != "" {
		path, err := reportPath(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(markdown(j, elapsed)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("report written to %s", path)
	}
}

// TestConformanceSuite is the child process: the official suite, unaltered,
// with berth's class, features and the curated list of tests.
func TestConformanceSuite(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("runs only as TestConformance's child process")
	}
	env := testenv.Get(t)
	// controller-runtime complains on stderr when no logger is set.
	crlog.SetLogger(logr.Discard())
	scheme := suiteScheme(t)
	cfg := rest.CopyConfig(env.Config)
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := clientset.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.NewConformanceTestSuite(suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClass,
			CleanupBaseResources: true,
			CleanupTestResources: true,
			SupportedFeatures:    conformance.ClaimedFeatures(),
			TimeoutConfig:        timeouts(),
			// GatewayStaticAddresses: addresses the test cluster's load
			// balancer can and cannot give (staticAddresses).
			UsableNetworkAddresses:   []gwv1.GatewaySpecAddress{usableAddress},
			UnusableNetworkAddresses: []gwv1.GatewaySpecAddress{unusableAddress},
			Implementation: confv1.Implementation{
				Organization: "berth-gateway",
				Project:      "berth",
				URL:          "https://github.com/berth-gateway/berth",
				Version:      "dev",
				Contact:      []string{"berth maintainers"},
			},
		},
		Client:        cl,
		ClientOptions: client.Options{Scheme: scheme}, // the suite makes a client per test from these
		Clientset:     cs,
		RestConfig:    cfg,
		ManifestFS:    []fs.FS{&gwconformance.Manifests},
	})
	if err != nil {
		t.Fatalf("conformance suite: %v", err)
	}
	tests := conformance.RunTests()
	s.Setup(t, tests)
	if err := s.Run(t, tests); err != nil {
		t.Fatal(err)
	}
}

func suiteScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme,
		gwv1.Install, gwv1beta1.Install, gwv1alpha2.Install, gwv1alpha3.Install, gwxv1alpha1.Install,
	} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func adminClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	scheme, err := controller.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// setUpClass creates berth's namespace and the suite's GatewayClass.
//
// By default the class has no parameters, so every Gateway gets berth's
// default LoadBalancer Service: a cluster this test binary starts runs
// internal/loadbalancer (testenv), which gives it an address, as a cloud
// would. With ClusterIPEnv set (a joined cluster without an allocator) the
// class points at an EnvoyProxy asking for ClusterIP Services instead, whose
// address is just as real. Either way the suite's Programmed and
// status.addresses checks mean what they say.
func setUpClass(ctx context.Context, t *testing.T, cl client.Client) {
	t.Helper()
	create := func(o client.Object) {
		t.Helper()
		if err := cl.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: berthNamespace}})
	class := &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClass},
		Spec:       gwv1.GatewayClassSpec{ControllerName: controllerName},
	}
	if clusterIPMode() {
		clusterIP := v1alpha1.ServiceTypeClusterIP
		create(&v1alpha1.EnvoyProxy{
			ObjectMeta: metav1.ObjectMeta{Name: envoyProxyName, Namespace: berthNamespace},
			Spec: v1alpha1.EnvoyProxySpec{Provider: &v1alpha1.EnvoyProxyProvider{
				Type: v1alpha1.ProviderTypeKubernetes,
				Kubernetes: &v1alpha1.EnvoyProxyKubernetesProvider{
					EnvoyService: &v1alpha1.KubernetesServiceSpec{Type: &clusterIP},
				},
			}},
		})
		class.Spec.ParametersRef = &gwv1.ParametersReference{
			Group:     gwv1.Group(v1alpha1.GroupVersion.Group),
			Kind:      "EnvoyProxy",
			Name:      envoyProxyName,
			Namespace: ptr.To(gwv1.Namespace(berthNamespace)),
		}
	}
	create(class)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cl.Delete(ctx, &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gatewayClass}})
	})
}

// suiteNamespaces are the namespaces the suite's base manifests create and
// its clean-up deletes.
var suiteNamespaces = []string{suite.InfrastructureNamespace, suite.AppBackendNamespace, suite.WebBackendNamespace}

// namespacesGone waits, with berth still running, for the suite's
// namespaces to be deleted, and says what holds them otherwise. The suite
// deletes them without waiting; deleting a namespace is the commonest way
// Gateways go, and berth's finalizer must not keep one Terminating.
func namespacesGone(ctx context.Context, cl client.Client) string {
	var left []string
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		for _, ns := range suiteNamespaces {
			var n corev1.Namespace
			if err := cl.Get(ctx, k8stypes.NamespacedName{Name: ns}, &n); err == nil {
				left = append(left, ns)
			}
		}
		return len(left) == 0, nil
	})
	if len(left) == 0 {
		return ""
	}
	var why []string
	for _, ns := range left {
		var gws gwv1.GatewayList
		if err := cl.List(ctx, &gws, client.InNamespace(ns)); err != nil {
			why = append(why, fmt.Sprintf("namespace %s: listing Gateways: %v", ns, err))
			continue
		}
		for _, gw := range gws.Items {
			why = append(why, fmt.Sprintf("Gateway %s/%s (deletionTimestamp %v, finalizers %v)", ns, gw.Name, gw.DeletionTimestamp, gw.Finalizers))
		}
		var n corev1.Namespace
		if err := cl.Get(ctx, k8stypes.NamespacedName{Name: ns}, &n); err == nil {
			for _, c := range n.Status.Conditions {
				if c.Status == corev1.ConditionTrue {
					why = append(why, fmt.Sprintf("namespace %s: %s: %s", ns, c.Type, c.Message))
				}
			}
		}
	}
	return fmt.Sprintf("the suite's namespaces %v were not gone a minute after the suite deleted them:\n    %s", left, strings.Join(why, "\n    "))
}

// clusterIPMode reports whether the suite's Gateways get ClusterIP Services.
func clusterIPMode() bool { return os.Getenv(ClusterIPEnv) != "" }

// waitClassAccepted fails with the class's own words, rather than in the
// suite's set-up, when berth does not accept the class.
func waitClassAccepted(ctx context.Context, t *testing.T, cl client.Client) {
	t.Helper()
	var last *metav1.Condition
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var gc gwv1.GatewayClass
		if err := cl.Get(ctx, k8stypes.NamespacedName{Name: gatewayClass}, &gc); err != nil {
			return false, nil
		}
		last = meta.FindStatusCondition(gc.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted))
		return last != nil && last.Status == metav1.ConditionTrue && last.ObservedGeneration == gc.Generation, nil
	})
	if err != nil {
		t.Fatalf("GatewayClass %s not Accepted within a minute (last Accepted condition: %+v)", gatewayClass, last)
	}
}

// startController runs berth in this process until the test ends; its log
// goes to a file (named in the test log when something fails).
func startController(t *testing.T, cfg *rest.Config) (logPath string) {
	t.Helper()
	f, err := os.CreateTemp("", "berth-conformance-controller-*.log")
	if err != nil {
		t.Fatal(err)
	}
	o := controller.DefaultOptions()
	o.ControllerName = controllerName
	o.Namespace = berthNamespace
	o.XDS.Address = "127.0.0.1:0"
	o.MetricsBindAddress = "0"
	o.HealthProbeBindAddress = "0"
	o.Logger = funcr.New(func(prefix, args string) {
		fmt.Fprintf(f, "%s %s %s\n", time.Now().Format(time.RFC3339Nano), prefix, args)
	}, funcr.Options{})
	crlog.SetLogger(o.Logger)
	c, err := controller.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("controller: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("controller did not stop within 30s")
		}
		f.Close()
	})
	return f.Name()
}

// result is the child's outcome, read from `go tool test2json` events.
type result struct {
	// top is the outcome of TestConformanceSuite itself ("pass", "fail", "skip"
	// or "" when it never ended) and output its own lines (set-up).
	top       string
	topOutput []string
	// tests maps a suite test's ShortName to its outcome and output
	// (its subtests' output included).
	tests      map[string]*testOutcome
	outputPath string
}

type testOutcome struct {
	action  string // pass, fail, skip
	elapsed float64
	output  []string
}

type event struct {
	Action  string
	Test    string
	Elapsed float64
	Output  string
}

// runSuite runs this test binary as the child, through test2json so that
// every line of output is attributed to its test even when tests run in
// parallel.
func runSuite(ctx context.Context, t *testing.T, kubeconfig string) (*result, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is needed to run test2json: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	out, err := os.CreateTemp("", "berth-conformance-suite-*.jsonl")
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, goTool, "tool", "test2json", "-t", self,
		"-test.v=test2json", "-test.run=^TestConformanceSuite$", "-test.count=1",
		"-test.timeout="+suiteTimeout.String())
	cmd.Env = append(os.Environ(), childEnv+"=1", testenv.KubeconfigEnv+"="+kubeconfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the suite: %w", err)
	}
	res := &result{tests: map[string]*testOutcome{}, outputPath: out.Name()}
	const top = "TestConformanceSuite"
	sc := bufio.NewScanner(io.TeeReader(stdout, out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // not an event (the go tool's own words); kept in the file
		}
		if testing.Verbose() && ev.Action == "output" && ev.Test != "" {
			// Prefixed: the child's "--- FAIL" lines are its own verdicts,
			// not this test's.
			t.Log("suite| " + strings.TrimRight(ev.Output, "\n"))
		}
		switch {
		case ev.Test == top:
			if ev.Action == "output" {
				res.topOutput = append(res.topOutput, ev.Output)
			} else if isEnd(ev.Action) {
				res.top = ev.Action
			}
		case strings.HasPrefix(ev.Test, top+"/"):
			rest := strings.TrimPrefix(ev.Test, top+"/")
			name, sub, _ := strings.Cut(rest, "/")
			o := res.tests[name]
			if o == nil {
				o = &testOutcome{}
				res.tests[name] = o
			}
			if ev.Action == "output" {
				o.output = append(o.output, ev.Output)
			} else if isEnd(ev.Action) && sub == "" {
				o.action, o.elapsed = ev.Action, ev.Elapsed
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the suite's events: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) { // a failing suite exits 1: judged below
			return nil, fmt.Errorf("the suite's process: %w", err)
		}
	}
	return res, nil
}

func isEnd(action string) bool { return action == "pass" || action == "fail" || action == "skip" }

// outcome is one planned test's verdict for the report.
type outcome struct {
	conformance.Planned
	result  string // passed, failed, known failure, skipped, "" (not run)
	elapsed float64
	excerpt []string // failure messages
}

type judgement struct {
	outcomes []outcome
	setup    []string // the suite's set-up output when it failed
	problems []string // what fails TestConformance
	// leftovers says what of the suite's namespaces was still there a
	// minute after the suite deleted them ("" when they went).
	leftovers string
}

// judge compares the child's results with the plan and the known failures.
func judge(ps []conformance.Planned, res *result) judgement {
	var j judgement
	ranAny := false
	for _, p := range ps {
		o := outcome{Planned: p}
		if r := res.tests[p.Test.ShortName]; r != nil && p.Disp == conformance.DispRun {
			o.elapsed = r.elapsed
			switch r.action {
			case "pass":
				o.result = "passed"
			case "fail":
				o.result = "failed"
				o.excerpt = failureExcerpt(r.output)
			case "skip":
				o.result = "skipped"
				o.excerpt = failureExcerpt(r.output)
			default:
				o.result = "did not finish"
				o.excerpt = lastLines(r.output, 20)
			}
			ranAny = true
		}
		diagnosis, known := conformance.KnownFailures[p.Test.ShortName]
		if p.Disp == conformance.DispRun {
			switch {
			case o.result == "failed" && known:
				o.result = "known failure"
			case o.result == "failed":
				j.problems = append(j.problems, fmt.Sprintf("%s failed (not a known failure):\n%s", p.Test.ShortName, indent(o.excerpt)))
			case o.result == "passed" && known:
				j.problems = append(j.problems, fmt.Sprintf("%s passes but is listed in conformance.KnownFailures (%s): drop it from the list", p.Test.ShortName, diagnosis))
			case o.result == "":
				o.result = "not run"
				if res.top == "fail" || res.top == "" {
					break // the set-up failed: reported once below
				}
				j.problems = append(j.problems, fmt.Sprintf("%s was planned but the suite did not run it", p.Test.ShortName))
			case o.result != "passed":
				j.problems = append(j.problems, fmt.Sprintf("%s: %s\n%s", p.Test.ShortName, o.result, indent(o.excerpt)))
			}
		}
		j.outcomes = append(j.outcomes, o)
	}
	if !ranAny || res.top == "" {
		j.setup = failureExcerpt(res.topOutput)
		if len(j.setup) == 0 {
			j.setup = lastLines(res.topOutput, 40)
		}
		j.problems = append(j.problems, fmt.Sprintf("the suite's set-up failed or the suite did not finish (outcome %q):\n%s", res.top, indent(j.setup)))
	}
	return j
}

// failureExcerpt keeps what says why a test failed: testify's Error and
// Messages blocks and the suite's own error lines, without traces and the
// poll loops' progress lines.
func failureExcerpt(lines []string) []string {
	var out []string
	keep := false
	lastLog := "" // the poll loop's last word says what was observed
	for _, raw := range lines {
		for _, l := range strings.Split(strings.TrimRight(raw, "\n"), "\n") {
			tl := strings.TrimSpace(l)
			switch {
			case strings.HasPrefix(tl, "=== "), strings.HasPrefix(tl, "--- "):
				keep = false
				continue
			case strings.HasPrefix(tl, "Error Trace:"):
				keep = false
				if lastLog != "" {
					out = append(out, "last observed: "+lastLog)
					lastLog = ""
				}
				continue
			case strings.HasPrefix(tl, "Test:"):
				keep = false
				continue
			case strings.HasPrefix(tl, "Error:"), strings.HasPrefix(tl, "Messages:"):
				keep = true
			case strings.Contains(l, ".go:") && strings.Contains(tl, ": "):
				// a new log line ends the block; keep skip reasons and errors
				keep = false
				if strings.Contains(tl, "Skipping") {
					out = append(out, tl)
				}
				lastLog = logText(tl)
				continue
			}
			if keep && tl != "" {
				out = append(out, tl)
			}
		}
	}
	return out
}

// logText strips a log line's "file.go:123: <timestamp>: " prefix.
func logText(l string) string {
	_, rest, ok := strings.Cut(l, ": ")
	if !ok {
		return l
	}
	if ts, msg, ok := strings.Cut(rest, ": "); ok {
		if _, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return msg
		}
	}
	return rest
}

func lastLines(lines []string, n int) []string {
	var all []string
	for _, l := range lines {
		all = append(all, strings.TrimRight(l, "\n"))
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

func indent(lines []string) string {
	if len(lines) == 0 {
		return "    (no message; see the suite output)"
	}
	return "    " + strings.Join(lines, "\n    ")
}

// reportPath resolves a relative report path against the repository root
// (go test runs in the package directory).
func reportPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, p), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s to resolve %s against", dir, p)
		}
	}
}

// TestStaticAddressesMatchThePool keeps the suite's usable and unusable
// addresses true to the test cluster's load balancer.
func TestStaticAddressesMatchThePool(t *testing.T) {
	usable, unusable := netip.MustParseAddr(usableAddress.Value), netip.MustParseAddr(unusableAddress.Value)
	if !loadbalancer.DefaultRequestOnly.Contains(usable) || !loadbalancer.DefaultPool.Contains(usable) {
		t.Errorf("usable address %s is not in the request-only part %s of the pool %s", usable, loadbalancer.DefaultRequestOnly, loadbalancer.DefaultPool)
	}
	if loadbalancer.DefaultPool.Contains(unusable) {
		t.Errorf("unusable address %s is in the pool %s", unusable, loadbalancer.DefaultPool)
	}
}
