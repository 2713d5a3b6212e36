package sink

import (
	"net"
	"net/netip"
)

// NewEgressOn is NewEgress on a host whose interface addresses ifaces
// returns.
func NewEgressOn(allow []netip.Prefix, ifaces func() ([]net.Addr, error)) *Egress {
	e := NewEgress(allow)
	e.ifaces = ifaces
	return e
}
