package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// view is what dashboard.html renders.
type view struct {
	App, Plan, Email, CSRF, Notice string
	Now                            time.Time
	Graph                          template.HTML // inline SVG
	Chart                          template.HTML // inline SVG
	Subscriptions                  int
	Publications                   []pubView
	Deliveries                     []deliveryView
	DeadLetters                    []deadView
	HasJournal, HasDeadLetters     bool
	Delivered, Failed              int // the last hour, all publications
}

type pubView struct {
	Name, Platform, Target, State, Reason string
	Delivered, Failed, Pending            int
	P50, P99                              string
	LastError                             string
	LastErrorAt                           time.Time
}

type deliveryView struct {
	Time                 time.Time
	EventID, Publication string
	Outcome              string // of the latest attempt
	Attempts             []attemptView
}

type attemptView struct {
	N               int
	Outcome, Status string
	Latency, Error  string
	Time            time.Time
}

type deadView struct {
	ID, EventID, Target, Reason string
	Attempt                     int
	At                          time.Time
}

// view reads everything the page shows for the session's tenant.
func (d *Dashboard) view(ctx context.Context, s session) (view, error) {
	t, err := config.Load[config.Tenant](ctx, d.o.Store, "", config.KindTenant, s.Tenant)
	if err != nil {
		return view{}, err
	}
	subs, err := config.LoadAll[config.Subscription](ctx, d.o.Store, s.Tenant, config.KindSubscription)
	if err != nil {
		return view{}, fmt.Errorf("read subscriptions: %w", err)
	}
	pubs, err := config.LoadAll[config.Publication](ctx, d.o.Store, s.Tenant, config.KindPublication)
	if err != nil {
		return view{}, fmt.Errorf("read publications: %w", err)
	}
	streams, err := config.LoadAll[config.Stream](ctx, d.o.Store, s.Tenant, config.KindStream)
	if err != nil {
		return view{}, fmt.Errorf("read streams: %w", err)
	}
	now := d.o.Now()
	v := view{
		App: t.Value.App, Plan: cmp.Or(t.Value.Plan, "test"), Email: s.Email, CSRF: s.CSRF, Now: now.UTC(),
		Subscriptions: len(subs), HasJournal: d.o.Journal != nil, HasDeadLetters: d.o.DeadLetters != nil,
	}
	subName, pubName := map[string]string{}, map[string]string{}
	for _, r := range subs {
		subName[r.Value.ID] = r.Value.Name
	}
	for _, r := range pubs {
		pubName[r.Value.ID] = r.Value.Name
	}

	var hour []journal.Entry // every publication's attempts of the last hour
	for _, r := range pubs {
		p := r.Value
		pv := pubView{Name: p.Name, Platform: p.Platform, Target: target(p), State: "active"}
		if d.o.Journal != nil {
			got, err := d.o.Journal.Attempts(ctx, s.Tenant, p.ID, journal.Query{Limit: journal.HealthSample, Since: now.Add(-journal.Window)})
			if err != nil {
				return view{}, fmt.Errorf("read attempts of %s: %w", p.Name, err)
			}
			hour = append(hour, got...)
			h := journal.Summarize(got)
			if h.LastError == "" { // the newest failure before the hour
				failed, err := d.o.Journal.Attempts(ctx, s.Tenant, p.ID, journal.Query{Limit: 1, Outcomes: journal.FailedOutcomes})
				if err != nil {
					return view{}, fmt.Errorf("read failures of %s: %w", p.Name, err)
				}
				if len(failed) > 0 {
					h.LastError, h.LastErrorAt = cmp.Or(failed[0].Error, fmt.Sprintf("HTTP %d", failed[0].Status)), failed[0].Time
				}
			}
			pv.Delivered, pv.Failed, pv.Pending = h.Delivered, h.Failed, h.Pending
			pv.P50, pv.P99 = msText(h.P50), msText(h.P99)
			pv.LastError, pv.LastErrorAt = h.LastError, h.LastErrorAt.UTC()
			if h.Failing() {
				pv.State = "failing"
			}
			v.Delivered += h.Delivered
			v.Failed += h.Failed
		}
		switch {
		case p.Disabled:
			pv.State, pv.Reason = "disabled", p.DisabledReason
		case p.Paused:
			pv.State = "paused"
		}
		v.Publications = append(v.Publications, pv)
	}
	state := map[string]string{}
	for i, r := range pubs {
		state[r.Value.ID] = v.Publications[i].State
	}
	v.Graph = graphSVG(subs, pubs, streams, state)
	v.Deliveries = deliveries(hour, pubName)
	if len(v.Deliveries) < recentDeliveries && d.o.Journal != nil {
		// older deliveries when the last hour was quiet
		var older []journal.Entry
		for _, r := range pubs {
			got, err := d.o.Journal.Attempts(ctx, s.Tenant, r.Value.ID, journal.Query{Limit: recentDeliveries})
			if err != nil {
				return view{}, fmt.Errorf("read attempts of %s: %w", r.Value.Name, err)
			}
			older = append(older, got...)
		}
		v.Deliveries = deliveries(older, pubName)
	}
	v.Chart = chartSVG(hour, now)
	if d.o.DeadLetters != nil {
		dls, err := d.o.DeadLetters.List(ctx, s.Tenant, deadLetterLimit)
		if err != nil {
			return view{}, fmt.Errorf("read dead letters: %w", err)
		}
		for _, dl := range dls {
			v.DeadLetters = append(v.DeadLetters, deadOf(dl, subName, pubName))
		}
	}
	return v, nil
}

// target is where a publication delivers, without credentials.
func target(p config.Publication) string {
	switch {
	case p.Params.URL != "":
		u := p.Params.URL
		if i := strings.Index(u, "?"); i >= 0 {
			u = u[:i] + "?…"
		}
		if at := strings.Index(u, "@"); at >= 0 {
			if s := strings.Index(u, "://"); s >= 0 && s < at {
				u = u[:s+3] + "…" + u[at:]
			}
		}
		return u
	case p.Params.Event != "":
		return cmp.Or(p.Params.OrgName+" ", "") + p.Params.Event
	case p.Params.Object != "":
		return p.Params.Connector + "/" + p.Params.Object
	}
	return ""
}

func deadOf(dl queue.DeadLetter, subName, pubName map[string]string) deadView {
	t := ""
	switch {
	case dl.Publication != "":
		t = "→ " + cmp.Or(pubName[dl.Publication], dl.Publication)
	case dl.Subscription != "":
		t = cmp.Or(subName[dl.Subscription], dl.Subscription) + " →"
	}
	return deadView{ID: dl.ID, EventID: dl.EventID, Target: t, Reason: dl.Reason, Attempt: dl.Attempt, At: dl.DeadLetteredAt.UTC()}
}

// deliveries groups attempts by delivery (publication, event), newest
// delivery first, at most recentDeliveries.
func deliveries(attempts []journal.Entry, pubName map[string]string) []deliveryView {
	type key struct{ pub, ev string }
	by := map[key]*deliveryView{}
	var order []key
	for _, e := range attempts {
		if e.Stage != journal.Attempt {
			continue
		}
		k := key{e.Publication, e.EventID}
		dv := by[k]
		if dv == nil {
			dv = &deliveryView{EventID: e.EventID, Publication: cmp.Or(pubName[e.Publication], e.PublicationName, e.Publication)}
			by[k] = dv
			order = append(order, k)
		}
		status := ""
		if e.Status != 0 {
			status = fmt.Sprint(e.Status)
		}
		dv.Attempts = append(dv.Attempts, attemptView{N: e.Attempt, Outcome: string(e.Outcome), Status: status, Latency: msText(e.Latency), Error: e.Error, Time: e.Time.UTC()})
		if e.Time.After(dv.Time) || dv.Time.IsZero() {
			dv.Time, dv.Outcome = e.Time.UTC(), string(e.Outcome)
		}
	}
	out := make([]deliveryView, 0, len(order))
	for _, k := range order {
		dv := by[k]
		slices.SortFunc(dv.Attempts, func(a, b attemptView) int { return cmp.Or(a.N-b.N, a.Time.Compare(b.Time)) })
		out = append(out, *dv)
	}
	slices.SortStableFunc(out, func(a, b deliveryView) int { return b.Time.Compare(a.Time) })
	return out[:min(len(out), recentDeliveries)]
}

func msText(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	ms := float64(d) / float64(time.Millisecond)
	if ms >= 100 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// ---- SVG ----

func esc(s string) string { return template.HTMLEscapeString(s) }

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// graphSVG draws subscriptions (left), one filter box per stream
// (middle) and publications (right), a line from each subscription through
// its streams' filters to their publications.
func graphSVG(subs []config.Record[config.Subscription], pubs []config.Record[config.Publication], streams []config.Record[config.Stream], state map[string]string) template.HTML {
	const row, boxW, boxH = 44, 200, 30
	colX := [3]int{10, 290, 570}
	rows := max(len(subs), len(streams), len(pubs), 1)
	h := rows*row + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="graph" role="img" aria-label="subscriptions, filters and publications" viewBox="0 0 780 %d" width="780" height="%d" xmlns="http://www.w3.org/2000/svg">`, h, h)
	y := func(i int) int { return 10 + i*row }
	subY, pubY := map[string]int{}, map[string]int{}
	for i, r := range subs {
		subY[r.Value.ID] = y(i)
	}
	for i, r := range pubs {
		pubY[r.Value.ID] = y(i)
	}
	for i, r := range streams {
		st := r.Value
		sy, okS := subY[st.Subscription]
		py, okP := pubY[st.Publication]
		fy := y(i)
		if okS {
			fmt.Fprintf(&b, `<path class="edge" d="M%d %d C%d %d %d %d %d %d"/>`, colX[0]+boxW, sy+boxH/2, colX[0]+boxW+40, sy+boxH/2, colX[1]-40, fy+boxH/2, colX[1], fy+boxH/2)
		}
		if okP {
			fmt.Fprintf(&b, `<path class="edge" d="M%d %d C%d %d %d %d %d %d"/>`, colX[1]+boxW, fy+boxH/2, colX[1]+boxW+40, fy+boxH/2, colX[2]-40, py+boxH/2, colX[2], py+boxH/2)
		}
		label := "all events"
		if f := strings.TrimSpace(st.Filter); f != "" {
			label = clip(strings.Join(strings.Fields(f), " "), 30)
		}
		fmt.Fprintf(&b, `<g class="node filter"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><text x="%d" y="%d">%s</text></g>`,
			esc(cmp.Or(st.Filter, "no filter: every event")), colX[1], fy, boxW, boxH, colX[1]+8, fy+19, esc(label))
	}
	for i, r := range subs {
		fmt.Fprintf(&b, `<g class="node sub"><title>%s (%s)</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><text x="%d" y="%d">%s</text></g>`,
			esc(r.Value.Name), esc(r.Value.Platform), colX[0], y(i), boxW, boxH, colX[0]+8, y(i)+19, esc(clip(r.Value.Name, 28)))
	}
	for i, r := range pubs {
		st := cmp.Or(state[r.Value.ID], "active")
		fmt.Fprintf(&b, `<g class="node pub %s"><title>%s (%s): %s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><text x="%d" y="%d">%s</text></g>`,
			esc(st), esc(r.Value.Name), esc(r.Value.Platform), esc(st), colX[2], y(i), boxW, boxH, colX[2]+8, y(i)+19, esc(clip(r.Value.Name, 28)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped parts
}

// chartSVG draws the deliveries of the last hour per minute: delivered and
// failed attempts stacked.
func chartSVG(attempts []journal.Entry, now time.Time) template.HTML {
	const minutes, barW, h, top = 60, 12, 120, 14
	var ok, bad [minutes]int
	start := now.Add(-time.Hour)
	for _, e := range attempts {
		if e.Stage != journal.Attempt || e.Time.Before(start) || e.Time.After(now) {
			continue
		}
		i := min(int(e.Time.Sub(start)/time.Minute), minutes-1)
		if e.Outcome == journal.Delivered {
			ok[i]++
		} else {
			bad[i]++
		}
	}
	peak := 1
	for i := range minutes {
		peak = max(peak, ok[i]+bad[i])
	}
	scale := float64(h-top) / float64(peak)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="deliveries per minute, last hour" viewBox="0 0 %d %d" width="%d" height="%d" xmlns="http://www.w3.org/2000/svg">`, minutes*barW+40, h+20, minutes*barW+40, h+20)
	fmt.Fprintf(&b, `<text class="axis" x="0" y="10">%d/min</text><line class="axis" x1="40" y1="%d" x2="%d" y2="%d"/>`, peak, h, minutes*barW+40, h)
	for i := range minutes {
		x := 40 + i*barW
		hOK := int(math.Round(float64(ok[i]) * scale))
		hBad := int(math.Round(float64(bad[i]) * scale))
		at := start.Add(time.Duration(i) * time.Minute).UTC().Format("15:04")
		if ok[i] > 0 {
			fmt.Fprintf(&b, `<rect class="ok" x="%d" y="%d" width="%d" height="%d"><title>%s: %d delivered</title></rect>`, x, h-hOK, barW-2, hOK, at, ok[i])
		}
		if bad[i] > 0 {
			fmt.Fprintf(&b, `<rect class="bad" x="%d" y="%d" width="%d" height="%d"><title>%s: %d failed</title></rect>`, x, h-hOK-hBad, barW-2, hBad, at, bad[i])
		}
	}
	fmt.Fprintf(&b, `<text class="axis" x="40" y="%d">%s</text><text class="axis" x="%d" y="%d" text-anchor="end">%s</text>`,
		h+16, start.UTC().Format("15:04"), minutes*barW+40, h+16, now.UTC().Format("15:04 UTC"))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // numbers and fixed text
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"short": func(s string) string { return clip(s, 80) },
}
