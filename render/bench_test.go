package render

import (
	"strconv"
	"testing"

	"github.com/berth-gateway/berth/internal/manifest"
)

// benchInput loads the one-Gateway input of a golden case.
func benchInput(b *testing.B, file string) Input {
	b.Helper()
	bundles, err := renderFile(b, file) // proves the case renders
	if err != nil || len(bundles) == 0 {
		b.Fatalf("%s: %v", file, err)
	}
	set := decodeFile(b, file)
	in := Input{GatewayClass: set.GatewayClasses[0], Gateway: set.Gateways[0]}
	refs, err := ResolveParametersRefs(in.GatewayClass, in.Gateway)
	if err != nil {
		b.Fatal(err)
	}
	for _, ep := range set.EnvoyProxies {
		switch {
		case refs.Class != nil && ep.Namespace == refs.Class.Namespace && ep.Name == refs.Class.Name:
			in.ClassParameters = ep
		case refs.Gateway != nil && ep.Namespace == refs.Gateway.Namespace && ep.Name == refs.Gateway.Name:
			in.GatewayParameters = ep
		}
	}
	return in
}

func decodeFile(b testing.TB, file string) *manifest.Set {
	b.Helper()
	set, err := manifest.DecodeAll(manifest.Input{Source: file, Reader: openFile(b, file)})
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// BenchmarkRender renders one Gateway's bundle: the seed Gateway (default
// LoadBalancer), the ClusterIP variant (class EnvoyProxy) and a Gateway
// EnvoyProxy merged over the class one (the most work per Gateway).
func BenchmarkRender(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"seed", seedInput},
		{"clusterip", clusterIPInput},
		{"merged", "testdata/gateway-override.in.yaml"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := benchInput(b, bc.file)
			opts := testOptions()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Render(in, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		// What apply receives: the bundle converted to unstructured.
		b.Run(bc.name+"+unstructured", func(b *testing.B) {
			in := benchInput(b, bc.file)
			opts := testOptions()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				bundle, err := Render(in, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bundle.Unstructured(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRenderFirst renders the seed Gateway under a new name every time,
// so that every render encodes and validates its bootstrap (BenchmarkRender
// measures the steady state, where the controller renders a Gateway it has
// rendered before and the encoded bootstrap comes from bootstrapCache).
func BenchmarkRenderFirst(b *testing.B) {
	in := benchInput(b, seedInput)
	opts := testOptions()
	gw := in.Gateway.DeepCopy()
	in.Gateway = gw
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		gw.Name = "bench-" + strconv.Itoa(i)
		if _, err := Render(in, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimOf is what the controller pays per other Gateway of a
// namespace on every reconcile (ClaimsBeside): resolving and merging the
// EnvoyProxies to learn the bundle's object names, without rendering.
func BenchmarkClaimOf(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"seed", seedInput},
		{"clusterip", clusterIPInput},
		{"merged", "testdata/gateway-override.in.yaml"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := benchInput(b, bc.file)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ClaimOf(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
