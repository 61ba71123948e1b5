package daemon

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
)

// TestRecordsSurviveRestart stops the box and starts a new one on the same
// data directory: the call record committed through Raft is still there.
func TestRecordsSurviveRestart(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-busy.xml")
	dataDir := t.TempDir()
	b := startBox(t, far.port, func(c *config.Config) { c.Box.DataDir = dataDir })
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "8613800000021", Say: "hello"})
	if code != http.StatusOK || rec.Disposition != "busy" {
		t.Fatalf("first call: %d %s", code, raw)
	}
	far.wait(t)
	b.stop()

	b2 := startBox(t, far.port, func(c *config.Config) { c.Box.DataDir = dataDir })
	got := getRecord(t, b2, rec.ID)
	if got.Disposition != "busy" || got.SIPCode != 486 || got.Number != rec.Number || !got.InviteAt.Equal(rec.InviteAt) {
		t.Fatalf("after restart: %+v, want %+v", got, rec)
	}
}

// TestDrainLetsCallsFinishThenHangsUp closes the drain channel (SIGTERM)
// while a call is up: new calls are refused with 503, the call in flight
// is hung up by the box once the drain bound passes, and Run returns nil.
func TestDrainLetsCallsFinishThenHangsUp(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-bench.xml", "-rtp_echo")
	b := startBox(t, far.port, func(c *config.Config) { c.Calls.DrainTimeout = 2 * time.Second })
	type result struct {
		rec  apiv1.CallRecord
		code int
	}
	first := make(chan result, 1)
	go func() {
		rec, code, _ := b.call(apiv1.PlaceCall{Number: "8613800000022", Say: "Please hold.", WaitDTMF: 4, DTMFTimeoutSec: 30})
		first <- result{rec, code}
	}()
	waitDialled(t, b, 1)
	drainAt := time.Now()
	close(b.drain)
	time.Sleep(200 * time.Millisecond)
	if _, code, raw := b.call(apiv1.PlaceCall{Number: "8613800000023", Say: "hello"}); code != http.StatusServiceUnavailable {
		t.Errorf("call while draining: %d %s, want 503", code, raw)
	}
	var r result
	select {
	case r = <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("call in flight did not end after the drain bound")
	}
	if r.code != http.StatusOK || r.rec.Disposition != "answered" || r.rec.HangupBy != "box" {
		t.Errorf("call in flight: %d %+v, want answered and hung up by the box", r.code, r.rec)
	}
	if el := time.Since(drainAt); el < 1500*time.Millisecond {
		t.Errorf("call ended %v after drain began, before the 2s bound", el)
	}
	select {
	case err := <-b.done:
		b.done <- err
		if err != nil {
			t.Errorf("Run after drain: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after draining")
	}
	far.wait(t)
}

// TestInboundCallbackCollectsDigits: a customer calls back over the trunk
// (SIPp as UAC), hears the prompt and keys 4 digits; the box hangs up and
// the inbound record holds the digits.
func TestInboundCallbackCollectsDigits(t *testing.T) {
	requireEspeak(t)
	trunkPort := freePort(t)
	b := startBox(t, trunkPort, func(c *config.Config) {
		c.Inbound.Prompt = "Thank you for calling."
		c.Inbound.MaxDigits = 4
	})
	far := startSIPpUAC(t, "uac-callback-dtmf.xml", trunkPort, b.cfg.SIP.ListenPort)
	far.wait(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := listRecords(t, b)
		if len(recs) == 1 && recs[0].EndAt != nil {
			r := recs[0]
			if r.Direction != "inbound" || r.DTMF != "1234" || r.HangupBy != "box" || r.Disposition != "answered" {
				t.Fatalf("inbound record %+v, want inbound answered with dtmf 1234 hung up by box", r)
			}
			if r.RecordingPath == "" {
				t.Error("inbound call not recorded")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished inbound record: %+v", recs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitDialled waits until the trunk carries n calls (INVITE sent).
func waitDialled(t *testing.T, b *box, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var trunks []apiv1.Trunk
		if resp, err := http.Get("http://" + b.api + "/v1/trunks"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&trunks)
			resp.Body.Close()
		}
		if len(trunks) > 0 && trunks[0].ActiveCalls >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d calls on the trunk after 15s", n)
}
