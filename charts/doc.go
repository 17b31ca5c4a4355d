// Package charts holds the tests of the Helm chart in berth/: helm lint,
// helm template golden outputs, the generated RBAC rule templates
// (berth/templates/_rules.tpl, from package rbac) and the copies of CRDs the
// chart ships. The server-side dry-run against a real cluster is in
// charts/clustertest. helm is built from the Go module proxy
// (hack/tools/helm) by localcluster.EnsureBinaries.
package charts
