// Package rbac is the RBAC berth's controller needs, as pure data: one
// declared list of permissions (Permissions), each with the reason berth
// needs it and the scope it is granted in, and Build, which turns that list
// into ClusterRoles, Roles and their bindings for one installation.
//
// Both `berth rbac` and the Helm chart (charts/berth, whose rule templates
// are generated from this package and checked by its tests) install exactly
// these rules, so changing what the controller may do is a change here.
//
// Scopes:
//   - ScopeCluster rules are always in the ClusterRole: cluster-scoped
//     resources (GatewayClasses, Namespaces) and TokenReviews.
//   - ScopeWatched rules cover the objects berth reads and the bundles it
//     writes: in the ClusterRole by default, or in one Role per watched
//     namespace when Options.WatchNamespaces is set.
//   - ScopeSelf rules are always a Role in berth's own namespace: the leader
//     election Lease and the xDS TLS Secret, narrowed by resource name where
//     the API allows it.
//
// This package imports only the RBAC and meta API types: no client, no I/O.
package rbac
