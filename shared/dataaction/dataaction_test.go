package dataaction_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/dataaction"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

type recorder struct {
	mu   sync.Mutex
	msgs []queue.Message
	err  error
}

func (r *recorder) Send(_ context.Context, msgs ...queue.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func (r *recorder) routed(t *testing.T) []event.Routed {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Routed
	for _, m := range r.msgs {
		var rt event.Routed
		require.NoError(t, json.Unmarshal(m.Body, &rt))
		out = append(out, rt)
	}
	return out
}

const (
	tenant = "11111111-1111-4111-8111-111111111111"
	subID  = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	key    = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

var now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func setup(t *testing.T) (http.Handler, *recorder) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	sealer, err := filesealer.New(make([]byte, filesealer.KeySize))
	require.NoError(t, err)
	sealed, err := sealer.Seal(t.Context(), []byte(key))
	require.NoError(t, err)
	for _, s := range []config.Subscription{
		{ID: subID, Name: "patientChanges", Platform: config.PlatformDataCloud, Params: config.Params{OrgName: "my-org"}, SecretSealed: sealed},
		{ID: "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", Name: "inbound", Platform: config.PlatformWebhook, SecretSealed: sealed},
	} {
		_, err := config.Insert(t.Context(), st, config.Item{Tenant: tenant, Kind: config.KindSubscription, ID: s.ID, Name: s.Name}, s)
		require.NoError(t, err)
	}
	rec := &recorder{}
	h, err := dataaction.New(dataaction.Options{Store: st, Sealer: sealer, Ingest: rec, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return h, rec
}

func batch(t *testing.T, created time.Time, n int) []byte {
	t.Helper()
	a := standin.DataAction{Action: "PatientChanged", Object: "Patient__dlm", Prompt: "UPDATE", Created: created}
	for i := range n {
		a.Records = append(a.Records, json.RawMessage(`{"Id__c":"p-`+string(rune('1'+i))+`","Status__c":"admitted"}`))
	}
	b, err := a.Body()
	require.NoError(t, err)
	return b
}

func post(h http.Handler, path string, body []byte, sig string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("x-signature", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

const target = dataaction.Path + "/" + tenant + "/" + subID

func TestSignedBatchBecomesOneEventEach(t *testing.T) {
	h, rec := setup(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := standin.DataAction{URL: srv.URL + target, Key: key, Action: "PatientChanged", Object: "Patient__dlm", Created: now,
		Records: []json.RawMessage{json.RawMessage(`{"Id__c":"p-1"}`), json.RawMessage(`{"Id__c":"p-2"}`), json.RawMessage(`{"Id__c":"p-3"}`)}}
	res, err := standin.SendDataAction(t.Context(), srv.Client(), a)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.Status, string(res.Body))
	got := rec.routed(t)
	require.Len(t, got, 3)
	var answer dataaction.Accepted
	require.NoError(t, json.Unmarshal(res.Body, &answer))
	for i, r := range got {
		assert.Equal(t, tenant, r.Tenant)
		assert.Equal(t, subID, r.Subscription)
		ev := r.Event
		assert.Equal(t, answer.IDs[i], ev.ID)
		assert.Equal(t, "com.salesforce.datacloud.dataaction.PatientChanged", ev.Type)
		assert.Equal(t, "Patient__dlm", ev.Subject)
		assert.Equal(t, "/tenants/"+tenant+"/subscriptions/patientChanges", ev.Source)
		assert.True(t, ev.Time.Equal(now), ev.Time)
		var data map[string]any
		require.NoError(t, json.Unmarshal(ev.Data, &data))
		assert.Equal(t, "PatientChanged", data["ActionDeveloperName"])
		assert.Equal(t, ev.ID, data["EventUuid"], "the id is the event's EventUuid")
		assert.JSONEq(t, string(a.Records[i]), data["PayloadCurrentValue"].(string))
	}
}

func TestRefusedRequestsEnqueueNothing(t *testing.T) {
	good := func(t *testing.T) []byte { return batch(t, now, 3) }
	tests := []struct {
		name   string
		path   string
		body   func(t *testing.T) []byte
		sig    func(body []byte) string
		status int
		id     string
	}{
		{"forged: another key", target, good, func(b []byte) string { return dataaction.Sign("not-the-key", b) }, 401, "unauthorized"},
		{"forged: no signature", target, good, func([]byte) string { return "" }, 401, "unauthorized"},
		{"forged: garbage signature", target, good, func([]byte) string { return "!!not base64!!" }, 401, "unauthorized"},
		{"truncated", target, func(t *testing.T) []byte { b := good(t); return b[:len(b)-20] },
			func([]byte) string { return dataaction.Sign(key, batch(t, now, 3)) }, 401, "unauthorized"},
		{"json-escaped body, raw signature", target, func(t *testing.T) []byte {
			return []byte(strings.ReplaceAll(string(good(t)), "/", `\/`))
		}, func([]byte) string {
			return dataaction.Sign(key, []byte(strings.ReplaceAll(string(batch(t, now, 3)), `\/`, "/")))
		}, 401, "unauthorized"},
		{"stale", target, func(t *testing.T) []byte { return batch(t, now.Add(-6*time.Minute), 3) }, signed, 401, "stale_request"},
		{"from the future", target, func(t *testing.T) []byte { return batch(t, now.Add(6*time.Minute), 3) }, signed, 401, "stale_request"},
		{"malformed but signed", target, func(*testing.T) []byte { return []byte(`{"creationDateTime":"2026-03-01T09:00:00.000Z","events":"x"}`) }, signed, 400, "bad_request"},
		{"count mismatch", target, func(t *testing.T) []byte {
			return []byte(strings.Replace(string(good(t)), `"count":3`, `"count":4`, 1))
		}, signed, 400, "bad_request"},
		{"no events", target, func(*testing.T) []byte {
			return []byte(`{"creationDateTime":"2026-03-01T09:00:00Z","count":0,"events":[]}`)
		}, signed, 400, "bad_request"},
		{"unknown target", dataaction.Path + "/" + tenant + "/cccccccc-cccc-4ccc-8ccc-cccccccccccc", good, signed, 404, "not_found"},
		{"not a datacloud subscription", dataaction.Path + "/" + tenant + "/bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", good, signed, 404, "not_found"},
		{"another tenant", dataaction.Path + "/22222222-2222-4222-8222-222222222222/" + subID, good, signed, 404, "not_found"},
		{"by name", dataaction.Path + "/" + tenant + "/patientChanges", good, signed, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, rec := setup(t)
			body := tc.body(t)
			w := post(h, tc.path, body, tc.sig(body))
			require.Equal(t, tc.status, w.Code, w.Body.String())
			var e struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e))
			assert.Equal(t, tc.id, e.ID)
			assert.NotEmpty(t, e.Message)
			assert.Empty(t, rec.routed(t), "nothing enqueued")
		})
	}
}

func signed(b []byte) string { return dataaction.Sign(key, b) }

func TestQueueDownAnswers503(t *testing.T) {
	h, rec := setup(t)
	rec.err = errors.New("queue down")
	b := batch(t, now, 2)
	w := post(h, target, b, signed(b))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}

func TestVerify(t *testing.T) {
	body := []byte(`{"creationDateTime":"2026-03-01T09:00:00.000Z"}`)
	sig := standin.DataActionSignature(key, body)
	assert.Equal(t, sig, dataaction.Sign(key, body), "the stand-in and herokuevents sign alike")
	tests := []struct {
		name string
		key  string
		body []byte
		sig  string
		want bool
	}{
		{"base64", key, body, sig, true},
		{"base64 with spaces", key, body, " " + sig + " ", true},
		{"hex", key, body, "", true},
		{"other key", "k2", body, sig, false},
		{"other body", key, append([]byte(" "), body...), sig, false},
		{"empty key", "", body, sig, false},
		{"empty signature", key, body, "-", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.sig
			if tc.name == "hex" {
				s = hexOf(t, sig)
			}
			if s == "-" {
				s = ""
			}
			assert.Equal(t, tc.want, dataaction.Verify(tc.key, tc.body, s))
		})
	}
}

func hexOf(t *testing.T, b64 string) string {
	t.Helper()
	var raw []byte
	require.NoError(t, json.Unmarshal([]byte(`"`+b64+`"`), &raw))
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(raw))
	for _, c := range raw {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func FuzzDecode(f *testing.F) {
	seed := func(created time.Time, n int) []byte {
		a := standin.DataAction{Action: "A", Object: "O__dlm", Created: created}
		for range n {
			a.Records = append(a.Records, json.RawMessage(`{"x":1}`))
		}
		b, _ := a.Body()
		return b
	}
	for _, s := range [][]byte{
		seed(now, 1), seed(now, 3), []byte(`{}`), []byte(`[]`), []byte(`{"creationDateTime":1,"events":[{}]}`),
		[]byte(`{"creationDateTime":"2026-03-01T09:00:00Z","schemas":[{"schemaId":"A"}],"events":[{"EventCreationDateTime":1700000000000}]}`),
		[]byte(`{"creationDateTime":"2026-03-01T09:00:00Z","count":2,"events":[{"ActionDeveloperName":"A"}]}`), []byte(``),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := dataaction.Decode(body)
		if err != nil {
			return
		}
		require.NotEmpty(t, req.Records)
		require.LessOrEqual(t, len(req.Records), dataaction.MaxEvents)
		evs := req.Events(subID, "/tenants/t/subscriptions/s")
		require.Len(t, evs, len(req.Records))
		for _, ev := range evs {
			require.NoError(t, ev.Validate())
			require.True(t, json.Valid(ev.Data))
			require.True(t, strings.HasPrefix(ev.Type, dataaction.TypePrefix))
		}
	})
}
