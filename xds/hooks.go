package xds

import "context"

// Test hooks (set only by export_test.go): requestHook runs in
// go-control-plane's handler goroutine for every request (to inject a
// panic), sendHook before every response is sent (to hold a send back).
var (
	requestHook func(req any)
	sendHook    func(ctx context.Context)
)
