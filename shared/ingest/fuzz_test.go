package ingest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/ingest"
)

// FuzzPublishBody: whatever an app POSTs as a plain JSON body to its
// publish URL (a subscription, a publication, a generator, a disabled
// publication, a name that does not exist), the answer is 202 or a 4xx
// JSON {id, message}, never a 5xx; a 202 queued exactly one event whose
// data is the body.
func FuzzPublishBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `"s"`, `null`, `{}`, "\v{}", "\f{}", "\u0085{}", "\u00a0{}", " {} ", `{"a":`, `{"a":1}{"b":2}`,
		`{"specversion":"1.0","id":"x","source":"/s","type":"t"}`, strings.Repeat("[", 10000), `{"a":"\ud800"}`, "\xff"} {
		f.Add("inbound", s)
		f.Add("systemStatus", s)
	}
	f.Add("ticker", `{}`)
	f.Add("gone", `{}`)
	f.Add("nope", `{}`)
	f.Add("a%2Fb", `{}`)
	h, in, del := setup(f)
	f.Fuzz(func(t *testing.T, name, body string) {
		if name == "" || name == "." || name == ".." { // what the router cleans
			return
		}
		for _, r := range []*recorder{in, del} {
			r.mu.Lock()
			r.msgs = nil
			r.mu.Unlock()
		}
		w := post(h, url.PathEscape(name), tenant, key, "application/json", body, nil)
		switch {
		case w.Code == http.StatusAccepted:
			msgs := append(in.all(), del.all()...)
			require.Len(t, msgs, 1, "one event queued")
			var carried struct {
				Event struct {
					Data json.RawMessage `json:"data"`
				} `json:"event"`
			}
			require.NoError(t, json.Unmarshal(msgs[0].Body, &carried))
			require.True(t, json.Valid([]byte(body)), "202 for a body that is not JSON: %q", body)
			require.JSONEq(t, strings.TrimSpace(body), string(carried.Event.Data))
		case w.Code >= 400 && w.Code < 500:
			var e ingest.Error
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
			require.NotEmpty(t, e.Message)
			require.Empty(t, append(in.all(), del.all()...), "a refused publish queues nothing")
		default:
			t.Fatalf("POST /publish/%s %q: %d %s", name, body, w.Code, w.Body.String())
		}
	})
}
