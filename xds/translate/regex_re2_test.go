package translate

import (
	"os"
	"regexp/syntax"
	"strings"
	"testing"
	_ "unsafe" // for go:linkname

	re2 "github.com/wasilibs/go-re2"
	"github.com/wasilibs/go-re2/experimental"
)

// re2Compile is go-re2's RE2::RE2(pattern, options) with options it does
// not export: experimental.CompileOptions is an alias of its type, so the
// signature cannot drift unnoticed (the test would not link). Test-only.
//
//go:linkname re2Compile github.com/wasilibs/go-re2/internal.Compile
func re2Compile(expr string, opts experimental.CompileOptions) (*re2.Regexp, error)

// re2Budget is the smallest max_mem with which real RE2 (go-re2 runs
// google/re2 compiled to Go) compiles expr, as the forward program's
// budget: RE2::Init hands CompileToProg max_mem*2/3, and the compiler
// (re2/compile.cc, Compiler::Setup) allows (budget - sizeof(Prog)) /
// sizeof(Prog::Inst) instructions, counted before flattening, failing
// the compile on the first one more. Nothing else in RE2::Init depends on
// max_mem, so the smallest budget is sizeof(Prog) + n*sizeof(Prog::Inst)
// for a program of n instructions.
func re2Budget(t *testing.T, expr string) int {
	t.Helper()
	compiles := func(maxMem int) bool {
		_, err := re2Compile(expr, experimental.CompileOptions{MaxMem: maxMem})
		return err == nil
	}
	// max_mem 0 means unlimited to RE2, so start at 3 (budget 2).
	lo, hi := 3, 1<<22
	if compiles(lo) || !compiles(hi) {
		t.Fatalf("%s: RE2 compiles with max_mem %d or not with %d", expr, lo, hi)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if compiles(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi * 2 / 3
}

// TestRE2SizeBound proves re2SizeBound against real RE2 (issue 13): for
// each pattern it measures the instruction count of RE2's program, and
// the bound must not be below it.
//
// The count is derived from compile budgets: "a" compiles to 5
// instructions (fail, the byte a, match, and the unanchored .*? loop's
// byte range and alternation), so a pattern whose smallest budget is d
// bytes more has 5 + d/sizeof(Prog::Inst) instructions; sizeof(Prog::Inst)
// is measured as the budget difference of "ab" and "a".
//
// What Envoy checks (RE2::ProgramSize) is the size after Prog::Flatten.
// Flattening (re2/prog.cc, EmitList) drops every Alt and Nop and copies
// every other instruction into the one list whose root dominates it,
// adding one Nop per edge from an Alt into another list's root; each Alt
// has two out edges (an AltMatch, made from an Alt over a .* loop's byte
// range, is copied too), so the flat program has at most
// n + #Alt + #AltMatch < 2n instructions. A regex whose bound is at most half Envoy's limit
// (dataplane.RegexProgramSizeBound) therefore flattens to within the
// limit: the factor 2 of headroom is exactly what flattening can cost.
func TestRE2SizeBound(t *testing.T) {
	// RE2 logs every failed compile of the search to stderr.
	if devnull, err := os.Open(os.DevNull); err == nil {
		stderr := os.Stderr
		os.Stderr = devnull
		defer func() { os.Stderr = stderr; devnull.Close() }()
	}
	base := re2Budget(t, `a`)
	inst := re2Budget(t, `ab`) - base
	if inst <= 0 {
		t.Fatalf("budget of ab minus a is %d", inst)
	}
	re2Size := func(expr string) int {
		d := re2Budget(t, expr) - base
		if d%inst != 0 {
			t.Fatalf("%s: budget %d above a's is not a whole number of %d-byte instructions", expr, d, inst)
		}
		return 5 + d/inst
	}
	// Calibration: counts worked out by hand from re2/compile.cc.
	for _, tc := range []struct {
		expr string
		want int
	}{
		{`abc`, 7},      // 3 bytes + fail, match, .*? loop (2)
		{`(a)`, 7},      // 2 capture instructions
		{`[0-9a-f]`, 7}, // 2 byte ranges + 1 alternation
		{`a*`, 6},       // byte + alternation
		// Anchored: no .*? loop; IsAnchorStart replaces ^ by an empty
		// literal, a Nop.
		{`^[ab]c`, 5},
	} {
		if got := re2Size(tc.expr); got != tc.want {
			t.Errorf("calibration %s: RE2 program %d instructions, want %d", tc.expr, got, tc.want)
		}
	}
	for _, expr := range []string{
		// TestRegexLimitsAgree's patterns.
		`/users/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
		`/api/v[0-9]+/.*`,
		`.*\.(jpg|png|gif)`,
		`(?i)/Static/.*`,
		`^/[a-z]{2}-[A-Z]{2}/products/[0-9]+$`,
		`[\p{L}]+`,
		`.{40}`,
		`[a-z]{300}`,
		`[0-9a-f]{200}`,
		strings.Repeat(`(ab|cd)`, 100),
		// Realistic route patterns.
		`/users/[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}/?`,
		`/v[0-9]+\.[0-9]+(\.[0-9]+)?/.*`,
		`^/api/v(1|2|3)/(users|orders|items)/[0-9]+$`,
		`.*\.(css|js|map|png|jpe?g|svg|woff2?)$`,
		`(?i)^/(admin|login|wp-admin)(/.*)?$`,
		`(?i)/downloads/[a-z0-9_-]+\.(tar\.gz|zip)`,
		`/[\p{L}\p{N}_-]+`,
		`/search/\p{Han}+`,
		`/docs/[^/]+/[^/]+\.html`,
		`/files/.+`,
		`/static/[\w./-]+`,
		`\b/api\b.*`,
		`/[a-z]{2}(-[A-Z]{2})?/.*`,
		`/id/[0-9]{1,20}`,
		`/x/(?:a|b|c|d|e|f|g|h){5,10}`,
		`/q\?(page=[0-9]+&?|sort=(asc|desc)&?)*`,
		`[a-z]{490}`,
		`(?i)[a-z]{400}`,
		`(?s).{15}`,
		`é+/ñ/€`,
	} {
		re, err := syntax.Parse(expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			t.Fatal(err)
		}
		bound, err := re2SizeBound(expr)
		if err != nil {
			t.Fatal(err)
		}
		got := re2Size(expr)
		t.Logf("| `%s` | %d | %d | %d |", strings.ReplaceAll(expr, "|", `\|`), len(prog.Inst), bound, got)
		if bound < got {
			t.Errorf("%s: re2SizeBound %d below RE2's program of %d instructions", expr, bound, got)
		}
	}
}
