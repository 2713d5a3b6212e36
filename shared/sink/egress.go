// Package sink is the outbound HTTP of herokuevents: the egress guard that
// keeps webhooks away from private networks, request signing (Standard
// Webhooks and the Heroku HMAC header), and the classification of responses
// into the delivery contract's result classes (delivered, retry, gone,
// permanent).
//
// Nothing here retries: callers (the deliver role) decide what to do with a
// Result. Every value in this package is safe for concurrent use.
package sink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	// ErrURL is wrapped by errors about a malformed or unsupported URL.
	ErrURL = errors.New("invalid url")
	// ErrEgress is wrapped by errors about a destination the egress guard
	// refuses (private, loopback, link-local, metadata, documentation, the
	// host's own... addresses).
	ErrEgress = errors.New("egress refused")
)

// Timeouts of the guarded client.
const (
	// ConnectTimeout bounds TCP connect and the TLS handshake.
	ConnectTimeout = 5 * time.Second
	// DefaultTimeout bounds a whole request when Client is given no timeout.
	DefaultTimeout = 10 * time.Second
	// MaxTimeout is the longest a request may be given by a copy of a
	// Client with a longer Timeout (a publication's own timeout): the
	// transport waits that long for response headers at most.
	MaxTimeout = time.Minute
)

// blocked lists the address ranges refused unless an allow-list prefix
// contains the address, with the reason given in errors.
var blocked = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID"},
	{netip.MustParsePrefix("2001:20::/28"), "ORCHID"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// global6 holds every globally routable IPv6 unicast address: an IPv6
// address outside it (and not an IPv4 address in disguise) is refused.
var global6 = netip.MustParsePrefix("2000::/3")

// IfaceRefresh is how long the host's own interface addresses are cached
// between two reads.
const IfaceRefresh = 10 * time.Second

// Translation prefixes that embed an IPv4 address in their last 32 bits.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	nat64l = netip.MustParsePrefix("64:ff9b:1::/48")
	sixTo4 = netip.MustParsePrefix("2002::/16")
	teredo = netip.MustParsePrefix("2001::/32")
)

// Egress decides which destination addresses outbound HTTP may reach.
// Globally routable unicast addresses are allowed; private, loopback,
// link-local, unspecified, multicast, carrier-grade NAT, documentation,
// benchmarking, reserved and cloud metadata addresses, IPv6 addresses
// outside 2000::/3, and the host's own interface addresses are refused
// unless one of the allow-list prefixes contains them. An Egress is safe
// for concurrent use; its rules do not change.
type Egress struct {
	allow    []netip.Prefix
	resolver *net.Resolver
	ifaces   func() ([]net.Addr, error)

	mu      sync.Mutex
	own     map[netip.Addr]bool
	ownRead time.Time
}

// NewEgress returns a guard that additionally allows the given prefixes
// (the operator allow list; tests and the embedded mode allow loopback).
func NewEgress(allow []netip.Prefix) *Egress {
	a := make([]netip.Prefix, 0, len(allow))
	for _, p := range allow {
		a = append(a, p.Masked())
	}
	return &Egress{allow: a, resolver: net.DefaultResolver, ifaces: net.InterfaceAddrs}
}

// ParseAllow parses a comma-separated allow list of CIDR prefixes or bare IP
// addresses, e.g. "127.0.0.0/8, ::1, 10.1.2.3". Empty items are ignored.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("parse allow list item %q: %w", item, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("parse allow list item %q: %w", item, err)
		}
		a = a.WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// CheckAddr returns nil when outbound connections to ip are allowed, or an
// error wrapping ErrEgress that says why not.
func (e *Egress) CheckAddr(ip netip.Addr) error {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrEgress)
	}
	if e.allowed(ip) || (ip.Is4In6() && e.allowed(ip.Unmap())) {
		return nil
	}
	for _, c := range candidates(ip) {
		for _, b := range blocked {
			if b.prefix.Contains(c) {
				return fmt.Errorf("%w: %s is a %s address", ErrEgress, ip, b.why)
			}
		}
	}
	if ip.Is6() && !ip.Is4In6() && !nat64.Contains(ip) && !global6.Contains(ip) {
		return fmt.Errorf("%w: %s is not a globally routable address", ErrEgress, ip)
	}
	if e.isOwn(ip) {
		return fmt.Errorf("%w: %s is an address of this host", ErrEgress, ip)
	}
	return nil
}

// isOwn reports whether ip is an address of one of the host's network
// interfaces (read again after IfaceRefresh; when they cannot be read, the
// last addresses read are kept).
func (e *Egress) isOwn(ip netip.Addr) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.own == nil || time.Since(e.ownRead) > IfaceRefresh {
		if addrs, err := e.ifaces(); err == nil || e.own == nil {
			own := make(map[netip.Addr]bool, len(addrs))
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if ad, ok := netip.AddrFromSlice(n.IP); ok {
						own[ad.Unmap().WithZone("")] = true
					}
				}
			}
			e.own = own
		}
		e.ownRead = time.Now()
	}
	return e.own[ip.Unmap()]
}

func (e *Egress) allowed(ip netip.Addr) bool {
	for _, p := range e.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// candidates returns ip plus any IPv4 address it embeds (IPv4-mapped,
// NAT64, 6to4, Teredo), all of which must pass the block list.
func candidates(ip netip.Addr) []netip.Addr {
	out := []netip.Addr{ip}
	if !ip.Is6() {
		return out
	}
	b := ip.As16()
	switch {
	case ip.Is4In6():
		out = append(out, ip.Unmap())
	case nat64.Contains(ip) || nat64l.Contains(ip):
		out = append(out, netip.AddrFrom4([4]byte(b[12:16])))
	case sixTo4.Contains(ip):
		out = append(out, netip.AddrFrom4([4]byte(b[2:6])))
	case teredo.Contains(ip):
		// The client address is stored inverted in the last 32 bits.
		out = append(out, netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}))
	}
	return out
}

// ParseURL checks the syntax of a webhook URL: an absolute http or https
// URL with a host and no userinfo. Errors wrap ErrURL. It does not resolve
// the host; see CheckURL.
func ParseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%w: url is empty", ErrURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrURL, unwrapURLError(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, fmt.Errorf("%w: %q is not absolute (want http:// or https://)", ErrURL, raw)
	default:
		return nil, fmt.Errorf("%w: scheme %q is not allowed (want http or https)", ErrURL, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: host is missing", ErrURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the url are not allowed (use a token)", ErrURL)
	}
	// What is stored is u.String(); it must parse back (a zone such as
	// [::1%25é] parses but its escaped form is refused by url.Parse).
	if _, err := url.Parse(u.String()); err != nil {
		return nil, fmt.Errorf("%w: host %q is invalid: %s", ErrURL, u.Host, unwrapURLError(err))
	}
	if p := u.Port(); p != "" {
		if _, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil {
			return nil, fmt.Errorf("%w: port %q is invalid", ErrURL, p)
		}
	}
	return u, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// CheckURL validates a webhook URL when it is configured: ParseURL's
// syntax rules, then every address the host resolves to must pass
// CheckAddr. A host that does not resolve now (a DNS outage, a name not yet
// published, a machine without DNS) is accepted: deliveries to it fail as
// connection errors and are retried. Errors wrap ErrURL (syntax) or
// ErrEgress (refused address). Connections are checked again at dial time,
// so a host that later resolves elsewhere (DNS rebinding) is still refused.
func (e *Egress) CheckURL(ctx context.Context, raw string) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := e.CheckAddr(ip); err != nil {
			return fmt.Errorf("check url host %s: %w", host, err)
		}
		return nil
	}
	ips, err := e.resolver.LookupNetIP(ctx, "ip", host)
	var de *net.DNSError
	if errors.As(err, &de) {
		return nil // checked when it resolves, at dial time
	}
	if err != nil {
		return fmt.Errorf("%w: cannot resolve host %q: %v", ErrURL, host, err)
	}
	for _, ip := range ips {
		if err := e.CheckAddr(ip); err != nil {
			return fmt.Errorf("check url host %s: %w", host, err)
		}
	}
	return nil
}

// control runs after the dialer resolved the address and before connect.
func (e *Egress) control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %s", ErrEgress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrEgress, address, err)
	}
	return e.CheckAddr(ap.Addr())
}

// Dialer returns a dialer that refuses, at connect time, every address
// CheckAddr refuses (so DNS answers cannot steer it to private networks).
func (e *Egress) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   ConnectTimeout,
		KeepAlive: 30 * time.Second,
		Control:   e.control,
		Resolver:  e.resolver,
	}
}

// Client returns an HTTP client for outbound webhooks: connections go
// through Dialer, no proxy from the environment is used, redirects are not
// followed (the 3xx response is returned to the caller), connect and TLS
// handshake are bounded by ConnectTimeout and a whole request by timeout
// (DefaultTimeout when timeout ≤ 0). Connection refusals by the guard fail
// the request with an error wrapping ErrEgress.
func (e *Egress) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           e.Dialer().DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   ConnectTimeout,
		ResponseHeaderTimeout: max(timeout, MaxTimeout), // Client.Timeout bounds the request
		ExpectContinueTimeout: time.Second,
		// Deliveries run up to Concurrency×BatchSize at once, often to one
		// host: keep their connections instead of dialling anew each time.
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
