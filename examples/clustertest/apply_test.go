package clustertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-gateway/berth/examples"
	"github.com/berth-gateway/berth/internal/localcluster"
	"github.com/berth-gateway/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// Every manifest and the bundles rendered from it apply server-side on a
// real API server (CRD schemas, CEL rules and admission included).
func TestApply(t *testing.T) {
	env := testenv.Get(t)
	files, err := examples.Manifests("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			_, bundles, err := examples.Render(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := localcluster.ReadManifests(f)
			if err != nil {
				t.Fatal(err)
			}
			// The seed files expect their namespaces to exist already.
			namespaces := map[string]bool{}
			for _, o := range objs {
				if o.GetNamespace() != "" {
					namespaces[o.GetNamespace()] = true
				}
			}
			for ns := range namespaces {
				_, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
			}
			if err := localcluster.Apply(ctx, env.Config, objs); err != nil {
				t.Fatalf("apply %s: %v", f, err)
			}
			for _, b := range bundles {
				bobjs, err := b.Unstructured()
				if err != nil {
					t.Fatal(err)
				}
				if err := localcluster.Apply(ctx, env.Config, bobjs); err != nil {
					t.Errorf("apply the bundle of Gateway %s: %v", b.Gateway, err)
				}
			}
		})
	}
}
