package xds

import (
	"context"
	"sync/atomic"
)

// Test hooks (set only by export_test.go): requestHook runs in
// go-control-plane's handler goroutine for every request (to inject a
// panic), sendHook before every response is sent (to hold a send back).
var (
	requestHook atomic.Pointer[func(req any)]
	sendHook    atomic.Pointer[func(ctx context.Context)]
)

func runRequestHook(req any) {
	if f := requestHook.Load(); f != nil {
		(*f)(req)
	}
}

func runSendHook(ctx context.Context) {
	if f := sendHook.Load(); f != nil {
		(*f)(ctx)
	}
}
