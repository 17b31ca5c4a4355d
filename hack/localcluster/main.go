// Command localcluster builds and runs berth's local Kubernetes control
// plane (see internal/localcluster) for the demo and for manual work.
//
//	go run ./hack/localcluster build            # build the binaries into the cache
//	go run ./hack/localcluster up -kubeconfig-out FILE [-no-loadbalancer]
//	                                            # run until interrupted
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"

	"github.com/berth-gateway/berth/internal/loadbalancer"
	"github.com/berth-gateway/berth/internal/localcluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: localcluster build | up [-kubeconfig-out FILE] [-dir DIR] [-nodes N]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "build":
		bins, err := localcluster.EnsureBinaries(ctx, localcluster.BuildOptions{})
		if err != nil {
			return err
		}
		fmt.Println(bins.Kubectl)
		return nil
	case "up":
		fs := flag.NewFlagSet("up", flag.ContinueOnError)
		out := fs.String("kubeconfig-out", "", "copy the admin kubeconfig here once the cluster is ready")
		dir := fs.String("dir", "", "work folder (default: a temporary folder, removed on exit)")
		nodes := fs.Int("nodes", 2, "number of simulated nodes")
		noLB := fs.Bool("no-loadbalancer", false, "leave LoadBalancer Services without addresses (no allocator)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		bins, err := localcluster.EnsureBinaries(ctx, localcluster.BuildOptions{})
		if err != nil {
			return err
		}
		crds, err := localcluster.CRDDirs(ctx)
		if err != nil {
			return err
		}
		c, err := localcluster.Start(ctx, localcluster.Options{
			Binaries: bins, Dir: *dir, Nodes: *nodes, CRDDirs: crds,
			Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
		})
		if err != nil {
			return err
		}
		if *out != "" {
			data, err := os.ReadFile(c.Kubeconfig())
			if err == nil {
				err = os.WriteFile(*out, data, 0o600)
			}
			if err != nil {
				return errorsJoin(err, c.Stop())
			}
		}
		lbDone := make(chan struct{})
		if *noLB {
			close(lbDone)
		} else {
			cs, err := kubernetes.NewForConfig(c.AdminConfig())
			if err != nil {
				return errorsJoin(err, c.Stop())
			}
			go func() {
				defer close(lbDone)
				if err := loadbalancer.Run(ctx, cs, loadbalancer.DefaultOptions()); err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "localcluster: LoadBalancer allocator:", err)
				}
			}()
			fmt.Fprintf(os.Stderr, "localcluster: LoadBalancer Services get addresses from %s\n", loadbalancer.DefaultPool)
		}
		fmt.Fprintf(os.Stderr, "localcluster: up; kubeconfig %s (interrupt to stop)\n", c.Kubeconfig())
		<-ctx.Done()
		<-lbDone
		fmt.Fprintln(os.Stderr, "localcluster: stopping")
		return c.Stop()
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func errorsJoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w (and stopping the cluster: %v)", a, b)
}
