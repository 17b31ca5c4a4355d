package translate

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"

	"github.com/berth-gateway/berth/internal/dataplane"
)

// Regex limits, decided the way Envoy decides them. Envoy compiles every
// regex with RE2 and refuses one whose program is larger than the runtime
// value re2.max_program_size.error_level (Envoy's default 100; berth's
// bootstrap sets dataplane.MaxRegexProgramSize). RE2 compiles a program of
// byte instructions: a character class such as [0-9a-f] or \p{L} becomes
// one instruction per byte of each UTF-8 sequence it matches, joined by
// alternations, where Go's regexp has a single rune instruction. Go's
// program size therefore undercounts RE2's (a UUID pattern is 41 Go
// instructions, over 100 for RE2, so Envoy's default refused routes berth
// had reported Accepted).
//
// No RE2 is available to berth (no cgo binding is vendored), so berth
// bounds RE2's size from above instead of computing it: re2SizeBound
// charges each Go instruction what RE2's compiler can emit for it at most,
// character classes by their UTF-8 sequences without RE2's suffix sharing.
// A regex is accepted when the bound is at most
// dataplane.RegexProgramSizeBound, half the limit the bootstrap gives
// Envoy, which leaves room for RE2's flattening of the program: Envoy
// checks the flattened size, and Prog::Flatten (re2/prog.cc) drops each
// Alt and Nop and adds at most one Nop per Alt edge, so a program of n
// instructions flattens to fewer than 2n. So berth never accepts a regex
// Envoy refuses; it may refuse one Envoy would take, with a message that
// says so. TestRE2SizeBound measures real RE2's instruction count (with a
// test-only RE2) and checks the bound against it.

// checkRegex accepts what Envoy's RE2 accepts (Go's regexp is RE2 syntax).
func checkRegex(expr string) error {
	if expr == "" {
		return fmt.Errorf("empty regular expression")
	}
	if len(expr) > 1024 {
		return fmt.Errorf("regular expression longer than 1024 bytes")
	}
	if !utf8.ValidString(expr) {
		return fmt.Errorf("regular expression is not valid UTF-8")
	}
	if _, err := regexp.Compile(expr); err != nil {
		return fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	size, err := re2SizeBound(expr)
	if err != nil {
		return fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	if size > dataplane.RegexProgramSizeBound {
		return fmt.Errorf("regular expression %q is too complex for Envoy (its RE2 program may reach %d instructions, berth allows %d)", expr, size, dataplane.RegexProgramSizeBound)
	}
	return nil
}

// re2SizeBound is an upper bound of the size of RE2's program for expr
// before flattening: the instructions of the expression, plus RE2's fail
// instruction, its match instruction and the unanchored ".*?" loop (a
// byte range and an alternation, re2/compile.cc DotStar), and one spare.
func re2SizeBound(expr string) (int, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	size := 5
	for i := range prog.Inst {
		size += instBound(&prog.Inst[i])
	}
	return size, nil
}

// instBound is the most RE2 emits for one instruction of Go's program.
func instBound(in *syntax.Inst) int {
	switch in.Op {
	case syntax.InstFail, syntax.InstMatch:
		// Go's own fail and match: counted once in re2SizeBound.
		return 0
	case syntax.InstRune1:
		return classBound([]rune{in.Rune[0], in.Rune[0]}, false)
	case syntax.InstRune:
		fold := syntax.Flags(in.Arg)&syntax.FoldCase != 0
		if len(in.Rune) == 1 {
			return classBound([]rune{in.Rune[0], in.Rune[0]}, fold)
		}
		return classBound(in.Rune, fold)
	case syntax.InstRuneAny:
		return classBound([]rune{0, unicode.MaxRune}, false)
	case syntax.InstRuneAnyNotNL:
		return classBound([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}, false)
	}
	// Alt, AltMatch, Capture, EmptyWidth, Nop: one instruction each.
	return 1
}

// classBound bounds RE2's instructions for a class of rune ranges (pairs):
// one byte-range instruction per byte of each UTF-8 sequence, and an
// alternation joining each further sequence. Case folding adds each
// range's fold orbit (ASCII letters fold within one instruction in RE2,
// but counting them is still an upper bound).
func classBound(ranges []rune, fold bool) int {
	var rs [][2]rune
	for i := 0; i+1 < len(ranges); i += 2 {
		rs = append(rs, [2]rune{ranges[i], ranges[i+1]})
		if fold && ranges[i+1]-ranges[i] < 256 {
			for r := ranges[i]; r <= ranges[i+1]; r++ {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					rs = append(rs, [2]rune{f, f})
				}
			}
		} else if fold {
			// A large range folded: bound it by the whole code space.
			rs = append(rs, [2]rune{0, unicode.MaxRune})
		}
	}
	insts, seqs := 0, 0
	for _, r := range rs {
		utf8Sequences(r[0], r[1], func(n int) { insts += n; seqs++ })
	}
	if seqs > 1 {
		insts += seqs - 1
	}
	return insts
}

// utf8Sequences splits [lo, hi] into the ranges whose UTF-8 encodings are
// each one sequence of byte ranges (as RE2's and every UTF-8 automaton
// compiler does) and calls emit with each sequence's length in bytes.
func utf8Sequences(lo, hi rune, emit func(n int)) {
	if lo > hi {
		return
	}
	// Split at the encoded-length boundaries.
	for _, b := range []rune{0x7f, 0x7ff, 0xffff} {
		if lo <= b && b < hi {
			utf8Sequences(lo, b, emit)
			utf8Sequences(b+1, hi, emit)
			return
		}
	}
	n := utf8.RuneLen(lo)
	if n < 0 {
		// A surrogate: RE2 cannot match it; counting 3 bytes is an
		// upper bound.
		n = 3
	}
	// Split until lo and hi differ only in trailing bytes that cover the
	// whole continuation range.
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				utf8Sequences(lo, lo|m, emit)
				utf8Sequences((lo|m)+1, hi, emit)
				return
			}
			if hi&m != m {
				utf8Sequences(lo, (hi&^m)-1, emit)
				utf8Sequences(hi&^m, hi, emit)
				return
			}
		}
	}
	emit(n)
}
