// Package rbactest installs berth's RBAC (package rbac) in a test cluster
// and returns a client configuration that acts as the controller's
// ServiceAccount with exactly those rights: the harness of the least
// privilege end-to-end tests, where the controller runs as the chart's
// identity.
package rbactest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/rbac"
)

// Install creates o.Namespace (when missing), the ServiceAccount and every
// object rbac.Build(o) returns, removes the cluster-scoped ones when the
// test ends, and returns a configuration authenticating as the
// ServiceAccount. An empty o.Name becomes "berth-"+o.Namespace so that tests
// sharing a cluster do not share ClusterRoles.
func Install(t testing.TB, env *testenv.Env, o rbac.Options) *rest.Config {
	t.Helper()
	if o.Name == "" {
		o.Name = "berth-" + o.Namespace
	}
	set, err := rbac.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := env.Client
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", o.Namespace, err)
	}
	for _, r := range set.ClusterRoles {
		create(t, "ClusterRole", r.Name, func() error {
			_, err := cs.RbacV1().ClusterRoles().Create(ctx, r, metav1.CreateOptions{})
			return err
		})
		t.Cleanup(func() { _ = cs.RbacV1().ClusterRoles().Delete(context.Background(), r.Name, metav1.DeleteOptions{}) })
	}
	for _, b := range set.ClusterRoleBindings {
		create(t, "ClusterRoleBinding", b.Name, func() error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{})
			return err
		})
		t.Cleanup(func() {
			_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), b.Name, metav1.DeleteOptions{})
		})
	}
	for i, r := range set.Roles {
		b := set.RoleBindings[i]
		// Namespaced objects go with their namespace; the watched namespaces
		// are the test's to create (and delete).
		create(t, "Role", r.Namespace+"/"+r.Name, func() error {
			_, err := cs.RbacV1().Roles(r.Namespace).Create(ctx, r, metav1.CreateOptions{})
			return err
		})
		create(t, "RoleBinding", b.Namespace+"/"+b.Name, func() error {
			_, err := cs.RbacV1().RoleBindings(b.Namespace).Create(ctx, b, metav1.CreateOptions{})
			return err
		})
	}
	return env.ServiceAccountConfig(t, o.Namespace, o.ServiceAccount)
}

func create(t testing.TB, kind, name string, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatalf("create %s %s: %v", kind, name, err)
	}
}
