package translate_test

import (
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/berth-gateway/berth/xds/translate"
)

// BenchmarkResourceSize reports the encoded size (proto bytes) of the
// listener and route configuration resources of one Gateway of the scale
// input (1,000 routes over 100 Gateways: 10 routes of 10 rules) and of the
// seed scenario's Gateways, the sizes docs/benchmarks.md records before
// and after a change of what a listener or route carries. The time per
// operation is that of translating the input.
func BenchmarkResourceSize(b *testing.B) {
	for _, c := range []struct {
		name string
		in   func() translate.Input
	}{
		{"scale-1000-routes", func() translate.Input { return scaleInput(100, 1000) }},
		{"seed", func() translate.Input { return loadInput(b, "testdata/seed.in.yaml") }},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := c.in()
			var results []*translate.Result
			for b.Loop() {
				results = translate.Translate(in, translate.DefaultOptions())
			}
			var listeners, routes int
			for _, r := range results {
				for _, l := range r.Resources[resourcev3.ListenerType] {
					listeners += proto.Size(l)
				}
				for _, rc := range r.Resources[resourcev3.RouteType] {
					routes += proto.Size(rc)
				}
			}
			b.ReportMetric(float64(listeners)/float64(len(results)), "listener-B/gateway")
			b.ReportMetric(float64(routes)/float64(len(results)), "route-B/gateway")
		})
	}
}
