package api

import (
	"net/http"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// MaxBody is the largest request body accepted (the SQS message limit).
const MaxBody = httpjson.MaxBody

// MaxDepth is the deepest JSON nesting accepted in a request body.
const MaxDepth = httpjson.MaxDepth

// Error is an API error: an HTTP status and the JSON body {"id", "message"}.
type Error = httpjson.Error

// Invalid returns a 422 invalid_params *Error whose cause is a
// config.ErrInvalid problem, so that both errors.As(*Error) and
// errors.Is(config.ErrInvalid) hold.
func Invalid(format string, args ...any) error { return edge(config.Invalid(format, args...)) }

// edge returns a domain problem as the *Error the HTTP edge answers with,
// the problem kept as its cause: the Server's Go API (Invalid, Provision,
// Deprovision) documents *Error.
func edge(problem error) error { return httpjson.AsError(problem) }

func badRequest(format string, args ...any) error { return httpjson.BadRequest(format, args...) }

func notFound(msg string) error { return config.NotFound("%s", msg) }

func conflict(msg string, cause error) error { return config.Conflict(cause, "%s", msg) }

var errUnauthorized = httpjson.Unauthorized

// WriteError writes err as the JSON body {"id", "message"} with its status
// (httpjson.WriteError).
func WriteError(w http.ResponseWriter, err error) { httpjson.WriteError(w, err) }

// WriteJSON writes v as a JSON answer with status (httpjson.WriteJSON).
func WriteJSON(w http.ResponseWriter, status int, v any) { httpjson.WriteJSON(w, status, v) }

// ReadBody reads the request body, at most MaxBody bytes (httpjson.ReadBody).
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) { return httpjson.ReadBody(w, r) }

// DecodeJSON decodes a request body that must be one JSON object into v,
// rejecting unknown fields (httpjson.Decode).
func DecodeJSON(body []byte, v any) error { return httpjson.Decode(body, v) }

func decode(body []byte, v any, strict bool) error {
	if strict {
		return httpjson.Decode(body, v)
	}
	return httpjson.DecodeLenient(body, v)
}
