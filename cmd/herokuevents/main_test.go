package main

import (
	"os"
	"testing"
)

// TestMain runs the tests without the variables that change the CLI's
// defaults (what dev:salesforce prints, a developer's $BROWSER): they run
// the same in a shell where the README's lines were pasted.
func TestMain(m *testing.M) {
	for _, k := range []string{"SALESFORCE_LOGIN_URL", "BROWSER"} {
		_ = os.Unsetenv(k)
	}
	os.Exit(m.Run())
}
