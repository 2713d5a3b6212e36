package lambdaio

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// exit and stderr are replaced by tests.
var (
	exit             = os.Exit
	stderr io.Writer = os.Stderr
)

// MustEnv returns the value of the environment variable name. When it is
// unset or blank it prints a clear message naming the setting to stderr and
// exits with status 2: a function without its settings must fail at init,
// visibly, rather than on the first event.
func MustEnv(name string) string {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		fmt.Fprintf(stderr, "herokuevents: required environment variable %s is not set (see template.yaml)\n", name)
		exit(2)
		return ""
	}
	return v
}

// EnvOr returns the value of the environment variable name, or fallback
// when it is unset or empty.
func EnvOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// EnvList returns the comma-separated values of the environment variable
// name, trimmed, without empty elements (nil when unset).
func EnvList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
