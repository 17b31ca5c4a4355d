package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/internal/manifest"
	"github.com/berth-gateway/berth/xds/translate"
)

// TestTranslateMatchesGolden checks that `berth translate` prints exactly
// the translate package's golden output, from a file and from stdin.
func TestTranslateMatchesGolden(t *testing.T) {
	want, err := os.ReadFile("../../xds/translate/testdata/https.out.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runBerth(t, "", "translate", "-f", "../../xds/translate/testdata/https.in.yaml")
	if err != nil {
		t.Fatalf("translate: %v (stderr %q)", err, stderr)
	}
	if stdout != string(want) {
		t.Error("berth translate output differs from xds/translate/testdata/https.out.yaml")
	}
	if strings.Contains(stdout, "PRIVATE KEY") {
		t.Error("output contains a private key")
	}
	in, err := os.ReadFile("../../xds/translate/testdata/https.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromStdin, _, err := runBerth(t, string(in), "translate", "-f", "-")
	if err != nil || fromStdin != stdout {
		t.Errorf("stdin: err %v, output equal %v", err, fromStdin == stdout)
	}
}

// TestTranslateGRPCRoute checks that `berth translate` reads GRPCRoutes:
// the grpcroute golden case translates to grpcroute/ Envoy routes once its
// rule with a service name the GRPCRoute CRD refuses (kept there to test
// the translation's own check) is taken out; with it, translate refuses
// the input as the apiserver would.
func TestTranslateGRPCRoute(t *testing.T) {
	in, err := os.ReadFile("../../xds/translate/testdata/grpcroute.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runBerth(t, string(in), "translate", "-f", "-")
	want := `<stdin>:133 (document 12): GRPCRoute grpc/cross: spec.rules[1].matches[0].method: Invalid value: service must only contain valid characters`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("translate of the golden input: %v, want %s...", err, want)
	}
	bad := "    - matches: [{method: {service: \"bad/service\"}}]\n      backendRefs: [{name: echo-v1, port: 9000}]\n"
	if !strings.Contains(string(in), bad) {
		t.Fatal("the golden input has no bad/service rule")
	}
	stdout, stderr, err := runBerth(t, strings.Replace(string(in), bad, "", 1), "translate", "-f", "-")
	if err != nil {
		t.Fatalf("translate: %v (stderr %q)", err, stderr)
	}
	if !strings.Contains(stdout, "name: grpcroute/grpc/echo/rule/0/match/0") {
		t.Error("berth translate output has no grpcroute/ route")
	}
}

// TestTranslateJSONAndSeed checks JSON output on the user's unchanged seed
// manifest: one entry per Gateway, each with only its own backend cluster.
func TestTranslateJSONAndSeed(t *testing.T) {
	// shared/ lies beside the repository (in CI too); the golden seed input
	// is the same scenario with EndpointSlices.
	input := "../../../shared/seed/gateway-namespace-mode.yaml"
	if _, err := os.Stat(input); err != nil {
		input = "../../xds/translate/testdata/seed.in.yaml"
	}
	stdout, stderr, err := runBerth(t, "", "translate", "-f", input, "-o", "json")
	if err != nil {
		t.Fatalf("translate: %v (stderr %q)", err, stderr)
	}
	var doc struct {
		Gateways []struct {
			Gateway   string
			Version   string
			Resources struct {
				Clusters []struct{ Name string }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if len(doc.Gateways) != 2 {
		t.Fatalf("%d gateways, want 2", len(doc.Gateways))
	}
	for _, g := range doc.Gateways {
		ns := strings.Split(g.Gateway, "/")[0]
		if len(g.Resources.Clusters) != 1 || g.Resources.Clusters[0].Name != "service/"+ns+"/"+ns+"-backend/3000" || g.Version == "" {
			t.Errorf("%s: clusters %v, version %q", g.Gateway, g.Resources.Clusters, g.Version)
		}
	}
}

func TestTranslateSelectGateway(t *testing.T) {
	stdout, _, err := runBerth(t, "", "translate", "-f", "../../xds/translate/testdata/seed.in.yaml", "-g", "team-b/gateway-b")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "gateway: team-b/gateway-b") || strings.Contains(stdout, "team-a") {
		t.Errorf("-g team-b/gateway-b printed:\n%s", stdout)
	}
	for _, bad := range []string{"gateway-b", "team-b/nope"} {
		if _, _, err := runBerth(t, "", "translate", "-f", "../../xds/translate/testdata/seed.in.yaml", "-g", bad); err == nil {
			t.Errorf("-g %s: no error", bad)
		}
	}
}

func TestTranslateErrors(t *testing.T) {
	if _, _, err := runBerth(t, "", "translate"); err == nil || !strings.Contains(err.Error(), "no input") {
		t.Errorf("no -f: err = %v", err)
	}
	if _, _, err := runBerth(t, "", "translate", "-f", "../../xds/translate/testdata/seed.in.yaml", "-o", "xml"); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("-o xml: err = %v", err)
	}
	_, stderr, err := runBerth(t, "", "translate", "-f", "../../xds/translate/testdata/seed.in.yaml", "--controller-name", "example.com/other")
	if err != nil || !strings.Contains(stderr, "warning: no Gateway") {
		t.Errorf("other controller: err %v, stderr %q", err, stderr)
	}
	if _, _, err := runBerth(t, "kind: Gateway\napiVersion: gateway.networking.k8s.io/v1\nmetadata: {name: x}\nspec: {bogus: 1}\n", "translate", "-f", "-"); err == nil {
		t.Error("unknown field: no error")
	}
}

// translate refuses what render (and so the controller) refuses, with the
// same message.
func TestTranslateSharesRenderChecks(t *testing.T) {
	for _, in := range []string{
		strings.Replace(smallInput, "8080", "19000", 1),                                                // the bootstrap's own port
		strings.Replace(smallInput, "name: gw, namespace: team-a", "name: gw", 1),                      // no namespace
		strings.Replace(smallInput, "name: gw, namespace: team-a", "name: Gw_1, namespace: team-a", 1), // invalid name
	} {
		_, _, renderErr := runBerth(t, in, "render", "-f", "-")
		_, _, translateErr := runBerth(t, in, "translate", "-f", "-")
		if renderErr == nil || translateErr == nil || renderErr.Error() != translateErr.Error() {
			t.Errorf("render: %v\ntranslate: %v\nwant the same error", renderErr, translateErr)
		}
	}
}

// TestTranslateAndMarshal checks the per-Gateway pipeline of berth
// translate against translating everything first and marshalling it as one
// document: the same bytes in both formats, with and without a selection;
// the results it keeps carry the Gateway and its ListenerSets' status only;
// and a validation error is the first in Gateway order, with nothing to
// print.
func TestTranslateAndMarshal(t *testing.T) {
	set, err := manifest.ReadFiles([]string{"../../xds/translate/testdata/seed.in.yaml", "../../xds/translate/testdata/listenerset.in.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := translate.DefaultOptions()
	all := translate.Translate(translate.InputFromSet(set), opts)
	withSets := 0
	for _, r := range all {
		if len(r.ListenerSets) > 0 {
			withSets++
		}
	}
	if len(all) < 3 || withSets == 0 {
		t.Fatalf("%d Gateways translated, %d with ListenerSets: want at least 3 and 1", len(all), withSets)
	}
	for _, format := range []translate.Format{translate.FormatYAML, translate.FormatJSON} {
		for _, sel := range [][]*translate.Result{all, all[1:2]} {
			var names []string
			if len(sel) < len(all) {
				names = []string{sel[0].Gateway.String()}
			}
			want, err := translate.MarshalValid(sel, format)
			if err != nil {
				t.Fatal(err)
			}
			results, docs, errs := translateAndMarshal(translate.NewIndex(translate.InputFromSet(set), opts), names, format)
			chunks, err := spliceValid(docs, errs, format)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Join(chunks, nil); !bytes.Equal(got, want) {
				t.Errorf("%s, selected %v: output differs from MarshalValid of Translate", format, names)
			}
			if len(results) != len(all) {
				t.Fatalf("%d results, want %d", len(results), len(all))
			}
			for i, r := range results {
				if r.Gateway != all[i].Gateway || !reflect.DeepEqual(r.ListenerSets, all[i].ListenerSets) || r.Resources != nil {
					t.Errorf("result %d: %s with %d ListenerSets (resources kept: %v), want %s with %d", i, r.Gateway, len(r.ListenerSets), r.Resources != nil, all[i].Gateway, len(all[i].ListenerSets))
				}
				if selected := names == nil || names[0] == r.Gateway.String(); selected != (docs[i] != nil) {
					t.Errorf("%s: selected %v, marshalled %v", r.Gateway, selected, docs[i] != nil)
				}
			}
			first, second := errors.New("first"), errors.New("second")
			errs[1], errs[2] = first, second
			if chunks, err := spliceValid(docs, errs, format); err != first || chunks != nil {
				t.Errorf("errors at Gateways 1 and 2: %d chunks, error %v, want none and %v", len(chunks), err, first)
			}
		}
	}
}
