package sink_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/sink"
)

func TestParseAllow(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "blanks", in: " , ,", want: nil},
		{name: "cidrs and bare ips", in: "127.0.0.0/8, ::1,10.1.2.3 ,fd00::/8", want: []string{"127.0.0.0/8", "::1/128", "10.1.2.3/32", "fd00::/8"}},
		{name: "masks host bits", in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{name: "bad cidr", in: "10.0.0.0/33", wantErr: true},
		{name: "hostname", in: "localhost", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sink.ParseAllow(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			assert.Equal(t, tt.want, s)
		})
	}
}

func TestCheckAddr(t *testing.T) {
	allow, err := sink.ParseAllow("127.0.0.0/8,10.9.0.0/16")
	require.NoError(t, err)
	guarded, open := sink.NewEgress(nil), sink.NewEgress(allow)
	tests := []struct {
		ip         string
		why        string // "" = allowed without the allow list
		allowedToo bool   // allowed with the allow list
	}{
		{ip: "8.8.8.8"},
		{ip: "2606:4700:4700::1111"},
		{ip: "127.0.0.1", why: "loopback", allowedToo: true},
		{ip: "::1", why: "loopback"},
		{ip: "::ffff:127.0.0.1", why: "loopback", allowedToo: true},
		{ip: "10.0.0.1", why: "private"},
		{ip: "10.9.1.1", why: "private", allowedToo: true},
		{ip: "172.16.5.4", why: "private"},
		{ip: "192.168.1.1", why: "private"},
		{ip: "fd12::1", why: "private"},
		{ip: "169.254.169.254", why: "cloud metadata"},
		{ip: "fd00:ec2::254", why: "cloud metadata"},
		{ip: "169.254.1.1", why: "link-local"},
		{ip: "fe80::1", why: "link-local"},
		{ip: "0.0.0.0", why: "unspecified"},
		{ip: "::", why: "unspecified"},
		{ip: "224.0.0.1", why: "multicast"},
		{ip: "ff02::1", why: "multicast"},
		{ip: "100.64.0.1", why: "carrier-grade NAT"},
		{ip: "64:ff9b::a00:1", why: "private"},            // NAT64 of 10.0.0.1
		{ip: "2002:7f00:1::1", why: "loopback"},           // 6to4 of 127.0.0.1
		{ip: "2001:0:1:2:3:4:80ff:fefe", why: "loopback"}, // Teredo client 127.0.1.1
		{ip: "192.0.2.1", why: "documentation"},
		{ip: "198.51.100.7", why: "documentation"},
		{ip: "203.0.113.255", why: "documentation"},
		{ip: "2001:db8::1", why: "documentation"},
		{ip: "3fff::1", why: "documentation"},
		{ip: "::ffff:203.0.113.9", why: "documentation"},
		{ip: "64:ff9b::c000:201", why: "documentation"}, // NAT64 of 192.0.2.1
		{ip: "198.18.0.1", why: "benchmarking"},
		{ip: "198.19.255.254", why: "benchmarking"},
		{ip: "2001:2::1", why: "benchmarking"},
		{ip: "192.88.99.1", why: "6to4 relay anycast"},
		{ip: "100::1", why: "discard-only"},
		{ip: "2001:10::1", why: "ORCHID"},
		{ip: "255.255.255.255", why: "reserved"},
		{ip: "::2", why: "not a globally routable"},
		{ip: "4000::1", why: "not a globally routable"},
		{ip: "64:ff9b:1::808:808", why: "not a globally routable"}, // local-use NAT64
		{ip: "::ffff:8.8.8.8"},
		{ip: "64:ff9b::808:808"}, // well-known NAT64 of 8.8.8.8
		{ip: "2001:4860:4860::8888"},
		{ip: "198.17.255.255"},
		{ip: "198.20.0.1"},
		{ip: "203.0.114.1"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			err := guarded.CheckAddr(ip)
			if tt.why == "" {
				require.NoError(t, err)
				require.NoError(t, open.CheckAddr(ip))
				return
			}
			require.ErrorIs(t, err, sink.ErrEgress)
			assert.Contains(t, err.Error(), tt.why)
			if tt.allowedToo {
				assert.NoError(t, open.CheckAddr(ip))
			} else {
				assert.ErrorIs(t, open.CheckAddr(ip), sink.ErrEgress)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	guarded := sink.NewEgress(nil)
	loop, err := sink.ParseAllow("127.0.0.0/8,::1")
	require.NoError(t, err)
	open := sink.NewEgress(loop)
	tests := []struct {
		name    string
		url     string
		e       *sink.Egress
		wantErr error
		msg     string
	}{
		{name: "public ip", url: "https://93.184.215.14/hook", e: guarded},
		{name: "empty", url: "", e: guarded, wantErr: sink.ErrURL, msg: "empty"},
		{name: "ftp", url: "ftp://example.com/x", e: guarded, wantErr: sink.ErrURL, msg: "scheme"},
		{name: "relative", url: "/hook", e: guarded, wantErr: sink.ErrURL, msg: "absolute"},
		{name: "no host", url: "https:///hook", e: guarded, wantErr: sink.ErrURL, msg: "host"},
		{name: "userinfo", url: "https://u:p@example.com/", e: guarded, wantErr: sink.ErrURL, msg: "credentials"},
		{name: "bad port", url: "http://example.com:99999/", e: guarded, wantErr: sink.ErrURL, msg: "port"},
		{name: "loopback ip", url: "http://127.0.0.1:8080/", e: guarded, wantErr: sink.ErrEgress, msg: "loopback"},
		{name: "localhost name", url: "http://localhost/", e: guarded, wantErr: sink.ErrEgress, msg: "loopback"},
		{name: "metadata", url: "http://169.254.169.254/latest/meta-data", e: guarded, wantErr: sink.ErrEgress, msg: "metadata"},
		{name: "metadata v6", url: "http://[fd00:ec2::254]/", e: guarded, wantErr: sink.ErrEgress, msg: "metadata"},
		{name: "private", url: "https://192.168.0.10/", e: guarded, wantErr: sink.ErrEgress, msg: "private"},
		{name: "unresolvable now: checked at dial time", url: "https://no-such-host.invalid/", e: guarded},
		{name: "loopback allowed", url: "http://127.0.0.1:8080/", e: open},
		{name: "localhost allowed", url: "http://localhost:8080/", e: open},
		{name: "allow list is not everything", url: "http://10.0.0.1/", e: open, wantErr: sink.ErrEgress, msg: "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.CheckURL(t.Context(), tt.url)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestClientRefusesAtDialTime(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]

	// "localhost" passes no create-time check here: the dialer alone must
	// refuse whatever the name resolves to (DNS rebinding).
	for _, u := range []string{srv.URL, "http://localhost" + port} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader("{}"))
		require.NoError(t, err)
		r := sink.Do(sink.NewEgress(nil).Client(0), req)
		assert.Equal(t, sink.Permanent, r.Class, u)
		assert.ErrorIs(t, r.Cause, sink.ErrEgress, u)
		assert.Contains(t, r.Reason(), "loopback")
	}
	assert.Zero(t, hits.Load())

	allow, err := sink.ParseAllow("127.0.0.1")
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader("{}"))
	require.NoError(t, err)
	r := sink.Do(sink.NewEgress(allow).Client(0), req)
	assert.Equal(t, sink.Delivered, r.Class)
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.NoError(t, r.Err())
	assert.EqualValues(t, 1, hits.Load())
}

func TestClientOutcomes(t *testing.T) {
	var redirected atomic.Int32
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, _ *http.Request) { redirected.Add(1) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/busy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(strings.Repeat("x", 4000)))
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "endpoint removed", http.StatusGone)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	allow, err := sink.ParseAllow("127.0.0.0/8")
	require.NoError(t, err)
	client := sink.NewEgress(allow).Client(300 * time.Millisecond)

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		url     string
		class   sink.Class
		status  int
		reason  string
		retryIn time.Duration
	}{
		{url: srv.URL + "/ok", class: sink.Delivered, status: 202},
		{url: srv.URL + "/redirect", class: sink.Permanent, status: 302, reason: "redirect to /target not followed"},
		{url: srv.URL + "/slow", class: sink.Retry, reason: "no response"},
		{url: srv.URL + "/busy", class: sink.Retry, status: 429, retryIn: 2 * time.Minute, reason: "HTTP 429 Too Many Requests"},
		{url: srv.URL + "/big", class: sink.Permanent, status: 400, reason: strings.Repeat("x", sink.ExcerptSize)},
		{url: srv.URL + "/gone", class: sink.Gone, status: 410, reason: "HTTP 410 Gone: endpoint removed"},
		{url: closedURL, class: sink.Retry, reason: "no response"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, tt.url, strings.NewReader("{}"))
			require.NoError(t, err)
			r := sink.Do(client, req)
			assert.Equal(t, tt.class, r.Class, r.Reason())
			assert.Equal(t, tt.status, r.Status)
			assert.Equal(t, tt.retryIn, r.RetryAfter)
			assert.Contains(t, r.Reason(), tt.reason)
			assert.LessOrEqual(t, len(r.Excerpt), sink.ExcerptSize)
			if tt.class == sink.Delivered {
				assert.NoError(t, r.Err())
			} else {
				var se *sink.Error
				require.ErrorAs(t, r.Err(), &se)
				assert.Equal(t, tt.class, se.Result.Class)
			}
		})
	}
	assert.Zero(t, redirected.Load(), "redirects must not be followed")
}

// A host accepted while it did not resolve is retried, not dead-lettered,
// while it still does not resolve.
func TestUnresolvableHostIsRetried(t *testing.T) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://no-such-host.invalid/hook", strings.NewReader("{}"))
	require.NoError(t, err)
	r := sink.Do(sink.NewEgress(nil).Client(time.Second), req)
	assert.Equal(t, sink.Retry, r.Class, r.Reason())
}

// The host's own interface addresses are refused, whatever their range.
func TestCheckAddrRefusesOwnAddresses(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	require.NotEmpty(t, addrs)
	guarded := sink.NewEgress(nil)
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.(*net.IPNet).IP)
		require.True(t, ok)
		assert.ErrorIs(t, guarded.CheckAddr(ip.Unmap()), sink.ErrEgress, ip)
	}

	// A host whose interface has a public address: that address alone.
	own := netip.MustParseAddr("93.184.215.14")
	e := sink.NewEgressOn(nil, func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.IP(own.AsSlice()), Mask: net.CIDRMask(24, 32)}}, nil
	})
	err = e.CheckAddr(own)
	require.ErrorIs(t, err, sink.ErrEgress)
	assert.Contains(t, err.Error(), "an address of this host")
	assert.ErrorIs(t, e.CheckAddr(netip.MustParseAddr("::ffff:93.184.215.14")), sink.ErrEgress)
	assert.NoError(t, e.CheckAddr(netip.MustParseAddr("93.184.215.15")), "its neighbours are not the host")
	allowed := sink.NewEgressOn([]netip.Prefix{netip.PrefixFrom(own, 32)}, func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.IP(own.AsSlice()), Mask: net.CIDRMask(24, 32)}}, nil
	})
	assert.NoError(t, allowed.CheckAddr(own), "unless the allow list names it")
}

// The dialer refuses, before any connect, every address the guard refuses:
// what a name resolves to at connect time as much as a literal address.
func TestClientRefusesUnroutableAtDialTime(t *testing.T) {
	client := sink.NewEgress(nil).Client(2 * time.Second)
	for _, u := range []string{
		"http://192.0.2.1/hook", "http://198.51.100.1:8080/", "http://203.0.113.9/", "http://[2001:db8::1]/",
		"http://198.18.0.1/", "http://[::2]/", "http://localhost:9/",
	} {
		t.Run(u, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader("{}"))
			require.NoError(t, err)
			start := time.Now()
			r := sink.Do(client, req)
			assert.Equal(t, sink.Permanent, r.Class, r.Reason())
			assert.ErrorIs(t, r.Cause, sink.ErrEgress)
			assert.Less(t, time.Since(start), time.Second, "refused before connecting, not timed out")
		})
	}
}
