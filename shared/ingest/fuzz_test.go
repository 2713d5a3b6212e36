package ingest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/ingest"
)

// FuzzPublishBody: whatever an app POSTs as a plain JSON body to its
// publish URL (a subscription, a publication, a generator, a disabled
// publication, a name that does not exist), the answer is 202 or a 4xx
// JSON {id, message}, never a 5xx; a 202 queued exactly one event whose
// data is the body, or for a JSON array (a batch) one event per element,
// its data.
func FuzzPublishBody(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `[{"a":1}, {}]`, `[]`, ` [{}] `, `"s"`, `null`, `{}`, "\v{}", "\f{}", "\u0085{}", "\u00a0{}", " {} ", `{"a":`, `{"a":1}{"b":2}`,
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
			require.True(t, json.Valid([]byte(body)), "202 for a body that is not JSON: %q", body)
			want := []json.RawMessage{json.RawMessage(body)}
			if strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "[") {
				require.NoError(t, json.Unmarshal([]byte(body), &want))
				require.Len(t, ids(t, w.Body.Bytes()), len(want))
			}
			require.Len(t, msgs, len(want), "one event queued per object")
			for i, m := range msgs {
				var carried struct {
					Event struct {
						Data json.RawMessage `json:"data"`
					} `json:"event"`
				}
				require.NoError(t, json.Unmarshal(m.Body, &carried))
				require.JSONEq(t, strings.TrimSpace(string(want[i])), string(carried.Event.Data))
			}
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

// FuzzPublishCloudEventsBatch: whatever the body of a CloudEvents batch,
// the publish URL answers 202 or a 4xx JSON error, never panics; a 202
// gives one id per element and queued each event not repeated in the
// batch, each passing event.CheckAttributes.
func FuzzPublishCloudEventsBatch(f *testing.F) {
	f.Add(`[{"specversion":"1.0","id":"a","source":"/s","type":"t","data":{}},{"specversion":"1.0","id":"b","source":"/s","type":"t","n":1.5,"data":{"x":[1]}}]`)
	f.Add(`[{"specversion":"1.0","id":"a","source":"/s","type":"t","data_base64":"e30="}]`)
	f.Add(`[{"specversion":"0.3","id":"a","source":"/s","type":"t"}]`)
	f.Add(`[{"specversion":"1.0","id":"a","source":"/s","type":"t","data":"x"}, 1]`)
	f.Add(`{}`)
	f.Add(`[]`)
	h, _, del := setup(f)
	f.Fuzz(func(t *testing.T, body string) {
		del.mu.Lock()
		del.msgs = nil
		del.mu.Unlock()
		w := post(h, "systemStatus", tenant, key, ingest.ContentTypeBatch, body, nil)
		switch {
		case w.Code == http.StatusAccepted:
			var elems []json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(body), &elems))
			got := ids(t, w.Body.Bytes())
			require.Len(t, got, len(elems))
			msgs := del.all()
			require.Len(t, msgs, len(elems))
			for i, m := range msgs {
				var d event.Delivery
				require.NoError(t, json.Unmarshal(m.Body, &d))
				require.NoError(t, d.Event.CheckAttributes())
				require.Equal(t, got[i], d.Event.ID)
			}
		case w.Code >= 400 && w.Code < 500:
			var e ingest.Error
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
			require.NotEmpty(t, e.Message)
			require.Empty(t, del.all(), "a refused batch queues nothing")
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
