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

// Verb sets.
var (
	read = []string{"get", "list", "watch"}
	// manage is what the apply engine does with a bundle object: server-side
	// apply (patch), inventory ConfigMap writes (create, update), the
	// readiness watches (get, list, watch) and pruning (delete). Unlike the
	// reference there is no deletecollection: pruning deletes one object at a
	// time.
	manage      = []string{"create", "delete", "get", "list", "patch", "update", "watch"}
	writeStatus = []string{"patch", "update"}
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
		{ScopeCluster, rule([]string{groupCore}, []string{"namespaces"}, read),
			"--watch-namespace-selector and listener allowedRoutes namespace selectors"},
		{ScopeCluster, rule([]string{groupAuthn}, []string{"tokenreviews"}, []string{"create"}),
			"xDS server: verify the projected ServiceAccount token every proxy presents"},

		// What berth reads to render and translate a Gateway.
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"gateways", "grpcroutes", "httproutes", "referencegrants"}, read),
			"the Gateways berth serves, their routes and the grants that allow cross-namespace references"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"gateways"}, []string{"patch", "update"}),
			"add and remove berth's finalizer"},
		{ScopeWatched, rule([]string{groupGatewayAPI}, []string{"gateways/status", "httproutes/status"}, writeStatus),
			"report Gateway, listener and route conditions and Gateway addresses"},
		{ScopeWatched, rule([]string{groupEnvoyProxy}, []string{"envoyproxies"}, read),
			"EnvoyProxy parameters of GatewayClasses and Gateways"},
		{ScopeWatched, rule([]string{groupCore}, []string{"secrets"}, read),
			"TLS certificates of HTTPS listeners (certificateRefs)"},
		{ScopeWatched, rule([]string{groupDiscovery}, []string{"endpointslices"}, read),
			"backend endpoints for the xDS clusters"},

		// The bundle berth places in each Gateway's namespace, and its
		// inventory ConfigMap. Services are also read as route backends.
		{ScopeWatched, rule([]string{groupCore}, []string{"configmaps", "serviceaccounts", "services"}, manage),
			"bundle ServiceAccount, ConfigMap and Service; the cli-utils inventory ConfigMap; backend Services"},
		{ScopeWatched, rule([]string{groupApps}, []string{"deployments"}, manage),
			"bundle Deployment"},
		{ScopeWatched, rule([]string{groupAutoscaling}, []string{"horizontalpodautoscalers"}, manage),
			"bundle HorizontalPodAutoscaler (EnvoyProxy envoyHpa)"},
		{ScopeWatched, rule([]string{groupPolicy}, []string{"poddisruptionbudgets"}, manage),
			"bundle PodDisruptionBudget (EnvoyProxy envoyPDB)"},
		{ScopeWatched, rule([]string{groupCore, groupEvents}, []string{"events"}, []string{"create", "patch"}),
			"events on Gateways"},

		// berth's own namespace.
		{ScopeSelf, rule([]string{groupCoordinate}, []string{"leases"}, []string{"create"}),
			"create the leader election Lease (create cannot be narrowed by name)"},
		{ScopeSelf, rule([]string{groupCoordinate}, []string{"leases"}, []string{"get", "update"}, o.LeaderElectionID),
			"hold and renew the leader election Lease"},
		{ScopeSelf, rule([]string{groupCore}, []string{"events"}, []string{"create", "patch"}),
			"leader election events on the Lease"},
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
