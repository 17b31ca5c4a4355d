package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-gateway/berth/internal/readiness"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestParseWaitTarget(t *testing.T) {
	cases := []struct {
		args    []string
		all     bool
		name    string
		wantErr string
	}{
		{[]string{"gateway/gateway-a"}, false, "gateway-a", ""},
		{[]string{"gateways/gateway-a"}, false, "gateway-a", ""},
		{[]string{"gtw/gateway-a"}, false, "gateway-a", ""},
		{[]string{"Gateway.gateway.networking.k8s.io/gateway-a"}, false, "gateway-a", ""},
		{[]string{"gateway-a"}, false, "", `want gateway/NAME, got "gateway-a"`},
		{[]string{"deployment/x"}, false, "", `want gateway/NAME, got "deployment/x"`},
		{[]string{"gateway/"}, false, "", `want gateway/NAME`},
		{[]string{"gateway/a/b"}, false, "", `want gateway/NAME`},
		{nil, false, "", "give gateway/NAME, or --all"},
		{nil, true, "", ""},
		{[]string{"gateways"}, true, "", ""},
		{[]string{"gateway/x"}, true, "", `with --all, give no argument or "gateways"`},
	}
	for _, c := range cases {
		name, err := parseWaitTarget(c.args, c.all)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q all=%t: error %v, want %q", c.args, c.all, err, c.wantErr)
			}
			continue
		}
		if err != nil || name != c.name {
			t.Errorf("%q all=%t: got %q, %v; want %q", c.args, c.all, name, err, c.name)
		}
	}
}

func TestWaitExit(t *testing.T) {
	key := readiness.Key{Namespace: "team-a", Name: "gateway-a"}
	cases := []struct {
		out  readiness.Outcome
		code int
		msg  string
	}{
		{readiness.Outcome{Phase: readiness.Ready, Gateways: []readiness.GatewayOutcome{{Key: key, Verdict: readiness.Verdict{Phase: readiness.Ready}}}}, 0, ""},
		{readiness.Outcome{Phase: readiness.Failed, Gateways: []readiness.GatewayOutcome{{Key: key, Verdict: readiness.Verdict{Phase: readiness.Failed, Reason: "InvalidParameters", Message: "Accepted=False: no EnvoyProxy"}}}}, 1,
			"Gateway team-a/gateway-a failed: InvalidParameters: Accepted=False: no EnvoyProxy"},
		{readiness.Outcome{Phase: readiness.Waiting, Elapsed: 30 * time.Second, Gateways: []readiness.GatewayOutcome{{Key: key, Verdict: readiness.Verdict{Phase: readiness.Waiting, Reason: "Pending", Message: "Programmed=False: Deployment x: Available: 0/1"}}}}, 2,
			"timed out after 30s: Gateway team-a/gateway-a not ready: Pending: Programmed=False: Deployment x: Available: 0/1"},
	}
	for _, c := range cases {
		err := waitExit(&c.out)
		if c.code == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.out.Phase, err)
			}
			continue
		}
		if err == nil || exitCode(err) != c.code || err.Error() != c.msg {
			t.Errorf("%s: got %v (exit %d), want exit %d %q", c.out.Phase, err, exitCode(err), c.code, c.msg)
		}
	}
}

func TestWaitCommandErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"gateway/x", "-n", "a", "--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig"},
		{[]string{"gateway/x", "-n", "a", "--timeout", "-1s"}, "--timeout must not be negative"},
		{[]string{"gateway/x", "gateway/y"}, "accepts at most 1 arg"},
	} {
		cmd := newWaitCmd()
		cmd.SetArgs(c.args)
		cmd.SetOut(new(bytes.Buffer))
		cmd.SetErr(new(bytes.Buffer))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != 1 {
			t.Errorf("%q: got %v, want exit 1 with %q", c.args, err, c.want)
		}
	}
}

// TestWaitCommandCluster runs the command itself, flags and kubeconfig
// included, against the cluster $BERTH_TEST_KUBECONFIG names. The
// internal/readiness/clustertest package runs it against its own cluster
// (TestWaitCommandInRoot), so `make test` never skips it; a plain `go test .`
// does not start a cluster of its own.
func TestWaitCommandCluster(t *testing.T) {
	path := os.Getenv(testenv.KubeconfigEnv)
	if path == "" {
		t.Skip("needs a cluster: run internal/readiness/clustertest, or set " + testenv.KubeconfigEnv)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "wait-cmd-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	gws := dyn.Resource(readiness.GatewayResource).Namespace(ns.Name)

	// gateway sets up Gateway name with the given conditions for its
	// generation (its class need not exist: nothing reconciles here).
	gateway := func(name string, conds ...[3]string) {
		t.Helper()
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
			"metadata": map[string]any{"name": name},
			"spec":     map[string]any{"gatewayClassName": "none", "listeners": []any{map[string]any{"name": "http", "port": int64(80), "protocol": "HTTP"}}},
		}}
		u, err := gws.Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var list []any
		for _, c := range conds {
			list = append(list, map[string]any{"type": c[0], "status": c[1], "reason": c[2], "message": c[2] + " (test)",
				"observedGeneration": u.GetGeneration(), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)})
		}
		_ = unstructured.SetNestedSlice(u.Object, list, "status", "conditions")
		if _, err := gws.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gateway("ready", [3]string{"Accepted", "True", "Accepted"}, [3]string{"Programmed", "True", "Programmed"})
	gateway("rejected", [3]string{"Accepted", "False", "InvalidParameters"}, [3]string{"Programmed", "False", "Invalid"})
	gateway("pending", [3]string{"Accepted", "True", "Accepted"}, [3]string{"Programmed", "False", "AddressNotAssigned"})

	for _, c := range []struct {
		args    []string
		code    int
		out     []string
		errText string
	}{
		{[]string{"gateway/ready"}, 0, []string{"Gateway " + ns.Name + "/ready: Programmed=True (Programmed) Programmed (test)", "Gateway " + ns.Name + "/ready is Programmed"}, ""},
		{[]string{"gateway/rejected"}, 1, []string{"Gateway " + ns.Name + "/rejected failed: InvalidParameters: Accepted=False: InvalidParameters (test)"},
			"Gateway " + ns.Name + "/rejected failed: InvalidParameters"},
		{[]string{"gateway/pending", "--timeout", "2s"}, 2, []string{"timed out after 2s; not ready:", "Gateway " + ns.Name + "/pending: AddressNotAssigned: Programmed=False: AddressNotAssigned (test)"},
			"timed out after 2s: Gateway " + ns.Name + "/pending not ready: AddressNotAssigned"},
		{[]string{"gateway/missing"}, 1, []string{"Gateway " + ns.Name + "/missing: not found"}, "Gateway " + ns.Name + "/missing failed: NotFound"},
		{[]string{"--all", "--timeout", "2s"}, 1, []string{"Gateway " + ns.Name + "/ready is Programmed"}, "Gateway " + ns.Name + "/rejected failed: InvalidParameters"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			cmd := newWaitCmd()
			cmd.SetArgs(append(c.args, "-n", ns.Name, "--kubeconfig", path))
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			err := cmd.Execute()
			t.Logf("output:\n%s", out.String())
			if got := exitCode(err); (err == nil) != (c.code == 0) || (err != nil && got != c.code) {
				t.Fatalf("exit %d (%v), want %d", got, err, c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.errText) {
				t.Errorf("error %q lacks %q", err, c.errText)
			}
			var exit *exitError
			if c.code == 2 && !errors.As(err, &exit) {
				t.Errorf("timeout error is %T, not an exitError", err)
			}
			for _, want := range c.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q", want)
				}
			}
		})
	}
}
