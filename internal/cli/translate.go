package cli

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/render"
	"github.com/berth-gateway/berth/xds/translate"
)

func newTranslateCmd() *cobra.Command {
	var (
		in       inputFlags
		output   string
		gateways []string
		opts     = translate.DefaultOptions()
	)
	var controllerName string
	cmd := &cobra.Command{
		Use:   "translate -f FILE|DIR|- [-R] [-o yaml|json]",
		Short: "Print the xDS configuration each Gateway's Envoy would receive (offline)",
		Long: `Translate reads Gateway API manifests (multi-document YAML or JSON; files,
directories with -R, "-" for stdin):
GatewayClasses, Gateways, ListenerSets, EnvoyProxies, HTTPRoutes, GRPCRoutes,
TCPRoutes, TLSRoutes, UDPRoutes, ReferenceGrants, BackendTLSPolicies,
ClientTrafficPolicies, Services, EndpointSlices, Secrets (stringData merged
into data, as the apiserver does), ConfigMaps and Namespaces. The Gateways, their classes and
EnvoyProxies are checked first exactly as berth render and the controller
check them, with the same messages. For every Gateway of a GatewayClass
whose controllerName is --controller-name it prints the listeners, route
configurations, clusters, endpoints and TLS secrets its proxy would receive,
with the content version and the listener, route and ListenerSet status the
controller would publish. Private keys are redacted. Every Gateway's resources are
validated as Envoy would validate them; nothing is printed if one fails.
Objects translate does not read are listed on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			batchGCFromEnv()
			o, err := parseOutput(output, outputYAML, outputJSON)
			if err != nil {
				return err
			}
			format := translate.Format(o)
			opts.ControllerName = gwv1.GatewayController(controllerName)
			if err := opts.Validate(); err != nil {
				return usageError(err)
			}
			set, err := in.read(cmd.InOrStdin(), cmd.ErrOrStderr(), "translate", translateReads...)
			if err != nil {
				return err
			}
			// The checks render (and so the controller) makes of the
			// Gateways, classes and EnvoyProxies come first, with the same
			// messages: translate never calls Programmed what the
			// controller would refuse.
			ro := render.DefaultOptions()
			ro.PrivilegedPortOffset = opts.PrivilegedPortOffset
			results, docs, errs := translateAndMarshal(translate.NewIndex(translate.InputFromSet(set), opts), gateways, format)
			if _, err := renderSet(set, controllerName, ro, acceptedListenerSets(set, results)); err != nil {
				return err
			}
			if len(gateways) > 0 {
				if _, err := selectGateways(results, gateways); err != nil {
					return usageError(err)
				}
			}
			if len(results) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: no Gateway of a GatewayClass with controllerName %q\n", controllerName)
			}
			chunks, err := spliceValid(docs, errs, format)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, c := range chunks {
				if _, err := w.Write(c); err != nil {
					return err
				}
			}
			return nil
		},
	}
	in.bind(cmd.Flags())
	bindOutput(cmd, &output, outputYAML, "output format: yaml or json", outputYAML, outputJSON)
	cmd.Flags().StringArrayVarP(&gateways, "gateway", "g", nil, "print only this Gateway (NAMESPACE/NAME); repeatable")
	cmd.Flags().StringVar(&controllerName, "controller-name", render.DefaultControllerName, "GatewayClass controllerName berth serves")
	cmd.Flags().Int32Var(&opts.PrivilegedPortOffset, "privileged-port-offset", opts.PrivilegedPortOffset, "added to listener ports below 1024 to get the port Envoy binds")
	cmd.Flags().Uint32Var(&opts.XffNumTrustedHops, "xff-num-trusted-hops", opts.XffNumTrustedHops, "X-Forwarded-For hops in front of Envoy that are trusted")
	return cmd
}

// translateAndMarshal translates every managed Gateway of ix and, for
// those selected (all when selected is empty; else "namespace/name"),
// validates and marshals its result at once, spread over the CPUs: each
// Gateway's document in parts (docs[i], or its validation error errs[i]),
// as translate.MarshalValidParts makes it for that Gateway alone. The
// results returned keep only the Gateway and its ListenerSets' status: a
// Gateway's Envoy resources are dropped once written, so memory holds the
// output and the Gateways in flight rather than every Gateway's resources
// (most of translate's heap), and the writer reads messages still in the
// CPU's cache. Marshalling one huge document costs more than the
// translation itself, hence one document per Gateway, spliced afterwards.
func translateAndMarshal(ix *translate.Index, selected []string, format translate.Format) ([]*translate.Result, [][][]byte, []error) {
	keys := ix.Gateways()
	want := map[string]bool{}
	for _, n := range selected {
		want[n] = true
	}
	results := make([]*translate.Result, len(keys))
	docs := make([][][]byte, len(keys))
	errs := make([]error, len(keys))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(keys); i = int(next.Add(1) - 1) {
				r, err := ix.TranslateGateway(keys[i])
				if err != nil { // ix lists only Gateways it translates
					errs[i] = err
					continue
				}
				if len(want) == 0 || want[r.Gateway.String()] {
					docs[i], errs[i] = translate.MarshalValidParts([]*translate.Result{r}, format)
				}
				results[i] = &translate.Result{Gateway: r.Gateway, ListenerSets: r.ListenerSets}
			}
		}()
	}
	wg.Wait()
	return results, docs, errs
}

// spliceValid is the output of translate.MarshalValid for the Gateways
// translateAndMarshal marshalled, in parts to be written in order, or the
// first validation error in Gateway order (nothing is printed if one
// fails).
func spliceValid(docs [][][]byte, errs []error, format translate.Format) ([][]byte, error) {
	var kept [][][]byte
	for i, err := range errs {
		if err != nil {
			return nil, err
		}
		if docs[i] != nil {
			kept = append(kept, docs[i])
		}
	}
	if len(kept) == 0 {
		out, err := translate.Marshal(nil, format)
		return [][]byte{out}, err
	}
	return splice(kept, format)
}

// splice turns per-Gateway documents ({gateways: [one]}, each in parts)
// into the pieces of one document listing them all.
func splice(docs [][][]byte, format translate.Format) ([][]byte, error) {
	var out [][]byte
	switch format {
	case translate.FormatJSON:
		// {\n  "gateways": [\n    {…}\n  ]\n}\n
		const head, tail = "{\n  \"gateways\": [\n", "\n  ]\n}\n"
		for i, parts := range docs {
			c := bytes.Join(parts, nil)
			if len(parts) == 1 {
				c = parts[0] // JSON comes in one part: no copy
			}
			if !bytes.HasPrefix(c, []byte(head)) || !bytes.HasSuffix(c, []byte(tail)) {
				return nil, fmt.Errorf("unexpected JSON document of one Gateway: %.40q", c)
			}
			if i > 0 {
				c = append([]byte(",\n"), c[len(head):]...)
			}
			if i < len(docs)-1 {
				c = c[:len(c)-len(tail)]
			}
			out = append(out, c)
		}
	default:
		const head = "gateways:\n"
		for i, parts := range docs {
			if len(parts) == 0 || !bytes.HasPrefix(parts[0], []byte(head)) {
				return nil, fmt.Errorf("unexpected YAML document of one Gateway: %.40q", bytes.Join(parts, nil))
			}
			if i > 0 {
				parts[0] = parts[0][len(head):]
			}
			out = append(out, parts...)
		}
	}
	return out, nil
}

// translateReads are the kinds berth translate reads.
var translateReads = []string{"GatewayClass", "Gateway", "ListenerSet", "EnvoyProxy", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute", "ReferenceGrant", "Service", "EndpointSlice", "Secret", "Namespace",
	"BackendTLSPolicy", "ConfigMap", "ClientTrafficPolicy"}

// selectGateways keeps the results of the named Gateways ("namespace/name"),
// in result order; a name that matches no translated Gateway is an error.
func selectGateways(results []*translate.Result, names []string) ([]*translate.Result, error) {
	want := map[string]bool{}
	for _, n := range names {
		if ns, name, ok := strings.Cut(n, "/"); !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("--gateway %q: want NAMESPACE/NAME", n)
		}
		want[n] = true
	}
	var out []*translate.Result
	for _, r := range results {
		if want[r.Gateway.String()] {
			out = append(out, r)
			delete(want, r.Gateway.String())
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("no translated Gateway %s", strings.Join(missing, ", "))
	}
	return out, nil
}
