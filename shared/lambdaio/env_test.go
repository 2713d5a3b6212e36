package lambdaio

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMustEnv(t *testing.T) {
	tests := []struct {
		name     string
		set      bool
		value    string
		want     string
		wantExit bool
	}{
		{name: "set", set: true, value: "tbl", want: "tbl"},
		{name: "unset", wantExit: true},
		{name: "blank", set: true, value: "  ", wantExit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const name = "HEROKUEVENTS_TEST_MUSTENV"
			if tt.set {
				t.Setenv(name, tt.value)
			} else {
				t.Setenv(name, "")
				os.Unsetenv(name)
			}
			var out bytes.Buffer
			code := -1
			exit, stderr = func(c int) { code = c }, &out
			t.Cleanup(func() { exit, stderr = os.Exit, io.Writer(os.Stderr) })

			got := MustEnv(name)
			if tt.wantExit {
				assert.Equal(t, 2, code)
				assert.Contains(t, out.String(), "required environment variable "+name+" is not set")
				return
			}
			assert.Equal(t, -1, code)
			assert.Equal(t, tt.want, got)
			assert.Empty(t, out.String())
		})
	}
}

func TestEnvOrAndList(t *testing.T) {
	t.Setenv("HEROKUEVENTS_TEST_A", "")
	t.Setenv("HEROKUEVENTS_TEST_B", "x")
	t.Setenv("HEROKUEVENTS_TEST_L", " 10.0.0.0/8, ,example.com ")
	assert.Equal(t, "fb", EnvOr("HEROKUEVENTS_TEST_A", "fb"))
	assert.Equal(t, "x", EnvOr("HEROKUEVENTS_TEST_B", "fb"))
	assert.Equal(t, []string{"10.0.0.0/8", "example.com"}, EnvList("HEROKUEVENTS_TEST_L"))
	assert.Nil(t, EnvList("HEROKUEVENTS_TEST_A"))
}
