package apply

import (
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// memoMapper answers RESTMapping from a memo of the mapper's earlier
// answers. client-go's deferred discovery mapper builds its answer anew on
// every call (a priority mapper over a mapper per discovered group: a few
// KiB of garbage per object), and cli-utils, kubectl and apply ask it
// several times for every object of every run. The memo holds only
// successful answers and is emptied whenever the mapper may have changed its
// mind: on Reset, and on any failed call (after which the caller usually
// resets it, and the deferred mapper may have reset itself). An answer
// looked up while the memo was emptied is not kept (gen): it may predate the
// Reset.
type memoMapper struct {
	meta.ResettableRESTMapper
	mu   sync.RWMutex
	memo map[mappingKey]meta.RESTMapping
	gen  uint64 // moves at every forget
	// lookedUp, when set, is called after a lookup of the mapper and before
	// its answer is stored (a test holds it there).
	lookedUp func()
}

type mappingKey struct {
	gk       schema.GroupKind
	versions string
}

func newMemoMapper(m meta.ResettableRESTMapper) *memoMapper {
	return &memoMapper{ResettableRESTMapper: m, memo: map[mappingKey]meta.RESTMapping{}}
}

// RESTMapping returns a copy of the memo's answer, or asks the mapper.
func (m *memoMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	k := mappingKey{gk: gk, versions: strings.Join(versions, ",")}
	m.mu.RLock()
	v, ok := m.memo[k]
	gen := m.gen
	m.mu.RUnlock()
	if ok {
		return &v, nil
	}
	r, err := m.ResettableRESTMapper.RESTMapping(gk, versions...)
	if err != nil || r == nil {
		m.forget()
		return r, err
	}
	if m.lookedUp != nil {
		m.lookedUp()
	}
	m.mu.Lock()
	if m.gen == gen {
		m.memo[k] = *r
	}
	m.mu.Unlock()
	return r, nil
}

// Reset empties the memo and resets the mapper.
func (m *memoMapper) Reset() {
	m.forget()
	m.ResettableRESTMapper.Reset()
}

func (m *memoMapper) forget() {
	m.mu.Lock()
	clear(m.memo)
	m.gen++
	m.mu.Unlock()
}
