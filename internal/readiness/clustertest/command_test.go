package clustertest

import (
	"bytes"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/internal/cli"
	"github.com/berth-gateway/berth/internal/readiness"
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
	// ListenerSets: on the ready parent, Programmed; on the rejected one,
	// ParentNotAccepted; on the pending one, Programmed (the parent's
	// verdict holds it back); one naming no Gateway.
	lset := func(name, parent string, conds ...metav1.Condition) {
		f.create(readiness.ListenerSetResource, ns, &gwv1.ListenerSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "ListenerSet"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Name: gwv1.ObjectName(parent)},
				Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: 8081, Protocol: gwv1.HTTPProtocolType}}},
		})
		if len(conds) > 0 {
			f.setStatus(readiness.ListenerSetResource, name, 0, conds...)
		}
	}
	lsProgrammed := []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "Accepted (test)"},
		{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", Message: "Programmed (test)"}}
	lset("on-ready", "ready", lsProgrammed...)
	lset("on-pending", "pending", lsProgrammed...)
	lset("on-rejected", "rejected", metav1.Condition{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "ParentNotAccepted", Message: "parent not accepted (test)"},
		metav1.Condition{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "ParentNotAccepted", Message: "parent not accepted (test)"})
	f.create(readiness.ListenerSetResource, ns, &gwv1.ListenerSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "gateway.networking.k8s.io/v1", Kind: "ListenerSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "on-service"},
		Spec: gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Kind: ptr.To(gwv1.Kind("Service")), Group: ptr.To(gwv1.Group("")), Name: "x"},
			Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: 8081, Protocol: gwv1.HTTPProtocolType}}},
	})

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
		{[]string{"listenerset/on-ready"}, 0, []string{"ListenerSet " + ns + "/on-ready: Programmed=True (Programmed) Programmed (test)",
			"Gateway " + ns + "/ready: Programmed=True (Programmed) Programmed (test)", "ListenerSet " + ns + "/on-ready is Programmed",
			"listenerset.gateway.networking.k8s.io/on-ready condition met"}, ""},
		{[]string{"lset", "on-rejected"}, 1, []string{"ListenerSet " + ns + "/on-rejected failed: ParentNotAccepted"},
			"ListenerSet " + ns + "/on-rejected failed: ParentNotAccepted: Accepted=False: parent not accepted (test)"},
		{[]string{"listenerset/on-pending", "--timeout", "2s"}, 2, []string{"timed out after 2s; not ready:",
			"ListenerSet " + ns + "/on-pending: ParentNotReady: parent Gateway " + ns + "/pending: AddressNotAssigned"},
			"timed out after 2s: ListenerSet " + ns + "/on-pending not ready: ParentNotReady"},
		{[]string{"listenerset/missing"}, 1, []string{"ListenerSet " + ns + "/missing failed: NotFound"}, "ListenerSet " + ns + "/missing failed: NotFound"},
		{[]string{"listenerset/on-service"}, 1, []string{"its parentRef names no Gateway"}, "ListenerSet " + ns + "/on-service failed: Invalid"},
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
