package lambdaio

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// HTTP adapts h to an API Gateway HTTP API (payload format 2.0) Lambda
// handler. The request keeps the method, raw path and raw query string,
// headers, cookies and body (base64 bodies are decoded); Host is the
// requestContext domain name and X-Forwarded-Proto is https unless API
// Gateway sent one. The response carries the status, headers (multiple
// values are comma-joined, as payload 2.0 requires, and also listed in
// multiValueHeaders; Set-Cookie values go to cookies) and the body,
// base64-encoded unless it is text.
//
// The returned function never returns an error: a malformed request gets a
// 400 and a panic in h a 500, both with a JSON {id, message} body, so that
// API Gateway never answers with its own opaque 502.
func HTTP(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, in events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		req, err := httpRequest(ctx, in)
		if err != nil {
			slog.WarnContext(ctx, "reject malformed API Gateway request", "error", err)
			return errorResponse(http.StatusBadRequest, "invalid_params", err.Error()), nil
		}
		w := newRecorder()
		if perr := serve(h, w, req); perr != nil {
			slog.ErrorContext(ctx, "handler panicked", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(perr))
			return errorResponse(http.StatusInternalServerError, "internal_error", "internal error"), nil
		}
		return w.response(), nil
	}
}

func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (perr any) {
	defer func() {
		if p := recover(); p != nil {
			perr = p
		}
	}()
	h.ServeHTTP(w, r)
	return nil
}

func httpRequest(ctx context.Context, in events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := in.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("decode request: missing requestContext.http.method")
	}
	path := in.RawPath
	if path == "" {
		path = in.RequestContext.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	u := &url.URL{Path: path, RawQuery: in.RawQueryString}
	if raw, err := url.PathUnescape(path); err == nil && raw != path {
		// rawPath may still hold escapes: keep both forms, as net/http does.
		u.Path, u.RawPath = raw, path
	}
	body := []byte(in.Body)
	if in.IsBase64Encoded {
		var err error
		body, err = base64.StdEncoding.DecodeString(in.Body)
		if err != nil {
			return nil, fmt.Errorf("decode base64 body: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.URL = u
	req.RequestURI = u.RequestURI()
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	for k, v := range in.Headers {
		req.Header.Set(k, v)
	}
	if len(in.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(in.Cookies, "; "))
	}
	req.Host = in.RequestContext.DomainName
	if req.Host == "" {
		req.Host = req.Header.Get("Host")
	}
	req.URL.Host = req.Host
	if req.Header.Get("X-Forwarded-Proto") == "" {
		req.Header.Set("X-Forwarded-Proto", "https")
	}
	req.URL.Scheme = req.Header.Get("X-Forwarded-Proto")
	req.ContentLength = int64(len(body))
	if ip := in.RequestContext.HTTP.SourceIP; ip != "" {
		req.RemoteAddr = ip
	}
	return req, nil
}

// recorder is a minimal http.ResponseWriter buffering one response.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

func (r *recorder) response() events.APIGatewayV2HTTPResponse {
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	body := r.body.Bytes()
	if r.header.Get("Content-Type") == "" && len(body) > 0 {
		r.header.Set("Content-Type", http.DetectContentType(body))
	}
	out := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range r.header {
		if k == "Set-Cookie" {
			out.Cookies = append(out.Cookies, vs...)
			continue
		}
		out.Headers[k] = strings.Join(vs, ",")
		if len(vs) > 1 {
			if out.MultiValueHeaders == nil {
				out.MultiValueHeaders = map[string][]string{}
			}
			out.MultiValueHeaders[k] = vs
		}
	}
	if isText(r.header.Get("Content-Type"), body) {
		out.Body = string(body)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(body)
		out.IsBase64Encoded = true
	}
	return out
}

// isText reports whether a body of this content type can travel as a JSON
// string unchanged.
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	if len(body) == 0 {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded", mt == "application/problem+json":
		return true
	}
	return false
}

func errorResponse(status int, id, msg string) events.APIGatewayV2HTTPResponse {
	body, _ := json.Marshal(map[string]string{"id": id, "message": msg})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}
