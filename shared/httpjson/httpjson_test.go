package httpjson_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

func TestWriteErrorMapsDomainErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		id     string
		msg    string
	}{
		{"invalid", config.Invalid("name %q is taken.", "x"), 422, "invalid_params", `name "x" is taken.`},
		{"not found", config.NotFound("Couldn't find that publication: p."), 404, "not_found", "Couldn't find that publication: p."},
		{"conflict keeps its cause", config.Conflict(config.ErrConflict, "busy"), 409, "conflict", "busy"},
		{"wrapped problem", errors.Join(errors.New("ctx"), config.Invalid("bad")), 422, "invalid_params", "bad"},
		{"http error as it is", httpjson.BadRequest("Cannot read request body."), 400, "bad_request", "Cannot read request body."},
		{"bare store error is internal", config.ErrNotFound, 500, "internal_error", "Internal error, please try again."},
		{"anything else is internal, detail hidden", errors.New("dial tcp: secret-host"), 500, "internal_error", "Internal error, please try again."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			httpjson.WriteError(w, tt.err)
			assert.Equal(t, tt.status, w.Code)
			assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
			var body struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
			assert.Equal(t, tt.id, body.ID)
			assert.Equal(t, tt.msg, body.Message)
			assert.Equal(t, tt.status == 500, httpjson.Internal(tt.err))
		})
	}
}

func TestUnauthorizedChallenges(t *testing.T) {
	w := httptest.NewRecorder()
	httpjson.WriteError(w, httpjson.Unauthorized)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), "Basic")
}

func TestDecode(t *testing.T) {
	type req struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	deep := strings.Repeat("[", httpjson.MaxDepth+1) + strings.Repeat("]", httpjson.MaxDepth+1)
	ok := strings.Repeat("[", httpjson.MaxDepth) + strings.Repeat("]", httpjson.MaxDepth)
	tests := []struct {
		name, body string
		strict     bool
		kind       error // config kind, or nil for a 400
		status     int
	}{
		{"object", `{"name":"a","n":1}`, true, nil, 0},
		{"depth at the limit", `{"m":{"x":` + ok[2:len(ok)-2] + `}}`, false, nil, 0},
		{"empty", "  ", true, nil, 400},
		{"not json", `{"name":`, true, nil, 400},
		{"array", `[1]`, true, nil, 400},
		{"too deep", `{"x":` + deep + `}`, false, nil, 400},
		{"unknown field", `{"name":"a","x":1}`, true, config.ErrInvalid, 0},
		{"unknown field, lenient", `{"name":"a","x":1}`, false, nil, 0},
		{"wrong type", `{"n":"one"}`, true, config.ErrInvalid, 0},
		{"JSON whitespace around", " \t\r\n{\"n\":1}\n ", true, nil, 0},
		{"vertical tab before", "\v{}", true, nil, 400},
		{"form feed after", "{}\f", true, nil, 400},
		{"next line (U+0085)", "\u0085{}", true, nil, 400},
		{"no-break space (U+00A0)", "{}\u00a0", true, nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v req
			var err error
			if tt.strict {
				err = httpjson.Decode([]byte(tt.body), &v)
			} else {
				err = httpjson.DecodeLenient([]byte(tt.body), &v)
			}
			switch {
			case tt.kind != nil:
				assert.ErrorIs(t, err, tt.kind)
			case tt.status != 0:
				assert.Equal(t, tt.status, httpjson.AsError(err).Status, err)
			default:
				assert.NoError(t, err)
			}
		})
	}
}

func TestDepth(t *testing.T) {
	assert.Equal(t, 0, httpjson.Depth([]byte(`"[{"`)))
	assert.Equal(t, 2, httpjson.Depth([]byte(`{"a":["\"]"]}`)))
	assert.Equal(t, 3, httpjson.Depth([]byte(`[[{}]]`)))
}

// FuzzDecode: no input panics, and every error is a 400 or a 422.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `[`, `{"a":[[[[]]]]}`, `{"n":"x"}`, "\x00", `{"name":"\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v struct {
			Name string         `json:"name"`
			N    int            `json:"n"`
			M    map[string]any `json:"m"`
		}
		err := httpjson.Decode(b, &v)
		if err == nil {
			return
		}
		if s := httpjson.AsError(err).Status; s != 400 && s != 422 {
			t.Fatalf("status %d for %q: %v", s, b, err)
		}
	})
}

func TestShort(t *testing.T) {
	long := strings.Repeat("é", 200)
	tests := []struct{ in, want string }{
		{"", ""},
		{"my-publication", "my-publication"},
		{strings.Repeat("a", httpjson.ShortLen), strings.Repeat("a", httpjson.ShortLen)},
		{strings.Repeat("a", httpjson.ShortLen+1), strings.Repeat("a", httpjson.ShortLen) + "…"},
		{long, strings.Repeat("é", httpjson.ShortLen) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, httpjson.Short(tt.in))
		})
	}
}
