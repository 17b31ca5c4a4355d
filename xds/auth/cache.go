package auth

import (
	"container/list"
	"sync"
	"time"
)

// cacheKey is the SHA-256 of a token: the caches never hold tokens.
type cacheKey [32]byte

// entry is a cached review outcome: either a Result or a refusal.
type entry struct {
	key     cacheKey
	result  Result
	err     *Error
	expires time.Time
}

// lru is a size-bounded least-recently-used map of review outcomes with
// per-entry expiry, indexed by the pod a positive outcome is bound to (so a
// deleted pod's entries can be dropped). Safe for concurrent use. The
// Authenticator keeps accepted and refused outcomes in two of them, so
// refusals can never evict an accepted token.
type lru struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front = most recently used; values are *entry
	items map[cacheKey]*list.Element
	byPod map[string]map[cacheKey]struct{} // Result.PodUID → keys
}

func newLRU(max int) *lru {
	if max < 1 {
		max = 1
	}
	return &lru{max: max, ll: list.New(), items: map[cacheKey]*list.Element{}, byPod: map[string]map[cacheKey]struct{}{}}
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
		c.removeLocked(el)
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
		c.removeLocked(el)
	}
	c.items[e.key] = c.ll.PushFront(e)
	if uid := e.result.PodUID; uid != "" {
		if c.byPod[uid] == nil {
			c.byPod[uid] = map[cacheKey]struct{}{}
		}
		c.byPod[uid][e.key] = struct{}{}
	}
	for c.ll.Len() > c.max {
		c.removeLocked(c.ll.Back())
	}
}

// removePod drops every entry bound to pod uid and returns how many.
func (c *lru) removePod(uid string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.byPod[uid]
	n := len(keys)
	for k := range keys {
		c.removeLocked(c.items[k])
	}
	return n
}

func (c *lru) removeLocked(el *list.Element) {
	e := el.Value.(*entry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	if uid := e.result.PodUID; uid != "" {
		delete(c.byPod[uid], e.key)
		if len(c.byPod[uid]) == 0 {
			delete(c.byPod, uid)
		}
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
