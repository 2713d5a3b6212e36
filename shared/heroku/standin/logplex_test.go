package standin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/addon"
)

func frame(msg string) string { return strconv.Itoa(len(msg)) + " " + msg }

const (
	msg1 = "<190>1 2026-12-02T13:00:00.000000+00:00 herokuevents app herokuevents - - event=deploy.recorded source=my-app"
	msg2 = "<190>1 2026-12-02T13:01:00.000000+00:00 herokuevents app herokuevents - - source=HEROKUEVENTS sample#herokuevents.queue-depth=3"
)

func testManifest(t *testing.T) *addon.Manifest {
	t.Helper()
	m, err := addon.Load("../../../addon-manifest.json", func(k string) string { return "x-" + k })
	require.NoError(t, err)
	return m
}

// logInput makes an app (by creating its log session) and returns its
// log_input_url.
func logInput(t *testing.T, h *Heroku, app string) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logInputURL(h.appLocked(app))
}

func TestLogplexInput(t *testing.T) {
	var printed bytes.Buffer
	h, err := Start(Options{Manifest: testManifest(t), LogOutput: &printed})
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	input := logInput(t, h, "my-app")
	u, err := url.Parse(input)
	require.NoError(t, err)
	token, _ := u.User.Password()
	u.User = nil

	tests := []struct {
		name, body, count, ctype, user, pass string
		chunked                              bool
		status                               int
	}{
		{"two frames", frame(msg1) + frame(msg2), "2", "application/logplex-1", "token", token, false, 204},
		{"trailing newline counted", frame(msg1 + "\n"), "", "application/x-logplex-1", "token", token, false, 204},
		{"wrong count", frame(msg1) + frame(msg2), "3", "application/logplex-1", "token", token, false, 400},
		{"count one short", frame(msg1), "0", "application/logplex-1", "token", token, false, 400},
		{"octet count one too many", strconv.Itoa(len(msg1)+1) + " " + msg1, "", "application/logplex-1", "token", token, false, 400},
		{"no MSGID and SD", frame("<190>1 2026-12-02T13:00:00.000000+00:00 herokuevents app herokuevents hello"), "", "application/logplex-1", "token", token, false, 400},
		{"too long", frame("<190>1 2026-12-02T13:00:00.000000+00:00 h app p - - " + strings.Repeat("x", MaxMessage)), "", "application/logplex-1", "token", token, false, 400},
		{"no frames", "", "", "application/logplex-1", "token", token, false, 400},
		{"wrong token", frame(msg1), "", "application/logplex-1", "token", "t.other", false, 401},
		{"wrong type", frame(msg1), "", "text/plain", "token", token, false, 415},
		{"chunked", frame(msg1), "", "application/logplex-1", "token", token, true, 411},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			printed.Reset()
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(strings.NewReader(tt.body)) // unknown length: chunked
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String(), body)
			require.NoError(t, err)
			req.SetBasicAuth(tt.user, tt.pass)
			req.Header.Set("Content-Type", tt.ctype)
			if tt.count != "" {
				req.Header.Set("Logplex-Msg-Count", tt.count)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, tt.status, res.StatusCode)
			if tt.status != 204 {
				assert.Empty(t, printed.String(), "a refused batch prints nothing")
			}
		})
	}
	printed.Reset()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String(), strings.NewReader(frame(msg1)+frame(msg2)))
	req.SetBasicAuth("token", token)
	req.Header.Set("Content-Type", "application/logplex-1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "2026-12-02T13:00:00.000000+00:00 app[herokuevents]: event=deploy.recorded source=my-app\n"+
		"2026-12-02T13:01:00.000000+00:00 app[herokuevents]: source=HEROKUEVENTS sample#herokuevents.queue-depth=3\n", printed.String(),
		"printed as heroku logs --tail")

	t.Run("log session", func(t *testing.T) {
		lines := logSession(t, h, "my-app", `{"lines":2,"dyno":"herokuevents"}`)
		assert.Equal(t, "2026-12-02T13:00:00.000000+00:00 app[herokuevents]: event=deploy.recorded source=my-app\n"+
			"2026-12-02T13:01:00.000000+00:00 app[herokuevents]: source=HEROKUEVENTS sample#herokuevents.queue-depth=3\n", lines)
		assert.Empty(t, logSession(t, h, "my-app", `{"dyno":"web.1"}`))
		assert.Empty(t, logSession(t, h, "other-app", `{}`))
	})
}

func logSession(t *testing.T, h *Heroku, app, body string) string {
	t.Helper()
	res, err := http.Post(h.URL()+"/apps/"+app+"/log-sessions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	var sess struct {
		URL string `json:"logplex_url"`
	}
	require.NoError(t, decodeJSON(res.Body, &sess))
	res.Body.Close()
	res, err = http.Get(sess.URL)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func FuzzParseFrames(f *testing.F) {
	f.Add([]byte(frame(msg1) + frame(msg2)))
	f.Add([]byte(frame(msg1 + "\n")))
	f.Add([]byte("5 <1>1 x"))
	f.Add([]byte(fmt.Sprintf("%d %s", 99999, msg1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		lines, err := parseFrames("my-app", body)
		if err != nil {
			return
		}
		require.NotEmpty(t, lines)
		for _, l := range lines {
			s := l.String()
			_, err := time.Parse(TimeLayout, s[:len(TimeLayout)])
			require.NoError(t, err, s)
		}
	})
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
