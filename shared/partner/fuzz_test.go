package partner_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/operator"
	"github.com/herokuevents/herokuevents/shared/partner"
)

// FuzzParseManifest: an add-on manifest (operator input, partners:create)
// parses and validates, or fails with ErrManifest naming the problem;
// what is accepted survives a JSON round trip unchanged.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(manifest("myaddon", "pw", "https://myaddon.example.com/heroku/resources", "http://localhost:5000/heroku/resources", "attach", "deploy")), true)
	f.Add([]byte(manifest("myaddon", "pw", "http://insecure.example.com", "")), false)
	f.Add([]byte(`{"id":"x","api":{"password":"p","production":"https://x"}}`), false)
	f.Add([]byte(`{"id":1}`), false)
	f.Add([]byte(`{"id":"ok-id","api":{"password":"p","production":{"base_url":"https://u:p@h/"},"requires":["nope"]}}`), true)
	f.Add([]byte(`[]`), false)
	f.Fuzz(func(t *testing.T, raw []byte, test bool) {
		m, err := partner.ParseManifest(raw, test)
		if err != nil {
			require.ErrorIs(t, err, partner.ErrManifest)
			require.NotEqual(t, partner.ErrManifest.Error(), err.Error(), "the error names the problem")
			return
		}
		require.NoError(t, m.Validate(test))
		b, err := json.Marshal(m)
		require.NoError(t, err)
		again, err := partner.ParseManifest(b, test)
		require.NoError(t, err, "re-parse %s", b)
		require.Equal(t, m, again)
	})
}

// FuzzOperatorBodies: whatever the body of the operator's partner API
// (partners:create, addons:attach, platform events), the answer is a 2xx
// or a 4xx JSON {id, message}, never a 5xx.
func FuzzOperatorBodies(f *testing.F) {
	store := memstore.New()
	f.Cleanup(func() { store.Close() })
	sealer, err := filesealer.Open(filepath.Join(f.TempDir(), "seal.key"))
	require.NoError(f, err)
	srv, err := partner.New(partner.Options{Store: store, Sealer: sealer, Queue: &memQueue{}, Operator: operator.New(opID, opPass)})
	require.NoError(f, err)
	h := srv.Handler() // every route; others answer a JSON 404
	for _, s := range []struct{ path, body string }{
		{"/v1/partners", `{"manifest":` + manifest("acme", "pw", "https://acme.example.com", "") + `}`},
		{"/v1/partners", `{"manifest":"x","test":true}`},
		{"/v1/apps/example/addon-attachments", `{"partner":"acme","resource_id":"r1","name":"ACME"}`},
		{"/v1/apps/%2e%2e/addon-attachments", `{"partner":"acme"}`},
		{"/v1/platform/events", seedDeploy},
		{"/v1/platform/events", seedAttach},
		{"/v1/platform/events", `{"heroku_id":"a@heroku.com","event":"nope","detail":null}`},
		{"/v1/platform/events", "\v{}"},
		{"/v1/platform/events", `{"heroku_id":"` + strings.Repeat("a", 70000) + `"}`},
	} {
		f.Add(s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/v1/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.SetBasicAuth(opID, opPass)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code >= 200 && w.Code < 300:
			require.True(t, json.Valid(w.Body.Bytes()), "%s", w.Body)
		case w.Code >= 300 && w.Code < 400:
			// ServeMux cleaning the path
		case w.Code >= 400 && w.Code < 500:
			var e struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), "%d %s", w.Code, w.Body)
			require.NotEmpty(t, e.ID)
			require.NotEmpty(t, e.Message)
		default:
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		}
	})
}
