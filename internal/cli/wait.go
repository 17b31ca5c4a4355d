package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-gateway/berth/internal/readiness"
)

func newWaitCmd() *cobra.Command {
	var (
		namespace     string
		all           bool
		allNamespaces bool
		timeout       time.Duration
		kubeconfig    string
		kubeContext   string
	)
	cmd := &cobra.Command{
		Use:   "wait gateway/NAME [-n NS] [--timeout D] | wait [gateways] --all [-n NS | -A]",
		Short: "Wait until Gateways are Programmed, printing their bundle's progress",
		Long: `Wait watches a Gateway and every object of its bundle (the objects its
inventory ConfigMap lists, or, before the first apply has finished, the
objects carrying its labels) and prints each object's kstatus and each
Gateway condition as they change, with the time since the start.

Exit status:
  0  the Gateway is Programmed=True for its current generation, exactly
     when "kubectl wait --for=condition=Programmed" succeeds;
  1  it failed: not found or deleted; Accepted=False for its current
     generation with any reason but Pending; Programmed=False with reason
     Invalid; or a bundle object kstatus Failed (a Deployment past its
     progress deadline). Conditions of an older generation never fail a
     wait. Also 1 when the wait cannot run (no cluster, no permission);
  2  the timeout passed first; what is still not ready is printed.

Anything else (Pending, AddressNotAssigned, NoResources, objects in
progress) keeps waiting. With --all, every Gateway present at the start is
waited for; the first failure ends the wait.`,
		Args: cobra.MaximumNArgs(1),
		// A failed or timed-out wait is an answer, not a usage mistake; main
		// prints the error once.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := parseWaitTarget(args, all || allNamespaces)
			if err != nil {
				return err
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout must not be negative, got %s", timeout)
			}
			loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
				&clientcmd.ConfigOverrides{CurrentContext: kubeContext})
			cfg, err := loader.ClientConfig()
			if err != nil {
				return fmt.Errorf("kubeconfig: %w", err)
			}
			if namespace == "" && !allNamespaces {
				if namespace, _, err = loader.Namespace(); err != nil {
					return fmt.Errorf("kubeconfig namespace: %w", err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out, err := readiness.Run(ctx, cfg, readiness.Options{
				Namespace:     namespace,
				Name:          name,
				AllNamespaces: allNamespaces,
				Timeout:       timeout,
				Out:           cmd.OutOrStdout(),
			})
			if err != nil {
				return err
			}
			return waitExit(out)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of the Gateway (default: the kubeconfig context's)")
	f.BoolVar(&all, "all", false, "wait for every Gateway in the namespace")
	f.BoolVarP(&allNamespaces, "all-namespaces", "A", false, "wait for every Gateway in every namespace (implies --all)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait (0: look once); kubectl wait's default")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&kubeContext, "context", "", "kubeconfig context (default: the current one)")
	return cmd
}

// parseWaitTarget accepts gateway/NAME (also gateways/, gtw/ and the
// fully qualified resource), or, with --all, nothing or the bare resource.
// It returns the Gateway's name, empty for --all.
func parseWaitTarget(args []string, all bool) (string, error) {
	isGateway := func(r string) bool {
		switch strings.ToLower(r) {
		case "gateway", "gateways", "gtw", "gateway.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io":
			return true
		}
		return false
	}
	if all {
		if len(args) == 1 && !isGateway(args[0]) {
			return "", fmt.Errorf("with --all, give no argument or \"gateways\", not %q", args[0])
		}
		return "", nil
	}
	if len(args) == 0 {
		return "", errors.New("give gateway/NAME, or --all")
	}
	res, name, ok := strings.Cut(args[0], "/")
	if !ok || !isGateway(res) || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("want gateway/NAME, got %q", args[0])
	}
	return name, nil
}

// waitExit maps a wait's outcome to the exit status: 0 ready, 1 failed,
// 2 timed out.
func waitExit(out *readiness.Outcome) error {
	switch out.Phase {
	case readiness.Ready:
		return nil
	case readiness.Failed:
		return &exitError{code: 1, err: errors.New(out.Summary())}
	}
	return &exitError{code: 2, err: errors.New(out.Summary())}
}
