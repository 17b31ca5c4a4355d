// Command demo is `make demo`: berth's main job on a local cluster, step by
// step, with the commands a user would type shown as they run.
//
//  1. start the local control plane (etcd, kube-apiserver, controller-manager,
//     scheduler, kwok nodes) and a LoadBalancer address allocator;
//  2. run `berth controller` against it (a real process, the built binary);
//  3. apply examples/gateway-namespace-mode.yaml (the user's scenario,
//     unchanged) and `berth wait` for both Gateways, with per-object progress;
//  4. show the pods, the Services and the Gateway conditions;
//  5. apply examples/clusterip-envoyproxy.yaml and show the `my-gateway`
//     ClusterIP Services;
//  6. delete gateway-a and show that nothing of it is left; clean up.
//
// -keep leaves the cluster and the controller running until interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-gateway/berth/internal/loadbalancer"
	"github.com/berth-gateway/berth/internal/localcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type demo struct {
	berth, kubectl, kubeconfig, root string
	out                              io.Writer
}

func run() error {
	berth := flag.String("berth", "bin/berth", "the berth binary to run")
	keep := flag.Bool("keep", false, "keep the cluster and controller running until interrupted")
	noLB := flag.Bool("no-loadbalancer", false, "run without the LoadBalancer address allocator (Gateways with LoadBalancer Services then stay Programmed=False, AddressNotAssigned)")
	timeout := flag.Duration("wait-timeout", 3*time.Minute, "how long each `berth wait` may take")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := localcluster.RepoRoot()
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(*berth)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("berth binary: %w (run `make build` first)", err)
	}

	step("Local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (built from the Go module proxy, cached)")
	bins, err := localcluster.EnsureBinaries(ctx, localcluster.BuildOptions{Log: os.Stdout})
	if err != nil {
		return err
	}
	crds, err := localcluster.CRDDirs(ctx)
	if err != nil {
		return err
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{Binaries: bins, CRDDirs: crds, Log: logf})
	if err != nil {
		return err
	}
	defer func() {
		step("Cleaning up: stopping the cluster")
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stop cluster:", err)
		}
	}()
	cs, err := kubernetes.NewForConfig(cluster.AdminConfig())
	if err != nil {
		return err
	}
	if !*noLB {
		lbCtx, cancelLB := context.WithCancel(ctx)
		defer cancelLB()
		go func() {
			if err := loadbalancer.Run(lbCtx, cs, loadbalancer.DefaultOptions()); err != nil && lbCtx.Err() == nil {
				fmt.Fprintln(os.Stderr, "demo: LoadBalancer allocator:", err)
			}
		}()
		logf("LoadBalancer Services get addresses from %s (a local stand-in for a cloud load balancer)", loadbalancer.DefaultPool)
	}

	d := &demo{berth: bin, kubectl: bins.Kubectl, kubeconfig: cluster.Kubeconfig(), root: root, out: os.Stdout}
	if err := d.kube("get", "nodes", "-o", "wide"); err != nil {
		return err
	}

	step("berth controller (the reconciler and the xDS server), as a process")
	for _, ns := range []string{"berth-system", "team-a", "team-b"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	logPath := filepath.Join(cluster.Dir(), "berth-controller.log")
	controller, err := d.startController(logPath)
	if err != nil {
		return err
	}
	defer func() {
		_ = controller.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = controller.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = controller.Process.Kill()
			<-done
		}
	}()
	logf("logs: %s", logPath)

	step("The user's scenario, unchanged: examples/gateway-namespace-mode.yaml")
	if err := d.kube("apply", "--server-side", "-f", filepath.Join(root, "examples", "gateway-namespace-mode.yaml")); err != nil {
		return err
	}
	step("Waiting until both Gateways are Programmed (traffic would flow), with per-object progress")
	for _, gw := range [][2]string{{"team-a", "gateway-a"}, {"team-b", "gateway-b"}} {
		if err := d.berthCmd("wait", "gateway/"+gw[1], "-n", gw[0], "--timeout", timeout.String()); err != nil {
			return fmt.Errorf("berth wait %s/%s: %w", gw[0], gw[1], err)
		}
	}
	step("Each Gateway's Envoy runs in the Gateway's own namespace, next to the backend (2/2: envoy + shutdown-manager)")
	for _, args := range [][]string{
		{"get", "pods", "-n", "team-a", "-o", "wide"},
		{"get", "pods", "-n", "team-b", "-o", "wide"},
		{"get", "services", "-n", "team-a"},
		{"get", "services", "-n", "team-b"},
		{"get", "gateways", "-A"},
		{"get", "httproutes", "-A"},
		{"get", "gateway", "gateway-a", "-n", "team-a", "-o", `jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}`},
	} {
		if err := d.kube(args...); err != nil {
			return err
		}
	}

	step("The ClusterIP variant, unchanged: examples/clusterip-envoyproxy.yaml (EnvoyProxy on the GatewayClass)")
	if err := d.kube("apply", "--server-side", "-f", filepath.Join(root, "examples", "clusterip-envoyproxy.yaml")); err != nil {
		return err
	}
	// The class changed: wait until both Gateways report the new generation
	// of their bundle, then show the renamed ClusterIP Services (the old
	// LoadBalancer Services left the bundle and were pruned).
	for _, gw := range [][2]string{{"team-a", "gateway-a"}, {"team-b", "gateway-b"}} {
		if err := d.waitService(ctx, cs, gw[0], "my-gateway", *timeout); err != nil {
			return err
		}
		if err := d.berthCmd("wait", "gateway/"+gw[1], "-n", gw[0], "--timeout", timeout.String()); err != nil {
			return fmt.Errorf("berth wait %s/%s: %w", gw[0], gw[1], err)
		}
	}
	for _, args := range [][]string{
		{"get", "services", "-n", "team-a"},
		{"get", "services", "-n", "team-b"},
		{"get", "gateways", "-A"},
	} {
		if err := d.kube(args...); err != nil {
			return err
		}
	}

	step("Deleting gateway-a: everything it owned goes with it")
	if err := d.kube("delete", "gateway", "gateway-a", "-n", "team-a", "--wait", "--timeout", timeout.String()); err != nil {
		return err
	}
	selector := "gateway.envoyproxy.io/owning-gateway-name=gateway-a"
	if err := d.kube("get", "deployments,replicasets,pods,services,serviceaccounts,configmaps,hpa,pdb", "-n", "team-a", "-l", selector); err != nil {
		return err
	}
	if err := d.kube("get", "pods", "-n", "team-a"); err != nil {
		return err
	}

	if *keep {
		step("Still running (-keep). Try: KUBECONFIG=" + d.kubeconfig + " " + d.kubectl + " get gateways -A; interrupt to stop")
		<-ctx.Done()
	}
	return nil
}

func (d *demo) startController(logPath string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(d.berth, "controller",
		"--kubeconfig", d.kubeconfig,
		"--controller-namespace", "berth-system",
		"--metrics-bind-address", "127.0.0.1:0",
		"--health-probe-bind-address", "127.0.0.1:0",
		"--xds-address", "127.0.0.1:0",
	)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(d.out, "$ berth controller --kubeconfig %s --controller-namespace berth-system\n", d.kubeconfig)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait(); f.Close() }()
	return cmd, nil
}

// kube runs kubectl against the demo cluster, showing the command.
func (d *demo) kube(args ...string) error {
	fmt.Fprintf(d.out, "$ kubectl %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.kubectl, append([]string{"--kubeconfig", d.kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	return cmd.Run()
}

// berthCmd runs the berth binary against the demo cluster, showing the command.
func (d *demo) berthCmd(args ...string) error {
	fmt.Fprintf(d.out, "$ berth %s\n", strings.Join(args, " "))
	cmd := exec.Command(d.berth, append(args, "--kubeconfig", d.kubeconfig)...)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	return cmd.Run()
}

func (d *demo) waitService(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && svc.Spec.Type == corev1.ServiceTypeClusterIP {
			return nil
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("Service %s/%s did not appear", ns, name), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func logf(f string, a ...any) { fmt.Printf("    "+f+"\n", a...) }
