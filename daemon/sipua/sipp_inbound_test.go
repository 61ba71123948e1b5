package sipua

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestInboundFromTrunk(t *testing.T) {
	t.Parallel()
	got := make(chan CallInfo, 1)
	var u *UA
	u = newTestUA(t, nil, []TrunkConfig{ipTrunk(5060, "udp")}, func(c *Call) {
		got <- c.Info()
		time.Sleep(200 * time.Millisecond)
		_ = c.Hangup(context.Background())
	})
	sp := freePort(t, "127.0.0.1")
	mp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uac_inbound.xml", sp, "-s", "4008", "-mi", "127.0.0.1", "-mp", strconv.Itoa(mp),
		"127.0.0.1:"+strconv.Itoa(u.Port()))
	select {
	case info := <-got:
		if info.Direction != DirectionInbound || info.Trunk != "carrier" || info.Number != "4008" || info.CallerID != "+8613800001234" || info.AnswerAt.IsZero() {
			t.Fatalf("bad inbound info %+v", info)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnInbound not called")
	}
	sipp.wait(10 * time.Second)
	eventually(t, 2*time.Second, "call removed", func() bool { return len(u.ActiveCalls()) == 0 })
}

func TestInboundRefusals(t *testing.T) {
	t.Parallel()
	called := make(chan struct{}, 4)
	u := newTestUA(t, nil, []TrunkConfig{ipTrunk(5060, "udp")}, func(c *Call) {
		called <- struct{}{}
		_ = c.Hangup(context.Background())
	})
	target := "127.0.0.1:" + strconv.Itoa(u.Port())
	cases := []struct {
		name, ip, scenario string
	}{
		{"unconfigured source gets 403", "127.0.0.2", "uac_expect403.xml"},
		{"garbage SDP gets 400", "127.0.0.1", "uac_bad_sdp.xml"},
		{"no common codec gets 488", "127.0.0.1", "uac_no_codec.xml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := freePort(t, tc.ip)
			sipp := startSipp(t, tc.ip, tc.scenario, sp, "-s", "4008", "-mi", tc.ip, target)
			sipp.wait(10 * time.Second)
		})
	}
	u.SetDraining(true)
	t.Run("draining gets 503", func(t *testing.T) {
		sp := freePort(t, "127.0.0.1")
		startSipp(t, "127.0.0.1", "uac_expect503.xml", sp, "-s", "4008", "-mi", "127.0.0.1", target).wait(10 * time.Second)
	})
	u.SetDraining(false)
	select {
	case <-called:
		t.Fatal("OnInbound called for a refused INVITE")
	default:
	}
	if n := u.Trunks()[0].ActiveCalls; n != 0 {
		t.Fatalf("ActiveCalls = %d after refusals", n)
	}
}
