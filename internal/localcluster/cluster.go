package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// serviceCIDR is the cluster's Service IP range; serviceClusterIP is the
	// first address in it, taken by the default/kubernetes Service.
	serviceCIDR      = "10.96.0.0/16"
	serviceClusterIP = "10.96.0.1"
	// podCIDR is where kwok allocates pod IPs. Nothing ever sends traffic to
	// these simulated addresses.
	podCIDR = "10.244.0.0/16"
	// Issuer and default audience of service-account tokens.
	saIssuer = "https://kubernetes.default.svc.cluster.local"
	// KwokNodeAnnotation marks the nodes kwok simulates.
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
)

// Options configure Start. The zero value of every field but Binaries is a
// sensible default.
type Options struct {
	// Binaries are the programs to run (see EnsureBinaries).
	Binaries Binaries
	// Dir is the work folder for data, certificates, logs and the
	// kubeconfig. Empty: a new temporary folder, removed by Stop.
	Dir string
	// Nodes is the number of simulated nodes. 0 means 2.
	Nodes int
	// CRDDirs are folders whose *.yaml CustomResourceDefinitions are
	// installed (and waited for) before Start returns.
	CRDDirs []string
	// StartTimeout bounds the whole start-up. 0 means 2 minutes.
	StartTimeout time.Duration
	// Log receives progress lines. Nil: discarded.
	Log func(format string, args ...any)
}

// Cluster is a running local control plane.
type Cluster struct {
	dir        string
	removeDir  bool
	kubeconfig string
	admin      *rest.Config
	pki        *pki
	procs      []*process
	host       string
}

// NoClusterEnv set to 1 makes Start refuse: make unit sets it, so a test
// that needs a cluster fails there instead of quietly starting one.
const NoClusterEnv = "BERTH_NO_CLUSTER"

// Start brings up etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on free loopback ports, creates the simulated
// nodes and installs the CRDs. On error everything started is stopped.
// It fails when $BERTH_NO_CLUSTER is 1.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if os.Getenv(NoClusterEnv) == "1" {
		return nil, fmt.Errorf("%s=1: refusing to start a cluster (make unit runs only tests that need none)", NoClusterEnv)
	}
	if opts.Nodes == 0 {
		opts.Nodes = 2
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	c = &Cluster{dir: opts.Dir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "berth-cluster-"); err != nil {
			return nil, err
		}
		c.removeDir = true
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
			c = nil
		}
	}()
	if c.pki, err = newPKI(c.dir); err != nil {
		return c, fmt.Errorf("generate certificates: %w", err)
	}
	ports, err := freePorts(6)
	if err != nil {
		return c, err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]

	b := opts.Binaries
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	opts.Log("localcluster: starting etcd on %s", etcdURL)
	if err := c.start("etcd", b.Etcd,
		"--name=default",
		"--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		"--unsafe-no-fsync=true", // a throw-away cluster: durability buys nothing here
		"--quota-backend-bytes=4294967296",
		"--log-level=warn",
	); err != nil {
		return c, err
	}
	if err := c.waitHTTP(ctx, "etcd", etcdURL+"/health", nil); err != nil {
		return c, err
	}

	c.host = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	auditPolicy, err := c.writeAuditPolicy()
	if err != nil {
		return c, err
	}
	opts.Log("localcluster: starting kube-apiserver on %s", c.host)
	if err := c.start("kube-apiserver", b.APIServer,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+c.pki.serverCert, "--tls-private-key-file="+c.pki.serverKey,
		"--client-ca-file="+c.pki.caCert,
		"--authorization-mode=RBAC",
		// A loopback advertise address is refused by the endpoint reconciler of the
		// kubernetes Service; no in-cluster client needs it here.
		"--endpoint-reconciler-type=none",
		"--service-account-issuer="+saIssuer,
		"--service-account-key-file="+c.pki.saPub,
		"--service-account-signing-key-file="+c.pki.saKey,
		"--api-audiences="+saIssuer,
		"--service-cluster-ip-range="+serviceCIDR,
		"--allow-privileged=true",
		// New nodes would carry the not-ready taint that only a kubelet's
		// status (through the node-lifecycle controller) removes.
		"--disable-admission-plugins=TaintNodesByCondition",
		// Every ServiceAccount request is audited (AuditLog), so tests can
		// compare what a component used with the rights it was granted.
		"--audit-policy-file="+auditPolicy,
		"--audit-log-path="+c.AuditLog(),
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		// /debug/pprof for admin clients only (the scale benchmark profiles
		// the apiserver's CPU per request type); nothing runs unless asked.
		"--profiling=true",
		"--v=0",
	); err != nil {
		return c, err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := c.writeKubeconfig(); err != nil {
		return c, err
	}
	if c.admin, err = clientcmd.BuildConfigFromFlags("", c.kubeconfig); err != nil {
		return c, err
	}
	c.admin.QPS, c.admin.Burst = 200, 400
	if err := c.waitHTTP(ctx, "kube-apiserver", c.host+"/readyz", c.admin); err != nil {
		return c, err
	}

	opts.Log("localcluster: starting kube-controller-manager, kube-scheduler and kwok")
	if err := c.start("kube-controller-manager", b.ControllerManager,
		"--kubeconfig="+c.kubeconfig,
		"--authentication-kubeconfig="+c.kubeconfig,
		"--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false",
		"--service-account-private-key-file="+c.pki.saKey,
		"--root-ca-file="+c.pki.caCert,
		"--use-service-account-credentials=false",
		// kwok's fast node stage renews no node Lease: the node-lifecycle
		// controller may mark a silent node NotReady (and its pods with it)
		// once its grace period passes, as seen in a long e2e run on a
		// loaded machine. Nothing here needs node health or taint-based
		// eviction, so it does not run.
		"--controllers=*,-node-lifecycle-controller",
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--v=0",
	); err != nil {
		return c, err
	}
	if err := c.start("kube-scheduler", b.Scheduler,
		"--kubeconfig="+c.kubeconfig,
		"--authentication-kubeconfig="+c.kubeconfig,
		"--authorization-kubeconfig="+c.kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort),
		"--leader-elect=false",
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--v=0",
	); err != nil {
		return c, err
	}
	kwokArgs := []string{
		"--kubeconfig=" + c.kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
		"--cidr=" + podCIDR,
		"--node-ip=127.0.0.1",
		"--server-address=127.0.0.1:" + strconv.Itoa(kwokPort),
	}
	for _, s := range b.KwokStages {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	if err := c.start("kwok", b.Kwok, kwokArgs...); err != nil {
		return c, err
	}

	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return c, err
	}
	for i := 0; i < opts.Nodes; i++ {
		if err := CreateNode(ctx, cs, fmt.Sprintf("kwok-node-%d", i)); err != nil {
			return c, err
		}
	}
	if err := c.waitReady(ctx, cs, opts.Nodes); err != nil {
		return c, err
	}
	if len(opts.CRDDirs) > 0 {
		opts.Log("localcluster: installing CRDs from %s", strings.Join(opts.CRDDirs, ", "))
		if err := InstallCRDs(ctx, c.admin, opts.CRDDirs...); err != nil {
			return c, err
		}
	}
	opts.Log("localcluster: ready (%s, kubeconfig %s)", c.host, c.kubeconfig)
	return c, nil
}

// Kubeconfig is the path of the admin kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// Dir is the cluster's work folder (logs are <component>.log there).
func (c *Cluster) Dir() string { return c.dir }

// AdminConfig returns a copy of the admin (system:masters) client config.
func (c *Cluster) AdminConfig() *rest.Config { return rest.CopyConfig(c.admin) }

// PIDs are the process IDs of every component started.
func (c *Cluster) PIDs() map[string]int {
	out := map[string]int{}
	for _, p := range c.procs {
		out[p.name] = p.cmd.Process.Pid
	}
	return out
}

// Stop stops the components in reverse order (the apiserver before etcd:
// without etcd it retries instead of exiting), then checks that none of the
// started processes is still alive and removes a temporary work folder.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range c.procs {
		if p.alive() {
			errs = append(errs, fmt.Errorf("%s (pid %d) is still running after stop", p.name, p.cmd.Process.Pid))
		}
	}
	if len(errs) == 0 && c.removeDir {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) start(name, bin string, args ...string) error {
	if bin == "" {
		return fmt.Errorf("no binary for %s (run EnsureBinaries)", name)
	}
	p, err := startProcess(c.dir, name, bin, args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	return nil
}

// crashed returns an error naming the first component that exited.
func (c *Cluster) crashed() error {
	for _, p := range c.procs {
		if p.exited() {
			return fmt.Errorf("%s exited early (%v); last log lines:\n%s", p.name, p.err, p.tail(2000))
		}
	}
	return nil
}

func (c *Cluster) waitHTTP(ctx context.Context, name, url string, cfg *rest.Config) error {
	client := &http.Client{Timeout: 2 * time.Second}
	if cfg != nil {
		rt, err := rest.TransportFor(cfg)
		if err != nil {
			return err
		}
		client.Transport = rt
	}
	var last string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := c.crashed(); err != nil {
			return false, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("wait for %s to be healthy (last: %s): %w", name, last, err)
	}
	return nil
}

// waitReady waits until the simulated nodes are Ready and the default
// ServiceAccount exists (pods are refused before it does).
func (c *Cluster) waitReady(ctx context.Context, cs kubernetes.Interface, nodes int) error {
	var last string
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := c.crashed(); err != nil {
			return false, err
		}
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready := 0
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready < nodes {
			last = fmt.Sprintf("%d/%d nodes ready", ready, nodes)
			return false, nil
		}
		if _, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			last = "default ServiceAccount: " + err.Error()
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the cluster to be ready (last: %s): %w", last, err)
	}
	return nil
}

// NodePods is the number of pods a simulated node takes.
const NodePods = 250

// CreateNode adds a simulated node (kwok runs its pods) to the cluster cs
// talks to; a node of that name that exists already is left as it is.
func CreateNode(ctx context.Context, cs kubernetes.Interface, name string) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(NodePods, resource.DecimalSI),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{KwokNodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: c.host, CertificateAuthorityData: c.pki.caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.pki.adminCertPEM, ClientKeyData: c.pki.adminKeyPEM}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "admin"}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, c.kubeconfig)
}

// freePorts reserves n distinct free loopback ports. They are released
// before use, so another process could race for one; start-up then fails
// with a clear error from the component that could not bind.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
