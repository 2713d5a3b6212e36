package sink_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/sink"
)

// Webhook responses (status, Retry-After), webhook URLs and the operator's
// allow-list are untrusted input: the fuzz targets below hold their
// decoders to clean errors, no panic, and round trips.

// FuzzParseRetryAfter: any Retry-After value gives a delay ≥ 0 or not ok;
// delay seconds and HTTP dates round-trip.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []string{"0", "120", " 7 ", "-1", "9223372036854775807", "99999999999999999999", "1.5", "",
		"Fri, 02 Jan 2026 03:06:05 GMT", "Friday, 02-Jan-26 03:06:05 GMT", "Fri Jan  2 03:06:05 2026", "Thu, 01 Jan 1970 00:00:00 GMT", "garbage"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, v string, secs int64) {
		d, ok := sink.ParseRetryAfter(v, now)
		if !ok {
			require.Zero(t, d)
		}
		require.GreaterOrEqual(t, d, time.Duration(0))
		if secs < 0 {
			secs = -secs
		}
		secs %= 1 << 40
		d, ok = sink.ParseRetryAfter(strconv.FormatInt(secs, 10), now)
		require.True(t, ok)
		require.Equal(t, time.Duration(secs)*time.Second, d)
		at := now.Add(time.Duration(secs%(1<<30)) * time.Second)
		d, ok = sink.ParseRetryAfter(at.Format(http.TimeFormat), now)
		require.True(t, ok)
		require.Equal(t, at.Sub(now), d)
	})
}

// FuzzClassify: every webhook response (status, Retry-After) falls in
// exactly the class the delivery contract gives it (DESIGN §5).
func FuzzClassify(f *testing.F) {
	for _, st := range []int{200, 204, 299, 301, 400, 404, 410, 429, 500, 503, 599, 600, 0, -1, 999} {
		f.Add(st, "30")
	}
	f.Add(503, "Fri, 02 Jan 2026 03:06:05 GMT")
	f.Add(429, "-5")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		r := sink.Classify(status, h, now)
		require.Equal(t, status, r.Status)
		require.GreaterOrEqual(t, r.RetryAfter, time.Duration(0))
		switch {
		case status >= 200 && status < 300:
			require.Equal(t, sink.Delivered, r.Class)
			require.NoError(t, r.Err())
		case status == 429 || (status >= 500 && status < 600):
			require.Equal(t, sink.Retry, r.Class)
			require.Error(t, r.Err())
		case status == 410:
			require.Equal(t, sink.Gone, r.Class)
		default:
			require.Equal(t, sink.Permanent, r.Class)
			require.Zero(t, r.RetryAfter)
		}
		require.NotEmpty(t, r.Class.String())
	})
}

// FuzzParseURL: a webhook URL is accepted only as an absolute http(s) URL
// with a host and no credentials; refusals wrap ErrURL; what is accepted
// re-parses to the same URL.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"https://example.com/hook", "http://[::1]:8080/x?y=1#f", "HTTPS://EXAMPLE.COM", "https://user:pw@example.com/",
		"ftp://example.com", "//example.com", "https://", "https://example.com:99999/", "https://example.com:/", "http://%zz", " ", "https://例え.jp/パス", "http://[fe80::1%25eth0]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := sink.ParseURL(raw)
		if err != nil {
			require.ErrorIs(t, err, sink.ErrURL)
			return
		}
		require.Contains(t, []string{"http", "https"}, strings.ToLower(u.Scheme))
		require.NotEmpty(t, u.Hostname())
		require.Nil(t, u.User)
		again, err := sink.ParseURL(u.String())
		require.NoError(t, err, "ParseURL(%q) accepted, its String %q is refused", raw, u.String())
		require.Equal(t, u.Hostname(), again.Hostname())
		require.Equal(t, u.Port(), again.Port())
	})
}

// FuzzParseAllow: the operator's allow-list (ALLOW_EGRESS, --allow-egress)
// parses to masked prefixes that format and parse back to themselves.
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{"127.0.0.0/8, ::1, 10.1.2.3", "", ",,", "10.0.0.1/33", "fe80::1%eth0", "::ffff:1.2.3.4/96", "1.2.3.4/24", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := sink.ParseAllow(s)
		if err != nil {
			require.Contains(t, err.Error(), "parse allow list item")
			return
		}
		parts := make([]string, len(ps))
		for i, p := range ps {
			require.Equal(t, p.Masked(), p)
			parts[i] = p.String()
		}
		back, err := sink.ParseAllow(strings.Join(parts, ","))
		require.NoError(t, err)
		require.Equal(t, ps, back)
	})
}

// FuzzCheckAddr: whatever the address (any 4 or 16 bytes), the egress
// guard never lets through a loopback, private, link-local, multicast or
// unspecified one unless the allow-list names it, and allows what the
// allow-list names.
func FuzzCheckAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "2001::5ef5:79fe", "8.8.8.8", "2606:4700::1111", "0.0.0.0", "224.0.0.1", "192.0.2.1"} {
		a := netip.MustParseAddr(s)
		f.Add(a.AsSlice(), "")
		f.Add(a.AsSlice(), s)
	}
	f.Fuzz(func(t *testing.T, b []byte, allow string) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		prefixes, err := sink.ParseAllow(allow)
		if err != nil {
			return
		}
		err = sink.NewEgress(prefixes).CheckAddr(ip)
		if err != nil {
			require.ErrorIs(t, err, sink.ErrEgress)
		}
		for _, p := range prefixes {
			if p.Contains(ip) {
				require.NoError(t, err, "%s is allowed by %s", ip, p)
				return
			}
		}
		u := ip.Unmap()
		if u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsLinkLocalMulticast() || u.IsMulticast() || u.IsUnspecified() || u.IsInterfaceLocalMulticast() {
			require.Error(t, err, "%s must be refused", ip)
		}
	})
}
