package sink

import (
	"context"
	"strings"
)

// BodySize is how much of a response body an Observed keeps.
const BodySize = 1 << 10

// Observed is what Do saw of the last request it sent with a context from
// Observe: its Result and the start of the response body, for a delivery
// log. A publisher that sends several requests for one attempt (a token
// exchange, then the event) leaves the last one.
type Observed struct {
	// Seen reports whether Do sent a request with the context.
	Seen   bool
	Result Result
	// Body is the start of the response body as received (at most
	// BodySize bytes, valid UTF-8).
	Body string
}

type observeKey struct{}

// Observe returns a context under which Do records what it sees in the
// returned Observed. Read it once the call that used the context returned.
func Observe(ctx context.Context) (context.Context, *Observed) {
	o := &Observed{}
	return context.WithValue(ctx, observeKey{}, o), o
}

// observe records r and body in the context's Observed, if any.
func observe(ctx context.Context, r Result, body []byte) {
	o, _ := ctx.Value(observeKey{}).(*Observed)
	if o == nil {
		return
	}
	o.Seen, o.Result = true, r
	o.Body = strings.ToValidUTF8(string(body), "") // a rune cut at the end goes
}
