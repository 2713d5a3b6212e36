package embedded

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// Every 5xx answer gets one log line; a panic becomes a logged JSON 500.
func TestLogFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		logged  string
	}{
		{"2xx is not logged", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }, 200, ""},
		{"4xx is not logged", func(w http.ResponseWriter, _ *http.Request) { httpjson.WriteError(w, httpjson.BadRequest("no")) }, 400, ""},
		{"503 is logged", func(w http.ResponseWriter, _ *http.Request) {
			httpjson.WriteError(w, httpjson.Errorf(503, "unavailable", "later"))
		}, 503, "request failed"},
		{"panic is a logged 500", func(http.ResponseWriter, *http.Request) { panic("boom") }, 500, "request panicked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := logFailures(tt.handler, slog.New(slog.NewJSONHandler(&logs, nil)))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/publish/x", nil))
			assert.Equal(t, tt.status, w.Code)
			if tt.logged == "" {
				assert.Empty(t, logs.String())
				return
			}
			var line map[string]any
			require.NoError(t, json.Unmarshal(logs.Bytes(), &line), logs.String())
			assert.Equal(t, tt.logged, line["msg"])
			assert.Equal(t, "ERROR", line["level"])
			assert.Equal(t, "/publish/x", line["path"])
			assert.Contains(t, line, "duration_ms")
			var body struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			assert.NotEmpty(t, body.ID)
		})
	}
}

func TestHostOf(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 5}, "203.0.113.9"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:203.0.113.9"), Port: 5}, "203.0.113.9"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 5}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 5, Zone: "eth0"}, "fe80::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.addr.String(), func(t *testing.T) {
			assert.Equal(t, tt.want, hostOf(tt.addr))
		})
	}
}
