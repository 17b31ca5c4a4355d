// Package v1alpha1 holds the subset of Envoy Gateway's EnvoyProxy API
// (gateway.envoyproxy.io/v1alpha1) that berth implements, so the reference
// manifests work unchanged.
//
// Fields berth implements are typed. Fields Envoy Gateway defines but berth
// does not implement are kept as raw JSON (the schema preserves them) so that
// they are reported by Unsupported instead of being dropped silently; any
// other field is rejected by strict decoding and by the API server's schema.
//
// Validation lives in two places: the CRD schema (generated from the
// +kubebuilder markers here) says what a schema can say, Validate says the
// rest (cross-field rules).
//
// +kubebuilder:object:generate=true
// +groupName=gateway.envoyproxy.io
package v1alpha1
