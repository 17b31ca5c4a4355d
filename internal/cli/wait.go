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
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-gateway/berth/internal/readiness"
)

func newWaitCmd() *cobra.Command {
	var (
		kube          kubeFlags
		all           bool
		allNamespaces bool
		timeout       time.Duration
		output        string
	)
	cmd := &cobra.Command{
		Use:   "wait gateway/NAME [-n NS] [--timeout D] | wait gateway NAME | wait [gateways] --all [-n NS | -A]",
		Short: "Wait until Gateways are Programmed for their current inputs, printing their bundle's progress",
		Long: `Wait watches a Gateway and every object of its bundle (the objects its
inventory ConfigMap lists, or, before the first apply has finished, the
objects carrying its labels) and prints each object's kstatus and each
Gateway condition as they change, with the time since the start, on stderr.
On success it prints each Gateway on stdout as kubectl wait does
("gateway.gateway.networking.k8s.io/NAME condition met"), or as -o says.

A verdict counts only when the Gateway's status was computed from the inputs
that are live when the wait reads them: berth records, beside Programmed, the
inputs that verdict was computed from (condition gateway.berth.dev/Inputs:
the GatewayClass, the EnvoyProxies, and the routes of every kind and the
BackendTLSPolicies and ClientTrafficPolicies of the Gateway), and wait reads
the Gateway once more after its verdict and requires, on that one read, the
same verdict and the recorded inputs equal to what it reads from the
cluster. So a wait started right after kubectl apply of any of them never
succeeds on the state before the change, even though the Gateway's
generation did not change. (kubectl wait --for=condition=Programmed cannot
know this: it compares observedGeneration with the Gateway's own generation
only.) Without the rights to read classes, EnvoyProxies, routes or policies,
wait says so and checks what it can.

Exit status:
  0  the Gateway is Programmed=True for its current generation and inputs;
  1  it failed: not found or deleted; Accepted=False for its current
     generation and inputs with any reason but Pending; Programmed=False
     with reason Invalid; or a bundle object kstatus Failed (a Deployment
     past its progress deadline). Conditions of older inputs never fail a
     wait;
  2  the timeout passed first; what is still not ready is printed;
  3  the wait could not run (bad arguments, no cluster, no permission).

Anything else (Pending, AddressNotAssigned, NoResources, objects in
progress) keeps waiting. With --all, every Gateway present at the start is
waited for; the first failure ends the wait.`,
		Args: cobra.MaximumNArgs(2),
		// A failed or timed-out wait is an answer, not a usage mistake; main
		// prints the error once.
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := parseGatewayTarget(args, all || allNamespaces)
			if err != nil {
				return usageError(err)
			}
			if timeout < 0 {
				return usageErrorf("--timeout must not be negative, got %s", timeout)
			}
			format, err := parseOutput(output, outputDefault, outputName, outputYAML, outputJSON)
			if err != nil {
				return err
			}
			cfg, namespace, err := kube.config(allNamespaces)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out, gws, err := waitCurrent(ctx, cfg, readiness.Options{
				Namespace:     namespace,
				Name:          name,
				AllNamespaces: allNamespaces,
				Timeout:       timeout,
				Out:           cmd.ErrOrStderr(),
			})
			if err != nil {
				return usageError(err)
			}
			if err := waitExit(out); err != nil {
				return err
			}
			if format == outputDefault {
				for _, gw := range gws {
					fmt.Fprintf(cmd.OutOrStdout(), "gateway.gateway.networking.k8s.io/%s condition met\n", gw.Name)
				}
				return nil
			}
			objs := make([]runtime.Object, len(gws))
			for i := range gws {
				objs[i] = &gws[i]
			}
			return printObjects(cmd.OutOrStdout(), format, objs)
		},
	}
	f := cmd.Flags()
	kube.bind(f, "namespace of the Gateway (default: the kubeconfig context's)")
	f.BoolVar(&all, "all", false, "wait for every Gateway in the namespace")
	f.BoolVarP(&allNamespaces, "all-namespaces", "A", false, "wait for every Gateway in every namespace (implies --all)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait (0: look once); kubectl wait's default")
	bindOutput(cmd, &output, outputDefault, "print the Gateways on success: name, yaml or json (default: kubectl wait's \"condition met\" lines)", outputName, outputYAML, outputJSON)
	return cmd
}

// parseGatewayTarget accepts gateway/NAME or "gateway NAME" (also gateways,
// gtw and the fully qualified resource), or, with --all, nothing or the
// bare resource. It returns the Gateway's name, empty for --all.
func parseGatewayTarget(args []string, all bool) (string, error) {
	isGateway := func(r string) bool {
		switch strings.ToLower(r) {
		case "gateway", "gateways", "gtw", "gateway.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io":
			return true
		}
		return false
	}
	if all {
		if len(args) > 1 || (len(args) == 1 && !isGateway(args[0])) {
			return "", fmt.Errorf("with --all, give no argument or \"gateways\", not %q", args[0])
		}
		return "", nil
	}
	if len(args) == 0 {
		return "", errors.New("give gateway/NAME, or --all")
	}
	if len(args) == 2 {
		if !isGateway(args[0]) || args[1] == "" || strings.Contains(args[1], "/") {
			return "", fmt.Errorf("want gateway NAME, got %q", strings.Join(args, " "))
		}
		return args[1], nil
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
		return &exitError{code: ExitFailed, err: errors.New(out.Summary())}
	}
	return &exitError{code: ExitTimeout, err: errors.New(out.Summary())}
}
