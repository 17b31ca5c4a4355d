package auth

import (
	"container/list"
	"sync"
	"time"
)

// cacheKey is the SHA-256 of a token: the cache never holds tokens.
type cacheKey [32]byte

// entry is a cached review outcome: either a Result or a refusal.
type entry struct {
	key     cacheKey
	result  Result
	err     *Error
	expires time.Time
}

// lru is a size-bounded least-recently-used map of review outcomes with
// per-entry expiry. Safe for concurrent use.
type lru struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used; values are *entry
	items map[cacheKey]*list.Element
}

func newLRU(max int) *lru {
	if max < 1 {
		max = 1
	}
	return &lru{max: max, ll: list.New(), items: make(map[cacheKey]*list.Element)}
}

// get returns the live entry for k, dropping it if it expired by now.
func (c *lru) get(k cacheKey, now time.Time) (*entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.items, k)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return e, true
}

// add stores e, evicting the least recently used entries beyond max.
func (c *lru) add(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.key]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.items[e.key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*entry).key)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
