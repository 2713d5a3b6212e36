package generate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/generate"
)

// FuzzParseInterval: a generator's interval (a duration, "@every D", a
// 5-field cron expression, a descriptor, a TZ= prefix) parses or fails
// with ErrInterval and a message for the user; what parses round-trips
// through String and fires after any time, never more often than
// MinInterval.
func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{"30s", "1m", "1h30m", "@every 5m", "@every", "*/5 * * * *", "0 9 * * 1-5", "@hourly", "@daily",
		"TZ=Europe/London 0 9 * * *", "CRON_TZ=America/New_York @daily", "TZ=Local * * * * *", "TZ=Nowhere/None * * * * *",
		"0 0 30 2 *", "* * * * * *", "500ms", "-1s", "", "@every 1ns", "TZ=UTC @every 1m", "60 * * * *", "*/0 * * * *"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		iv, err := generate.ParseInterval(s)
		if err != nil {
			require.ErrorIs(t, err, generate.ErrInterval)
			require.NotEmpty(t, generate.Message(err))
			return
		}
		again, err := generate.ParseInterval(iv.String())
		require.NoError(t, err, "ParseInterval(%q).String() = %q is refused", s, iv.String())
		require.Equal(t, iv.Fixed(), again.Fixed())
		at := time.Unix(unix%(1<<33), 0).UTC() // 1970..2242
		next := iv.Next(at)
		if iv.Fixed() > 0 {
			require.GreaterOrEqual(t, iv.Fixed(), generate.MinInterval)
			require.Equal(t, at.Add(iv.Fixed()), next)
			return
		}
		if next.IsZero() {
			return // no slot within five years of at
		}
		require.True(t, next.After(at), "Next(%s) = %s", at, next)
		require.Equal(t, next, again.Next(at))
		if after := iv.Next(next); !after.IsZero() {
			require.GreaterOrEqual(t, after.Sub(next), generate.MinInterval)
		}
	})
}
