package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"
)

// udpSocket is one non-blocking UDP socket of a Session, used directly
// through system calls by the clock workers. It is deliberately not a
// net.UDPConn: the Go network poller registers its sockets edge-triggered
// with epoll, so every datagram arriving for a session would wake an idle
// runtime thread for nothing (25,000 times a second at 500 calls). Here
// the worker that ticks the session drains the socket each tick with
// recvmmsg(MSG_DONTWAIT) and sends with sendto, so the only wake-ups of
// the media plane are the clock's.
//
// The fd is used under the owning Session's locks (sends under tickMu,
// receives under rxMu) and closed with both held, so it is never used
// after close or reused by accident.
type udpSocket struct {
	fd   int // -1 once closed
	v6   bool
	port int
}

// rxBatchLen is how many datagrams one recvmmsg call may return.
const rxBatchLen = 4

// rxCtrlLen holds one SCM_TIMESTAMPNS control message (header + timespec)
// with room to spare.
const rxCtrlLen = 64

// mmsghdr mirrors struct mmsghdr; Go's alignment rules give it the C
// layout on both 32- and 64-bit Linux.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
}

// rxBatch is the preallocated receive state of a session: recvmmsg
// headers, source addresses, control buffers for kernel timestamps and
// the datagram buffers. Guarded by the Session's rxMu.
type rxBatch struct {
	hdrs  [rxBatchLen]mmsghdr
	iov   [rxBatchLen]syscall.Iovec
	names [rxBatchLen]syscall.RawSockaddrInet6 // large enough for IPv4 too
	ctrl  [rxBatchLen][rxCtrlLen]byte
	bufs  [rxBatchLen][rxBufSize]byte
}

// datagram is one received datagram in an rxBatch.
type datagram struct {
	b         []byte
	from      netip.AddrPort
	truncated bool
	kernelAt  time.Time // kernel receive time (SO_TIMESTAMPNS); zero when absent
}

// sockaddr is a preallocated destination address for sendto; it is
// rebuilt only when the destination changes.
type sockaddr struct {
	ap  netip.AddrPort
	raw syscall.RawSockaddrInet6 // large enough for IPv4 too
	len uint32
}

// listenUDPSocket binds a non-blocking UDP socket to ip:port. An IPv4 ip
// gives an AF_INET socket; anything else an AF_INET6 socket that also
// serves IPv4-mapped peers. The socket asks for kernel receive
// timestamps.
func listenUDPSocket(ip net.IP, port int) (*udpSocket, error) {
	family := syscall.AF_INET6
	var sa syscall.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		family = syscall.AF_INET
		a := &syscall.SockaddrInet4{Port: port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		a := &syscall.SockaddrInet6{Port: port}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if family == syscall.AF_INET6 {
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
	}
	// Kernel arrival timestamps keep the RFC 3550 jitter estimate and the
	// jitter buffer honest although packets are only read once per tick.
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: &net.UDPAddr{IP: ip, Port: port}, Err: err}
	}
	return &udpSocket{fd: fd, v6: family == syscall.AF_INET6, port: port}, nil
}

// close closes the socket; later calls are no-ops.
func (u *udpSocket) close() {
	if u.fd >= 0 {
		syscall.Close(u.fd)
		u.fd = -1
	}
}

// setDest fills dst for ap unless it already holds it. For an address
// the socket's family cannot reach (an IPv6 peer on an IPv4 socket) it
// reports false and leaves dst empty, so sendTo fails with an error.
func (u *udpSocket) setDest(dst *sockaddr, ap netip.AddrPort) bool {
	if dst.ap == ap && dst.len != 0 {
		return true
	}
	dst.len = 0
	dst.raw = syscall.RawSockaddrInet6{}
	addr, port := ap.Addr(), ap.Port()
	if !u.v6 {
		addr = addr.Unmap()
		if !addr.Is4() {
			return false
		}
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&dst.raw))
		sa.Family = syscall.AF_INET
		putPort(&sa.Port, port)
		sa.Addr = addr.As4()
		dst.len = syscall.SizeofSockaddrInet4
	} else {
		dst.raw.Family = syscall.AF_INET6
		putPort(&dst.raw.Port, port)
		dst.raw.Addr = addr.As16() // IPv4 becomes ::ffff:a.b.c.d
		dst.len = syscall.SizeofSockaddrInet6
	}
	dst.ap = ap
	return true
}

// putPort stores port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// errSocketClosed is returned by socket operations after close.
var errSocketClosed = errors.New("media: socket closed")

// sendTo sends b to dst (prepared by setDest) with one sendto call.
func (u *udpSocket) sendTo(b []byte, dst *sockaddr) error {
	if u.fd < 0 {
		return errSocketClosed
	}
	if dst.len == 0 {
		return fmt.Errorf("media: unusable destination %s", dst.ap)
	}
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(u.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
			syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(&dst.raw)), uintptr(dst.len))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// recvBatch reads up to rxBatchLen waiting datagrams without blocking
// into rb and returns how many it got; 0 with a nil error means none was
// waiting.
func (u *udpSocket) recvBatch(rb *rxBatch) (int, error) {
	if u.fd < 0 {
		return 0, errSocketClosed
	}
	for i := range rb.hdrs {
		h := &rb.hdrs[i]
		rb.iov[i].Base = &rb.bufs[i][0]
		rb.iov[i].SetLen(rxBufSize)
		h.hdr.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
		h.hdr.Namelen = syscall.SizeofSockaddrInet6
		h.hdr.Iov = &rb.iov[i]
		h.hdr.Iovlen = 1
		h.hdr.Control = &rb.ctrl[i][0]
		h.hdr.SetControllen(rxCtrlLen)
		h.hdr.Flags = 0
		h.n = 0
	}
	for {
		r, _, e := syscall.Syscall6(syscall.SYS_RECVMMSG, uintptr(u.fd), uintptr(unsafe.Pointer(&rb.hdrs[0])), rxBatchLen,
			syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, e
	}
}

// datagram returns the i-th datagram of the last recvBatch.
func (rb *rxBatch) datagram(i int) datagram {
	h := &rb.hdrs[i]
	n := int(h.n)
	d := datagram{b: rb.bufs[i][:n], truncated: h.hdr.Flags&syscall.MSG_TRUNC != 0 || n >= rxBufSize}
	raw := &rb.names[i]
	switch raw.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(raw))
		d.from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	case syscall.AF_INET6:
		d.from = netip.AddrPortFrom(netip.AddrFrom16(raw.Addr).Unmap(), getPort(&raw.Port))
	}
	d.kernelAt = cmsgTimestamp(rb.ctrl[i][:min(int(controlLen(&h.hdr)), rxCtrlLen)])
	return d
}

// getPort reads a port in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// controlLen returns the control length the kernel wrote.
func controlLen(h *syscall.Msghdr) uint64 { return uint64(h.Controllen) }

// cmsgTimestamp returns the SCM_TIMESTAMPNS time in the control messages
// of b, or the zero time when there is none. It decodes with explicit
// native-endian reads, so b needs no particular alignment.
func cmsgTimestamp(b []byte) time.Time {
	const word = int(unsafe.Sizeof(uintptr(0))) // cmsg_len, tv_sec and tv_nsec are word-sized on Linux
	const hdrLen = syscall.SizeofCmsghdr
	for len(b) >= hdrLen {
		l := int(readWord(b, word))
		if l < hdrLen || l > len(b) {
			return time.Time{}
		}
		level := int32(binary.NativeEndian.Uint32(b[word:]))
		typ := int32(binary.NativeEndian.Uint32(b[word+4:]))
		if level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS && l >= hdrLen+2*word {
			sec := int64(readWord(b[hdrLen:], word))
			nsec := int64(readWord(b[hdrLen+word:], word))
			return time.Unix(sec, nsec)
		}
		l = (l + word - 1) &^ (word - 1)
		if l >= len(b) {
			return time.Time{}
		}
		b = b[l:]
	}
	return time.Time{}
}

// readWord reads a native-endian word of size bytes (4 or 8).
func readWord(b []byte, size int) uint64 {
	if size == 8 {
		return binary.NativeEndian.Uint64(b)
	}
	return uint64(binary.NativeEndian.Uint32(b))
}
