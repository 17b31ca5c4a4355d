package testenv

import (
	"fmt"
	"net/http"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/berth-gateway/berth/internal/apirequest"
)

// Requests records the API requests of every client built from a
// configuration it wrapped, in order, for tests that count what a run costs:
//
//	var reqs testenv.Requests
//	cfg := reqs.Wrap(env.Config)
//	mark := reqs.Mark()
//	... // run something with cfg
//	cost := testenv.Count(reqs.Since(mark))
type Requests struct {
	mu  sync.Mutex
	log []Request
}

// Request is one API request.
type Request struct {
	Method, Path, Query string
	// Verb and Resource name the request the way the API server's audit
	// log does: get, list, watch, create, update, patch or delete, and
	// resource[/subresource][.group] ("discovery …" for discovery).
	Verb, Resource string
	// Code is the response's HTTP status code (0 until it arrives, or
	// when the request failed without a response).
	Code int
}

// String is "METHOD /path?query".
func (r Request) String() string { return r.Method + " " + r.Path + "?" + r.Query }

// Wrap returns a copy of cfg whose requests r records (after any transport
// wrapper cfg already has).
func (r *Requests) Wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			i := r.record(req)
			resp, err := rt.RoundTrip(req)
			if resp != nil {
				r.mu.Lock()
				r.log[i].Code = resp.StatusCode
				r.mu.Unlock()
			}
			return resp, err
		})
	})
	return cfg
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// record appends req and returns its index.
func (r *Requests) record(req *http.Request) int {
	verb, resource := classify(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, Request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Verb: verb, Resource: resource})
	return len(r.log) - 1
}

// Mark is the position of the next request, for Since.
func (r *Requests) Mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

// Since returns the requests recorded from mark on.
func (r *Requests) Since(mark int) []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.log[mark:]...)
}

// Counts splits requests into reads (get, list), writes (everything but
// GET) and watches (long-running, one per informer start).
type Counts struct{ Reads, Writes, Watches int64 }

// Count tallies reqs.
func Count(reqs []Request) Counts {
	var c Counts
	for _, r := range reqs {
		switch {
		case r.Verb == "watch":
			c.Watches++
		case r.Method == http.MethodGet:
			c.Reads++
		default:
			c.Writes++
		}
	}
	return c
}

// Add is the sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.Reads + d.Reads, c.Writes + d.Writes, c.Watches + d.Watches}
}

// Requests is reads + writes: what a run costs, excluding long-running
// watches.
func (c Counts) Requests() int64 { return c.Reads + c.Writes }

func (c Counts) String() string {
	return fmt.Sprintf("%d requests (%d reads, %d writes), %d watches started", c.Requests(), c.Reads, c.Writes, c.Watches)
}

// classify names a request the way the API server's audit log does
// (apirequest.Parse): verb and resource[/subresource][.group], or
// "discovery PATH" for a request that is not for a resource.
func classify(r *http.Request) (verb, resource string) {
	info := apirequest.Parse(r)
	return info.Verb, info.Name()
}
