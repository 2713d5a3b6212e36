package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReadyText(t *testing.T) {
	vars := []string{
		"HEROKUEVENTS_API_URL=http://herokuevents:k1@127.0.0.1:5454/v1/tenants/t1",
		"HEROKUEVENTS_PUBLISH_URL=http://t1:k2@127.0.0.1:5454/publish",
	}
	assert.Equal(t, ""+
		"herokuevents is ready at http://127.0.0.1:5454 for app my-app. In another terminal, paste:\n\n"+
		"  export PATH=/src/bin:\"$PATH\"\n"+
		"  export HEROKUEVENTS_API_URL=http://herokuevents:k1@127.0.0.1:5454/v1/tenants/t1\n"+
		"  export HEROKUEVENTS_PUBLISH_URL=http://t1:k2@127.0.0.1:5454/publish\n"+
		"\nStop with Ctrl-C; the data stays in the data directory.\n",
		readyText("http://127.0.0.1:5454", "my-app", vars, "/src/bin", "/usr/bin:/bin"))

	onPath := readyText("http://127.0.0.1:5454", "my-app", vars, "/src/bin", "/src/bin:/usr/bin")
	assert.NotContains(t, onPath, "export PATH", "the binary is on PATH already")
	assert.NotContains(t, readyText("http://x", "a", vars, "", "/usr/bin"), "export PATH", "unknown binary directory")
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, "http://a:b@127.0.0.1:5454/x", shellQuote("http://a:b@127.0.0.1:5454/x"))
	assert.Equal(t, "'/my dir/bin'", shellQuote("/my dir/bin"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
	assert.Equal(t, "''", shellQuote(""))
}
