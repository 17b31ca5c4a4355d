package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// StopTimeout is how long Stop waits for a Background run to return once its
// context ended.
const StopTimeout = time.Minute

// Run is a function running in the background of a test, such as a
// controller's Run: Background starts it, Stop ends it.
type Run struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // run's result, set before done closes
	once   sync.Once
	stop   error
}

// Background calls run on a goroutine with a context that ends when Stop is
// called or the test ends; the test fails when run then returns an error
// (other than the context's) or does not return within StopTimeout.
func Background(t testing.TB, run func(context.Context) error) *Run {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// Done is closed when run has returned (on its own, or after Stop).
func (r *Run) Done() <-chan struct{} { return r.done }

// Err is what run returned, once Done is closed.
func (r *Run) Err() error { return r.err }

// Stop ends run's context and waits for it to return: an error when run
// failed or did not return within StopTimeout. Later calls return the same.
func (r *Run) Stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case <-r.done:
			if r.err != nil && !errors.Is(r.err, context.Canceled) {
				r.stop = fmt.Errorf("run returned %w", r.err)
			}
		case <-time.After(StopTimeout):
			r.stop = fmt.Errorf("run did not return within %s of its context ending", StopTimeout)
		}
	})
	return r.stop
}
