package readiness

// This file is pure: the inputs a Gateway's verdict is computed from, the
// digest the controller records beside Programmed, and the comparison berth
// wait makes against the live inputs. No client, no clock.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/render"
)

// InputsCondition is the Gateway condition the controller writes in the same
// status update as Programmed. Its message starts with the digests of the
// inputs that verdict was computed from (InputsMessage), so a reader of one
// Gateway object knows which state of the GatewayClass, the EnvoyProxies and
// the routes its Programmed describes; the Gateway's own generation is in
// observedGeneration as for every condition. Its status is always True.
const InputsCondition = "gateway.berth.dev/Inputs"

// ReasonInputsObserved is InputsCondition's reason.
const ReasonInputsObserved = "Observed"

// Input is one object a Gateway's bundle or xDS configuration depends on, at
// one generation. A referenced object that does not exist has no UID and
// generation 0, so creating it changes the inputs too.
type Input struct {
	Kind       string
	Namespace  string
	Name       string
	UID        k8stypes.UID
	Generation int64
}

func (i Input) key() string {
	if i.Namespace == "" {
		return i.Kind + " " + i.Name
	}
	return i.Kind + " " + i.Namespace + "/" + i.Name
}

func (i Input) String() string {
	if i.UID == "" {
		return i.key() + " (absent)"
	}
	return fmt.Sprintf("%s generation %d", i.key(), i.Generation)
}

// Inputs is a sorted set of inputs.
type Inputs []Input

func (in Inputs) sorted() Inputs {
	out := append(Inputs(nil), in...)
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// Digest identifies the set: equal digests, equal inputs.
func (in Inputs) Digest() string {
	h := sha256.New()
	for _, i := range in.sorted() {
		fmt.Fprintf(h, "%s\x00%s\x00%d\n", i.key(), i.UID, i.Generation)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Changes names what differs from old to in (sorted; empty when equal).
func (in Inputs) Changes(old Inputs) []string {
	was := map[string]Input{}
	for _, i := range old {
		was[i.key()] = i
	}
	var out []string
	for _, i := range in.sorted() {
		o, ok := was[i.key()]
		delete(was, i.key())
		switch {
		case !ok || (o.UID == "" && i.UID != ""):
			out = append(out, i.key()+" added")
		case i.UID == "" && o.UID != "":
			out = append(out, i.key()+" removed")
		case o.UID != i.UID:
			out = append(out, i.key()+" replaced")
		case o.Generation != i.Generation:
			out = append(out, fmt.Sprintf("%s generation %d→%d", i.key(), o.Generation, i.Generation))
		}
	}
	for _, o := range old.sorted() {
		if _, ok := was[o.key()]; ok && o.UID != "" {
			out = append(out, o.key()+" removed")
		}
	}
	return out
}

func inputOf(kind string, o metav1.Object) Input {
	return Input{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName(), UID: o.GetUID(), Generation: o.GetGeneration()}
}

// GatewayInputs are the inputs of a Gateway's bundle: its class and the
// EnvoyProxies the class and the Gateway reference (nil when absent or not
// referenced). The Gateway itself is not among them: its generation is
// every condition's observedGeneration.
func GatewayInputs(gw *gwv1.Gateway, class *gwv1.GatewayClass, classParams, gwParams *v1alpha1.EnvoyProxy) Inputs {
	var in Inputs
	if class == nil {
		return Inputs{{Kind: "GatewayClass", Name: string(gw.Spec.GatewayClassName)}}
	}
	in = append(in, inputOf("GatewayClass", class))
	refs, err := render.ResolveParametersRefs(class, gw)
	if err != nil {
		// An unusable reference: the class's generation covers it.
		return in
	}
	for _, p := range []struct {
		ref *k8stypes.NamespacedName
		ep  *v1alpha1.EnvoyProxy
	}{{refs.Class, classParams}, {refs.Gateway, gwParams}} {
		switch {
		case p.ref == nil:
		case p.ep == nil || p.ep.Namespace != p.ref.Namespace || p.ep.Name != p.ref.Name:
			in = append(in, Input{Kind: v1alpha1.KindEnvoyProxy, Namespace: p.ref.Namespace, Name: p.ref.Name})
		default:
			in = append(in, inputOf(v1alpha1.KindEnvoyProxy, p.ep))
		}
	}
	return in.sorted()
}

// InputsMessage is InputsCondition's message for the given inputs: the two
// digests first (what berth wait compares), then the inputs in words. gateway
// are the bundle's inputs (GatewayInputs), xds those of InputKinds
// (SelectInputs).
func InputsMessage(gateway, xds Inputs) string {
	words := append(gateway.words(), xds.counts())
	return fmt.Sprintf("gateway-inputs=%s xds-inputs=%s: %s", gateway.Digest(), xds.Digest(), strings.Join(words, ", "))
}

// counts says how many inputs of each kind there are: "2 HTTPRoute,
// 1 ClientTrafficPolicy", or "no routes or policies".
func (in Inputs) counts() string {
	n := map[string]int{}
	var kinds []string
	for _, i := range in {
		if n[i.Kind] == 0 {
			kinds = append(kinds, i.Kind)
		}
		n[i.Kind]++
	}
	if len(kinds) == 0 {
		return "no routes or policies"
	}
	sort.Strings(kinds)
	out := make([]string, len(kinds))
	for j, k := range kinds {
		out[j] = fmt.Sprintf("%d %s", n[k], k)
	}
	return strings.Join(out, ", ")
}

var inputsMessageRE = regexp.MustCompile(`^gateway-inputs=([0-9a-f]{16}) xds-inputs=([0-9a-f]{16})`)

// RecordedInputs are the digests a Gateway's InputsCondition records.
type RecordedInputs struct {
	// Found is false when the Gateway has no InputsCondition for its
	// current generation (a controller that does not record inputs, or has
	// not reconciled this generation yet).
	Found bool
	// Gateway and XDS are the digests of GatewayInputs and of the
	// InputKinds' inputs.
	Gateway, XDS string
}

// Recorded reads g's InputsCondition.
func (g Gateway) Recorded() RecordedInputs {
	c := g.Condition(InputsCondition)
	if c == nil || !g.Fresh(c) {
		return RecordedInputs{}
	}
	m := inputsMessageRE.FindStringSubmatch(c.Message)
	if m == nil {
		return RecordedInputs{}
	}
	return RecordedInputs{Found: true, Gateway: m[1], XDS: m[2]}
}

// Live are the inputs berth wait read from the cluster after reading the
// Gateway. Either is nil when the reader may not read them all: then their
// changes cannot be checked (and a warning says so).
type Live struct {
	Gateway *Inputs
	XDS     *Inputs
}

// Current decides whether g's Programmed verdict was computed from the live
// inputs. It returns "" when it was, else why not. A Gateway without the
// InputsCondition (another controller) is taken as current: nothing better
// than kubectl wait's rule can be known of it.
func Current(g Gateway, live Live) string {
	rec := g.Recorded()
	if !rec.Found {
		c := g.Condition(InputsCondition)
		switch {
		case c == nil:
			return ""
		case !g.Fresh(c):
			return fmt.Sprintf("the recorded inputs describe generation %d, the Gateway is at generation %d", c.ObservedGeneration, g.Generation)
		}
		return fmt.Sprintf("condition %s does not record digests this berth reads (%q)", InputsCondition, c.Message)
	}
	var why []string
	if live.Gateway != nil && live.Gateway.Digest() != rec.Gateway {
		why = append(why, "its class or EnvoyProxies changed since (live: "+strings.Join(live.Gateway.words(), ", ")+")")
	}
	if live.XDS != nil {
		if d := live.XDS.Digest(); d != rec.XDS {
			why = append(why, "its routes or policies changed since (live: "+live.XDS.counts()+")")
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "status describes older inputs: " + strings.Join(why, "; ")
}

func (in Inputs) words() []string {
	var out []string
	for _, i := range in.sorted() {
		out = append(out, i.String())
	}
	return out
}
