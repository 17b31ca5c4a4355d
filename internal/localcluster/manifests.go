package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// fieldManager owns what the local cluster itself installs.
const fieldManager = "berth-localcluster"

// GatewayAPICRDDir is the standard-channel CRD folder of the
// sigs.k8s.io/gateway-api module at the version berth's go.mod pins.
func GatewayAPICRDDir(ctx context.Context) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := goOutput(ctx, root, "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api")
	if err != nil {
		return "", fmt.Errorf("locate the gateway-api module: %w", err)
	}
	return filepath.Join(dir, "config", "crd", "standard"), nil
}

// InstallCRDs server-side applies every *.yaml in dirs (CRDs and whatever
// else is there, such as validating admission policies) and waits until
// every CRD is Established.
func InstallCRDs(ctx context.Context, cfg *rest.Config, dirs ...string) error {
	var files []string
	for _, d := range dirs {
		m, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	objs, err := ReadManifests(files...)
	if err != nil {
		return err
	}
	// CRDs first, so that nothing else in the folder waits on them.
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i].GetKind() == "CustomResourceDefinition" && objs[j].GetKind() != "CustomResourceDefinition"
	})
	if err := Apply(ctx, cfg, objs); err != nil {
		return err
	}
	return waitEstablished(ctx, cfg, objs)
}

// ReadManifests decodes multi-document YAML files into objects, skipping
// empty documents.
func ReadManifests(files ...string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for i := 0; ; i++ {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: document %d: %w", f, i, err)
			}
			if len(m) == 0 {
				continue
			}
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out, nil
}

// Apply server-side applies objs in order with the local cluster's field
// manager, forcing conflicts. A kind whose CRD was only just created is
// retried until the API server serves it.
func Apply(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		obj := obj
		name := fmt.Sprintf("%s %s", obj.GetKind(), objectKey(obj))
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				if meta.IsNoMatchError(err) {
					mapper.Reset()
					return false, nil
				}
				return false, err
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				ns := obj.GetNamespace()
				if ns == "" {
					ns = "default"
				}
				ri = dyn.Resource(m.Resource).Namespace(ns)
			}
			data, err := obj.MarshalJSON()
			if err != nil {
				return false, err
			}
			_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: ptrTrue()})
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("apply %s: %w", name, err)
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured) error {
	cs, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			crd, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, obj.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("wait for CRD %s to be established: %w", obj.GetName(), err)
		}
	}
	return nil
}

func objectKey(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return strings.Join([]string{obj.GetNamespace(), obj.GetName()}, "/")
}

func ptrTrue() *bool { t := true; return &t }

// CRDDirs are the CRD folders a test cluster gets: the Gateway API standard
// channel and berth's own CRDs (EnvoyProxy) as api/crd generates them (the
// chart carries a copy that its tests keep identical).
func CRDDirs(ctx context.Context) ([]string, error) {
	gw, err := GatewayAPICRDDir(ctx)
	if err != nil {
		return nil, err
	}
	dirs := []string{gw}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return append(dirs, filepath.Join(root, "api", "crd")), nil
}
