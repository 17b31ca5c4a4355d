package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/render"
)

func TestControllerCmdFlags(t *testing.T) {
	cmd := newControllerCmd()
	for _, name := range []string{
		"kubeconfig", "controller-name", "controller-namespace", "namespace", "watch-namespaces", "watch-namespace-selector",
		"xds-address", "xds-host", "xds-port", "xds-tls-secret", "metrics-bind-address", "health-probe-bind-address",
		"leader-elect", "leader-election-id", "log-level", "uninstall", "profiling",
	} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
	}
	if got := cmd.Flags().Lookup("profiling").DefValue; got != "false" {
		t.Errorf("--profiling default %s, want false", got)
	}
	if got := cmd.Flags().Lookup("controller-name").DefValue; got != render.DefaultControllerName {
		t.Errorf("--controller-name default %q, want %q", got, render.DefaultControllerName)
	}
}

func TestControllerCmdRejectsBadInput(t *testing.T) {
	// A kubeconfig that loads (nothing is dialled before options are
	// checked).
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--kubeconfig", "/nonexistent/kubeconfig"}, "kubeconfig"},
		{[]string{"extra"}, "unknown command"},
		{[]string{"--kubeconfig", kubeconfig, "--profiling", "--metrics-bind-address", "0"}, "profiling is served on the metrics address"},
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
