package dashboard_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/shared/addon"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/dashboard"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// The reference's worked example (heroku-addon.md §3.2).
const (
	resourceID = "01234567-89ab-cdef-0123-456789abcdef"
	salt       = "7CwqmJLEjv8YZTXK"
	stamp      = "1796216400"
	sha1Token  = "8c00242e15a8899a9c4172b3cc7131819e65a3d2"
	userID     = "11111111-2222-3333-4444-555555555555"
	email      = "dev@example.com"
	sha256Tok  = "7668ea00616874f6cab0a0f12ba659990ade8436b3bc7292508f528ba38ce8ce"
	otherID    = "fedcba98-7654-3210-fedc-ba9876543210"
)

type harness struct {
	t     testing.TB
	srv   *httptest.Server
	store config.Store
	db    *sqlitequeue.DB
	j     *sqlitejournal.Journal
	now   time.Time
	mf    *addon.Manifest
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, store: memstore.New(), now: time.Unix(1796216400+90, 0), mf: &addon.Manifest{ID: "herokuevents", API: addon.API{SSOSalt: salt}}}
	ctx := t.Context()
	for _, tn := range []config.Tenant{{ID: resourceID, App: "my-app", HerokuID: resourceID, Plan: "basic"}, {ID: otherID, App: "other-app", HerokuID: otherID}} {
		if _, err := config.Insert(ctx, h.store, config.Item{Kind: config.KindTenant, ID: tn.ID, Name: tn.App}, tn); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	dir := t.TempDir()
	if h.db, err = sqlitequeue.Open(filepath.Join(dir, "queues.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	if h.j, err = sqlitejournal.Open(filepath.Join(dir, "journal.db"), sqlitejournal.Options{PruneEvery: -1, Now: func() time.Time { return h.now }}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.j.Close() })
	d, err := dashboard.New(dashboard.Options{
		Store: h.store, Tokens: h.mf, Key: dashboard.KeyFrom("operator password"), Journal: h.j,
		DeadLetters: sqlitequeue.NewDeadLetters(sqlitequeue.Pair{DLQ: h.db.Queue("delivery-dlq"), Source: h.db.Queue("delivery")}),
		Logger:      slog.New(slog.DiscardHandler), Now: func() time.Time { return h.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(d.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// client is a browser: cookies, no redirects followed.
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (h *harness) login(c *http.Client, form url.Values) *http.Response {
	h.t.Helper()
	resp, err := c.PostForm(h.srv.URL+dashboard.LoginPath, form)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (h *harness) get(c *http.Client, path string) (int, string) {
	h.t.Helper()
	resp, err := c.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSSO(t *testing.T) {
	h := newHarness(t)
	valid := url.Values{"resource_id": {resourceID}, "timestamp": {stamp}, "resource_token": {sha1Token}, "app": {"my-app"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, x := range valid {
			v[k] = x
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	old := strconv.FormatInt(h.now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(h.now.Add(6*time.Minute).Unix(), 10)
	otherToken := h.mf.ResourceToken(otherID, stamp)
	cases := []struct {
		name   string
		form   url.Values
		status int
		tenant string // whose dashboard the session opens
	}{
		{"valid sha1 resource_token", valid, http.StatusSeeOther, "my-app"},
		{"valid sha256 user_scoped_resource_token", with("resource_token", "", "user_scoped_resource_token", sha256Tok, "user_id", userID, "email", email), http.StatusSeeOther, "my-app"},
		{"upper-case hex", with("resource_token", strings.ToUpper(sha1Token)), http.StatusSeeOther, "my-app"},
		{"expired timestamp (6 minutes old)", with("timestamp", old, "resource_token", h.mf.ResourceToken(resourceID, old)), http.StatusForbidden, ""},
		{"timestamp in the future", with("timestamp", future, "resource_token", h.mf.ResourceToken(resourceID, future)), http.StatusForbidden, ""},
		{"wrong token", with("resource_token", strings.Repeat("0", 40)), http.StatusForbidden, ""},
		{"token of another timestamp", with("timestamp", "1796216401"), http.StatusForbidden, ""},
		{"sha256 token of another user", with("resource_token", "", "user_scoped_resource_token", sha256Tok, "user_id", userID, "email", "eve@example.com"), http.StatusForbidden, ""},
		{"another tenant's resource id with this tenant's token", with("resource_id", otherID), http.StatusForbidden, ""},
		{"another tenant's valid token opens only that tenant", with("resource_id", otherID, "resource_token", otherToken), http.StatusSeeOther, "other-app"},
		{"unknown resource", with("resource_id", "99999999-0000-0000-0000-000000000000", "resource_token", h.mf.ResourceToken("99999999-0000-0000-0000-000000000000", stamp)), http.StatusForbidden, ""},
		{"app name as resource id", with("resource_id", "my-app", "resource_token", h.mf.ResourceToken("my-app", stamp)), http.StatusForbidden, ""},
		{"no token", with("resource_token", ""), http.StatusForbidden, ""},
		{"no timestamp", with("timestamp", ""), http.StatusForbidden, ""},
		{"timestamp not a number", with("timestamp", "soon"), http.StatusForbidden, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := h.client()
			resp := h.login(cl, c.form)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.status != http.StatusSeeOther {
				if len(resp.Cookies()) != 0 {
					t.Errorf("refused login set cookies %v", resp.Cookies())
				}
				if st, _ := h.get(cl, dashboard.Path); st != http.StatusForbidden {
					t.Errorf("dashboard after a refused login: %d", st)
				}
				return
			}
			if loc := resp.Header.Get("Location"); loc != dashboard.Path {
				t.Errorf("redirect to %q", loc)
			}
			ck := resp.Cookies()
			if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteLaxMode || ck[0].Secure || ck[0].Path != dashboard.Path {
				t.Errorf("cookie %+v", ck)
			}
			st, body := h.get(cl, dashboard.Path)
			if st != http.StatusOK || !strings.Contains(body, "herokuevents · "+c.tenant) {
				t.Errorf("dashboard %d: %.300s", st, body)
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	h := newHarness(t)
	form := url.Values{"resource_id": {resourceID}, "timestamp": {stamp}, "resource_token": {sha1Token}}
	t.Run("secure behind https", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+dashboard.LoginPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := h.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ck := resp.Cookies(); len(ck) != 1 || !ck[0].Secure {
			t.Errorf("cookie %+v", ck)
		}
	})
	t.Run("tampered, foreign and expired cookies are refused", func(t *testing.T) {
		cl := h.client()
		resp := h.login(cl, form)
		value := resp.Cookies()[0].Value
		payload, sig, _ := strings.Cut(value, ".")
		other := strings.Replace(payload, "A", "B", 1)
		for name, v := range map[string]string{"tampered": other + "." + sig, "unsigned": payload, "garbage": "x.y"} {
			req, _ := http.NewRequest(http.MethodGet, h.srv.URL+dashboard.Path, nil)
			req.AddCookie(&http.Cookie{Name: dashboard.CookieName, Value: v})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s cookie: %d", name, resp.StatusCode)
			}
		}
		h.now = h.now.Add(dashboard.DefaultSession + time.Second)
		if st, _ := h.get(cl, dashboard.Path); st != http.StatusForbidden {
			t.Errorf("expired session: %d", st)
		}
	})
}

func TestDashboardShowsAndRedrives(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	ins := func(kind, id, name string, v any) {
		if _, err := config.Insert(ctx, h.store, config.Item{Tenant: resourceID, Kind: kind, ID: id, Name: name}, v); err != nil {
			t.Fatal(err)
		}
	}
	ins(config.KindSubscription, "sub-1", "orders", config.Subscription{ID: "sub-1", Name: "orders", Platform: "generate"})
	ins(config.KindPublication, "pub-1", "hook", config.Publication{ID: "pub-1", Name: "hook", Platform: "webhook", Params: config.Params{URL: "https://user:pw@example.com/in?token=abc"}})
	ins(config.KindStream, "sub-1->pub-1", "sub-1->pub-1", config.Stream{ID: "sub-1->pub-1", Subscription: "sub-1", Publication: "pub-1", Filter: `root = if this.amount < 10 { deleted() }`})
	at := h.now.Add(-10 * time.Minute)
	if err := h.j.Append(ctx,
		journal.Entry{Tenant: resourceID, EventID: "evt-delivered", Time: at, Stage: journal.Attempt, Publication: "pub-1", Attempt: 1, Outcome: journal.Retry, Status: 500, Latency: 30 * time.Millisecond, Error: "HTTP 500", NextAttempt: at.Add(time.Second)},
		journal.Entry{Tenant: resourceID, EventID: "evt-delivered", Time: at.Add(time.Second), Stage: journal.Attempt, Publication: "pub-1", Attempt: 2, Outcome: journal.Delivered, Status: 200, Latency: 12 * time.Millisecond},
		journal.Entry{Tenant: otherID, EventID: "evt-other", Time: at, Stage: journal.Attempt, Publication: "pub-9", Attempt: 1, Outcome: journal.Delivered, Status: 200},
	); err != nil {
		t.Fatal(err)
	}
	dead := func(tenant, id string) {
		body, _ := json.Marshal(event.Delivery{Tenant: tenant, Publication: "pub-1", Attempt: 3, Event: event.Event{ID: id, Source: "/s", Type: event.TypePublish}})
		if err := h.db.Queue("delivery-dlq").Send(ctx, queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: tenant, queue.AttrAttempt: "3", queue.AttrReason: "HTTP 400 from the webhook"}}); err != nil {
			t.Fatal(err)
		}
	}
	dead(resourceID, "evt-dead")
	dead(otherID, "evt-other-dead")

	cl := h.client()
	h.login(cl, url.Values{"resource_id": {resourceID}, "timestamp": {stamp}, "resource_token": {sha1Token}})
	st, body := h.get(cl, dashboard.Path)
	if st != http.StatusOK {
		t.Fatalf("dashboard %d", st)
	}
	for _, want := range []string{
		`<svg class="graph"`, ">orders<", ">hook<", `class="node pub active"`, "root = if this.amount &lt; 10", // graph: subscription → filter → publication
		`class="delivered-count">1</span>`, "12.0 ms / 30.0 ms", "HTTP 500", // health
		`data-event="evt-delivered"`, "HTTP 200", // deliveries with attempts
		`<svg class="chart"`, "1 delivered, 1 failed attempts",
		`data-event="evt-dead"`, "HTTP 400 from the webhook", `name="csrf"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	for _, leak := range []string{"evt-other", "pw@", "token=abc", "<script"} {
		if strings.Contains(body, leak) {
			t.Errorf("dashboard shows %q", leak)
		}
	}
	id := between(body, `name="id" value="`, `"`)
	csrf := between(body, `name="csrf" value="`, `"`)

	post := func(c *http.Client, form url.Values) *http.Response {
		resp, err := c.PostForm(h.srv.URL+"/dashboard/dead-letters/redrive", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("without or with a wrong CSRF token nothing moves", func(t *testing.T) {
		for _, f := range []url.Values{{"id": {id}}, {"id": {id}, "csrf": {"x" + csrf}}} {
			if resp := post(cl, f); resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d", resp.StatusCode)
			}
		}
		if resp := post(h.client(), url.Values{"id": {id}, "csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("no session: %d", resp.StatusCode)
		}
		if n, _ := h.db.Queue("delivery").Len(ctx); n != 0 {
			t.Errorf("%d messages redriven", n)
		}
	})
	t.Run("the button redrives", func(t *testing.T) {
		resp := post(cl, url.Values{"id": {id}, "csrf": {csrf}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard?notice=redriven" {
			t.Fatalf("status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if n, _ := h.db.Queue("delivery").Len(ctx); n != 1 {
			t.Errorf("delivery queue holds %d", n)
		}
		_, body := h.get(cl, "/dashboard?notice=redriven")
		if !strings.Contains(body, "was redriven") || strings.Contains(body, `data-event="evt-dead"`) {
			t.Errorf("after redrive: %.200s", body)
		}
		if resp := post(cl, url.Values{"id": {id}, "csrf": {csrf}}); resp.Header.Get("Location") != "/dashboard?notice=missing" {
			t.Errorf("second redrive to %q", resp.Header.Get("Location"))
		}
	})
}

func between(s, a, b string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, b)
	return v
}

// FuzzLogin: whatever the form, a login without the right token is 403
// and sets no cookie.
func FuzzLogin(f *testing.F) {
	f.Add(resourceID, stamp, sha1Token, "")
	f.Add(resourceID, stamp, "", sha256Tok)
	f.Add("", "", "", "")
	f.Add("my-app", "-1", "zz", "\x00")
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, id, ts, rt, ut string) {
		if id == resourceID && ts == stamp && (strings.EqualFold(rt, sha1Token) || strings.EqualFold(ut, sha256Tok)) {
			return
		}
		resp, err := h.client().PostForm(h.srv.URL+dashboard.LoginPath, url.Values{"resource_id": {id}, "timestamp": {ts}, "resource_token": {rt}, "user_scoped_resource_token": {ut}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Fatalf("status %d cookies %v", resp.StatusCode, resp.Cookies())
		}
	})
}

// FuzzSessionCookie: no cookie but one the dashboard signed opens it.
func FuzzSessionCookie(f *testing.F) {
	f.Add("")
	f.Add("x.y")
	f.Add("eyJ0IjoiMDEyMzQ1NjctODlhYi1jZGVmLTAxMjMtNDU2Nzg5YWJjZGVmIiwiZSI6OTk5OTk5OTk5OTksImMiOiJ4In0.AAAA")
	f.Add(strings.Repeat("A", 5000) + "." + strings.Repeat("B", 43))
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, value string) {
		req, err := http.NewRequest(http.MethodGet, h.srv.URL+dashboard.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", dashboard.CookieName+"="+url.QueryEscape(value))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("cookie %q: status %d", value, resp.StatusCode)
		}
	})
}

// BenchmarkDashboard renders the page of a tenant with 5 publications,
// 2,000 attempts in the last hour and 50 dead letters (SQLite journal and
// queues), through HTTP; it reports the page's size.
func BenchmarkDashboard(b *testing.B) {
	h := newHarness(b)
	ctx := b.Context()
	var entries []journal.Entry
	for p := range 5 {
		id := "pub-" + strconv.Itoa(p)
		if _, err := config.Insert(ctx, h.store, config.Item{Tenant: resourceID, Kind: config.KindPublication, ID: id, Name: "hook" + strconv.Itoa(p)},
			config.Publication{ID: id, Name: "hook" + strconv.Itoa(p), Platform: "webhook", Params: config.Params{URL: "https://example.com/" + id}}); err != nil {
			b.Fatal(err)
		}
		for i := range 400 {
			o := journal.Delivered
			if i%10 == 0 {
				o = journal.Retry
			}
			entries = append(entries, journal.Entry{Tenant: resourceID, EventID: "e" + strconv.Itoa(p*1000+i), Time: h.now.Add(-time.Duration(i) * 9 * time.Second),
				Stage: journal.Attempt, Publication: id, Attempt: 1, Outcome: o, Status: 200, Latency: time.Duration(i%50) * time.Millisecond})
		}
	}
	if err := h.j.Append(ctx, entries...); err != nil {
		b.Fatal(err)
	}
	for i := range 50 {
		body, _ := json.Marshal(event.Delivery{Tenant: resourceID, Publication: "pub-1", Event: event.Event{ID: "dead-" + strconv.Itoa(i), Source: "/s", Type: event.TypePublish}})
		if err := h.db.Queue("delivery-dlq").Send(ctx, queue.Message{Body: body, Attributes: map[string]string{queue.AttrTenant: resourceID, queue.AttrReason: "HTTP 400"}}); err != nil {
			b.Fatal(err)
		}
	}
	cl := h.client()
	h.login(cl, url.Values{"resource_id": {resourceID}, "timestamp": {stamp}, "resource_token": {sha1Token}})
	size := 0
	for b.Loop() {
		st, body := h.get(cl, dashboard.Path)
		if st != http.StatusOK {
			b.Fatal(st)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size), "page-bytes")
}
