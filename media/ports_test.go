package media

import (
	"errors"
	"net"
	"testing"
)

var rtpLoopback = net.IPv4(127, 0, 0, 1)

// rtpFreeRange finds a range of n pairs on rtpLoopback that nobody uses right
// now (other tests in the tree bind ports too).
func rtpFreeRange(t *testing.T, pairs int) (int, int) {
	t.Helper()
	for base := 42000; base < 60000; base += 2 * pairs {
		ok := true
		var held []*net.UDPConn
		for p := base; p < base+2*pairs; p++ {
			c, err := net.ListenUDP("udp", &net.UDPAddr{IP: rtpLoopback, Port: p})
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return base, base + 2*pairs - 1
		}
	}
	t.Fatal("no free port range on rtpLoopback")
	return 0, 0
}

func TestNewPortRangeValidation(t *testing.T) {
	cases := []struct {
		ip       net.IP
		min, max int
	}{
		{nil, 20000, 30000},
		{rtpLoopback, 0, 100},
		{rtpLoopback, 30000, 20000},
		{rtpLoopback, 20000, 70000},
		{rtpLoopback, 20001, 20002}, // rounds to 20002: no RTCP port
		{rtpLoopback, 20000, 20000},
	}
	for _, c := range cases {
		if _, err := NewPortRange(c.ip, c.min, c.max); !errors.Is(err, ErrInvalidPortRange) {
			t.Errorf("NewPortRange(%v, %d, %d) err = %v, want ErrInvalidPortRange", c.ip, c.min, c.max, err)
		}
	}
	p, err := NewPortRange(rtpLoopback, 20001, 20010)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pairs() != 4 { // 20002/3 .. 20008/9
		t.Errorf("Pairs = %d, want 4", p.Pairs())
	}
}

func TestPortRangeEvenPairsRoundRobinAndBusy(t *testing.T) {
	lo, hi := rtpFreeRange(t, 4)
	p, err := NewPortRange(rtpLoopback, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	// Occupy the RTCP port of the second pair: it must be skipped.
	busy, err := net.ListenUDP("udp", &net.UDPAddr{IP: rtpLoopback, Port: lo + 3})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	var got []int
	var conns []*net.UDPConn
	for range 3 {
		r, c, err := p.Listen()
		if err != nil {
			t.Fatal(err)
		}
		rp, cp := r.LocalAddr().(*net.UDPAddr).Port, c.LocalAddr().(*net.UDPAddr).Port
		if rp%2 != 0 || cp != rp+1 {
			t.Errorf("pair %d/%d: want even RTP and RTCP = RTP+1", rp, cp)
		}
		got = append(got, rp)
		conns = append(conns, r, c)
	}
	want := []int{lo, lo + 4, lo + 6}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ports %v, want %v", got, want)
		}
	}
	// Range now exhausted (one pair blocked, three held).
	if _, _, err := p.Listen(); !errors.Is(err, ErrNoFreePorts) {
		t.Fatalf("exhausted range: err = %v, want ErrNoFreePorts", err)
	}
	// Releasing the first pair makes it available again (round robin
	// wraps around).
	conns[0].Close()
	conns[1].Close()
	r, c, err := p.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if port := r.LocalAddr().(*net.UDPAddr).Port; port != lo {
		t.Errorf("after release got %d, want %d", port, lo)
	}
	r.Close()
	c.Close()
	for _, c := range conns[2:] {
		c.Close()
	}
}

func TestPortRangeNonLocalIP(t *testing.T) {
	p, err := NewPortRange(net.IPv4(192, 0, 2, 1), 40000, 40100) // TEST-NET-1, never local
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = p.Listen()
	if err == nil || errors.Is(err, ErrNoFreePorts) {
		t.Fatalf("err = %v, want a bind error naming the address", err)
	}
}

func TestPortRangeSessionSocketsSkipBusyPorts(t *testing.T) {
	lo, hi := rtpFreeRange(t, 2)
	p, err := NewPortRange(rtpLoopback, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	// Another process holds the first pair's RTCP port.
	blocker, err := net.ListenUDP("udp", &net.UDPAddr{IP: rtpLoopback, Port: lo + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	rtpSock, rtcpSock, err := p.listenSockets()
	if err != nil {
		t.Fatal(err)
	}
	if rtpSock.port != lo+2 || rtcpSock.port != lo+3 {
		t.Errorf("got %d/%d, want %d/%d", rtpSock.port, rtcpSock.port, lo+2, lo+3)
	}
	// The RTP port of the skipped pair was released again.
	if c, err := net.ListenUDP("udp", &net.UDPAddr{IP: rtpLoopback, Port: lo}); err != nil {
		t.Errorf("RTP port of the skipped pair still bound: %v", err)
	} else {
		c.Close()
	}
	if _, _, err := p.listenSockets(); !errors.Is(err, ErrNoFreePorts) {
		t.Errorf("exhausted range: %v, want ErrNoFreePorts", err)
	}
	rtpSock.close()
	rtcpSock.close()
}
