package awslocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// Route is one route of the HTTP API: a route key such as
// "ANY /v1/{proxy+}" and the function its integration invokes.
type Route struct {
	Key      string
	Function string
	Timeout  time.Duration
	method   string
	segments []string
}

// routes reads the HTTP API routes of the template: AWS::ApiGatewayV2::Route
// resources whose Target is an AWS_PROXY integration of a function, and SAM
// HttpApi events of functions.
func routes(t *samtemplate.Template) ([]Route, error) {
	var out []Route
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::ApiGatewayV2::Route":
			key, _ := r.Properties["RouteKey"].(string)
			target := r.Properties["Target"]
			if m, ok := target.(map[string]any); ok {
				target = m["Fn::Sub"]
			}
			ts, _ := target.(string)
			integ := strings.TrimSuffix(strings.TrimPrefix(ts, "integrations/${"), "}")
			ir, ok := t.Resources[integ]
			if !ok || ir.Type != "AWS::ApiGatewayV2::Integration" {
				return nil, fmt.Errorf("route %s: target %v: %w", id, r.Properties["Target"], ErrUnsupported)
			}
			uri, _ := ir.Properties["IntegrationUri"].(map[string]any)
			ga, _ := uri["Fn::GetAtt"].([]any)
			if len(ga) != 2 || ga[1] != "Arn" {
				return nil, fmt.Errorf("integration %s: IntegrationUri %v: %w", integ, ir.Properties["IntegrationUri"], ErrUnsupported)
			}
			if v, _ := ir.Properties["PayloadFormatVersion"].(string); v != "2.0" {
				return nil, fmt.Errorf("integration %s: payload format %q: %w", integ, v, ErrUnsupported)
			}
			fn, _ := ga[0].(string)
			timeout := 30 * time.Second
			if ms, ok := ir.Properties["TimeoutInMillis"].(int); ok {
				timeout = time.Duration(ms) * time.Millisecond
			}
			rt, err := newRoute(key, fn, timeout)
			if err != nil {
				return nil, fmt.Errorf("route %s: %w", id, err)
			}
			out = append(out, rt)
		case samtemplate.TypeFunction:
			events, _ := r.Properties["Events"].(map[string]any)
			for _, name := range slices.Sorted(maps.Keys(events)) {
				ev, _ := events[name].(map[string]any)
				if ev["Type"] != "HttpApi" {
					continue
				}
				p, _ := ev["Properties"].(map[string]any)
				method, _ := p["Method"].(string)
				path, _ := p["Path"].(string)
				key := "$default"
				if path != "" {
					key = strings.ToUpper(cmpOr(method, "ANY")) + " " + path
				}
				rt, err := newRoute(key, id, 30*time.Second)
				if err != nil {
					return nil, fmt.Errorf("function %s event %s: %w", id, name, err)
				}
				out = append(out, rt)
			}
		}
	}
	return out, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newRoute(key, fn string, timeout time.Duration) (Route, error) {
	r := Route{Key: key, Function: fn, Timeout: timeout}
	if key == "$default" {
		return r, nil
	}
	method, path, ok := strings.Cut(key, " ")
	if !ok || !strings.HasPrefix(path, "/") {
		return Route{}, fmt.Errorf("route key %q: want METHOD /path", key)
	}
	r.method = method
	r.segments = strings.Split(strings.Trim(path, "/"), "/")
	return r, nil
}

// match reports whether the route matches and returns the path parameters
// and a specificity score (higher wins), as API Gateway picks the most
// specific route: literal segments over variables over greedy variables,
// a method over ANY, any route over $default.
func (r Route) match(method, path string) (map[string]string, int, bool) {
	if r.Key == "$default" {
		return nil, 0, true
	}
	if r.method != "ANY" && r.method != method {
		return nil, 0, false
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]string{}
	score := 1
	if r.method != "ANY" {
		score++
	}
	for i, s := range r.segments {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}") {
			if i >= len(segs) || segs[i] == "" {
				return nil, 0, false
			}
			params[strings.TrimSuffix(s[1:], "+}")] = strings.Join(segs[i:], "/")
			return params, score, true
		}
		if i >= len(segs) {
			return nil, 0, false
		}
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			if segs[i] == "" {
				return nil, 0, false
			}
			params[s[1:len(s)-1]] = segs[i]
			score += 10
		case s == segs[i]:
			score += 100
		default:
			return nil, 0, false
		}
	}
	if len(segs) != len(r.segments) {
		return nil, 0, false
	}
	return params, score + 1000, true
}

// front is the HTTP API: it does what API Gateway does for an HTTP API with
// Lambda proxy integrations (payload format 2.0).
type front struct {
	routes []Route
	invoke func(ctx context.Context, function string, payload []byte) (Result, error)
	log    *slog.Logger
}

// apiEvent is an API Gateway HTTP API payload format 2.0 request.
type apiEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	RequestContext        apiContext        `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type apiContext struct {
	AccountID    string  `json:"accountId"`
	APIID        string  `json:"apiId"`
	DomainName   string  `json:"domainName"`
	DomainPrefix string  `json:"domainPrefix"`
	HTTP         apiHTTP `json:"http"`
	RequestID    string  `json:"requestId"`
	RouteKey     string  `json:"routeKey"`
	Stage        string  `json:"stage"`
	Time         string  `json:"time"`
	TimeEpoch    int64   `json:"timeEpoch"`
}

type apiHTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// apiResponse is a payload format 2.0 response.
type apiResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, msg)
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	best, bestScore := -1, -1
	var params map[string]string
	for i, rt := range f.routes {
		p, score, ok := rt.match(r.Method, r.URL.Path)
		if ok && score > bestScore {
			best, bestScore, params = i, score, p
		}
	}
	if best < 0 {
		gatewayError(w, http.StatusNotFound, "Not Found")
		return
	}
	f.serve(w, r, f.routes[best], params)
}

// serve invokes rt's function with r as a payload format 2.0 event.
func (f *front) serve(w http.ResponseWriter, r *http.Request, rt Route, params map[string]string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 10<<20))
	if err != nil {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := event(r, rt, params, body)
	payload, err := json.Marshal(ev)
	if err != nil {
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), rt.Timeout)
	defer cancel()
	res, err := f.invoke(ctx, rt.Function, payload)
	if err != nil {
		f.log.Error("http api: invoke", "function", rt.Function, "route", rt.Key, "error", err)
		gatewayError(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if res.FunctionError != "" {
		f.log.Error("http api: function failed", "function", rt.Function, "route", rt.Key, "error", res.FunctionError)
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, res.Payload)
}

// event converts r as API Gateway does: lower-case headers with repeated
// values comma-joined, cookies apart, a base64 body unless it is text.
func event(r *http.Request, rt Route, params map[string]string, body []byte) apiEvent {
	now := time.Now().UTC()
	id := make([]byte, 10)
	_, _ = rand.Read(id)
	host := r.Host
	ev := apiEvent{
		Version:        "2.0",
		RouteKey:       rt.Key,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		PathParameters: params,
		RequestContext: apiContext{
			AccountID:    account,
			APIID:        apiID,
			DomainName:   host,
			DomainPrefix: strings.Split(host, ".")[0],
			HTTP: apiHTTP{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto,
				UserAgent: r.UserAgent(),
			},
			RequestID: base64.RawStdEncoding.EncodeToString(id),
			RouteKey:  rt.Key,
			Stage:     "$default",
			Time:      now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: now.UnixMilli(),
		},
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		ev.RequestContext.HTTP.SourceIP = ip
	}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[lk] = strings.Join(vs, ",")
	}
	ev.Headers["host"] = host
	ev.Headers["x-forwarded-for"] = ev.RequestContext.HTTP.SourceIP
	ev.Headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(host); err == nil {
		ev.Headers["x-forwarded-port"] = port
	}
	if len(body) > 0 {
		ev.Headers["content-length"] = fmt.Sprint(len(body))
	}
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// textual reports whether API Gateway would pass the body as text.
func textual(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "xml") ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript"
}

// writeResponse writes a payload 2.0 response; a payload without
// statusCode is a 200 JSON body, as API Gateway infers it.
func writeResponse(w http.ResponseWriter, payload []byte) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(payload, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(payload)
		return
	}
	var resp apiResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		w.Header()[http.CanonicalHeaderKey(k)] = vs
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		body = b
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// functionURL is a Lambda function URL (AWS::Lambda::Url): every request,
// whatever its method and path, invokes the function with a payload format
// 2.0 event whose route key is $default and that has no path parameters,
// as Lambda sends it.
type functionURL struct {
	front    *front
	function string
	timeout  time.Duration
}

func (u functionURL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.front.serve(w, r, Route{Key: "$default", Function: u.function, Timeout: u.timeout}, nil)
}
