package mapping

import (
	"slices"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
)

// Mappings run in the server's own process when they are plainly bounded.
//
// A worker is needed because a mapping's cost cannot be bounded inside
// Bloblang: variables, named maps, `+` and friends can double a value at
// every line. A mapping made of none of those cannot: one `root = …`
// built from paths of this, literals, comparisons and boolean operators,
// `if`/`else`, deleted(), throw() and a short list of methods, each of
// which takes at most time and memory proportional to its operands (a
// conversion, a comparison, a case change, a search), costs at most its
// number of operations times the size of its input. Every reference to the
// input (this, a bare path) counts as an operation too: each may put the
// whole input in the result (`root = [this, this, …]`). screened reports
// whether src is such a mapping, by its tokens alone (conservatively:
// whatever it does not know goes to a worker), and compileScreened parses
// it in an environment holding only those functions and methods, so that
// Bloblang itself refuses any other call. Such a mapping is evaluated in
// process on inputs of up to maxScreenedInput bytes; a larger input goes
// to a worker like any other mapping. That is what a stream filter usually
// is (`root = if this.X == "y" { this } else { deleted() }`), and it
// spares each event a round trip to a worker: 14–57 µs of processor time
// against 7–10 µs in process (go test -run x -bench Apply).
//
// A compile error of the restricted environment only sends the mapping to
// a worker, whose message the caller sees: both environments run the same
// builtins, so a mapping that compiles in both means the same in both.
const (
	maxScreenedSource = 1024
	maxScreenedInput  = 16 << 10
	maxScreenedOps    = 32
	maxScreenedDepth  = 16
)

// screenedFunctions and screenedMethods are the calls a screened mapping
// may make: each bounded by the size of its operands.
var (
	screenedFunctions = []string{"deleted", "throw"}
	screenedMethods   = []string{
		"bool", "catch", "contains", "exists", "has_prefix", "has_suffix", "length",
		"lowercase", "not_empty", "not_null", "number", "or", "string", "trim", "type", "uppercase",
	}
)

// screenedKeywords are the bare words a screened mapping may use outside a
// path: any other Bloblang keyword (let, meta, map, match, import, from,
// root on the right-hand side…) sends the mapping to a worker.
var screenedKeywords = map[string]bool{"this": true, "if": true, "else": true, "true": true, "false": true, "null": true}

// reservedWords are Bloblang's keywords, which a bare path may not be.
var reservedWords = map[string]bool{"let": true, "meta": true, "map": true, "match": true, "import": true, "from": true,
	"root": true, "unset": true, "_": true}

// screenedEnv is env without every function and method a screened mapping
// may not call.
var screenedEnv = sync.OnceValue(func() *bloblang.Environment {
	e := env()
	var fns, ms []string
	e.WalkFunctions(func(name string, _ *bloblang.FunctionView) {
		if !slices.Contains(screenedFunctions, name) {
			fns = append(fns, name)
		}
	})
	e.WalkMethods(func(name string, _ *bloblang.MethodView) {
		if !slices.Contains(screenedMethods, name) {
			ms = append(ms, name)
		}
	})
	return e.WithoutFunctions(fns...).WithoutMethods(ms...)
})

// compileScreened returns src compiled for evaluation in process, or nil
// when src is not screened or does not compile in the restricted
// environment.
func compileScreened(src string) *bloblang.Executor {
	if !screened(src) {
		return nil
	}
	exec, err := screenedEnv().Parse(src)
	if err != nil {
		return nil
	}
	return exec
}

// evalScreened evaluates a screened mapping on it in process, as a worker
// would (the same decoding, pass-through test and output limit). ok is
// false when it did not: the input is too large, or Bloblang panicked; the
// caller then sends the item to a worker.
func evalScreened(exec *bloblang.Executor, it *item, output int) (res *response, ok bool) {
	if len(it.Data) > maxScreenedInput || len(it.Meta) > maxScreenedInput {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			res, ok = nil, false
		}
	}()
	return respond(exec, it, output), true
}

// screened reports whether src is one assignment to root of an expression
// of the screened kinds (see above), at most maxScreenedSource bytes,
// maxScreenedOps operations and maxScreenedDepth levels of brackets.
func screened(src string) bool {
	if len(src) > maxScreenedSource {
		return false
	}
	toks, ok := tokens(src)
	if !ok || len(toks) < 3 || toks[0] != (token{kind: tokWord, text: "root"}) || toks[1] != symbol("=") {
		return false
	}
	ops, depth := 0, 0
	for i := 2; i < len(toks); i++ {
		t := toks[i]
		prevDot := toks[i-1] == symbol(".")
		call := i+1 < len(toks) && toks[i+1] == symbol("(")
		switch t.kind {
		case tokWord:
			switch {
			case prevDot && call:
				if !slices.Contains(screenedMethods, t.text) {
					return false
				}
				ops++
			case prevDot: // a field
			case screenedKeywords[t.text]: // if (…) too
				if t.text == "if" || t.text == "this" {
					ops++ // this: each reference may put the input in the result
				}
			case call:
				if !slices.Contains(screenedFunctions, t.text) {
					return false
				}
				ops++
			case reservedWords[t.text]:
				return false
			default: // a bare path (Order.Total): a reference to the input, as this is
				ops++
			}
		case tokSym:
			switch t.text {
			case "(", "{", "[":
				if depth++; depth > maxScreenedDepth {
					return false
				}
			case ")", "}", "]":
				depth--
			case ".", ",", ":":
			case "==", "!=", "<", ">", "<=", ">=", "&&", "||", "!", "|":
				ops++
			default: // "=" again, or anything else
				return false
			}
		}
		if ops > maxScreenedOps {
			return false
		}
	}
	return depth == 0
}

type tokKind int

const (
	tokWord tokKind = iota + 1
	tokSym
	tokLiteral // a string or a number: the screen needs no more
)

type token struct {
	kind tokKind
	text string
}

func symbol(s string) token { return token{kind: tokSym, text: s} }

// tokens splits src into words, symbols and literals, skipping
// white space and comments. ok is false at anything a screened mapping
// has no use for: triple-quoted strings, non-ASCII outside strings, and
// symbols other than the comparisons, boolean operators, brackets, dots,
// commas, colons, `|` and `=`.
func tokens(src string) (out []token, ok bool) {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"':
			if len(src) >= i+3 && src[i:i+3] == `"""` {
				return nil, false
			}
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\n' {
					return nil, false
				}
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, false
			}
			out = append(out, token{kind: tokLiteral, text: src[i : j+1]})
			i = j + 1
		case isDigit(c):
			j := i
			for j < len(src) && (isDigit(src[j]) || src[j] == '_' || src[j] == '.' && j+1 < len(src) && isDigit(src[j+1])) {
				j++
			}
			out = append(out, token{kind: tokLiteral, text: src[i:j]})
			i = j
		case isWordStart(c):
			j := i
			for j < len(src) && (isWordStart(src[j]) || isDigit(src[j])) {
				j++
			}
			out = append(out, token{kind: tokWord, text: src[i:j]})
			i = j
		default:
			sym := ""
			for _, s := range []string{"==", "!=", "<=", ">=", "&&", "||", "(", ")", "{", "}", "[", "]", ".", ",", ":", "<", ">", "!", "|", "="} {
				if len(src) >= i+len(s) && src[i:i+len(s)] == s {
					sym = s
					break
				}
			}
			if sym == "" {
				return nil, false
			}
			out = append(out, symbol(sym))
			i += len(sym)
		}
	}
	return out, true
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isWordStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
