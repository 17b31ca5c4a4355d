// Package testenv gives integration tests a real Kubernetes control plane:
// one local cluster per test binary (see internal/localcluster), or an
// already-running cluster named by $BERTH_TEST_KUBECONFIG, with a fresh
// namespace per test and identities with only their RBAC rights.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := testenv.Get(t)
//		ns := env.Namespace(t)
//		...
//	}
//
// Main stops the cluster after the tests and fails the run if any of its
// processes survived; a test binary killed by its timeout takes the
// cluster down with it (the processes carry a parent-death signal).
//
// The convention: a package's cluster tests live in a package of their own
// that holds nothing else (named clustertest when it sits beside the package
// it tests, like render/clustertest; e2e, conformance and xds/integration
// are whole cluster-test packages), and only such a package's TestMain calls
// Main. Pure tests stay beside their code and never start a cluster: with
// $BERTH_NO_CLUSTER=1 (what make unit sets, leaving out the packages whose
// TestMain calls Main) Main refuses to start or join one.
package testenv

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-gateway/berth/internal/loadbalancer"
	"github.com/berth-gateway/berth/internal/localcluster"
)

// KubeconfigEnv names an already-running cluster to join instead of
// starting one. Its namespaces are still created and deleted per test.
const KubeconfigEnv = "BERTH_TEST_KUBECONFIG"

// NoClusterEnv set to 1 makes Main fail instead of starting or joining a
// cluster (localcluster.Start refuses too): make unit sets it to prove its
// tests need none.
const NoClusterEnv = localcluster.NoClusterEnv

// Env is the cluster the tests of one binary share.
type Env struct {
	// Kubeconfig is the path of the admin kubeconfig.
	Kubeconfig string
	// Config is the admin (system:masters) client configuration. Copy it
	// (rest.CopyConfig) before changing it.
	Config *rest.Config
	// Client and Dynamic are admin clients.
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources through the cluster's discovery
	// (cached; it re-reads discovery for a kind it does not know).
	Mapper meta.RESTMapper
	// Cluster is the cluster this binary started; nil when joined.
	Cluster *localcluster.Cluster
}

var (
	mu      sync.Mutex
	current *Env
	setUp   error
)

// Options shape the cluster a test binary starts.
type Options struct {
	// NoLoadBalancer leaves LoadBalancer Services without addresses. By
	// default a cluster this binary starts runs internal/loadbalancer, which
	// gives every LoadBalancer Service without a loadBalancerClass an
	// address from loadbalancer.DefaultPool (Services with a class are the
	// per-test way to get none). A joined cluster is left as it is.
	NoLoadBalancer bool
}

// Main starts (or joins) the cluster, runs the tests, stops the cluster
// and returns the exit code for os.Exit.
func Main(m *testing.M) int { return MainWith(m, Options{}) }

// MainWith is Main with options.
func MainWith(m *testing.M, opts Options) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv: cannot start the local cluster:", err)
		return 1
	}
	lbDone := make(chan struct{})
	if env.Cluster != nil && !opts.NoLoadBalancer {
		go func() {
			defer close(lbDone)
			if err := loadbalancer.Run(ctx, env.Client, loadbalancer.DefaultOptions()); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "testenv: LoadBalancer allocator:", err)
			}
		}()
	} else {
		close(lbDone)
	}
	mu.Lock()
	current = env
	mu.Unlock()
	code := m.Run()
	cancel()
	<-lbDone
	if env.Cluster != nil {
		if err := env.Cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stopping the local cluster:", err)
			return 1
		}
	}
	return code
}

func start(ctx context.Context) (*Env, error) {
	if os.Getenv(NoClusterEnv) == "1" {
		return nil, fmt.Errorf("%s=1 (make unit) but this test binary's TestMain calls testenv.Main: cluster tests belong in a package of their own (see package testenv), which make unit leaves out", NoClusterEnv)
	}
	if path := os.Getenv(KubeconfigEnv); path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("load %s=%s: %w", KubeconfigEnv, path, err)
		}
		return newEnv(path, cfg, nil)
	}
	bins, err := localcluster.EnsureBinaries(ctx, localcluster.BuildOptions{})
	if err != nil {
		return nil, err
	}
	crds, err := localcluster.CRDDirs(ctx)
	if err != nil {
		return nil, err
	}
	c, err := localcluster.Start(ctx, localcluster.Options{Binaries: bins, CRDDirs: crds})
	if err != nil {
		return nil, err
	}
	env, err := newEnv(c.Kubeconfig(), c.AdminConfig(), c)
	if err != nil {
		return nil, errorsJoin(err, c.Stop())
	}
	return env, nil
}

func newEnv(path string, cfg *rest.Config, c *localcluster.Cluster) (*Env, error) {
	cfg.QPS, cfg.Burst = 200, 400
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	return &Env{Kubeconfig: path, Config: cfg, Client: cs, Dynamic: dyn, Mapper: mapper, Cluster: c}, nil
}

// Get returns the shared environment; it fails the test when the package
// has no TestMain calling Main.
func Get(t testing.TB) *Env {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if current == nil {
		t.Fatal("testenv: no cluster; the package needs func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }")
	}
	return current
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for this test, named after it, and deletes
// it when the test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	prefix := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	prefix = strings.Trim(prefix, "-") + "-"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix, Labels: map[string]string{"berth.dev/test": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// ServiceAccountConfig returns a client configuration that authenticates as
// the ServiceAccount ns/name (created when missing) with a bound token, so
// requests carry exactly that ServiceAccount's RBAC rights.
func (e *Env) ServiceAccountConfig(t testing.TB, ns, name string) *rest.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token, err := e.Token(ctx, ns, name, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(e.Config)
	cfg.BearerToken = token
	return cfg
}

// Token requests a token for the ServiceAccount ns/name (created when
// missing) with the given audiences (nil: the API server's) and lifetime.
func (e *Env) Token(ctx context.Context, ns, name string, audiences []string, ttl time.Duration) (string, error) {
	_, err := e.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create ServiceAccount %s/%s: %w", ns, name, err)
	}
	secs := int64(ttl / time.Second)
	tr, err := e.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request a token for ServiceAccount %s/%s: %w", ns, name, err)
	}
	return tr.Status.Token, nil
}

func errorsJoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w (and stopping the cluster: %v)", a, b)
}
