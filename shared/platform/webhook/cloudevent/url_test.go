package cloudevent

import (
	"fmt"
	"testing"

	"github.com/herokuevents/herokuevents/shared/sink"
)

// TestURLCache: a URL is what sink.ParseURL makes of it, the first time
// and from the cache, valid or not, and past the cache's bound.
func TestURLCache(t *testing.T) {
	var c urlCache
	urls := []string{"https://example.com/hook", "HTTP://Example.com:8080/a%20b?x=1#f", "ftp://example.com", "", "http://u:p@example.com/", "http://[::1%25\xe6]/"}
	for i := range maxURLs + 10 {
		urls = append(urls, fmt.Sprintf("https://h%d.example.com/", i))
	}
	for range 2 {
		for _, raw := range urls {
			got, err := c.target(raw)
			u, werr := sink.ParseURL(raw)
			if werr != nil {
				if err == nil || err.Error() != werr.Error() {
					t.Fatalf("%q: error %v, want %v", raw, err, werr)
				}
				continue
			}
			if err != nil || got != u.String() {
				t.Fatalf("%q: %q, %v; want %q", raw, got, err, u.String())
			}
		}
	}
	if len(c.m) > maxURLs {
		t.Fatalf("%d URLs kept, want at most %d", len(c.m), maxURLs)
	}
}
