package controller

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/berth-gateway/berth/render"
)

// SupportedFeatures are the Gateway API features berth implements, reported
// in GatewayClass status (and used by the conformance suite), sorted.
var SupportedFeatures = []features.FeatureName{
	// BackendTLSPolicy: upstream TLS with CA refs or the system CAs, SNI
	// and subjectAltNames (xds/translate/backendtls.go).
	features.SupportBackendTLSPolicy,
	features.SupportBackendTLSPolicySANValidation,
	features.SupportGateway,
	// spec.addresses entries of type IPAddress without a value: the
	// Service's address is assigned as usual (render/addresses.go).
	features.SupportGatewayAddressEmpty,
	// spec.tls.backend.clientCertificateRef, presented to TLS backends.
	features.SupportGatewayBackendClientCertificate,
	// spec.tls.frontend: client-certificate validation on HTTPS
	// listeners, both modes.
	features.SupportGatewayFrontendClientCertificateValidation,
	features.SupportGatewayFrontendClientCertificateValidationInsecureFallback,
	// Gateway infrastructure labels, annotations and parametersRef
	// (EnvoyProxy) reach every bundle object (render).
	features.SupportGatewayInfrastructure,
	// Any listener port works: ports below 1024 map to port+offset in the
	// container (dataplane.ContainerPort), 8080 is not special.
	features.SupportGatewayPort8080,
	// spec.addresses entries of type IPAddress with a value: the
	// Service's requested address (LoadBalancer: loadBalancerIP;
	// ClusterIP: clusterIPs); one the Service type cannot take is
	// AddressNotUsable, one the Service did not get is AddressNotUsable or
	// AddressNotAssigned (render/addresses.go, addresses.go).
	features.SupportGatewayStaticAddresses,
	// GRPCRoute on HTTP and HTTPS listeners (xds/translate), backends over
	// HTTP/2.
	features.SupportGRPCRoute,
	features.SupportHTTPRoute,
	features.SupportHTTPRouteBackendTimeout,
	// Destination port matching (GEP-957): a parentRef's port attaches
	// the route to every listener on that port and to no other, also with
	// sectionName (both must match); a port without listener is
	// NoMatchingParent (xds/translate/attach.go).
	features.SupportHTTPRouteDestinationPortMatching,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRouteMethodMatching,
	// A parentRef naming a port attaches only to listeners on that port.
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteRequestMirror,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRouteSchemeRedirect,
	// ListenerSet: listeners merged into the parent Gateway by precedence,
	// with their status (xds/translate listenerset.go).
	features.SupportListenerSet,
	features.SupportReferenceGrant,
	// TCPRoute on TCP listeners, TLSRoute on TLS listeners in mode
	// Passthrough (SNI) and Terminate, also both on one port (each server
	// name's filter chain in its listener's mode), UDPRoute on UDP
	// listeners (xds/translate l4.go).
	features.SupportTCPRoute,
	features.SupportTLSRoute,
	features.SupportTLSRouteModeMixed,
	features.SupportTLSRouteModeTerminate,
	features.SupportUDPRoute,
}

// reconcileClass reports a berth GatewayClass's Accepted condition (leader).
func (c *Controller) reconcileClass(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	done := c.metrics.observe("gatewayclass")
	defer func() { done(err) }()
	var class gwv1.GatewayClass
	if err := c.client.Get(ctx, req.NamespacedName, &class); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if string(class.Spec.ControllerName) != c.opts.ControllerName {
		return ctrl.Result{}, nil
	}
	f := classFacts{Generation: class.Generation}
	for _, n := range SupportedFeatures {
		f.Features = append(f.Features, gwv1.FeatureName(n))
	}
	ref, err := render.ClassParametersRef(&class)
	switch {
	case err != nil:
		f.ParamsErr = err
	case ref != nil:
		ep, err := envoyProxy(ctx, c.client, "GatewayClass "+class.Name, ref)
		if err != nil {
			var pe *render.ParametersError
			if !errors.As(err, &pe) && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			f.ParamsErr = err
			break
		}
		f.Unsupported, f.ParamsErr = render.CheckEnvoyProxy("GatewayClass "+class.Name, ep)
	}
	st := classStatus(class.Status, f, metav1.Now())
	if equality.Semantic.DeepEqual(st, class.Status) {
		return ctrl.Result{}, nil
	}
	class.Status = st
	return statusWritten(c.client.Status().Update(ctx, &class))
}
