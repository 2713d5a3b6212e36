package generate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestParseIntervalAccepted: interval strings → the first slots of a
// generator created at a fixed time.
func TestParseIntervalAccepted(t *testing.T) {
	created := utc("2026-03-28T23:58:30.250300Z") // a Saturday, before the EU DST switch
	tests := []struct {
		in    string
		fixed time.Duration
		want  []string // First, then Next of each
	}{
		{in: "1s", fixed: time.Second, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-28T23:58:31.25Z", "2026-03-28T23:58:32.25Z"}},
		{in: "30s", fixed: 30 * time.Second, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-28T23:59:00.25Z"}},
		{in: "1m", fixed: time.Minute, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-28T23:59:30.25Z", "2026-03-29T00:00:30.25Z"}},
		{in: " 1h30m ", fixed: 90 * time.Minute, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-29T01:28:30.25Z"}},
		{in: "1.5s", fixed: 1500 * time.Millisecond, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-28T23:58:31.75Z", "2026-03-28T23:58:33.25Z"}},
		{in: "@every 5m", fixed: 5 * time.Minute, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-29T00:03:30.25Z"}},
		{in: "@every 1s", fixed: time.Second, want: []string{"2026-03-28T23:58:30.25Z", "2026-03-28T23:58:31.25Z"}},
		{in: "* * * * *", want: []string{"2026-03-28T23:59:00Z", "2026-03-29T00:00:00Z", "2026-03-29T00:01:00Z"}},
		{in: "*/15 * * * *", want: []string{"2026-03-29T00:00:00Z", "2026-03-29T00:15:00Z"}},
		{in: "0,30 */2 * * *", want: []string{"2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z", "2026-03-29T02:00:00Z"}},
		{in: "0 9 * * 1-5", want: []string{"2026-03-30T09:00:00Z", "2026-03-31T09:00:00Z"}},
		{in: "@hourly", want: []string{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z"}},
		{in: "@daily", want: []string{"2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z"}},
		// 03:30 London: GMT (UTC+0) on the 28th, BST (UTC+1) from the 29th.
		{in: "TZ=Europe/London 30 3 * * *", want: []string{"2026-03-29T02:30:00Z", "2026-03-30T02:30:00Z"}},
		{in: "CRON_TZ=America/New_York 0 12 * * *", want: []string{"2026-03-29T16:00:00Z", "2026-03-30T16:00:00Z"}},
		{in: "TZ=Asia/Kolkata @daily", want: []string{"2026-03-29T18:30:00Z", "2026-03-30T18:30:00Z"}},
		{in: "TZ=UTC 0 0 1 1 *", want: []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			iv, err := ParseInterval(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.fixed, iv.Fixed())
			got := []time.Time{iv.First(created)}
			for len(got) < len(tt.want) {
				got = append(got, iv.Next(got[len(got)-1]))
			}
			for i, w := range tt.want {
				assert.Equal(t, utc(w), got[i], "slot %d", i)
				assert.Equal(t, time.UTC, got[i].Location())
			}
		})
	}
}

func TestParseIntervalRejected(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "interval is required"},
		{"   ", "interval is required"},
		{"500ms", `interval "500ms" is shorter than 1s`},
		{"0s", `interval "0s" is shorter than 1s`},
		{"-1m", `interval "-1m" is shorter than 1s`},
		{"@every 100ms", `interval "@every 100ms" is shorter than 1s`},
		{"@every", `interval "@every": @every needs a duration such as 30s, 5m or 1h`},
		{"@every soon", `interval "@every soon": @every needs a duration such as 30s, 5m or 1h`},
		{"1x", `interval "1x" is neither a duration (30s, 1m, 1h30m), "@every 5m" nor a 5-field cron expression`},
		{"fast", `interval "fast" is neither a duration (30s, 1m, 1h30m), "@every 5m" nor a 5-field cron expression`},
		{"* * * *", `interval "* * * *" is not a valid cron expression: expected exactly 5 fields, found 4: [* * * *]`},
		{"* * * * * *", `interval "* * * * * *" is not a valid cron expression: expected exactly 5 fields, found 6: [* * * * * *]`},
		{"61 * * * *", `interval "61 * * * *" is not a valid cron expression: end of range (61) above maximum (59): 61`},
		{"@reboot", `interval "@reboot" is not a valid cron expression: unrecognized descriptor: @reboot`},
		{"0 0 30 2 *", `interval "0 0 30 2 *" never fires`},
		{"TZ=Mars/Olympus * * * * *", `interval "TZ=Mars/Olympus * * * * *": unknown time zone "Mars/Olympus"`},
		{"TZ=../../etc/passwd * * * * *", `interval "TZ=../../etc/passwd * * * * *": unknown time zone "../../etc/passwd"`},
		{"TZ=Europe/London", `interval "TZ=Europe/London": a cron expression must follow the time zone`},
		{"TZ= * * * * *", `interval "TZ= * * * * *": TZ= needs a time zone name such as Europe/London`},
		{"TZ=Local * * * * *", `interval "TZ=Local * * * * *": TZ= needs a time zone name such as Europe/London`},
		{"TZ=UTC @every 5m", `interval "TZ=UTC @every 5m": a time zone applies to cron expressions only`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseInterval(tt.in)
			require.ErrorIs(t, err, ErrInterval)
			assert.Equal(t, tt.msg, Message(err))
		})
	}
}

func TestPlan(t *testing.T) {
	every := func(s string) Interval {
		iv, err := ParseInterval(s)
		require.NoError(t, err)
		return iv
	}
	ts := func(ss ...string) []time.Time {
		var out []time.Time
		for _, s := range ss {
			out = append(out, utc(s))
		}
		return out
	}
	tests := []struct {
		name          string
		iv            Interval
		next, at      string
		window, grace time.Duration
		slots         []time.Time
		newNext       string
		skipped       int
	}{
		{name: "sub-minute interval yields several slots in a 1m tick", iv: every("15s"),
			next: "2026-01-01T00:00:00Z", at: "2026-01-01T00:00:00Z", window: time.Minute, grace: time.Minute,
			slots:   ts("2026-01-01T00:00:00Z", "2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z", "2026-01-01T00:00:45Z"),
			newNext: "2026-01-01T00:01:00Z"},
		{name: "not due in this window", iv: every("1h"),
			next: "2026-01-01T01:00:00Z", at: "2026-01-01T00:00:00Z", window: time.Minute, grace: time.Minute,
			newNext: "2026-01-01T01:00:00Z"},
		{name: "late within grace: emitted", iv: every("20s"),
			next: "2026-01-01T00:00:00Z", at: "2026-01-01T00:00:50Z", window: time.Minute, grace: time.Minute,
			slots:   ts("2026-01-01T00:00:00Z", "2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z", "2026-01-01T00:01:40Z"),
			newNext: "2026-01-01T00:02:00Z"},
		{name: "downtime: one catch-up then the window", iv: every("1s"),
			next: "2026-01-01T00:00:00Z", at: "2026-01-01T01:00:00Z", window: 2 * time.Second, grace: time.Second,
			slots:   ts("2026-01-01T00:59:58Z", "2026-01-01T00:59:59Z", "2026-01-01T01:00:00Z", "2026-01-01T01:00:01Z"),
			newNext: "2026-01-01T01:00:02Z", skipped: 3598},
		{name: "cron downtime: one catch-up", iv: every("0 * * * *"),
			next: "2026-01-01T00:00:00Z", at: "2026-01-03T12:30:00Z", window: time.Minute, grace: time.Minute,
			slots: ts("2026-01-03T12:00:00Z"), newNext: "2026-01-03T13:00:00Z", skipped: 1},
		{name: "cron yearly after years", iv: every("0 0 1 1 *"),
			next: "2020-01-01T00:00:00Z", at: "2026-06-01T00:00:00Z", window: time.Minute, grace: time.Minute,
			slots: ts("2026-01-01T00:00:00Z"), newNext: "2027-01-01T00:00:00Z", skipped: 1},
		{name: "capped at MaxSlots", iv: every("1s"),
			next: "2026-01-01T00:00:00Z", at: "2026-01-01T00:15:00Z", window: 15 * time.Minute, grace: 15 * time.Minute,
			newNext: "2026-01-01T00:16:40Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := utc(tt.at)
			slots, next, skipped := plan(tt.iv, utc(tt.next), at.Add(-tt.grace), at.Add(tt.window))
			if tt.name == "capped at MaxSlots" {
				assert.Equal(t, MaxSlots, len(slots))
			} else {
				assert.Equal(t, tt.slots, slots)
			}
			assert.Equal(t, utc(tt.newNext), next)
			assert.Equal(t, tt.skipped, skipped)
		})
	}
}
