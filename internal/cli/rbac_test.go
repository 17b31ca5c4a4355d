package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func runRbac(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout bytes.Buffer
	cmd := newRbacCmd()
	// nil would make cobra read the test binary's own arguments.
	cmd.SetArgs(append([]string{}, args...))
	cmd.SetOut(&stdout)
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return stdout.String(), err
}

// The command prints what package rbac builds: its golden files are the
// command's expected output for the same options given as flags.
func TestRbacMatchesGolden(t *testing.T) {
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"cluster", nil},
		{"namespaced", []string{"--watch-namespaces", "team-b,team-a", "--watch-namespaces", " team-a"}},
		{"external-tls", []string{"--controller-namespace", "gateways", "--service-account", "gw-controller", "--xds-tls-mode", "External", "--xds-tls-secret", "my-xds-tls"}},
		// Enums take any case; the deprecated --namespace still works.
		{"external-tls", []string{"--namespace", "gateways", "--service-account", "gw-controller", "--xds-tls-mode", "external", "--xds-tls-secret", "my-xds-tls"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			want, err := os.ReadFile("../../rbac/testdata/" + c.golden + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			got, err := runRbac(t, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("berth rbac %s differs from rbac/testdata/%s.yaml:\n%s", strings.Join(c.args, " "), c.golden, got)
			}
		})
	}
}

func TestRbacRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--xds-tls-mode", "bogus"}, `unknown --xds-tls-mode "bogus"`},
		{[]string{"--watch-namespaces", "Bad_NS"}, `watch namespace "Bad_NS" is invalid`},
		{[]string{"--controller-namespace", "Berth"}, `namespace "Berth" is invalid`},
		{[]string{"-o", "wide"}, `unknown output format "wide"`},
		{[]string{"--namespace", ""}, "namespace is empty"},
		{[]string{"--watch-namespaces", "a,,b"}, "empty namespace"},
		{[]string{"extra"}, "unknown command"},
	} {
		_, err := runRbac(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || ExitCode(err) != ExitUsage {
			t.Errorf("berth rbac %v: error %v (exit %d), want exit %d with %q", c.args, err, ExitCode(err), ExitUsage, c.want)
		}
	}
}
