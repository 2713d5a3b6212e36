package salesforce_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce"
)

// FuzzTokenResponse: whatever a login host answers to a token request
// (status and body), Refresh and ClientCredentials return a token or an
// error (an *OAuthError carrying the status for a non-2xx answer), never
// panic; a token's identity URL yields an org and user id or "".
func FuzzTokenResponse(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"access_token":"00D!x","refresh_token":"r","instance_url":"https://x.my.salesforce.com","id":"https://login.salesforce.com/id/00Dxx/005xx","issued_at":"1","token_type":"Bearer"}`},
		{200, `{"access_token":"a","id":"::::"}`}, {200, `{}`}, {200, ``}, {200, `[]`}, {200, `{"access_token":1}`},
		{400, `{"error":"invalid_grant","error_description":"expired access/refresh token"}`},
		{401, `Bad_OAuth_Token`}, {403, ``}, {500, `<html>`}, {302, ``},
	} {
		f.Add(s.status, []byte(s.body))
	}
	var status atomic.Int64
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)
	o := &salesforce.OAuth{LoginURL: srv.URL, ClientID: "client", ClientSecret: "secret", HTTPClient: srv.Client()}
	f.Fuzz(func(t *testing.T, st int, b []byte) {
		if st < 200 || st > 599 {
			st = 200 + (st%400+400)%400
		}
		status.Store(int64(st))
		body.Store(&b)
		for _, call := range []func() (*salesforce.Token, error){
			func() (*salesforce.Token, error) { return o.Refresh(t.Context(), "refresh") },
			func() (*salesforce.Token, error) { return o.ClientCredentials(t.Context()) },
		} {
			tok, err := call()
			if err != nil {
				var oe *salesforce.OAuthError
				if st/100 != 2 && errors.As(err, &oe) {
					require.NotEmpty(t, oe.Code)
				}
				require.NotEmpty(t, err.Error())
				continue
			}
			require.NotNil(t, tok)
			_ = tok.OrgID()
			_ = tok.UserID()
			_ = tok.Session()
		}
	})
}
