package awsapp_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsdashboard"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
)

// TestDashboardOnAWS: the dashboard function serves add-on SSO and the
// tenant's dashboard of an app the api function provisioned (the
// configuration in DynamoDB, the dead letters in SQS, the delivery log in
// its table, all in moto); the api function serves neither.
func TestDashboardOnAWS(t *testing.T) {
	const salt = "s3cret-salt"
	t.Setenv("HEROKU_SSO_SALT", salt)
	uuid := "0d6a3f0e-3c7e-4c1d-9f3e-7f2b8a6c5d41"
	a := apiOnAWS(t, catalog.All(), uuid)
	for k, v := range a.st.Env("DashboardFunction") {
		t.Setenv(k, v)
	}
	t.Setenv("HEROKU_SSO_SALT", salt) // the template passes its secret's ARN
	h, err := awsdashboard.Handler(t.Context(), awsenv.MustLoad(t.Context(), "dashboard"))
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256([]byte(uuid + ":" + salt + ":" + ts + ":u-1:dev@example.com"))
	login := func(token string) *httptest.ResponseRecorder {
		form := url.Values{"resource_id": {uuid}, "timestamp": {ts}, "user_scoped_resource_token": {token}, "user_id": {"u-1"}, "email": {"dev@example.com"}}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/sso/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https") // as lambdaio sets it behind API Gateway
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	assert.Equal(t, http.StatusForbidden, login(strings.Repeat("0", 64)).Code)
	w := login(hex.EncodeToString(sum[:]))
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	assert.True(t, cookies[0].Secure && cookies[0].HttpOnly)

	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/dashboard", nil)
	req.AddCookie(cookies[0])
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Body)
	require.Equal(t, http.StatusOK, w.Code, string(body))
	assert.Contains(t, string(body), "herokuevents · my-app")
	assert.Contains(t, string(body), `id="dead-letters"`)

	for _, path := range []string{"/sso/login", "/dashboard"} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil)
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, req)
		assert.Equal(t, http.StatusNotFound, w.Code, "the api function does not serve %s", path)
	}
}
