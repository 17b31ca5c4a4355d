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
	}{
		{[]string{"gateway/gateway-a"}, false, "gateway-a", ""},
		{[]string{"gateways/gateway-a"}, false, "gateway-a", ""},
		{[]string{"gtw/gateway-a"}, false, "gateway-a", ""},
		{[]string{"Gateway.gateway.networking.k8s.io/gateway-a"}, false, "gateway-a", ""},
		{[]string{"gateway-a"}, false, "", `want gateway/NAME, got "gateway-a"`},
		{[]string{"gateway", "gateway-a"}, false, "gateway-a", ""},
		{[]string{"GTW", "gateway-a"}, false, "gateway-a", ""},
		{[]string{"deployment", "gateway-a"}, false, "", `want gateway NAME, got "deployment gateway-a"`},
		{[]string{"gateway", "a/b"}, false, "", `want gateway NAME`},
		{[]string{"gateways", "x"}, true, "", `with --all, give no argument or "gateways"`},
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
		{[]string{"gateway/x", "gateway/y"}, `want gateway NAME, got "gateway/x gateway/y"`},
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
