package translate_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/berth-gateway/berth/xds/translate"
)

// TestTranslateParallel: Translate, which translates the Gateways on every
// CPU, gives the same results as translating them one by one from one
// Index, on the scale input and every golden input, with four workers
// whatever the machine has. Run it with -race: the Gateways share the
// Index, which must be read-only.
func TestTranslateParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	inputs := goldenAndScaleInputs(t)
	several := 0
	for name, in := range inputs {
		opts := translate.DefaultOptions()
		par := translate.Translate(in, opts)
		ix := translate.NewIndex(in, opts)
		var ser []*translate.Result
		for _, key := range ix.Gateways() {
			r, err := ix.TranslateGateway(key)
			if err != nil {
				t.Fatal(err)
			}
			ser = append(ser, r)
		}
		if len(par) != len(ser) {
			t.Fatalf("%s: %d results in parallel, %d one by one", name, len(par), len(ser))
		}
		if len(par) > 1 {
			several++
		}
		for _, f := range []translate.Format{translate.FormatYAML, translate.FormatJSON} {
			a, errA := translate.Marshal(par, f)
			b, errB := translate.Marshal(ser, f)
			if (errA == nil) != (errB == nil) || !bytes.Equal(a, b) {
				t.Fatalf("%s: parallel and one-by-one translations differ (%v, %v)", name, errA, errB)
			}
		}
	}
	if several < 2 {
		t.Fatalf("only %d inputs with several Gateways", several)
	}
}
