package clustertest

import (
	"bytes"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/cli"
)

// TestWaitCommand runs the berth wait command itself, in process, flags and
// kubeconfig included, against this package's cluster: the exit statuses
// 0 (ready), 1 (failed) and 2 (timed out) and what it prints.
func TestWaitCommand(t *testing.T) {
	f := newFixture(t)
	f.gateway("ready")
	f.setConditions("ready", 0, condition(gwv1.GatewayConditionAccepted, metav1.ConditionTrue, gwv1.GatewayReasonAccepted, "Accepted (test)"),
		condition(gwv1.GatewayConditionProgrammed, metav1.ConditionTrue, gwv1.GatewayReasonProgrammed, "Programmed (test)"))
	f.gateway("rejected")
	f.setConditions("rejected", 0, condition(gwv1.GatewayConditionAccepted, metav1.ConditionFalse, gwv1.GatewayReasonInvalidParameters, "InvalidParameters (test)"),
		condition(gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, gwv1.GatewayReasonInvalid, "Invalid (test)"))
	f.gateway("pending")
	f.setConditions("pending", 0, condition(gwv1.GatewayConditionAccepted, metav1.ConditionTrue, gwv1.GatewayReasonAccepted, "Accepted (test)"),
		condition(gwv1.GatewayConditionProgrammed, metav1.ConditionFalse, gwv1.GatewayReasonAddressNotAssigned, "AddressNotAssigned (test)"))
	ns := f.ns

	for _, c := range []struct {
		args    []string
		code    int
		out     []string
		errText string
	}{
		{[]string{"gateway/ready"}, 0, []string{"Gateway " + ns + "/ready: Programmed=True (Programmed) Programmed (test)", "Gateway " + ns + "/ready is Programmed"}, ""},
		{[]string{"gateway/rejected"}, 1, []string{"Gateway " + ns + "/rejected failed: InvalidParameters: Accepted=False: InvalidParameters (test)"},
			"Gateway " + ns + "/rejected failed: InvalidParameters"},
		{[]string{"gateway/pending", "--timeout", "2s"}, 2, []string{"timed out after 2s; not ready:", "Gateway " + ns + "/pending: AddressNotAssigned: Programmed=False: AddressNotAssigned (test)"},
			"timed out after 2s: Gateway " + ns + "/pending not ready: AddressNotAssigned"},
		{[]string{"gateway/missing"}, 1, []string{"Gateway " + ns + "/missing: not found"}, "Gateway " + ns + "/missing failed: NotFound"},
		{[]string{"--all", "--timeout", "2s"}, 1, []string{"Gateway " + ns + "/ready is Programmed"}, "Gateway " + ns + "/rejected failed: InvalidParameters"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			cmd := cli.NewRootCmd()
			cmd.SetArgs(append([]string{"wait"}, append(c.args, "-n", ns, "--kubeconfig", f.env.Kubeconfig)...))
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			err := cmd.Execute()
			t.Logf("output:\n%s", out.String())
			if got := cli.ExitCode(err); (err == nil) != (c.code == 0) || (err != nil && got != c.code) {
				t.Fatalf("exit %d (%v), want %d", got, err, c.code)
			}
			if err != nil && !strings.Contains(err.Error(), c.errText) {
				t.Errorf("error %q lacks %q", err, c.errText)
			}
			for _, want := range c.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q", want)
				}
			}
		})
	}
}
