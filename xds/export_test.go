package xds

import "context"

// SetRequestHook makes f run for every request in go-control-plane's
// handler goroutine (tests inject panics with it); the returned func
// removes it.
func SetRequestHook(f func(req any)) (restore func()) {
	requestHook.Store(&f)
	return func() { requestHook.Store(nil) }
}

// SetSendHook makes f run before every response is sent (tests hold a send
// back with it); the returned func removes it.
func SetSendHook(f func(ctx context.Context)) (restore func()) {
	sendHook.Store(&f)
	return func() { sendHook.Store(nil) }
}
