// Package apirequest names a Kubernetes API request the way the API server
// does (its audit log, apiserver_request_total): verb, group, resource and
// subresource, parsed by the API server's own request-info parser. The
// controller's berth_kube_api_requests_total metric and the tests' request
// recorder (internal/testenv) both use it.
package apirequest

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// Info is one API request.
type Info struct {
	// Verb is get, list, watch, create, update, patch, delete or
	// deletecollection (and the API server's other verbs) for a resource
	// request, the lowercase HTTP method for any other (discovery,
	// /version, /openapi).
	Verb string
	// Group, Resource and Subresource name what a resource request is
	// for ("" for the core group; all empty for other requests).
	Group, Resource, Subresource string
	// Path is the URL path.
	Path string
}

// IsResource is whether the request is for a resource (not discovery,
// /version or /openapi).
func (i Info) IsResource() bool { return i.Resource != "" }

// Name is resource[/subresource][.group], or "discovery PATH" for a
// request that is not for a resource ("discovery" when Path is empty).
func (i Info) Name() string {
	if !i.IsResource() {
		return strings.TrimSpace("discovery " + i.Path)
	}
	name := i.Resource
	if i.Subresource != "" {
		name += "/" + i.Subresource
	}
	if i.Group != "" {
		name += "." + i.Group
	}
	return name
}

// The API server's own configuration of the parser (its legacy "api"
// prefix is the core group).
var factory = &request.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// Parse names r.
func Parse(r *http.Request) Info {
	ri, err := factory.NewRequestInfo(r)
	if err != nil || !ri.IsResourceRequest {
		// Not a resource request (or one the parser refuses): named by
		// its method and path.
		return Info{Verb: strings.ToLower(r.Method), Path: r.URL.Path}
	}
	return Info{Verb: ri.Verb, Group: ri.APIGroup, Resource: ri.Resource, Subresource: ri.Subresource, Path: r.URL.Path}
}
