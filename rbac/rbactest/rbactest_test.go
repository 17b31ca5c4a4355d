package rbactest

import (
	"context"
	"os"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berth-gateway/berth/internal/testenv"
	"github.com/berth-gateway/berth/rbac"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type access struct {
	verb, group, resource, namespace, name string
	allowed                                bool
}

// check asks the API server, as the installed ServiceAccount, whether it
// may do each thing.
func check(t *testing.T, cfg *rest.Config, cases []access) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: c.verb, Group: c.group, Resource: c.resource, Namespace: c.namespace, Name: c.name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != c.allowed {
			t.Errorf("%s %s.%s in %q name %q: allowed=%v, want %v (%s)", c.verb, c.resource, c.group, c.namespace, c.name, r.Status.Allowed, c.allowed, r.Status.Reason)
		}
	}
}

func TestClusterWide(t *testing.T) {
	env := testenv.Get(t)
	own, tenant := env.Namespace(t), env.Namespace(t)
	o := rbac.DefaultOptions()
	o.Name, o.Namespace = "", own
	cfg := Install(t, env, o)
	check(t, cfg, []access{
		{"list", "gateway.networking.k8s.io", "gateways", "", "", true},
		{"update", "gateway.networking.k8s.io", "gateways/status", tenant, "gw", true},
		{"create", "authentication.k8s.io", "tokenreviews", "", "", true},
		{"patch", "apps", "deployments", tenant, "envoy-x", true},
		{"delete", "policy", "poddisruptionbudgets", tenant, "envoy-x", true},
		{"update", "coordination.k8s.io", "leases", own, "berth-controller", true},
		{"update", "", "secrets", own, "berth-xds-tls", true},
		// Nothing beyond the declared list.
		{"update", "", "secrets", own, "sh.helm.release.v1.berth.v1", false},
		{"update", "", "secrets", tenant, "tls", false},
		{"update", "coordination.k8s.io", "leases", own, "other", false},
		{"create", "coordination.k8s.io", "leases", tenant, "", false},
		{"deletecollection", "", "configmaps", tenant, "", false},
		{"delete", "", "namespaces", "", tenant, false},
		{"create", "", "pods", tenant, "", false},
		{"update", "gateway.networking.k8s.io", "httproutes", tenant, "r", false},
		{"create", "rbac.authorization.k8s.io", "roles", tenant, "", false},
		// Unused, so not granted (e2e/leastprivilege_test.go): the apply
		// engine creates with server-side apply, status is updated, reads
		// come from informers.
		{"update", "apps", "deployments", tenant, "envoy-x", false},
		{"patch", "gateway.networking.k8s.io", "gateways/status", tenant, "gw", false},
		{"get", "gateway.networking.k8s.io", "gateways", tenant, "gw", false},
		{"get", "gateway.networking.k8s.io", "grpcroutes", tenant, "r", false},
		// GRPCRoutes as HTTPRoutes: read through informers, status updated.
		{"list", "gateway.networking.k8s.io", "grpcroutes", "", "", true},
		{"watch", "gateway.networking.k8s.io", "grpcroutes", "", "", true},
		{"update", "gateway.networking.k8s.io", "grpcroutes/status", tenant, "r", true},
		{"update", "gateway.networking.k8s.io", "grpcroutes", tenant, "r", false},
		// TCPRoutes, TLSRoutes and UDPRoutes likewise (where installed).
		{"list", "gateway.networking.k8s.io", "tlsroutes", "", "", true},
		{"watch", "gateway.networking.k8s.io", "tcproutes", "", "", true},
		{"update", "gateway.networking.k8s.io", "udproutes/status", tenant, "r", true},
		{"update", "gateway.networking.k8s.io", "tlsroutes", tenant, "r", false},
		{"get", "gateway.networking.k8s.io", "tcproutes", tenant, "r", false},
		// ClientTrafficPolicies: read through informers, status updated.
		{"list", "gateway.envoyproxy.io", "clienttrafficpolicies", "", "", true},
		{"watch", "gateway.envoyproxy.io", "clienttrafficpolicies", "", "", true},
		{"update", "gateway.envoyproxy.io", "clienttrafficpolicies/status", tenant, "p", true},
		{"update", "gateway.envoyproxy.io", "clienttrafficpolicies", tenant, "p", false},
		{"get", "gateway.envoyproxy.io", "clienttrafficpolicies", tenant, "p", false},
		// BackendTLSPolicies: read, status updated, never written.
		{"list", "gateway.networking.k8s.io", "backendtlspolicies", "", "", true},
		{"update", "gateway.networking.k8s.io", "backendtlspolicies/status", tenant, "p", true},
		{"update", "gateway.networking.k8s.io", "backendtlspolicies", tenant, "p", false},
		// ListenerSets: read through informers, status updated, never
		// written.
		{"list", "gateway.networking.k8s.io", "listenersets", "", "", true},
		{"watch", "gateway.networking.k8s.io", "listenersets", "", "", true},
		{"update", "gateway.networking.k8s.io", "listenersets/status", tenant, "ls", true},
		{"update", "gateway.networking.k8s.io", "listenersets", tenant, "ls", false},
		{"get", "gateway.networking.k8s.io", "listenersets", tenant, "ls", false},
		{"patch", "gateway.networking.k8s.io", "listenersets/status", tenant, "ls", false},
		// Gateway API kinds berth does not serve.
		{"list", "gateway.networking.x-k8s.io", "xbackendtrafficpolicies", "", "", false},
	})
}

func TestNamespaced(t *testing.T) {
	env := testenv.Get(t)
	own, watched, other := env.Namespace(t), env.Namespace(t), env.Namespace(t)
	o := rbac.DefaultOptions()
	o.Name, o.Namespace, o.WatchNamespaces = "", own, []string{watched}
	cfg := Install(t, env, o)
	check(t, cfg, []access{
		{"list", "gateway.networking.k8s.io", "gatewayclasses", "", "", true},
		{"list", "gateway.networking.k8s.io", "gateways", watched, "", true},
		{"watch", "gateway.networking.k8s.io", "listenersets", watched, "", true},
		{"update", "gateway.networking.k8s.io", "listenersets/status", watched, "ls", true},
		{"patch", "apps", "deployments", watched, "envoy-x", true},
		{"watch", "", "secrets", watched, "", true},
		{"create", "authentication.k8s.io", "tokenreviews", "", "", true},
		{"get", "", "secrets", own, "berth-xds-tls", true},
		// Outside the watched namespaces nothing but what the ClusterRole keeps.
		{"list", "gateway.networking.k8s.io", "gateways", "", "", false},
		{"list", "gateway.networking.k8s.io", "gateways", other, "", false},
		{"list", "gateway.networking.k8s.io", "listenersets", other, "", false},
		{"patch", "apps", "deployments", other, "envoy-x", false},
		{"get", "", "secrets", other, "tls", false},
		{"get", "", "secrets", own, "other", false},
	})
}
