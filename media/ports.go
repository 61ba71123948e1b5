package media

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// Port range errors.
var (
	// ErrInvalidPortRange means NewPortRange was given bounds that do not
	// hold one even RTP port and the RTCP port above it.
	ErrInvalidPortRange = errors.New("media: invalid RTP port range")
	// ErrNoFreePorts means every RTP/RTCP pair in the range is in use.
	ErrNoFreePorts = errors.New("media: no free RTP port pair in range")
)

// PortRange hands out RTP/RTCP UDP socket pairs from [min, max]: the RTP
// port is even and RTCP uses the port above it (RFC 3550). Allocation is
// round-robin so a port just released is not reused at once (stray packets
// of the previous call are less likely to reach the next one), and ports
// that are busy (bound by another process) are skipped.
type PortRange struct {
	ip       net.IP
	min, max int // min even, max >= min+1

	mu   sync.Mutex // guards next
	next int        // guarded by mu: next RTP port to try
}

// NewPortRange returns a range of RTP ports on ip. min is rounded up to an
// even port; the range must hold at least one pair within 1..65535.
func NewPortRange(ip net.IP, min, max int) (*PortRange, error) {
	if ip == nil || (ip.To4() == nil && ip.To16() == nil) {
		return nil, fmt.Errorf("%w: missing or malformed IP address", ErrInvalidPortRange)
	}
	if min < 1 || max > 65535 || min > max {
		return nil, fmt.Errorf("%w: ports %d-%d must satisfy 1 <= min <= max <= 65535", ErrInvalidPortRange, min, max)
	}
	if min%2 == 1 {
		min++
	}
	if min+1 > max {
		return nil, fmt.Errorf("%w: ports %d-%d hold no even RTP port with RTCP port above it", ErrInvalidPortRange, min, max)
	}
	if max%2 == 0 {
		max-- // last usable pair is (max-1, max)
	}
	cp := make(net.IP, len(ip))
	copy(cp, ip)
	return &PortRange{ip: cp, min: min, max: max, next: min}, nil
}

// IP returns the address the sockets are bound to.
func (p *PortRange) IP() net.IP { return p.ip }

// Pairs returns how many RTP/RTCP pairs the range holds.
func (p *PortRange) Pairs() int { return (p.max - p.min + 1) / 2 }

// String returns "ip:min-max".
func (p *PortRange) String() string {
	return fmt.Sprintf("%s:%d-%d", p.ip, p.min, p.max)
}

// Listen binds the next free pair and returns the RTP socket (even port)
// and the RTCP socket (port+1). It fails with ErrNoFreePorts when every
// pair is busy.
func (p *PortRange) Listen() (rtpConn, rtcpConn *net.UDPConn, err error) {
	err = p.bindPair(func(port int) (func(), error) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: p.ip, Port: port})
		if err != nil {
			return nil, err
		}
		if port%2 == 0 {
			rtpConn = c
		} else {
			rtcpConn = c
		}
		return func() { c.Close() }, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rtpConn, rtcpConn, nil
}

// listenSockets is Listen for Sessions: it binds the pair as raw
// non-blocking sockets that the clock workers drive (see udpSocket).
func (p *PortRange) listenSockets() (rtpSock, rtcpSock *udpSocket, err error) {
	err = p.bindPair(func(port int) (func(), error) {
		u, err := listenUDPSocket(p.ip, port)
		if err != nil {
			return nil, err
		}
		if port%2 == 0 {
			rtpSock = u
		} else {
			rtcpSock = u
		}
		return u.close, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rtpSock, rtcpSock, nil
}

// bindPair calls bind for the RTP port and then the RTCP port of the next
// free pair, skipping pairs where either port is in use. bind returns a
// function undoing it.
func (p *PortRange) bindPair(bind func(port int) (undo func(), err error)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var lastErr error
	for range p.Pairs() {
		port := p.next
		p.next += 2
		if p.next > p.max {
			p.next = p.min
		}
		undo, err := bind(port)
		if err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("media: bind RTP port %d on %s: %w", port, p.ip, err)
			}
			lastErr = err
			continue
		}
		if _, err := bind(port + 1); err != nil {
			undo()
			if !errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("media: bind RTCP port %d on %s: %w", port+1, p.ip, err)
			}
			lastErr = err
			continue
		}
		return nil
	}
	return fmt.Errorf("%w %s (last error: %v)", ErrNoFreePorts, p, lastErr)
}
