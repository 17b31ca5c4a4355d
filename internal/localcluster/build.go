package localcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the absolute paths of the control-plane programs and the kwok
// stage files, as built by EnsureBinaries.
type Binaries struct {
	Etcd              string
	APIServer         string
	ControllerManager string
	Scheduler         string
	Kubectl           string
	Kwok              string
	// Helm is the helm CLI (the chart's lint and template tests).
	Helm string
	// KwokStages are the kwok Stage manifests (node and pod life cycles);
	// kwok refuses to simulate anything without them.
	KwokStages []string
}

// BuildOptions say where the tool modules are and where binaries go.
type BuildOptions struct {
	// ToolsDir is the folder holding the tool modules (kubernetes, etcd, kwok).
	// Empty: hack/tools of the repository containing the working directory.
	ToolsDir string
	// CacheDir is where built binaries are kept. Empty: $BERTH_CACHE_DIR, else
	// $XDG_CACHE_HOME/berth, else ~/.cache/berth.
	CacheDir string
	// Log receives progress lines (which tool is built, or found cached).
	// Nil: os.Stderr.
	Log io.Writer
}

// tool describes one build: a module folder under ToolsDir and the packages
// it builds, each into a binary named after the package's last element.
type tool struct {
	module   string
	packages []string
}

var tools = []tool{
	{module: "etcd", packages: []string{"go.etcd.io/etcd/server/v3"}},
	{module: "kubernetes", packages: []string{
		"k8s.io/kubernetes/cmd/kube-apiserver",
		"k8s.io/kubernetes/cmd/kube-controller-manager",
		"k8s.io/kubernetes/cmd/kube-scheduler",
		"k8s.io/kubernetes/cmd/kubectl",
	}},
	{module: "kwok", packages: []string{"sigs.k8s.io/kwok/cmd/kwok"}},
	{module: "helm", packages: []string{"helm.sh/helm/v3/cmd/helm"}},
}

// kwokStages are the stage files shipped inside the kwok module.
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-complete.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// EnsureBinaries builds every control-plane binary that is not already in
// the cache at the versions pinned by hack/tools, and returns their paths.
func EnsureBinaries(ctx context.Context, opts BuildOptions) (Binaries, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Binaries{}, err
	}
	dirs := map[string]string{}
	for _, t := range tools {
		dir, err := ensureTool(ctx, opts, t)
		if err != nil {
			return Binaries{}, err
		}
		dirs[t.module] = dir
	}
	kwokSrc, err := goOutput(ctx, filepath.Join(opts.ToolsDir, "kwok"), "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok")
	if err != nil {
		return Binaries{}, fmt.Errorf("locate kwok module: %w", err)
	}
	b := Binaries{
		// go build names a binary after the path element before a /vN suffix.
		Etcd:              filepath.Join(dirs["etcd"], "server"),
		APIServer:         filepath.Join(dirs["kubernetes"], "kube-apiserver"),
		ControllerManager: filepath.Join(dirs["kubernetes"], "kube-controller-manager"),
		Scheduler:         filepath.Join(dirs["kubernetes"], "kube-scheduler"),
		Kubectl:           filepath.Join(dirs["kubernetes"], "kubectl"),
		Kwok:              filepath.Join(dirs["kwok"], "kwok"),
		Helm:              filepath.Join(dirs["helm"], "helm"),
	}
	for _, s := range kwokStages {
		b.KwokStages = append(b.KwokStages, filepath.Join(kwokSrc, s))
	}
	return b, nil
}

// EnsureHelm builds only the helm CLI (cached as EnsureBinaries does) and
// returns its path, for tests that need helm but no cluster.
func EnsureHelm(ctx context.Context, opts BuildOptions) (string, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return "", err
	}
	for _, t := range tools {
		if t.module == "helm" {
			dir, err := ensureTool(ctx, opts, t)
			if err != nil {
				return "", err
			}
			return filepath.Join(dir, "helm"), nil
		}
	}
	return "", fmt.Errorf("no helm tool module")
}

func (opts BuildOptions) withDefaults() (BuildOptions, error) {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	if opts.ToolsDir == "" {
		root, err := RepoRoot()
		if err != nil {
			return opts, err
		}
		opts.ToolsDir = filepath.Join(root, "hack", "tools")
	}
	if opts.CacheDir == "" {
		dir, err := DefaultCacheDir()
		if err != nil {
			return opts, err
		}
		opts.CacheDir = dir
	}
	return opts, nil
}

// ensureTool builds one tool module into CacheDir/<module>-<key> unless a
// complete build is already there. The key hashes the module's go.mod and
// go.sum, so changing a pinned version builds anew.
func ensureTool(ctx context.Context, opts BuildOptions, t tool) (string, error) {
	modDir := filepath.Join(opts.ToolsDir, t.module)
	key, err := moduleKey(modDir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(opts.CacheDir, "bin", t.module+"-"+key)
	stamp := filepath.Join(out, ".complete")
	if _, err := os.Stat(stamp); err == nil {
		fmt.Fprintf(opts.Log, "localcluster: %s binaries cached in %s\n", t.module, out)
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	// Concurrent test binaries (go test ./... runs packages in parallel) want
	// the same tool at once: one builds while the others wait on the lock,
	// then find its stamp. Building it N times on 2 cores takes N times as long.
	unlock, err := lockFile(out + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(stamp); err == nil {
		fmt.Fprintf(opts.Log, "localcluster: %s binaries built by another process into %s\n", t.module, out)
		return out, nil
	}
	fmt.Fprintf(opts.Log, "localcluster: building %s binaries into %s (minutes when the Go build cache is cold)\n", t.module, out)
	// Each build still goes into its own folder and is renamed when complete,
	// so an interrupted build never leaves a folder that looks finished.
	tmp, err := os.MkdirTemp(filepath.Dir(out), t.module+"-"+key+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	args := append([]string{"build", "-trimpath", "-o", tmp + string(os.PathSeparator)}, t.packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = modDir
	// -mod=readonly: the tool modules' go.mod and go.sum are complete and
	// committed; a build must never rewrite them (that would change the key).
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stdout = opts.Log
	cmd.Stderr = io.MultiWriter(opts.Log, &stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s tools: %w", t.module, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), []byte(key+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		if _, statErr := os.Stat(stamp); statErr == nil {
			return out, nil // another process finished first
		}
		// An incomplete folder from an interrupted build: replace it.
		if err := os.RemoveAll(out); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, out); err != nil {
			return "", err
		}
	}
	return out, nil
}

func moduleKey(modDir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			return "", fmt.Errorf("read tool module: %w", err)
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// DefaultCacheDir is $BERTH_CACHE_DIR, else $XDG_CACHE_HOME/berth, else
// ~/.cache/berth. It lives outside the checkout so that a fresh clone (CI)
// reuses binaries built before on the same machine.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("BERTH_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache folder (set BERTH_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "berth"), nil
}

// RepoRoot walks up from the working directory to the folder holding
// hack/tools (the berth checkout).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "hack", "tools")); err == nil && fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the berth checkout (no hack/tools above the working directory)")
		}
		dir = parent
	}
}

func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
