package cli

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berth-gateway/berth/internal/corevalidation"
	"github.com/berth-gateway/berth/internal/crdschema"
	"github.com/berth-gateway/berth/internal/manifest"
)

// crdObjects are the objects of set of the kinds in reads that the
// apiserver validates: custom resources (the kinds crdschema has a CRD of)
// and the core kinds corevalidation checks.
func crdObjects(set *manifest.Set, reads []string) []any {
	read := map[string]bool{}
	for _, k := range reads {
		read[k] = true
	}
	var out []any
	add := func(kind string, n int, at func(int) any) {
		if !read[kind] {
			return
		}
		for i := range n {
			out = append(out, at(i))
		}
	}
	add("GatewayClass", len(set.GatewayClasses), func(i int) any { return set.GatewayClasses[i] })
	add("Gateway", len(set.Gateways), func(i int) any { return set.Gateways[i] })
	add("ListenerSet", len(set.ListenerSets), func(i int) any { return set.ListenerSets[i] })
	add("HTTPRoute", len(set.HTTPRoutes), func(i int) any { return set.HTTPRoutes[i] })
	add("GRPCRoute", len(set.GRPCRoutes), func(i int) any { return set.GRPCRoutes[i] })
	add("TCPRoute", len(set.TCPRoutes), func(i int) any { return set.TCPRoutes[i] })
	add("TLSRoute", len(set.TLSRoutes), func(i int) any { return set.TLSRoutes[i] })
	add("UDPRoute", len(set.UDPRoutes), func(i int) any { return set.UDPRoutes[i] })
	add("ReferenceGrant", len(set.ReferenceGrants), func(i int) any { return set.ReferenceGrants[i] })
	add("EnvoyProxy", len(set.EnvoyProxies), func(i int) any { return set.EnvoyProxies[i] })
	add("BackendTLSPolicy", len(set.BackendTLSPolicies), func(i int) any { return set.BackendTLSPolicies[i] })
	add("ClientTrafficPolicy", len(set.ClientTrafficPolicies), func(i int) any { return set.ClientTrafficPolicies[i] })
	add("Service", len(set.Services), func(i int) any { return set.Services[i] })
	add("EndpointSlice", len(set.EndpointSlices), func(i int) any { return set.EndpointSlices[i] })
	add("Secret", len(set.Secrets), func(i int) any { return set.Secrets[i] })
	add("Namespace", len(set.Namespaces), func(i int) any { return set.Namespaces[i] })
	add("ConfigMap", len(set.ConfigMaps), func(i int) any { return set.ConfigMaps[i] })
	return out
}

// validateSchemas refuses the input when the apiserver would refuse an
// object of a kind the command reads: for a custom resource its CRD's
// schema, defaults, list types and CEL rules and the ObjectMeta rules,
// checked by crdschema as the apiserver checks them on create; for a core
// kind the apiserver's validation as corevalidation restates it. The error is the
// first such object in input order (sources in the order read), with
// every field error the apiserver would give for it. Objects are
// validated in parallel, one worker per CPU.
func validateSchemas(set *manifest.Set, sources []string, reads []string) error {
	objs := crdObjects(set, reads)
	if len(objs) == 0 {
		return nil
	}
	v, err := crdschema.Embedded()
	if err != nil {
		return err
	}
	errs := make([]error, len(objs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(objs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(objs); i = int(next.Add(1) - 1) {
				errs[i] = validateSchema(v, set, objs[i])
			}
		}()
	}
	wg.Wait()
	order := map[string]int{}
	for i, s := range sources {
		if _, ok := order[s]; !ok {
			order[s] = i
		}
	}
	var first *manifest.Error
	for _, err := range errs {
		var e *manifest.Error
		if !errors.As(err, &e) {
			if err != nil {
				return err
			}
			continue
		}
		if first == nil || order[e.Source] < order[first.Source] || (e.Source == first.Source && e.Index < first.Index) {
			first = e
		}
	}
	if first == nil {
		return nil
	}
	return first
}

// ValidateObject is what the apiserver refuses obj, an object of set, for
// on create: a core kind by corevalidation; a custom resource by crdschema,
// on the document it was decoded from (as the apiserver decodes the
// request: a missing required field is "Required value"), or on the typed
// object converted back when set holds no document of it.
func ValidateObject(v *crdschema.Validator, set *manifest.Set, obj any) (field.ErrorList, error) {
	if errs, known := corevalidation.Validate(obj); known {
		return errs, nil
	}
	doc, ok, err := set.Document(obj)
	if err != nil {
		return nil, err
	}
	if !ok {
		errs, _, err := v.ValidateTyped(obj)
		return errs, err
	}
	errs, _ := v.Validate(doc)
	return errs, nil
}

// validateSchema validates one typed object of set.
func validateSchema(v *crdschema.Validator, set *manifest.Set, obj any) error {
	errs, err := ValidateObject(v, set, obj)
	if err != nil || len(errs) == 0 {
		return err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	kind := ""
	if t, ok := obj.(interface{ GetObjectKind() schema.ObjectKind }); ok {
		kind = t.GetObjectKind().GroupVersionKind().Kind
	}
	return &manifest.Error{Origin: set.Origin(obj), Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Err: errors.New(crdschema.FieldErrors(errs))}
}
