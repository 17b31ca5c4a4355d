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
		Use:   "wait gateway/NAME [-n NS] [--timeout D] | wait gateway NAME | wait listenerset/NAME | wait [gateways] --all [-n NS | -A]",
		Short: "Wait until Gateways (or a ListenerSet) are Programmed for their current inputs, printing their bundle's progress",
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

wait listenerset/NAME (or listenerset NAME, lset) waits for a ListenerSet:
for its Programmed=True (its parent Gateway's data plane serves its
listeners) for its current generation, and for its parent Gateway (the one
its parentRef names) to be Programmed for the parent's current inputs, by
the rule above: those inputs include the ListenerSet at its generation. The
ListenerSet's status must, on the read after the verdict, have been computed
from the parent status that is current (berth records the parent's digests
on the ListenerSet too, condition gateway.berth.dev/Inputs). Progress shows
the ListenerSet's conditions and the parent's data plane objects; on
success it prints the ListenerSet. Exit statuses are those below, for the
ListenerSet: 1 also when it is not found, its parentRef names no Gateway,
Accepted=False with any reason but Pending (NotAllowed, ParentNotAccepted),
or its parent Gateway failed.

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
			target, err := parseWaitTarget(args, all || allNamespaces)
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
			opts := readiness.Options{
				Namespace:     namespace,
				AllNamespaces: allNamespaces,
				Timeout:       timeout,
				Out:           cmd.ErrOrStderr(),
			}
			if target.listenerSet {
				opts.ListenerSet = target.name
			} else {
				opts.Name = target.name
			}
			out, objs, err := waitCurrent(ctx, cfg, opts)
			if err != nil {
				return usageError(err)
			}
			if err := waitExit(out); err != nil {
				return err
			}
			if format == outputDefault {
				for _, o := range objs {
					fmt.Fprintln(cmd.OutOrStdout(), objectName(o)+" condition met")
				}
				return nil
			}
			list := make([]runtime.Object, len(objs))
			for i := range objs {
				list[i] = objs[i]
			}
			return printObjects(cmd.OutOrStdout(), format, list)
		},
	}
	f := cmd.Flags()
	kube.bind(f, "namespace of the Gateway or ListenerSet (default: the kubeconfig context's)")
	f.BoolVar(&all, "all", false, "wait for every Gateway in the namespace")
	f.BoolVarP(&allNamespaces, "all-namespaces", "A", false, "wait for every Gateway in every namespace (implies --all)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait (0: look once); kubectl wait's default")
	bindOutput(cmd, &output, outputDefault, "print the Gateways (or the ListenerSet) on success: name, yaml or json (default: kubectl wait's \"condition met\" lines)", outputName, outputYAML, outputJSON)
	return cmd
}

// waitTarget is what berth wait waits for: a Gateway or a ListenerSet by
// name, or (name empty) every Gateway in scope.
type waitTarget struct {
	name        string
	listenerSet bool
}

// parseWaitTarget accepts gateway/NAME or "gateway NAME" (also gateways,
// gtw and the fully qualified resource), listenerset/NAME or "listenerset
// NAME" (also listenersets, lset and the fully qualified resource), or,
// with --all, nothing or the bare Gateway resource.
func parseWaitTarget(args []string, all bool) (waitTarget, error) {
	return parseTarget(args, all, true)
}

// parseGatewayTarget is parseWaitTarget for the commands that take only
// Gateways (diff); it returns the Gateway's name, empty for --all.
func parseGatewayTarget(args []string, all bool) (string, error) {
	t, err := parseTarget(args, all, false)
	return t.name, err
}

// parseTarget parses a target of berth wait or diff; with sets, a
// ListenerSet is accepted too.
func parseTarget(args []string, all, sets bool) (waitTarget, error) {
	resource := func(r string) (isGateway, isSet bool) {
		switch strings.ToLower(r) {
		case "gateway", "gateways", "gtw", "gateway.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io":
			return true, false
		case "listenerset", "listenersets", "lset", "listenerset.gateway.networking.k8s.io", "listenersets.gateway.networking.k8s.io":
			return false, sets
		}
		return false, false
	}
	want, wantWords := "gateway/NAME", "gateway NAME"
	if sets {
		want, wantWords = "gateway/NAME or listenerset/NAME", "gateway NAME or listenerset NAME"
	}
	if all {
		if len(args) > 0 {
			if gw, _ := resource(args[0]); !gw || len(args) > 1 {
				return waitTarget{}, fmt.Errorf("with --all, give no argument or \"gateways\", not %q", args[0])
			}
		}
		return waitTarget{}, nil
	}
	if len(args) == 0 {
		return waitTarget{}, fmt.Errorf("give %s, or --all", want)
	}
	if len(args) == 2 {
		gw, set := resource(args[0])
		if (!gw && !set) || args[1] == "" || strings.Contains(args[1], "/") {
			return waitTarget{}, fmt.Errorf("want %s, got %q", wantWords, strings.Join(args, " "))
		}
		return waitTarget{name: args[1], listenerSet: set}, nil
	}
	res, name, ok := strings.Cut(args[0], "/")
	gw, set := resource(res)
	if !ok || (!gw && !set) || name == "" || strings.Contains(name, "/") {
		return waitTarget{}, fmt.Errorf("want %s, got %q", want, args[0])
	}
	return waitTarget{name: name, listenerSet: set}, nil
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
