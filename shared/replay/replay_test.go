package replay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "-1h", want: now.Add(-time.Hour)},
		{in: "-2h30m", want: now.Add(-150 * time.Minute)},
		{in: "now", want: now},
		{in: "+5m", want: now.Add(5 * time.Minute)},
		{in: "2026-01-02T10:00:00Z", want: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)},
		{in: "2026-01-02T12:00:00+02:00", want: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)},
		{in: "yesterday", err: true},
		{in: "1h", err: true},
		{in: "", err: true},
		{in: "-1x", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "%s != %s", got, tt.want)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		err  bool
	}{
		{in: "100", want: 100}, {in: "100/s", want: 100}, {in: "6000/m", want: 100}, {in: "360/h", want: 0.1},
		{in: "0.5", want: 0.5}, {in: "fast", err: true}, {in: "10/d", err: true}, {in: "NaN", err: true}, {in: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}

// FuzzParseTime: window bounds come from users (CLI flags, API bodies).
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"-1h", "now", "2026-01-02T10:00:00Z", "+1h2m3s", "-9999999h", "", "6000/m"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := ParseTime(s, now); err == nil && got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, got)
		}
		if r, err := ParseRate(s); err == nil && r != r {
			t.Fatalf("ParseRate(%q) = NaN", s)
		}
	})
}
