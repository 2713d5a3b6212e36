package ingest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/herokuevents/herokuevents/shared/plan"
)

// Backlog reports the messages waiting in the data plane's queues
// (backlog.Counter): per tenant, and in all with how many tenants they
// belong to.
type Backlog interface {
	Tenant(id string) int64
	Total() (messages int64, tenants int)
}

// limits refuses what a tenant may not publish now: over its plan's rate
// (429), over its plan's backlog (429), or, the system over capacity
// (Options.MaxBacklog messages waiting), a tenant with at least its fair
// share of the backlog (503). Every refusal carries Retry-After.
type limits struct {
	o        *Options
	mu       sync.Mutex
	limiters map[string]*limiter // tenant → its bucket
}

type limiter struct {
	plan string
	*rate.Limiter
}

// refusal is a publish refused before it is read.
type refusal struct {
	status     int
	id, reason string
	retryAfter time.Duration
}

// check returns the refusal of one publish of tenant on planName, or nil
// (and then one event of the tenant's rate is spent).
func (l *limits) check(tenant, planName string, now time.Time) *refusal {
	p := plan.For(planName)
	if l.o.Backlog != nil {
		mine, no := l.backlog(tenant, p, 1)
		if no != nil {
			return no
		}
		if max := l.o.MaxBacklog; max > 0 {
			total, tenants := l.o.Backlog.Total()
			fair := total / int64(max1(tenants))
			if total >= max+max/2 || (total >= max && mine >= fair) {
				return &refusal{http.StatusServiceUnavailable, "over_capacity",
					"The service is over capacity and this app has its share of the waiting events; retry shortly.", time.Second}
			}
		}
	}
	return l.spend(tenant, p, 1, now)
}

// more returns the refusal of n more events of tenant on planName at once
// (those of a batch past its first, which check spent), or nil (and then
// they are spent): the batch must fit the plan's backlog whole. Every
// plan's burst takes a batch of MaxBatch.
func (l *limits) more(tenant, planName string, n int, now time.Time) *refusal {
	p := plan.For(planName)
	if l.o.Backlog != nil {
		if _, no := l.backlog(tenant, p, n+1); no != nil {
			return no
		}
	}
	return l.spend(tenant, p, n, now)
}

// backlog returns tenant's waiting events, and the refusal of a publish of
// n events that its plan's backlog cannot take whole.
func (l *limits) backlog(tenant string, p plan.Limits, n int) (int64, *refusal) {
	mine := l.o.Backlog.Tenant(tenant)
	switch {
	case mine+int64(n) <= p.Backlog:
		return mine, nil
	case n == 1:
		return mine, &refusal{http.StatusTooManyRequests, "backlog_full", fmt.Sprintf(
			"%d events of this app are waiting to be delivered, the most its plan (%s) keeps; retry once they drain.", mine, p.Name), time.Second}
	}
	return mine, &refusal{http.StatusTooManyRequests, "backlog_full", fmt.Sprintf(
		"%d events of this app are waiting to be delivered; %d more would pass the most its plan (%s) keeps, %d: retry once they drain.", mine, n, p.Name, p.Backlog), time.Second}
}

// spend takes n events from tenant's bucket, or returns the 429 of a
// publish that must wait for them.
func (l *limits) spend(tenant string, p plan.Limits, n int, now time.Time) *refusal {
	b := l.bucket(tenant, p, now)
	r := b.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 || !r.OK() {
		r.CancelAt(now)
		return &refusal{http.StatusTooManyRequests, "rate_limited", fmt.Sprintf(
			"This app publishes faster than its plan (%s) allows: %g events/s, bursts of %d.", p.Name, p.Rate, p.Burst), d}
	}
	return nil
}

// bucket returns the token bucket of tenant, following a plan change from
// now on (the tokens earned until now stay).
func (l *limits) bucket(tenant string, p plan.Limits, now time.Time) *limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limiters == nil {
		l.limiters = map[string]*limiter{}
	}
	b, ok := l.limiters[tenant]
	if !ok {
		b = &limiter{plan: p.Name, Limiter: rate.NewLimiter(rate.Limit(p.Rate), p.Burst)}
		l.limiters[tenant] = b
	} else if b.plan != p.Name {
		b.plan = p.Name
		b.SetLimitAt(now, rate.Limit(p.Rate))
		b.SetBurstAt(now, p.Burst)
	}
	return b
}

func max1(n int) int { return max(n, 1) }

// write answers the refusal with its status, Retry-After (whole seconds,
// at least 1) and JSON body.
func (r *refusal) write(w http.ResponseWriter) {
	secs := int(math.Ceil(r.retryAfter.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeError(w, r.status, r.id, r.reason)
}
