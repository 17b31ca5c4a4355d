package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berth-gateway/berth/internal/readiness"
)

func TestParseWaitTarget(t *testing.T) {
	cases := []struct {
		args    []string
		all     bool
		name    string
		wantErr string
		set     bool
	}{
		{[]string{"gateway/gateway-a"}, false, "gateway-a", "", false},
		{[]string{"gateways/gateway-a"}, false, "gateway-a", "", false},
		{[]string{"gtw/gateway-a"}, false, "gateway-a", "", false},
		{[]string{"Gateway.gateway.networking.k8s.io/gateway-a"}, false, "gateway-a", "", false},
		{[]string{"gateway-a"}, false, "", `want gateway/NAME or listenerset/NAME, got "gateway-a"`, false},
		{[]string{"gateway", "gateway-a"}, false, "gateway-a", "", false},
		{[]string{"GTW", "gateway-a"}, false, "gateway-a", "", false},
		{[]string{"deployment", "gateway-a"}, false, "", `want gateway NAME or listenerset NAME, got "deployment gateway-a"`, false},
		{[]string{"gateway", "a/b"}, false, "", `want gateway NAME`, false},
		{[]string{"gateways", "x"}, true, "", `with --all, give no argument or "gateways"`, false},
		{[]string{"deployment/x"}, false, "", `want gateway/NAME or listenerset/NAME, got "deployment/x"`, false},
		{[]string{"gateway/"}, false, "", `want gateway/NAME`, false},
		{[]string{"gateway/a/b"}, false, "", `want gateway/NAME`, false},
		{nil, false, "", "give gateway/NAME or listenerset/NAME, or --all", false},
		{[]string{"listenerset/extra"}, false, "extra", "", true},
		{[]string{"lset/extra"}, false, "extra", "", true},
		{[]string{"ListenerSets.gateway.networking.k8s.io/extra"}, false, "extra", "", true},
		{[]string{"listenerset", "extra"}, false, "extra", "", true},
		{[]string{"LSET", "extra"}, false, "extra", "", true},
		{[]string{"listenerset", "a/b"}, false, "", "want gateway NAME or listenerset NAME", false},
		{[]string{"listenerset/"}, false, "", "want gateway/NAME or listenerset/NAME", false},
		{[]string{"listenersets"}, true, "", `with --all, give no argument or "gateways"`, false},
		{nil, true, "", "", false},
		{[]string{"gateways"}, true, "", "", false},
		{[]string{"gateway/x"}, true, "", `with --all, give no argument or "gateways"`, false},
	}
	for _, c := range cases {
		got, err := parseWaitTarget(c.args, c.all)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q all=%t: error %v, want %q", c.args, c.all, err, c.wantErr)
			}
			continue
		}
		if err != nil || got.name != c.name || got.listenerSet != c.set {
			t.Errorf("%q all=%t: got %+v, %v; want %q (ListenerSet %t)", c.args, c.all, got, err, c.name, c.set)
		}
	}
	// diff takes Gateways only, and says so.
	for _, args := range [][]string{{"listenerset/x"}, {"lset", "x"}} {
		if _, err := parseGatewayTarget(args, false); err == nil || !strings.Contains(err.Error(), "want gateway") || strings.Contains(err.Error(), "listenerset/NAME") {
			t.Errorf("diff target %q: %v, want a refusal naming gateway only", args, err)
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
		if err == nil || ExitCode(err) != c.code || err.Error() != c.msg {
			t.Errorf("%s: got %v (exit %d), want exit %d %q", c.out.Phase, err, ExitCode(err), c.code, c.msg)
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
		{[]string{"gateway/x", "gateway/y"}, `want gateway NAME or listenerset NAME, got "gateway/x gateway/y"`},
		{[]string{"listenerset/x", "-A"}, `with --all, give no argument or "gateways", not "listenerset/x"`},
		{[]string{"gateway", "x", "y"}, "accepts at most 2 arg"},
		{[]string{"gateway/x", "-o", "wide"}, `unknown output format "wide"`},
	} {
		cmd := NewRootCmd()
		cmd.SetArgs(append([]string{"wait"}, c.args...))
		cmd.SetOut(new(bytes.Buffer))
		cmd.SetErr(new(bytes.Buffer))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) || ExitCode(err) != ExitUsage {
			t.Errorf("%q: got %v (exit %d), want exit %d with %q", c.args, err, ExitCode(err), ExitUsage, c.want)
		}
	}
}
