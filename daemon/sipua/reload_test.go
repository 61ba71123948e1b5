package sipua

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUpdateTrunksLifecycle: against a SIPp registrar, a registering trunk
// added by UpdateTrunks registers (and refreshes); an unchanged IP trunk
// keeps its runtime state across updates; removing the registering trunk
// stops its loop and unregisters with Expires: 0 (the scenario checks it);
// dialling a removed trunk then fails with ErrUnknownTrunk.
func TestUpdateTrunksLifecycle(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_register.xml", sp)
	keep := ipTrunk(freePort(t, "127.0.0.1"), "udp")
	keep.Name = "keep"
	u := newTestUA(t, nil, []TrunkConfig{keep}, nil)
	before := u.trunkNamed("keep")

	reg := ipTrunk(sp, "udp")
	reg.Name = "reg"
	reg.Auth, reg.Username, reg.Password, reg.Realm, reg.RegisterExpiry = AuthRegister, "alice", "s3cret", "callbox.test", time.Minute
	ch, err := u.UpdateTrunks(context.Background(), []TrunkConfig{keep, reg})
	if err != nil {
		t.Fatalf("UpdateTrunks add: %v", err)
	}
	if len(ch.Added) != 1 || ch.Added[0] != "reg" || len(ch.Unchanged) != 1 || len(ch.Removed)+len(ch.Changed) != 0 {
		t.Fatalf("changes = %+v, want reg added, keep unchanged", ch)
	}
	if u.trunkNamed("keep") != before {
		t.Fatal("unchanged trunk was replaced")
	}
	status := func(name string) (TrunkStatus, bool) {
		for _, s := range u.Trunks() {
			if s.Name == name {
				return s, true
			}
		}
		return TrunkStatus{}, false
	}
	// Registrar grants 2 s, the refresh then gets 60 s.
	eventually(t, 8*time.Second, "added trunk registered and refreshed", func() bool {
		s, ok := status("reg")
		return ok && s.Registered && time.Until(s.NextRefresh) > 30*time.Second
	})

	// Invalid sets are refused whole, naming the trunk and field.
	bad := reg
	bad.Transport = "tcp" // the UA listens on udp only
	if _, err := u.UpdateTrunks(context.Background(), []TrunkConfig{keep, bad}); err == nil {
		t.Fatal("trunk on an unbound transport accepted")
	} else {
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Trunk != "reg" || ce.Field != "Transport" {
			t.Fatalf("error %v, want ConfigError reg/Transport", err)
		}
	}
	if s, ok := status("reg"); !ok || !s.Registered {
		t.Fatal("refused update changed the registering trunk")
	}

	oldReg := u.trunkNamed("reg")
	ch, err = u.UpdateTrunks(context.Background(), []TrunkConfig{keep})
	if err != nil {
		t.Fatalf("UpdateTrunks remove: %v", err)
	}
	if len(ch.Removed) != 1 || ch.Removed[0] != "reg" {
		t.Fatalf("changes = %+v, want reg removed", ch)
	}
	if s := oldReg.status(); s.RegState != RegUnregistered {
		t.Fatalf("removed trunk RegState = %q, want unregistered", s.RegState)
	}
	if _, ok := status("reg"); ok {
		t.Fatal("removed trunk still listed")
	}
	_, err = u.Dial(context.Background(), DialRequest{Trunk: "reg", Number: "123456"})
	if !errors.Is(err, ErrUnknownTrunk) {
		t.Fatalf("Dial on removed trunk: %v, want ErrUnknownTrunk", err)
	}
	if u.trunkNamed("keep") != before {
		t.Fatal("unchanged trunk was replaced by the removal")
	}
	sipp.wait(10 * time.Second) // the scenario ends with the Expires: 0 REGISTER
}

// TestUpdateTrunksChangedKeepsCalls: a changed trunk gets fresh state while
// a call slot held on the old settings is released on the old trunk; after
// Close, UpdateTrunks fails with ErrClosed.
func TestUpdateTrunksChangedKeepsCalls(t *testing.T) {
	t.Parallel()
	tr := ipTrunk(freePort(t, "127.0.0.1"), "udp")
	u := newTestUA(t, nil, []TrunkConfig{tr}, nil)
	old := u.trunkNamed(tr.Name)
	if !old.acquire() { // a call in progress on the old settings
		t.Fatal("acquire")
	}
	tr.MaxCalls = 5
	ch, err := u.UpdateTrunks(context.Background(), []TrunkConfig{tr})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Changed) != 1 {
		t.Fatalf("changes = %+v, want one changed", ch)
	}
	nt := u.trunkNamed(tr.Name)
	if nt == old || nt.cfg.MaxCalls != 5 {
		t.Fatalf("changed trunk not replaced: %+v", nt.cfg)
	}
	if s := u.Trunks()[0]; s.ActiveCalls != 0 || s.MaxCalls != 5 {
		t.Fatalf("new trunk status %+v", s)
	}
	old.release()
	if s := old.status(); s.ActiveCalls != 0 {
		t.Fatalf("old trunk still counts %d calls", s.ActiveCalls)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.UpdateTrunks(context.Background(), []TrunkConfig{tr}); !errors.Is(err, ErrClosed) {
		t.Fatalf("UpdateTrunks after Close: %v, want ErrClosed", err)
	}
}

// TestUpdateTrunksStopsOptionsLoop: removing a trunk with a keepalive stops
// its OPTIONS loop (its LastOptionsAt no longer moves) while a new trunk's
// loop starts.
func TestUpdateTrunksStopsOptionsLoop(t *testing.T) {
	t.Parallel()
	a := ipTrunk(freePort(t, "127.0.0.1"), "udp")
	a.Name, a.OptionsInterval = "a", 50*time.Millisecond
	u := newTestUA(t, nil, []TrunkConfig{a}, nil)
	ta := u.trunkNamed("a")
	eventually(t, 5*time.Second, "first OPTIONS on a", func() bool { return !ta.status().LastOptionsAt.IsZero() })
	b := a
	b.Name, b.Port = "b", freePort(t, "127.0.0.1")
	if _, err := u.UpdateTrunks(context.Background(), []TrunkConfig{b}); err != nil {
		t.Fatal(err)
	}
	stopped := ta.status().LastOptionsAt
	tb := u.trunkNamed("b")
	eventually(t, 5*time.Second, "first OPTIONS on b", func() bool { return !tb.status().LastOptionsAt.IsZero() })
	time.Sleep(300 * time.Millisecond)
	if got := ta.status().LastOptionsAt; !got.Equal(stopped) {
		t.Fatalf("removed trunk still pinged: %v after %v", got, stopped)
	}
}
