package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/berth-gateway/berth/internal/localcluster"
)

// ChartDir is the chart's folder.
func ChartDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "berth")
}

// Helm returns the path of the helm binary, building it (once, cached)
// from hack/tools/helm.
func Helm(ctx context.Context) (string, error) {
	return localcluster.EnsureHelm(ctx, localcluster.BuildOptions{})
}

// KubeVersion is the Kubernetes version helm renders for: the local test
// cluster's. (helm built from source, without release ldflags, would assume
// v1.20.)
const KubeVersion = "v1.37.2"

// Template runs `helm template berth <chart> --namespace namespace` with
// the values files and returns the rendered manifests.
func Template(ctx context.Context, helm, namespace string, valuesFiles ...string) ([]byte, error) {
	args := []string{"template", "berth", ChartDir(), "--namespace", namespace, "--kube-version", KubeVersion}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	return run(ctx, helm, args...)
}

func run(ctx context.Context, helm string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, helm, args...)
	// No user configuration or repositories: the chart has no dependencies.
	cmd.Env = append(cmd.Environ(), "HELM_CONFIG_HOME=/nonexistent", "HELM_CACHE_HOME=/nonexistent", "HELM_DATA_HOME=/nonexistent")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()+"\n"+stdout.String()))
	}
	return stdout.Bytes(), nil
}

// Decode splits rendered manifests into objects, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}
