package translate

import (
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/berth-gateway/berth/internal/dataplane"
	"github.com/berth-gateway/berth/render"
)

// TestClassBound checks the UTF-8 sequence bound of character classes
// against sequences worked out by hand from the UTF-8 encoding.
func TestClassBound(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want int
	}{
		{`a`, 1},                // one byte
		{`é`, 2},                // C3 A9
		{`€`, 3},                // E2 82 AC
		{`[0-9a-f]`, 3},         // two byte ranges, one alternation
		{`[a-z]`, 1},            // one byte range
		{`[\x{80}-\x{7ff}]`, 2}, // [C2-DF][80-BF]
		// Any but newline: [00-09], [0B-7F], [C2-DF][80-BF],
		// E0[A0-BF][80-BF], [E1-EF][80-BF][80-BF], F0[90-BF][80-BF][80-BF],
		// [F1-F3][80-BF][80-BF][80-BF], F4[80-8F][80-BF][80-BF]: 22 bytes,
		// 8 sequences joined by 7 alternations.
		{`.`, 29},
	} {
		re, err := syntax.Parse(tc.expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for i := range prog.Inst {
			if op := prog.Inst[i].Op; op == syntax.InstRune || op == syntax.InstRune1 || op == syntax.InstRuneAnyNotNL || op == syntax.InstRuneAny {
				got += instBound(&prog.Inst[i])
			}
		}
		if got != tc.want {
			t.Errorf("%s: bound %d, want %d", tc.expr, got, tc.want)
		}
	}
}

// TestRegexLimitsAgree is the table of issue 13: for each pattern, Go's
// program size (what berth counted before), berth's bound of RE2's program
// size, and whether berth accepts it. Whatever berth accepts fits, with the
// factor left for flattening, under the limit the bootstrap gives Envoy;
// the UUID pattern, which Envoy's default limit of 100 refused while Go
// counted far less, is accepted now because the bootstrap raises the
// limit.
func TestRegexLimitsAgree(t *testing.T) {
	var limit float64
	for _, l := range render.Bootstrap("ns", "gw", 0, true, render.DefaultOptions()).GetLayeredRuntime().GetLayers() {
		if v, ok := l.GetStaticLayer().GetFields()[render.RuntimeRegexProgramSize]; ok {
			limit = v.GetNumberValue()
		}
	}
	if limit != dataplane.MaxRegexProgramSize {
		t.Fatalf("bootstrap sets %s to %v, want %d", render.RuntimeRegexProgramSize, limit, dataplane.MaxRegexProgramSize)
	}
	const uuid = `/users/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
	for _, tc := range []struct {
		expr   string
		accept bool
	}{
		{uuid, true},
		{`/api/v[0-9]+/.*`, true},
		{`.*\.(jpg|png|gif)`, true},
		{`(?i)/Static/.*`, true},
		{`^/[a-z]{2}-[A-Z]{2}/products/[0-9]+$`, true},
		{`[\p{L}]+`, false},                     // one Go instruction, hundreds of RE2 ones
		{`.{40}`, false},                        // 40 times 29
		{`[a-z]{300}`, true},                    // 300 byte ranges: within the bound
		{`[0-9a-f]{200}`, false},                // 200 times 3
		{strings.Repeat(`(ab|cd)`, 100), false}, // captures and alternations count too
	} {
		goProg := func() int {
			re, _ := syntax.Parse(tc.expr, syntax.Perl)
			p, _ := syntax.Compile(re.Simplify())
			return len(p.Inst)
		}()
		bound, err := re2SizeBound(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		err = checkRegex(tc.expr)
		t.Logf("%-60.60s Go program %4d, RE2 bound %6d, accepted %v", tc.expr, goProg, bound, err == nil)
		if (err == nil) != tc.accept {
			t.Errorf("%s: accepted %v (%v), want %v", tc.expr, err == nil, err, tc.accept)
		}
		if err == nil && float64(2*bound) > limit {
			t.Errorf("%s: accepted with bound %d, more than half Envoy's limit %v", tc.expr, bound, limit)
		}
		if bound < goProg-2 {
			t.Errorf("%s: RE2 bound %d below Go's program size %d", tc.expr, bound, goProg)
		}
	}
	if b, _ := re2SizeBound(uuid); b <= 100 {
		t.Errorf("UUID pattern bound %d: Envoy's default limit of 100 refused it, the bound must exceed it", b)
	}
}
