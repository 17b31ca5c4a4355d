package rbac

import rbacv1 "k8s.io/api/rbac/v1"

// Permission is one rule berth's controller needs.
type Permission struct {
	// Scope says where the rule is granted.
	Scope Scope
	// Rule is the RBAC rule.
	Rule rbacv1.PolicyRule
	// Why says what berth does with it.
	Why string
}

// API groups berth touches.
const (
	groupCore        = ""
	groupGatewayAPI  = "gateway.networking.k8s.io"
	groupEnvoyProxy  = "gateway.envoyproxy.io"
	groupApps        = "apps"
	groupAutoscaling = "autoscaling"
	groupPolicy      = "policy"
	groupDiscovery   = "discovery.k8s.io"
	groupEvents      = "events.k8s.io"
	groupAuthn       = "authentication.k8s.io"
	groupCoordinate  = "coordination.k8s.io"
)

// Verb sets, each exactly what berth's code paths use (the least privilege
// end-to-end test, e2e/leastprivilege_test.go, compares them with the API
// server's audit log and fails on a right nothing uses).
var (
	// read is what an informer needs: a streaming watch-list, or list then
	// watch on API servers without it. Reads go through the informer
	// caches, so there is no get.
	read = []string{"list", "watch"}
	// apply is what the apply engine does with a bundle object: server-side
	// apply (patch; a patch that creates the object is also authorized as
	// create), kstatus readiness (get, and a watch through an informer) and
	// pruning (delete, one object at a time: no deletecollection). No
	// update: nothing replaces a bundle object.
	apply = []string{"create", "delete", "get", "list", "patch", "watch"}
	// inventory adds the cli-utils inventory ConfigMap's writes (create,
	// update) to apply; the bundle's own ConfigMap is applied like the rest.
	inventory = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	// writeStatus: status is written with update (optimistic concurrency on
	// the resourceVersion berth read).
	writeStatus = []string{"update"}
)

func rule(groups []string, resources []string, verbs []string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs, ResourceNames: names}
}

// Permissions is the declared list of everything the controller may do, in
// the order the rules appear in the roles. It is the one place to change
// berth's rights.
func Permissions(o Options) []Permission {
	ps := []Permission{
		// Cluster-scoped objects and the cluster-wide TokenReview API.
		{ScopeCluster, rule([]string{groupGatewayAPI}, []string{"gatewayclasses"}, read),
			"select the GatewayClasses whose controllerName is berth's"},
		{ScopeCluster, rule([]string{groupGatewayAPI}, []string{"gatewayclasses/status"}, writeStatus),
			"report GatewayClass Accepted"},
		{ScopeCluster, rule([]string{groupCore}, []string{"namespaces"}, []string{"get", "list", "watch"}),
			"--watch-namespace-selector and listener allowedRoutes namespace selectors (informer); " +
				"the apply engine gets a Gateway's namespace after a failed apply to report it terminating"},
		// The xDS server also reads the ServiceAccount issuer's public keys
		// (GET /openid/v1/jwks) to refuse forged tokens before any review;
		// Kubernetes' default system:service-account-issuer-discovery
		// binding grants that to every ServiceAccount, so no rule here.
		{ScopeCluster, rule([]string{groupAuthn}, []string{"tokenreviews"}, []string{"create"}),
			"xDS server: verify the projected ServiceAccount token every proxy presents"},

		// What berth reads to render and translate a Gateway.
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"gateways", "grpcroutes", "httproutes", "referencegrants", "tcproutes", "tlsroutes", "udproutes"}, read),
			"the Gateways berth serves, their routes and the grants that allow cross-namespace references " +
				"(TCPRoutes, TLSRoutes and UDPRoutes only where their CRDs are installed)"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"gateways"}, []string{"patch"}),
			"add and remove berth's finalizer (a merge patch)"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"gateways/status", "grpcroutes/status", "httproutes/status", "tcproutes/status", "tlsroutes/status", "udproutes/status"}, writeStatus),
			"report Gateway, listener and route conditions and Gateway addresses"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"listenersets"}, read),
			"ListenerSets: listeners merged into their parent Gateway (watched only where the CRD is installed)"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"listenersets/status"}, writeStatus),
			"report ListenerSet and listener conditions"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"backendtlspolicies"}, read),
			"BackendTLSPolicies: TLS from the proxies to backend Services (watched only where the CRD is installed)"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"backendtlspolicies/status"}, writeStatus),
			"report BackendTLSPolicy conditions per Gateway (status.ancestors)"},
		{ScopeWatched, rule([]string{groupEnvoyProxy}, []string{"envoyproxies"}, read),
			"EnvoyProxy parameters of GatewayClasses and Gateways"},
		{ScopeWatched, rule([]string{groupEnvoyProxy}, []string{"clienttrafficpolicies"}, read),
			"ClientTrafficPolicies: edge settings of Gateways and listeners (watched only where the CRD is installed)"},
		{ScopeWatched, rule([]string{groupEnvoyProxy}, []string{"clienttrafficpolicies/status"}, writeStatus),
			"report ClientTrafficPolicy conditions per Gateway and listener (status.ancestors)"},
		{ScopeWatched, rule([]string{groupCore}, []string{"secrets"}, read),
			"TLS certificates of HTTPS listeners (certificateRefs)"},
		{ScopeWatched, rule([]string{groupDiscovery}, []string{"endpointslices"}, read),
			"backend endpoints for the xDS clusters"},
		{ScopeWatched, rule([]string{groupCore}, []string{"pods"}, read),
			"xDS revocation: berth's own proxy pods (label-selected informer); a deleted pod's tokens and streams end at once"},

		// The bundle berth places in each Gateway's namespace, and its
		// inventory ConfigMap. Services are also read as route backends.
		{ScopeWatched, rule([]string{groupCore}, []string{"configmaps"}, inventory),
			"bundle ConfigMap and the cli-utils inventory ConfigMap; CA certificates (ca.crt) of BackendTLSPolicies and Gateway client-certificate validation (informer, cached without other keys)"},
		{ScopeWatched, rule([]string{groupCore}, []string{"serviceaccounts", "services"}, apply),
			"bundle ServiceAccount and Service; backend Services"},
		{ScopeWatched, rule([]string{groupApps}, []string{"deployments"}, apply),
			"bundle Deployment"},
		{ScopeWatched, rule([]string{groupAutoscaling}, []string{"horizontalpodautoscalers"}, apply),
			"bundle HorizontalPodAutoscaler (EnvoyProxy envoyHpa)"},
		{ScopeWatched, rule([]string{groupPolicy}, []string{"poddisruptionbudgets"}, apply),
			"bundle PodDisruptionBudget (EnvoyProxy envoyPDB)"},
		{ScopeWatched, rule([]string{groupEvents}, []string{"events"}, []string{"create", "patch"}),
			"events on Gateways (events.k8s.io: create, and patch for a repeated event's series)"},

		// berth's own namespace.
		{ScopeSelf, rule([]string{groupCoordinate}, []string{"leases"}, []string{"create"}),
			"create the leader election Lease (create cannot be narrowed by name)"},
		{ScopeSelf, rule([]string{groupCoordinate}, []string{"leases"}, []string{"get", "update"}, o.LeaderElectionID),
			"hold and renew the leader election Lease"},
		{ScopeSelf, rule([]string{groupCore}, []string{"events"}, []string{"create"}),
			"leader election events on the Lease (each names a new holder, so none repeats: no patch)"},
	}
	if o.ExternalTLS {
		ps = append(ps,
			Permission{ScopeSelf, rule([]string{groupCore}, []string{"secrets"}, []string{"get", "watch"}, o.XDSTLSSecret),
				"read the provided xDS TLS Secret and reload it when it changes"})
	} else {
		ps = append(ps,
			Permission{ScopeSelf, rule([]string{groupCore}, []string{"secrets"}, []string{"create"}),
				"create the xDS CA and serving certificate Secret (create cannot be narrowed by name)"},
			Permission{ScopeSelf, rule([]string{groupCore}, []string{"secrets"}, []string{"get", "update", "watch"}, o.XDSTLSSecret),
				"read, renew and rotate the xDS TLS Secret"})
	}
	return ps
}
