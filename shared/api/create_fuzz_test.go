package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzCreateBodies: whatever the JSON body of a create (subscription,
// publication, stream, authorization), the api answers below 500; a
// refusal is {"id","message"} and changes nothing, a creation answers the
// created resource as JSON.
func FuzzCreateBodies(f *testing.F) {
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"name":"orders"}`}, {0, `{"name":"a b"}`}, {0, `{"name":""}`}, {0, `{"name":"x","extra":1}`},
		{1, `{"name":"hook","url":"https://example.com/","skip_handshake":true}`},
		{1, `{"name":"hook2","url":"https://blocked.example/","skip_handshake":true}`},
		{1, `{"name":"hook3","url":"ftp://x","token":"t","mode":"binary"}`},
		{1, `{"name":"hook4","url":"https://example.com/","skip_handshake":true,"timeout":"1e9h","rate":-1}`},
		{2, `{"source":"orders","target":"hook"}`}, {2, `{"source":"orders","target":"hook","filter":"root = this"}`},
		{2, `{"source":"orders","target":"hook","filter":"root = ("}`}, {2, `{"source":"nope","target":"hook"}`},
		{3, `{"alias":"my-org","login_url":"https://login.salesforce.com"}`}, {3, `{"alias":"../x"}`},
		{0, `[]`}, {1, `null`}, {2, "\v{}"}, {3, `{"alias":1}`}, {0, `{"name":"` + string(make([]byte, 300)) + `"}`},
	} {
		f.Add(seed.route, seed.body)
	}
	routes := []string{"/platforms/webhook/subscriptions", "/platforms/webhook/publications", "/streams", "/authorizations"}
	var h *harness
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		if h == nil {
			h = newHarness(t) // once per fuzzing process: provisioning is slow
		}
		h.t = t
		path := routes[int(route)%len(routes)]
		before := h.store.snapshot()
		r := h.as(h.a, http.MethodPost, path, body)
		require.Less(t, r.Status, 500, "POST %s %s → %s", path, body, r.Body)
		if r.Status == http.StatusCreated || r.Status == http.StatusOK {
			require.True(t, json.Valid([]byte(r.Body)), "%s", r.Body)
			return
		}
		id, msg := r.errBody(t)
		require.NotEmpty(t, id)
		require.NotEmpty(t, msg)
		require.Equal(t, before, h.store.snapshot(), "a refused create changes nothing")
	})
}
