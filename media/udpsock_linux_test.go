package media

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// boundPort returns the port a udpSocket bound to (port 0 picks one).
func boundPort(t testing.TB, u *udpSocket) int {
	t.Helper()
	var sa syscall.RawSockaddrInet6
	l := uint32(unsafe.Sizeof(sa))
	if _, _, e := syscall.Syscall(syscall.SYS_GETSOCKNAME, uintptr(u.fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&l))); e != 0 {
		t.Fatal(e)
	}
	return int(getPort(&sa.Port))
}

// recvOne polls u until a datagram arrives.
func recvOne(t testing.TB, u *udpSocket, rb *rxBatch) datagram {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := u.recvBatch(rb)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return rb.datagram(0)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no datagram")
	return datagram{}
}

func TestUDPSocketSendReceive(t *testing.T) {
	for _, tc := range []struct {
		name string
		ip   net.IP
	}{{"ipv4", net.IPv4(127, 0, 0, 1)}, {"ipv6", net.IPv6loopback}} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := listenUDPSocket(tc.ip, 0)
			if err != nil {
				t.Skipf("no %s loopback: %v", tc.name, err)
			}
			defer u.close()
			peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: tc.ip})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			me := &net.UDPAddr{IP: tc.ip, Port: boundPort(t, u)}
			peerAP := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			peerAP = netip.AddrPortFrom(peerAP.Addr().Unmap(), peerAP.Port())

			// Nothing waiting: no datagram, no error.
			var rb rxBatch
			if n, err := u.recvBatch(&rb); n != 0 || err != nil {
				t.Fatalf("empty socket: %d, %v", n, err)
			}
			// Peer to socket: payload, source and a kernel timestamp.
			before := time.Now()
			if _, err := peer.WriteToUDP([]byte("hello"), me); err != nil {
				t.Fatal(err)
			}
			d := recvOne(t, u, &rb)
			if string(d.b) != "hello" || d.from != peerAP || d.truncated {
				t.Errorf("got %q from %v truncated %v, want hello from %v", d.b, d.from, d.truncated, peerAP)
			}
			if d.kernelAt.Before(before.Add(-time.Second)) || d.kernelAt.After(time.Now().Add(time.Second)) {
				t.Errorf("kernel timestamp %v not near %v", d.kernelAt, before)
			}
			// Oversize datagram: flagged truncated.
			if _, err := peer.WriteToUDP(make([]byte, rxBufSize+10), me); err != nil {
				t.Fatal(err)
			}
			if d := recvOne(t, u, &rb); !d.truncated {
				t.Errorf("oversize datagram of %d bytes not flagged truncated", len(d.b))
			}
			// Several datagrams: one call returns a batch.
			for range rxBatchLen + 1 {
				peer.WriteToUDP([]byte("x"), me)
			}
			time.Sleep(20 * time.Millisecond)
			if n, err := u.recvBatch(&rb); n != rxBatchLen || err != nil {
				t.Errorf("batch: %d, %v; want %d", n, err, rxBatchLen)
			}
			if n, _ := u.recvBatch(&rb); n != 1 {
				t.Errorf("rest of batch: %d, want 1", n)
			}
			// Socket to peer, through a prepared destination.
			var dst sockaddr
			if !u.setDest(&dst, peerAP) {
				t.Fatal("setDest refused the peer")
			}
			if err := u.sendTo([]byte("back"), &dst); err != nil {
				t.Fatal(err)
			}
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 16)
			n, from, err := peer.ReadFromUDP(buf)
			if err != nil || string(buf[:n]) != "back" || from.Port != me.Port {
				t.Errorf("peer got %q from %v: %v", buf[:n], from, err)
			}
			// After close every operation fails cleanly.
			u.close()
			u.close()
			if _, err := u.recvBatch(&rb); !errors.Is(err, errSocketClosed) {
				t.Errorf("recv after close: %v", err)
			}
			if err := u.sendTo([]byte("x"), &dst); !errors.Is(err, errSocketClosed) {
				t.Errorf("send after close: %v", err)
			}
		})
	}
}

func TestUDPSocketRefusesUnreachableFamily(t *testing.T) {
	u, err := listenUDPSocket(net.IPv4(127, 0, 0, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer u.close()
	var dst sockaddr
	if u.setDest(&dst, netip.MustParseAddrPort("[2001:db8::1]:4000")) {
		t.Fatal("IPv4 socket accepted an IPv6 destination")
	}
	if err := u.sendTo([]byte("x"), &dst); err == nil {
		t.Fatal("send to an unusable destination succeeded")
	}
	// An IPv4-mapped address is fine on an IPv4 socket.
	if !u.setDest(&dst, netip.MustParseAddrPort("[::ffff:127.0.0.1]:4000")) {
		t.Error("IPv4 socket refused an IPv4-mapped destination")
	}
}

// cmsgBytes builds one native-endian control message.
func cmsgBytes(level, typ int32, data []byte) []byte {
	word := int(unsafe.Sizeof(uintptr(0)))
	l := syscall.SizeofCmsghdr + len(data)
	b := make([]byte, (l+word-1)&^(word-1))
	if word == 8 {
		binary.NativeEndian.PutUint64(b, uint64(l))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(l))
	}
	binary.NativeEndian.PutUint32(b[word:], uint32(level))
	binary.NativeEndian.PutUint32(b[word+4:], uint32(typ))
	copy(b[syscall.SizeofCmsghdr:], data)
	return b
}

func timespecBytes(sec, nsec int64) []byte {
	word := int(unsafe.Sizeof(uintptr(0)))
	b := make([]byte, 2*word)
	if word == 8 {
		binary.NativeEndian.PutUint64(b, uint64(sec))
		binary.NativeEndian.PutUint64(b[8:], uint64(nsec))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(sec))
		binary.NativeEndian.PutUint32(b[4:], uint32(nsec))
	}
	return b
}

func TestCmsgTimestamp(t *testing.T) {
	ts := cmsgBytes(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, timespecBytes(1_700_000_000, 123))
	other := cmsgBytes(syscall.IPPROTO_IP, 8, []byte{1, 2, 3, 4})
	want := time.Unix(1_700_000_000, 123)
	for _, tc := range []struct {
		name string
		b    []byte
		want time.Time
	}{
		{"timestamp", ts, want},
		{"after another message", append(append([]byte{}, other...), ts...), want},
		{"empty", nil, time.Time{}},
		{"other only", other, time.Time{}},
		{"truncated", ts[:len(ts)-4], time.Time{}},
		{"length below header", cmsgBytes(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, nil)[:syscall.SizeofCmsghdr-1], time.Time{}},
	} {
		if got := cmsgTimestamp(tc.b); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzCmsgTimestamp: arbitrary control data never panics and never loops.
func FuzzCmsgTimestamp(f *testing.F) {
	f.Add(cmsgBytes(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, timespecBytes(1, 2)))
	f.Add(cmsgBytes(syscall.IPPROTO_IP, 8, []byte{1, 2, 3, 4}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmsgTimestamp(b)
	})
}

func TestSessionsHaveNoGoroutines(t *testing.T) {
	clock := NewClock(20*time.Millisecond, 2)
	clock.Start()
	defer clock.Close()
	ports, err := NewPortRange(rtpLoopback, 42000, 44999)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	var all []*Session
	for range 20 {
		s, err := NewSession(SessionConfig{Ports: ports, Clock: clock, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		all = append(all, s)
	}
	for i := 0; i < len(all); i += 2 {
		all[i].SetRemote(all[i+1].LocalAddr(), PCMU, 101)
		all[i+1].SetRemote(all[i].LocalAddr(), PCMU, 101)
		all[i].Start()
		all[i+1].Start()
	}
	rtpWaitFor(t, "traffic both ways", func() bool {
		for _, s := range all {
			if s.Stats().PacketsReceived < 5 {
				return false
			}
		}
		return true
	})
	if n := runtime.NumGoroutine(); n >= base+len(all) {
		t.Errorf("%d goroutines for %d running sessions (base %d): sessions should not own goroutines", n, len(all), base)
	}
}

// TestSessionArrivalUsesKernelTimestamps reads packets that were sent 20 ms
// apart only once, all together: with kernel arrival times the RFC 3550
// jitter stays near zero; with read times it would be about 20 ms.
func TestSessionArrivalUsesKernelTimestamps(t *testing.T) {
	clock := NewClock(20*time.Millisecond, 1) // never started: nothing drains but Stats
	defer clock.Close()
	ports, err := NewPortRange(rtpLoopback, 42000, 44999)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(SessionConfig{Ports: ports, Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	peer := newRTPPeer(t)
	s.SetRemote(peer.addr(), PCMU, 101)
	s.Start()
	// The RFC 3550 estimate the sender's own timing implies (on loopback
	// the kernel queues a datagram microseconds after it is sent); had the
	// session used its read time, every transit would differ by the 20 ms
	// spacing and the estimate would approach 20 ms.
	const packets = 30
	var want float64
	var prevSent time.Time
	for i := range packets {
		sent := time.Now()
		peer.sendAudio(s.LocalAddr(), 0, 7)
		if i > 0 {
			d := math.Abs(float64(sent.Sub(prevSent)-20*time.Millisecond)) / float64(time.Millisecond)
			want += (d - want) / 16
		}
		prevSent = sent
		time.Sleep(20 * time.Millisecond)
	}
	st := s.Stats()
	if st.PacketsReceived != packets {
		t.Fatalf("received %d, want %d", st.PacketsReceived, packets)
	}
	// Read times would put the estimate near 17 ms after 30 packets
	// (20 ms·(1-(15/16)^29)); kernel times keep it near the sender's own
	// jitter. The margin is wide because a loaded 2-core machine delays
	// the sender's first packets.
	if st.JitterMs > want+10 {
		t.Errorf("jitter %.1f ms, want about %.1f ms from the send times: arrival times are not the kernel's", st.JitterMs, want)
	}
	// The receive path through the socket does not allocate either.
	to := s.LocalAddr().AddrPort()
	raw := make([]byte, 12+FrameSamples)
	raw[0], raw[8] = 0x80, 7 // version 2, PCMU, SSRC 7
	seq := uint16(1000)
	allocs := testing.AllocsPerRun(50, func() {
		seq++
		binary.BigEndian.PutUint16(raw[2:], seq)
		binary.BigEndian.PutUint32(raw[4:], uint32(seq)*FrameSamples)
		peer.conn.WriteToUDPAddrPort(raw, to) // from the latched source
		s.rxMu.Lock()
		s.drainLocked(time.Now(), true)
		s.rxMu.Unlock()
	})
	if allocs != 0 {
		t.Errorf("drain allocates %.1f per packet", allocs)
	}
	if got := s.Stats().PacketsReceived; got < packets+50 {
		t.Errorf("received %d through the socket, want at least %d", got, packets+50)
	}
}
