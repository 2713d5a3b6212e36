package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
)

// Bounds of the builtins that build large values from small arguments. They
// only make the common bombs fail early with a clear message: the worker's
// memory and time limits hold whatever a mapping does (operators such as
// `+` cannot be bounded inside Bloblang).
const (
	// MaxRange is the most elements range() makes.
	MaxRange = 1 << 20
	// MaxRepeat is the longest string or byte array repeat() makes.
	MaxRepeat = 8 << 20
)

// env is the pure Bloblang environment: no env, file, hostname or other
// host access, no imports, no logging, and range and repeat bounded. It is
// made on first use, not at package init: a Lambda function that links
// this package but compiles no mapping before its first event (api) does
// not pay for it in its cold start.
var env = sync.OnceValue(newEnv)

func newEnv() *bloblang.Environment {
	e := bloblang.NewEnvironment().OnlyPure().WithDisabledImports().
		WithoutFunctions("env", "file", "file_rel", "hostname", "range").
		WithoutMethods("log", "repeat").
		WithMaxMapRecursion(100)
	must(e.RegisterFunctionV2("range", bloblang.NewPluginSpec().
		Description("Integers from start (included) to stop (excluded) by step; at most 1048576 of them.").
		Param(bloblang.NewInt64Param("start")).
		Param(bloblang.NewInt64Param("stop")).
		Param(bloblang.NewInt64Param("step").Default(int64(1))),
		rangeFunction))
	must(e.RegisterMethodV2("repeat", bloblang.NewPluginSpec().
		Description("count copies of the string or bytes; the result is at most 8 MiB.").
		Param(bloblang.NewInt64Param("count")),
		repeatMethod))
	return e
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func rangeFunction(args *bloblang.ParsedParams) (bloblang.Function, error) {
	start, err := args.GetInt64("start")
	if err != nil {
		return nil, err
	}
	stop, err := args.GetInt64("stop")
	if err != nil {
		return nil, err
	}
	step, err := args.GetInt64("step")
	if err != nil {
		return nil, err
	}
	n, err := rangeLen(start, stop, step)
	if err != nil {
		return nil, err
	}
	return func() (any, error) {
		r := make([]any, n)
		for i := range r {
			r[i] = start + step*int64(i)
		}
		return r, nil
	}, nil
}

// rangeLen is the number of elements of range(start, stop, step), checked
// against MaxRange without overflowing.
func rangeLen(start, stop, step int64) (int, error) {
	switch {
	case step == 0:
		return 0, errors.New("step must be greater than or less than 0")
	case step < 0 && stop > start:
		return 0, fmt.Errorf("with negative step arg stop (%v) must be <= start (%v)", stop, start)
	case step > 0 && start >= stop:
		return 0, fmt.Errorf("with positive step arg start (%v) must be < stop (%v)", start, stop)
	}
	span, by := uint64(stop-start), uint64(step)
	if step < 0 {
		span, by = uint64(start-stop), uint64(-step)
	}
	n := span / by
	if n > MaxRange {
		return 0, limitf("range of %d elements exceeds the limit of %d elements", n, MaxRange)
	}
	return int(n), nil
}

func repeatMethod(args *bloblang.ParsedParams) (bloblang.Method, error) {
	count, err := args.GetInt64("count")
	if err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, fmt.Errorf("invalid count, must be greater than or equal to zero: %d", count)
	}
	check := func(n int) error {
		if n > 0 && count > int64(MaxRepeat/n) {
			return limitf("repeat of %d bytes %d times exceeds the limit of %d bytes", n, count, MaxRepeat)
		}
		return nil
	}
	return func(v any) (any, error) {
		switch t := v.(type) {
		case string:
			if err := check(len(t)); err != nil {
				return nil, err
			}
			return strings.Repeat(t, int(count)), nil
		case []byte:
			if err := check(len(t)); err != nil {
				return nil, err
			}
			return bytes.Repeat(t, int(count)), nil
		}
		return nil, fmt.Errorf("expected string value, got %T", v)
	}, nil
}
