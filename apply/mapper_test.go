package apply

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// countingMapper knows Deployments (as the resource named in resource)
// and counts what it is asked.
type countingMapper struct {
	meta.ResettableRESTMapper // nil: only the methods below are called
	calls, resets             int
	resource                  string
	fail                      bool
}

func (c *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.calls++
	if c.fail || gk.Kind != "Deployment" {
		return nil, &meta.NoKindMatchError{GroupKind: gk}
	}
	return &meta.RESTMapping{
		Resource:         schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: c.resource},
		GroupVersionKind: gk.WithVersion("v1"),
		Scope:            meta.RESTScopeNamespace,
	}, nil
}

func (c *countingMapper) Reset() { c.resets++ }

func TestMemoMapper(t *testing.T) {
	under := &countingMapper{resource: "deployments"}
	m := newMemoMapper(under)
	dep := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	ask := func(gk schema.GroupKind, versions ...string) *meta.RESTMapping {
		t.Helper()
		r, err := m.RESTMapping(gk, versions...)
		if err != nil {
			t.Fatalf("RESTMapping(%v): %v", gk, err)
		}
		return r
	}
	first := ask(dep)
	first.Resource.Resource = "changed by a caller" // a caller's copy: the memo keeps its own
	if r := ask(dep); r.Resource.Resource != "deployments" || under.calls != 1 {
		t.Fatalf("second ask: %v after %d calls, want the memo's deployments after 1", r.Resource, under.calls)
	}
	ask(dep, "v1")
	if under.calls != 2 {
		t.Fatalf("other versions: %d calls, want 2 (their own memo entry)", under.calls)
	}

	// A failed call may have reset the deferred mapper: the memo is emptied.
	under.resource = "deployments-rediscovered"
	if _, err := m.RESTMapping(schema.GroupKind{Group: "example.com", Kind: "Widget"}); !meta.IsNoMatchError(err) {
		t.Fatalf("unknown kind: %v, want the mapper's no-match error", err)
	}
	if r := ask(dep); r.Resource.Resource != "deployments-rediscovered" {
		t.Fatalf("after a failed call: %v, want the mapper's new answer", r.Resource)
	}

	// Reset empties the memo and resets the mapper.
	under.resource = "deployments-after-reset"
	m.Reset()
	if under.resets != 1 {
		t.Fatalf("resets %d, want 1", under.resets)
	}
	if r := ask(dep); r.Resource.Resource != "deployments-after-reset" {
		t.Fatalf("after Reset: %v, want the mapper's new answer", r.Resource)
	}

	// Failures are never remembered.
	under.fail = true
	m.Reset()
	for range 2 {
		if _, err := m.RESTMapping(dep); !errors.As(err, new(*meta.NoKindMatchError)) {
			t.Fatalf("failing mapper: %v, want its error", err)
		}
	}
	calls := under.calls
	under.fail = false
	ask(dep)
	if under.calls != calls+1 {
		t.Fatalf("after failures: %d calls, want %d (asked again)", under.calls, calls+1)
	}
}

// A lookup that was under way when Reset came does not put its (possibly
// pre-Reset) answer in the memo: the next call asks the mapper again.
func TestMemoMapperResetDuringLookup(t *testing.T) {
	under := &countingMapper{resource: "before-reset"}
	m := newMemoMapper(under)
	dep := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	held, release := make(chan struct{}), make(chan struct{})
	m.lookedUp = func() { close(held); <-release }
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r, err := m.RESTMapping(dep); err != nil || r.Resource.Resource != "before-reset" {
			t.Errorf("held lookup: %v, %v", r, err)
		}
	}()
	<-held // the mapper has answered; the answer is not stored yet
	under.resource = "after-reset"
	m.Reset()
	m.lookedUp = nil
	close(release)
	<-done
	r, err := m.RESTMapping(dep)
	if err != nil || r.Resource.Resource != "after-reset" {
		t.Fatalf("after Reset: %v, %v; want the mapper's new answer, not the held lookup's", r, err)
	}
	if under.calls != 2 {
		t.Errorf("mapper asked %d times, want 2", under.calls)
	}
}
