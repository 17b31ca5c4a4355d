package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cli -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./internal/cli -update rewrites it; review the diff):\n%s", path, got)
	}
}

// TestHelpGolden: the help of every command, as users read it.
func TestHelpGolden(t *testing.T) {
	root := NewRootCmd()
	names := []string{""}
	for _, c := range root.Commands() {
		names = append(names, c.Name())
	}
	for _, name := range names {
		t.Run("berth "+name, func(t *testing.T) {
			args := []string{"--help"}
			file := "help/berth.txt"
			if name != "" {
				args = []string{name, "--help"}
				file = "help/" + name + ".txt"
			}
			stdout, stderr, err := runBerth(t, "", args...)
			if err != nil || stderr != "" {
				t.Fatalf("berth %s --help: %v, stderr %q", name, err, stderr)
			}
			golden(t, file, stdout)
		})
	}
}

const smallInput = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: berth}
spec: {controllerName: gateway.envoyproxy.io/gatewayclass-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: team-a}
spec:
  gatewayClassName: berth
  listeners: [{name: http, port: 8080, protocol: HTTP}]
`

// TestOutputGolden: -o on the commands that print objects.
func TestOutputGolden(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
	}{
		{"output/render.json", []string{"render", "-f", "-", "-o", "JSON", "--shutdown-manager-image", "berth:test"}},
		{"output/render.name", []string{"render", "-f", "-", "-o", "name"}},
		{"output/rbac.name", []string{"rbac", "-o", "name"}},
		{"output/rbac.json", []string{"rbac", "-o", "json", "--watch-namespaces", "team-a"}},
		{"output/translate.json", []string{"translate", "-f", "-", "-o", "json"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			stdout, _, err := runBerth(t, smallInput, c.args...)
			if err != nil {
				t.Fatalf("berth %s: %v", strings.Join(c.args, " "), err)
			}
			golden(t, c.file, stdout)
		})
	}
}

// TestExitCodes: the documented exit statuses of the offline commands
// (berth wait's are tested against a cluster in
// internal/readiness/clustertest and controller).
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args  []string
		stdin string
		code  int
	}{
		{[]string{"render", "-f", "-"}, smallInput, ExitOK},
		{[]string{"--version"}, "", ExitOK},
		{[]string{"completion", "bash"}, "", ExitOK},
		{[]string{"render", "-f", "-"}, strings.Replace(smallInput, "8080", "19000", 1), ExitFailed}, // refused input
		{[]string{"translate", "-f", "-"}, "kind: [", ExitFailed},                                    // unparsable input
		{[]string{"render"}, "", ExitUsage},                                                          // no input
		{[]string{"render", "-f", filepath.Join(dir, "missing.yaml")}, "", ExitUsage},
		{[]string{"render", "-f", dir}, "", ExitUsage}, // a directory without manifests
		{[]string{"render", "--bogus"}, "", ExitUsage},
		{[]string{"render", "-f", "-", "-o", "wide"}, smallInput, ExitUsage},
		{[]string{"translate", "-f", "-", "-g", "nope"}, smallInput, ExitUsage},
		{[]string{"rbac", "extra"}, "", ExitUsage},
		{[]string{"bogus"}, "", ExitUsage},
		{[]string{"wait"}, "", ExitUsage},
	} {
		_, stderr, err := runBerth(t, c.stdin, c.args...)
		if got := ExitCode(err); got != c.code {
			t.Errorf("berth %s: exit %d (%v; stderr %q), want %d", strings.Join(c.args, " "), got, err, stderr, c.code)
		}
	}
}

// TestInputDirectories: -f DIR reads the directory's manifests in name
// order, -R its subdirectories too; unknown kinds are reported on stderr.
func TestInputDirectories(t *testing.T) {
	dir := t.TempDir()
	class, gw, _ := strings.Cut(smallInput, "---\n")
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a-class.yaml", class)
	write("notes.txt", "not a manifest")
	write("sub/gw.yml", gw)
	write("sub/typo.yaml", "apiVersion: gateway.networking.k8s.io/v1\nkind: HttpRoute\nmetadata: {name: r, namespace: team-a}\n")

	stdout, stderr, err := runBerth(t, "", "render", "-f", dir, "-o", "name")
	if err != nil || stdout != "" || !strings.Contains(stderr, "no Gateway of a GatewayClass") {
		t.Errorf("without -R: %v, stdout %q, stderr %q; want the class only, no Gateway", err, stdout, stderr)
	}
	stdout, stderr, err = runBerth(t, "", "render", "-R", "-f", dir, "-o", "name")
	if err != nil || !strings.Contains(stdout, "deployment.apps/envoy-team-a-gw-") {
		t.Fatalf("with -R: %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	want := "typo.yaml:1 (document 1): ignored HttpRoute team-a/r: apiVersion gateway.networking.k8s.io/v1 has no kind HttpRoute that berth reads (did you mean kind HTTPRoute?)"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// TestDeprecatedFlagNames: the old names work and warn on stderr only.
func TestDeprecatedFlagNames(t *testing.T) {
	stdout, stderr, err := runBerth(t, smallInput, "render", "-f", "-", "--token-audience", "example.com/xds")
	if err != nil || !strings.Contains(stdout, "example.com/xds") || !strings.Contains(stderr, "warning: --token-audience is deprecated, use --xds-audience") {
		t.Errorf("--token-audience: %v, stderr %q", err, stderr)
	}
	if strings.Contains(stdout, "deprecated") {
		t.Error("deprecation notice on stdout")
	}
}

// TestRenderDefaults: the shutdown-manager runs berth's own image, and
// --controller-namespace moves the xDS host with it.
func TestRenderDefaults(t *testing.T) {
	stdout, _, err := runBerth(t, smallInput, "render", "-f", "-", "--controller-namespace", "gw-system")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"image: ghcr.io/berth-gateway/berth:dev", "berth-xds.gw-system.svc"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(stdout, ":latest") {
		t.Error("an image tagged latest")
	}
}

// TestCompletion: the shell completion script, and -o values completed.
func TestCompletion(t *testing.T) {
	stdout, _, err := runBerth(t, "", "completion", "bash")
	if err != nil || !strings.Contains(stdout, "__start_berth") {
		t.Fatalf("completion bash: %v", err)
	}
	stdout, _, err = runBerth(t, "", "__complete", "render", "-o", "")
	if err != nil || !strings.Contains(stdout, "yaml\njson\nname\n") {
		t.Errorf("render -o completes to %q (%v), want yaml, json and name", stdout, err)
	}
}
