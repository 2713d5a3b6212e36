package tenantlog_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/tenantlog"
)

func linesServer(t testing.TB) (*httptest.Server, *tenantlog.Shipper) {
	store := memstore.New()
	for _, tn := range []config.Tenant{{ID: "t1", App: "my-app", APIKeyHash: config.HashKey("key-1")}, {ID: "t2", App: "other", APIKeyHash: config.HashKey("key-2")}} {
		if _, err := config.Insert(t.Context(), store, config.Item{Kind: config.KindTenant, ID: tn.ID, Name: tn.App}, tn); err != nil {
			t.Fatal(err)
		}
	}
	s := tenantlog.New(tenantlog.Options{})
	for i := range 5 {
		s.Log("t1", time.Date(2026, 12, 2, 19, 0, i, 0, time.UTC), "n="+string(rune('0'+i)))
	}
	s.Log("t2", time.Now(), "secret=other-tenant")
	mux := http.NewServeMux()
	mux.Handle(tenantlog.LinesPattern, s.LinesHandler(store))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s
}

func getLines(t testing.TB, srv *httptest.Server, tenant, key, query string) (int, map[string]any) {
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/tenants/"+url.PathEscape(tenant)+"/logs?"+query, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func TestLinesHandler(t *testing.T) {
	srv, _ := linesServer(t)
	cases := []struct {
		name, tenant, key, query string
		status                   int
		lines                    int
		id                       string
	}{
		{"all", "t1", "key-1", "", 200, 5, ""},
		{"newest 2", "t1", "key-1", "n=2", 200, 2, ""},
		{"after", "t1", "key-1", "after=4", 200, 1, ""},
		{"wrong key", "t1", "key-2", "", 401, 0, "unauthorized"},
		{"no key", "t1", "", "", 401, 0, "unauthorized"},
		{"unknown tenant", "t9", "key-1", "", 401, 0, "unauthorized"},
		{"tenant by app name", "my-app", "key-1", "", 401, 0, "unauthorized"},
		{"n too big", "t1", "key-1", "n=1501", 400, 0, "bad_request"},
		{"n not a number", "t1", "key-1", "n=x", 400, 0, "bad_request"},
		{"after not a number", "t1", "key-1", "after=-1", 400, 0, "bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, out := getLines(t, srv, c.tenant, c.key, c.query)
			if st != c.status {
				t.Fatalf("status %d, want %d: %v", st, c.status, out)
			}
			if c.id != "" {
				if out["id"] != c.id || out["message"] == "" {
					t.Errorf("error %v", out)
				}
				return
			}
			lines, _ := out["lines"].([]any)
			if len(lines) != c.lines {
				t.Errorf("%d lines, want %d", len(lines), c.lines)
			}
			for _, l := range lines {
				line := l.(map[string]any)["line"].(string)
				if !strings.Contains(line, " app[herokuevents]: n=") {
					t.Errorf("line %q", line)
				}
			}
		})
	}
}

// FuzzLinesQuery: any query answers JSON, 200 or 400, and only the
// tenant's own lines.
func FuzzLinesQuery(f *testing.F) {
	f.Add("n=2&after=1")
	f.Add("n=%zz")
	f.Add("after=99999999999999999999999")
	srv, _ := linesServer(f)
	f.Fuzz(func(t *testing.T, q string) {
		if strings.ContainsFunc(q, func(r rune) bool { return r <= ' ' || r == '#' || r >= 0x7f }) {
			return // not a query a client can send (the request line would be malformed)
		}
		st, out := getLines(t, srv, "t1", "key-1", q)
		if st != 200 && st != 400 {
			t.Fatalf("status %d for %q", st, q)
		}
		b, _ := json.Marshal(out)
		if strings.Contains(string(b), "other-tenant") {
			t.Fatalf("another tenant's line for %q", q)
		}
	})
}
