package render

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-gateway/berth/api/v1alpha1"
)

// ObjectKey names one object of a bundle.
type ObjectKey struct {
	Kind      string
	Namespace string
	Name      string
}

func (k ObjectKey) String() string { return k.Kind + " " + k.Namespace + "/" + k.Name }

// Claim is the objects one Gateway's bundle consists of (its inventory
// ConfigMap included), and what orders it against another Gateway whose
// bundle names one of them: the Gateway created first keeps the object,
// creation times being equal the one whose namespace/name sorts first.
type Claim struct {
	Gateway types.NamespacedName
	// Created is the Gateway's creationTimestamp (zero offline).
	Created metav1.Time
	Objects []ObjectKey
}

// before reports whether c keeps an object both c and o name.
func (c Claim) before(o Claim) bool {
	if !c.Created.Equal(&o.Created) {
		return c.Created.Before(&o.Created)
	}
	return c.Gateway.String() < o.Gateway.String()
}

// ClaimOf returns the objects Render would produce for in (without
// rendering them), so that the claims of many Gateways can be compared
// cheaply: the controller computes one per other Gateway of a namespace on
// every reconcile. It fails when a parametersRef or an EnvoyProxy on its
// own is unusable; two usable EnvoyProxies whose merge Render refuses
// still claim (a rare case not worth a merge per Gateway).
func ClaimOf(in Input) (Claim, error) {
	if in.GatewayClass == nil || in.Gateway == nil {
		return Claim{}, fmt.Errorf("render: GatewayClass and Gateway are required")
	}
	refs, err := ResolveParametersRefs(in.GatewayClass, in.Gateway)
	if err != nil {
		return Claim{}, err
	}
	specs, _, err := checkedParameters(in, refs)
	if err != nil {
		return Claim{}, err
	}
	// The fields that name or add objects, merged as mergeSpecs would:
	// the Gateway's EnvoyProxy (last) wins where it sets them.
	kube := &v1alpha1.EnvoyProxyKubernetesProvider{}
	for _, spec := range specs {
		k := (&builder{spec: spec}).kube()
		if k.EnvoyService != nil && k.EnvoyService.Name != nil {
			kube.EnvoyService = &v1alpha1.KubernetesServiceSpec{Name: k.EnvoyService.Name}
		}
		if k.EnvoyHpa != nil {
			kube.EnvoyHpa = k.EnvoyHpa
		}
		if k.EnvoyPDB != nil {
			kube.EnvoyPDB = k.EnvoyPDB
		}
	}
	spec := &v1alpha1.EnvoyProxySpec{Provider: &v1alpha1.EnvoyProxyProvider{Kubernetes: kube}}
	b := &builder{gw: in.Gateway, spec: spec}
	return b.claim(), nil
}

// claim lists the objects of the bundle b builds: the names service(),
// hpa(), pdb() and the others use, and the inventory's.
func (b *builder) claim() Claim {
	ns, name := b.gw.Namespace, b.name()
	c := Claim{
		Gateway: types.NamespacedName{Namespace: b.gw.Namespace, Name: b.gw.Name},
		Created: b.gw.CreationTimestamp,
		Objects: []ObjectKey{
			{"ServiceAccount", ns, ServiceAccountName(b.gw.Namespace, b.gw.Name)},
			{"ConfigMap", ns, name},
			{"ConfigMap", ns, InventoryName(b.gw.Namespace, b.gw.Name)},
			{"Service", ns, b.serviceName()},
			{"Deployment", ns, name},
		},
	}
	if b.kube().EnvoyHpa != nil {
		c.Objects = append(c.Objects, ObjectKey{"HorizontalPodAutoscaler", ns, name})
	}
	if b.kube().EnvoyPDB != nil {
		c.Objects = append(c.Objects, ObjectKey{"PodDisruptionBudget", ns, name})
	}
	return c
}

// serviceName is the Service's name: the EnvoyProxy's envoyService.name,
// else ProxyName.
func (b *builder) serviceName() string {
	if svc := b.kube().EnvoyService; svc != nil && svc.Name != nil {
		return *svc.Name
	}
	return b.name()
}

// Collision is an object that two Gateways' bundles both name.
type Collision struct {
	Object ObjectKey
	// Other is the other Gateway.
	Other types.NamespacedName
	// Kept: this Gateway keeps the object (it was created first); the
	// other one is refused.
	Kept bool
	// ByName: both Gateways have the same creation time (offline: none),
	// so their names decided.
	ByName bool
}

func (c Collision) String() string {
	why := "created earlier"
	switch {
	case c.Kept && c.ByName:
		why = "same creation time, name sorts after this Gateway's"
	case c.Kept:
		why = "created later"
	case c.ByName:
		why = "same creation time, name sorts first"
	}
	if c.Kept {
		return fmt.Sprintf("%s is also an object of Gateway %s (%s), which is refused", c.Object, c.Other, why)
	}
	return fmt.Sprintf("%s is also an object of Gateway %s (%s), which keeps it", c.Object, c.Other, why)
}

// Collisions lists the objects of own that another claim names too, sorted
// by object then Gateway.
func Collisions(own Claim, others []Claim) []Collision {
	mine := make(map[ObjectKey]bool, len(own.Objects))
	for _, k := range own.Objects {
		mine[k] = true
	}
	var out []Collision
	for _, o := range others {
		if o.Gateway == own.Gateway {
			continue
		}
		for _, k := range o.Objects {
			if mine[k] {
				out = append(out, Collision{Object: k, Other: o.Gateway, Kept: own.before(o), ByName: own.Created.Equal(&o.Created)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Object != out[j].Object {
			return out[i].Object.String() < out[j].Object.String()
		}
		return out[i].Other.String() < out[j].Other.String()
	})
	return out
}

// CollisionError refuses a Gateway whose bundle names objects of a Gateway
// created before it: nothing of its bundle is applied, and the earlier
// Gateway keeps the objects.
type CollisionError struct {
	// Lost are the collisions this Gateway loses (Kept false).
	Lost []Collision
}

func (e *CollisionError) Error() string {
	msgs := make([]string, len(e.Lost))
	for i, c := range e.Lost {
		msgs[i] = c.String()
	}
	return strings.Join(msgs, "; ")
}
