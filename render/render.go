package render

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berth-gateway/berth/api/v1alpha1"
	"github.com/berth-gateway/berth/internal/dataplane"
)

// Input is everything one Gateway's bundle depends on. The EnvoyProxy
// objects are the ones ResolveParametersRefs names (nil when not referenced).
type Input struct {
	GatewayClass *gwv1.GatewayClass
	Gateway      *gwv1.Gateway
	// ClassParameters is the EnvoyProxy of the GatewayClass's parametersRef.
	ClassParameters *v1alpha1.EnvoyProxy
	// GatewayParameters is the EnvoyProxy of the Gateway's
	// spec.infrastructure.parametersRef; its fields win.
	GatewayParameters *v1alpha1.EnvoyProxy
	// ListenerSets attached to the Gateway (the controller passes those its
	// translation accepted): their listeners' ports join the Gateway's in
	// the Service and the container.
	ListenerSets []*gwv1.ListenerSet
	// Others are the claims (ClaimOf) of the other Gateways berth serves in
	// the Gateway's namespace: Render refuses the Gateway with a
	// *CollisionError if its bundle names an object one of them created
	// before it also names.
	Others []Claim
}

// Inventory identifies the cli-utils ConfigMap inventory of a bundle.
type Inventory struct {
	Namespace string
	Name      string
	// ID is the value of InventoryLabel on the inventory ConfigMap.
	ID string
}

// Bundle is the desired state of one Gateway's data plane.
type Bundle struct {
	// Gateway is the Gateway the bundle serves.
	Gateway types.NamespacedName
	// Inventory tracks the objects (apply prunes what leaves the bundle).
	Inventory Inventory
	// Objects in apply order, typed (with TypeMeta set): ServiceAccount,
	// ConfigMap, Service, Deployment, then HorizontalPodAutoscaler and
	// PodDisruptionBudget when configured. Unstructured converts them.
	Objects []Object
	// Unsupported lists the EnvoyProxy fields that are set but not
	// implemented; the controller reports them in status.
	Unsupported []Unsupported
	// Warnings are other things the bundle's reader should know (e.g. an
	// empty CA bundle), sorted.
	Warnings []string
	// Kept are the objects of the bundle that other Gateways, created
	// later and refused for it, name too (Input.Others); the controller
	// reports them in status.
	Kept []Collision
}

// Object is a typed Kubernetes object of a bundle (*corev1.ServiceAccount,
// *corev1.ConfigMap, *corev1.Service, *appsv1.Deployment,
// *autoscalingv2.HorizontalPodAutoscaler, *policyv1.PodDisruptionBudget).
type Object interface {
	metav1.Object
	runtime.Object
}

// Unstructured returns the objects as unstructured, in order, as apply
// wants them: without the fields a desired state must not carry (null
// creationTimestamp, empty status and strategy).
func (b *Bundle) Unstructured() ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(b.Objects))
	for _, obj := range b.Objects {
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("convert %s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// Render builds the bundle of in.Gateway. Errors are a *ParametersError
// (unusable EnvoyProxy or parametersRef), a *GatewayError (a Gateway berth
// cannot serve, or whose objects an earlier Gateway of in.Others keeps: it
// wraps a *CollisionError), an *AddressError (spec.addresses it cannot honour), or a
// plain error for invalid options or inconsistent input.
func Render(in Input, opts Options) (*Bundle, error) {
	if in.GatewayClass == nil || in.Gateway == nil {
		return nil, errors.New("render: GatewayClass and Gateway are required")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	gw := in.Gateway
	if string(gw.Spec.GatewayClassName) != in.GatewayClass.Name {
		return nil, fmt.Errorf("render %s: its class is %q, not GatewayClass %s", gatewayDesc(gw), gw.Spec.GatewayClassName, in.GatewayClass.Name)
	}
	refs, err := ResolveParametersRefs(in.GatewayClass, gw)
	if err != nil {
		return nil, err
	}
	spec, unsupported, err := effectiveParameters(in, refs)
	if err != nil {
		return nil, err
	}
	b := &builder{gw: gw, sets: in.ListenerSets, spec: spec, opts: opts}
	if err := b.checkGateway(); err != nil {
		return nil, &GatewayError{Gateway: gw.Namespace + "/" + gw.Name, Err: err}
	}
	var kept, lost []Collision
	for _, c := range Collisions(b.claim(), in.Others) {
		if c.Kept {
			kept = append(kept, c)
		} else {
			lost = append(lost, c)
		}
	}
	if len(lost) > 0 {
		return nil, &GatewayError{Gateway: gw.Namespace + "/" + gw.Name, Err: &CollisionError{Lost: lost}}
	}
	cm, err := b.configMap()
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", gatewayDesc(gw), err)
	}
	svc := b.service()
	if err := b.requestAddresses(svc); err != nil {
		return nil, err
	}
	typed := []Object{b.serviceAccount(), cm, svc, b.deployment()}
	if hpa := b.hpa(); hpa != nil {
		typed = append(typed, hpa)
	}
	if pdb := b.pdb(); pdb != nil {
		typed = append(typed, pdb)
	}
	if err := checkMetadata(typed); err != nil {
		return nil, &GatewayError{Gateway: gw.Namespace + "/" + gw.Name, Err: err}
	}
	bundle := &Bundle{
		Gateway: types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name},
		Inventory: Inventory{
			Namespace: gw.Namespace,
			Name:      InventoryName(gw.Namespace, gw.Name),
			ID:        InventoryID(gw.Namespace, gw.Name),
		},
		Objects:     typed,
		Unsupported: unsupported,
		Warnings:    b.warnings,
		Kept:        kept,
	}
	sort.Strings(bundle.Warnings)
	return bundle, nil
}

// toUnstructured converts a typed object, dropping the fields a desired
// state must not carry (null creationTimestamp, empty status).
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	if s, ok, _ := unstructured.NestedMap(m, "spec", "strategy"); ok && len(s) == 0 {
		unstructured.RemoveNestedField(m, "spec", "strategy")
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// checkGateway refuses Gateways berth cannot give a data plane.
func (b *builder) checkGateway() error {
	gw := b.gw
	var errs []error
	if gw.Namespace == "" {
		// The apiserver would put it in the client's namespace; offline
		// nothing says which.
		errs = append(errs, errors.New("metadata.namespace: missing"))
	} else {
		for _, msg := range validation.IsDNS1123Label(gw.Namespace) {
			errs = append(errs, fmt.Errorf("namespace %q: %s", gw.Namespace, msg))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(gw.Name) {
		errs = append(errs, fmt.Errorf("name %q: %s", gw.Name, msg))
	}
	if len(gw.Spec.Listeners) == 0 {
		errs = append(errs, errors.New("no listeners"))
	} else if !slices.ContainsFunc(gw.Spec.Listeners, func(l gwv1.Listener) bool { return dataplane.Serves(string(l.Protocol)) }) {
		// A Service needs a port; a data plane with nothing to serve is
		// not deployed.
		errs = append(errs, ErrNoServedListeners)
	}
	errs = append(errs, b.checkListeners()...)
	if infra := gw.Spec.Infrastructure; infra != nil {
		// The Gateway API CRD's limits, which the apiserver enforces.
		if n := len(infra.Labels); n > maxInfrastructureLabels {
			errs = append(errs, fmt.Errorf("spec.infrastructure.labels: %d labels, at most %d allowed", n, maxInfrastructureLabels))
		}
		if n := len(infra.Annotations); n > maxInfrastructureAnnotations {
			errs = append(errs, fmt.Errorf("spec.infrastructure.annotations: %d annotations, at most %d allowed", n, maxInfrastructureAnnotations))
		}
		for k, v := range infra.Annotations {
			if len(v) > maxAnnotationValue {
				errs = append(errs, fmt.Errorf("spec.infrastructure.annotations: value of %q: %d bytes, at most %d allowed", k, len(v), maxAnnotationValue))
			}
		}
		for k, v := range infra.Labels {
			for _, msg := range validation.IsQualifiedName(string(k)) {
				errs = append(errs, fmt.Errorf("spec.infrastructure.labels: key %q: %s", k, msg))
			}
			for _, msg := range validation.IsValidLabelValue(string(v)) {
				errs = append(errs, fmt.Errorf("spec.infrastructure.labels: value of %q: %s", k, msg))
			}
		}
		for k := range infra.Annotations {
			for _, msg := range validation.IsQualifiedName(string(k)) {
				errs = append(errs, fmt.Errorf("spec.infrastructure.annotations: key %q: %s", k, msg))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return lineErrors(errs)
}

// The Gateway API CRD's limits on a Gateway (the apiserver refuses a
// Gateway beyond them).
const (
	maxListeners                 = 64
	maxInfrastructureLabels      = 8
	maxInfrastructureAnnotations = 16
	maxAnnotationValue           = 4096
)

// checkListeners refuses listeners the apiserver would refuse (more than
// maxListeners, duplicate names, duplicate port, protocol and hostname) and
// those Envoy could not bind: a port out of range or reserved by berth, and
// two Service ports of one transport that map onto one container port
// (80 and 80+PrivilegedPortOffset).
func (b *builder) checkListeners() []error {
	var errs []error
	ls := b.gw.Spec.Listeners
	if len(ls) > maxListeners {
		errs = append(errs, fmt.Errorf("spec.listeners: %d listeners, at most %d allowed", len(ls), maxListeners))
	}
	names := map[gwv1.SectionName]int{}
	type portKey struct {
		port     int32
		protocol gwv1.ProtocolType
		hostname string
	}
	ports := map[portKey]gwv1.SectionName{}
	type containerKey struct {
		port      int32
		transport string
	}
	container := map[containerKey]gwv1.Listener{}
	for i, l := range ls {
		if j, dup := names[l.Name]; dup {
			errs = append(errs, fmt.Errorf("spec.listeners[%d].name: %q is also the name of spec.listeners[%d]", i, l.Name, j))
		} else {
			names[l.Name] = i
		}
		hostname := ""
		if l.Hostname != nil {
			hostname = string(*l.Hostname)
		}
		pk := portKey{int32(l.Port), l.Protocol, hostname}
		if other, dup := ports[pk]; dup {
			errs = append(errs, fmt.Errorf("listener %s: port %d, protocol %s and hostname %q are those of listener %s", l.Name, l.Port, l.Protocol, hostname, other))
		} else {
			ports[pk] = l.Name
		}
		p := int(l.Port)
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("listener %s: port %d is out of range", l.Name, p))
			continue
		}
		cp := b.containerPort(int32(p))
		if slices.Contains(dataplane.ReservedPorts[:], cp) {
			errs = append(errs, fmt.Errorf("listener %s: port %d is reserved by berth (Envoy admin, readiness, shutdown manager and stats use %d, %d, %d and %d)",
				l.Name, p, dataplane.AdminPort, dataplane.ReadyPort, dataplane.ShutdownManagerPort, dataplane.StatsPort))
			continue
		}
		if !dataplane.Serves(string(l.Protocol)) {
			continue
		}
		ck := containerKey{cp, dataplane.Transport(string(l.Protocol))}
		if other, dup := container[ck]; dup && other.Port != l.Port {
			errs = append(errs, fmt.Errorf("listener %s: port %d and port %d of listener %s both map to container port %d (ports below 1024 are offset by %d)",
				l.Name, l.Port, other.Port, other.Name, cp, b.opts.PrivilegedPortOffset))
		} else if !dup {
			container[ck] = l
		}
	}
	return errs
}

// checkMetadata refuses objects whose labels or annotations the apiserver
// would refuse (label syntax, 256 KiB of annotations in all): the
// Gateway's infrastructure labels and annotations are copied onto every
// object, and the EnvoyProxy adds its own to the Service and the pods.
func checkMetadata(objs []Object) error {
	var errs []error
	check := func(obj Object, path *field.Path, labels, annotations map[string]string) {
		list := metav1validation.ValidateLabels(labels, path.Child("labels"))
		list = append(list, apivalidation.ValidateAnnotations(annotations, path.Child("annotations"))...)
		for _, e := range list {
			if e.Type == field.ErrorTypeTooLong && e.Field == path.Child("annotations").String() {
				// Its message does not say by how much.
				e.Detail = fmt.Sprintf("%d bytes, at most %d allowed", annotationsSize(annotations), apivalidation.TotalAnnotationSizeLimitB)
				errs = append(errs, fmt.Errorf("%s %s/%s %s: %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), e.Field, e.Detail))
				continue
			}
			errs = append(errs, fmt.Errorf("%s %s/%s %s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), e.Error()))
		}
	}
	for _, obj := range objs {
		check(obj, field.NewPath("metadata"), obj.GetLabels(), obj.GetAnnotations())
		if d, ok := obj.(*appsv1.Deployment); ok {
			t := d.Spec.Template
			check(obj, field.NewPath("spec", "template", "metadata"), t.Labels, t.Annotations)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return lineErrors(errs)
}

func annotationsSize(annotations map[string]string) int {
	n := 0
	for k, v := range annotations {
		n += len(k) + len(v)
	}
	return n
}

// lineErrors joins errors on one line, fit for a status message, and keeps
// them inspectable (errors.Is(err, ErrNoServedListeners)).
type lineErrors []error

func (e lineErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e lineErrors) Unwrap() []error { return e }

// containerPort is the port Envoy listens on for a listener port.
func (b *builder) containerPort(listenerPort int32) int32 {
	return dataplane.ContainerPort(listenerPort, b.opts.PrivilegedPortOffset)
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// envoyImage applies the EnvoyProxy's image or imageRepository.
func envoyImage(def string, c *v1alpha1.KubernetesContainerSpec) string {
	switch {
	case c == nil:
		return def
	case c.Image != nil:
		return *c.Image
	case c.ImageRepository != nil:
		tag := ""
		if i := strings.LastIndex(def, ":"); i > strings.LastIndex(def, "/") {
			tag = def[i:]
		}
		if at := strings.Index(def, "@"); at >= 0 {
			tag = def[at:]
		}
		return *c.ImageRepository + tag
	}
	return def
}
