package cli

import (
	"strings"
	"testing"

	"github.com/berth-gateway/berth/render"
)

func TestControllerCmdFlags(t *testing.T) {
	cmd := newControllerCmd()
	for _, name := range []string{
		"kubeconfig", "controller-name", "controller-namespace", "namespace", "watch-namespaces", "watch-namespace-selector",
		"xds-address", "xds-host", "xds-port", "xds-tls-secret", "metrics-bind-address", "health-probe-bind-address",
		"leader-elect", "leader-election-id", "log-level", "uninstall",
	} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
	}
	if got := cmd.Flags().Lookup("controller-name").DefValue; got != render.DefaultControllerName {
		t.Errorf("--controller-name default %q, want %q", got, render.DefaultControllerName)
	}
}

func TestControllerCmdRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig"},
		{[]string{"extra"}, "unknown command"},
	} {
		cmd := newControllerCmd()
		cmd.SetArgs(tc.args)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
