package lambdaio

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seen is what the echo handler observed of the request.
type seen struct {
	Method, Host, Path, RawPath, Query, Proto, Remote, Cookie, Auth, Body string
	Length                                                                int64
	URL                                                                   string
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(seen{
		Method: r.Method, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Proto: r.Header.Get("X-Forwarded-Proto"), Remote: r.RemoteAddr, Cookie: r.Header.Get("Cookie"),
		Auth: r.Header.Get("Authorization"), Body: string(b), Length: r.ContentLength, URL: r.URL.String(),
	})
}

func v2(method, rawPath, query string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /v1/{proxy+}", RawPath: rawPath, RawQueryString: query,
		Headers: map[string]string{"host": "abc.execute-api.us-east-1.amazonaws.com"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			DomainName: "api.example.com", RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: rawPath, SourceIP: "203.0.113.9"},
		},
	}
}

func TestHTTPRequestMapping(t *testing.T) {
	tests := []struct {
		name string
		in   func() events.APIGatewayV2HTTPRequest
		want seen
	}{
		{
			name: "get with query headers and cookies",
			in: func() events.APIGatewayV2HTTPRequest {
				r := v2("GET", "/v1/tenants/t1/subscriptions", "limit=5&name=a%20b")
				r.Headers["authorization"] = "Bearer k"
				r.Cookies = []string{"a=1", "b=2"}
				return r
			},
			want: seen{
				Method: "GET", Host: "api.example.com", Path: "/v1/tenants/t1/subscriptions",
				RawPath: "/v1/tenants/t1/subscriptions", Query: "limit=5&name=a%20b", Proto: "https",
				Remote: "203.0.113.9", Cookie: "a=1; b=2", Auth: "Bearer k",
				URL: "https://api.example.com/v1/tenants/t1/subscriptions?limit=5&name=a%20b",
			},
		},
		{
			name: "base64 body is decoded",
			in: func() events.APIGatewayV2HTTPRequest {
				r := v2("POST", "/publish/orders", "")
				r.Body = base64.StdEncoding.EncodeToString([]byte(`{"n":1}`))
				r.IsBase64Encoded = true
				return r
			},
			want: seen{
				Method: "POST", Host: "api.example.com", Path: "/publish/orders", RawPath: "/publish/orders",
				Proto: "https", Remote: "203.0.113.9", Body: `{"n":1}`, Length: 7,
				URL: "https://api.example.com/publish/orders",
			},
		},
		{
			name: "plain body and forwarded proto kept",
			in: func() events.APIGatewayV2HTTPRequest {
				r := v2("PUT", "/v1/x", "")
				r.Headers["x-forwarded-proto"] = "http"
				r.Body = "hello"
				return r
			},
			want: seen{
				Method: "PUT", Host: "api.example.com", Path: "/v1/x", RawPath: "/v1/x", Proto: "http",
				Remote: "203.0.113.9", Body: "hello", Length: 5, URL: "http://api.example.com/v1/x",
			},
		},
		{
			name: "escaped path keeps its raw form",
			in:   func() events.APIGatewayV2HTTPRequest { return v2("GET", "/v1/names/a%2Fb", "") },
			want: seen{
				Method: "GET", Host: "api.example.com", Path: "/v1/names/a/b", RawPath: "/v1/names/a%2Fb",
				Proto: "https", Remote: "203.0.113.9", URL: "https://api.example.com/v1/names/a%2Fb",
			},
		},
		{
			name: "host header when no domain name",
			in: func() events.APIGatewayV2HTTPRequest {
				r := v2("DELETE", "/v1/y", "")
				r.RequestContext.DomainName = ""
				return r
			},
			want: seen{
				Method: "DELETE", Host: "abc.execute-api.us-east-1.amazonaws.com", Path: "/v1/y", RawPath: "/v1/y",
				Proto: "https", Remote: "203.0.113.9", URL: "https://abc.execute-api.us-east-1.amazonaws.com/v1/y",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := HTTP(http.HandlerFunc(echo))(t.Context(), tt.in())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.False(t, resp.IsBase64Encoded)
			var got seen
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestHTTPResponseMapping(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00}
	tests := []struct {
		name    string
		h       http.HandlerFunc
		status  int
		headers map[string]string
		multi   map[string][]string
		cookies []string
		body    string
		base64  bool
	}{
		{
			name: "json with status and multi-value header and cookies",
			h: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Add("Vary", "Accept")
				w.Header().Add("Vary", "Origin")
				http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
				http.SetCookie(w, &http.Cookie{Name: "t", Value: "2"})
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, `{"ok":true}`)
			},
			status:  http.StatusCreated,
			headers: map[string]string{"Content-Type": "application/json", "Vary": "Accept,Origin"},
			multi:   map[string][]string{"Vary": {"Accept", "Origin"}},
			cookies: []string{"s=1", "t=2"},
			body:    `{"ok":true}`,
		},
		{
			name: "binary body is base64",
			h: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "image/png")
				_, _ = w.Write(png)
			},
			status:  http.StatusOK,
			headers: map[string]string{"Content-Type": "image/png"},
			body:    base64.StdEncoding.EncodeToString(png),
			base64:  true,
		},
		{
			name:    "no write is an empty 200",
			h:       func(http.ResponseWriter, *http.Request) {},
			status:  http.StatusOK,
			headers: map[string]string{},
		},
		{
			name:    "status only",
			h:       func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
			status:  http.StatusNoContent,
			headers: map[string]string{},
		},
		{
			name: "panic becomes a JSON 500",
			h: func(http.ResponseWriter, *http.Request) {
				panic("boom")
			},
			status:  http.StatusInternalServerError,
			headers: map[string]string{"Content-Type": "application/json"},
			body:    `{"id":"internal_error","message":"internal error"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := HTTP(tt.h)(t.Context(), v2("GET", "/v1/z", ""))
			require.NoError(t, err)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Equal(t, tt.headers, resp.Headers)
			assert.Equal(t, tt.multi, resp.MultiValueHeaders)
			assert.Equal(t, tt.cookies, resp.Cookies)
			assert.Equal(t, tt.body, resp.Body)
			assert.Equal(t, tt.base64, resp.IsBase64Encoded)
		})
	}
}

func TestHTTPMalformedRequest(t *testing.T) {
	called := false
	h := HTTP(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	tests := []struct {
		name string
		in   func() events.APIGatewayV2HTTPRequest
	}{
		{"bad base64", func() events.APIGatewayV2HTTPRequest {
			r := v2("POST", "/publish/x", "")
			r.Body, r.IsBase64Encoded = "!!!", true
			return r
		}},
		{"no method", func() events.APIGatewayV2HTTPRequest { return v2("", "/v1/x", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := h(t.Context(), tt.in())
			require.NoError(t, err)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			var body map[string]string
			require.NoError(t, json.Unmarshal([]byte(resp.Body), &body))
			assert.Equal(t, "invalid_params", body["id"])
			assert.NotEmpty(t, body["message"])
			assert.False(t, called)
		})
	}
}

// TestHTTPFunctionURL: a Lambda function URL sends the payload format 2.0
// request of an HTTP API (route key $default, no path parameters) and reads
// the same response, so HTTP serves both; through the runtime's JSON.
func TestHTTPFunctionURL(t *testing.T) {
	in := events.LambdaFunctionURLRequest{
		Version: "2.0", RawPath: "/publish/orders", RawQueryString: "a=1",
		Cookies: []string{"c=1"},
		Headers: map[string]string{"content-type": "application/json", "authorization": "Basic dTpw"},
		RequestContext: events.LambdaFunctionURLRequestContext{
			DomainName: "abc.lambda-url.us-east-1.on.aws", RequestID: "req-1",
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/publish/orders", SourceIP: "203.0.113.9"},
		},
		Body: base64.StdEncoding.EncodeToString([]byte(`{"n":1}`)), IsBase64Encoded: true,
	}
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		b, _ := io.ReadAll(r.Body)
		assert.True(t, ok && user == "u" && pass == "p")
		assert.Equal(t, "https://abc.lambda-url.us-east-1.on.aws/publish/orders?a=1", r.URL.String())
		assert.Equal(t, "c=1", r.Header.Get("Cookie"))
		assert.Equal(t, "203.0.113.9", r.RemoteAddr)
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "v"})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write(append([]byte(`{"got":`), append(b, '}')...))
	})
	out, err := lambda.NewHandler(HTTP(h)).Invoke(t.Context(), raw)
	require.NoError(t, err)
	var resp events.LambdaFunctionURLResponse
	require.NoError(t, json.Unmarshal(out, &resp))
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Headers["Content-Type"])
	assert.Equal(t, []string{"s=v"}, resp.Cookies)
	assert.False(t, resp.IsBase64Encoded)
	assert.JSONEq(t, `{"got":{"n":1}}`, resp.Body)
}
