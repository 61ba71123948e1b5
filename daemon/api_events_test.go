package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"callbox/cluster"
	"callbox/daemon/apiv1"
)

// TestEventHubCountersAndSlowSubscriber drives the hub with an injected
// clock: call events are published once per state, the windows count the
// last second and minute, and a subscriber that does not read is dropped
// without ever blocking the publisher.
func TestEventHubCountersAndSlowSubscriber(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h := newEventHub(func() time.Time { return now }, nil)
	fast, _ := h.subscribe(100)
	slow, _ := h.subscribe(3)

	rec := cluster.CallRecord{ID: "c1", Number: "+8613800000001", Direction: "outbound", InviteAt: now}
	h.observe(rec)
	h.observe(rec) // the same state again: nothing new
	rec.RingAt = now.Add(time.Second)
	h.observe(rec)
	rec.Disposition = "answered"
	h.observe(rec)
	h.dtmf("c1")
	now = now.Add(3 * time.Second)
	rec.EndAt = now
	h.observe(rec)
	h.observe(cluster.CallRecord{ID: "c2", InviteAt: now, Disposition: "busy", EndAt: now, SIPCode: 486})

	var types []string
	for len(fast.ch) > 0 {
		types = append(types, (<-fast.ch).Type)
	}
	want := []string{EventCallStarted, EventCallRinging, EventCallAnswered, EventCallDTMF, EventCallEnded, EventCallStarted, EventCallEnded}
	if len(types) != len(want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events %v, want %v", types, want)
		}
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("a subscriber 4 events behind with a buffer of 3 was not dropped")
	}
	if h.dropped != 1 {
		t.Errorf("dropped %d", h.dropped)
	}
	h.unsubscribe(slow) // idempotent after a drop

	c := h.counters()
	if c.LastSecond["answered"] != 0 || c.LastMinute["answered"] != 1 || c.LastMinute["busy"] != 1 || c.AnswerRate != 0.5 || c.StartedMinute != 2 {
		t.Errorf("counters now %+v", c)
	}
	now = now.Add(time.Second)
	if c := h.counters(); c.LastSecond["answered"] != 1 || c.LastSecond["busy"] != 1 {
		t.Errorf("counters a second later %+v", c)
	}
	now = now.Add(61 * time.Second)
	if c := h.counters(); len(c.LastMinute) != 0 || c.AnswerRate != 0 || c.StartedMinute != 0 {
		t.Errorf("counters a minute later %+v", c)
	}
	if len(h.live) != 0 {
		t.Errorf("live calls left: %v", h.live)
	}
	// Publishing with a full subscriber never blocks.
	blocked, _ := h.subscribe(1)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			h.dtmf("none")
			h.observe(cluster.CallRecord{ID: "x", InviteAt: now, EndAt: now, Disposition: "failed"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing blocked on a full subscriber")
	}
	<-blocked.gone
}

// readEvent reads one stream event.
func readEvent(ctx context.Context, t *testing.T, c *websocket.Conn) StreamEvent {
	t.Helper()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev StreamEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("event %s: %v", data, err)
	}
	return ev
}

// TestEventStreamCallAgainstSIPp connects to GET /v1/events, places a call
// that SIPp answers 486 Busy, and expects started and ended (busy) events
// for it and a counters tick that counts it.
func TestEventStreamCallAgainstSIPp(t *testing.T) {
	requireEspeak(t)
	s := startSIPp(t, "uas-busy.xml")
	b := startBox(t, s.port, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+b.api+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ev := readEvent(ctx, t, c); ev.Type != EventHello || ev.Counters == nil {
		t.Fatalf("first event %+v", ev)
	}
	var placed struct{ ID string }
	if code := apiCall(t, b, "POST", "/v1/calls", apiv1.PlaceCall{Number: "+8613800000010", Say: "Hello there."}, &placed); code != http.StatusAccepted {
		t.Fatalf("place call: %d", code)
	}
	var started, ended bool
	for !(started && ended) {
		ev := readEvent(ctx, t, c)
		if ev.Call == nil || ev.Call.ID != placed.ID {
			continue
		}
		switch ev.Type {
		case EventCallStarted:
			started = true
			if ev.Call.Number != "+8613800000010" {
				t.Errorf("setup-mode admin sees number %q", ev.Call.Number)
			}
		case EventCallEnded:
			if !started {
				t.Error("ended before started")
			}
			ended = true
			if ev.Call.Disposition != "busy" || ev.Call.SIPCode != 486 || ev.Call.EndAt == nil {
				t.Errorf("ended event %+v", ev.Call)
			}
		}
	}
	for {
		ev := readEvent(ctx, t, c)
		if ev.Type == EventTick && ev.Counters.LastMinute["busy"] >= 1 {
			if ev.Counters.StartedMinute < 1 {
				t.Errorf("counters %+v", ev.Counters)
			}
			break
		}
	}
	s.wait(t)
}

// TestEventRingingAsItHappens places a call that SIPp lets ring for 2.5 s
// (180) before answering 486, and expects started, ringing and ended in
// that order, with ringing arriving while the phone rings: well before the
// end (it used to come with the final record), and stamped with the SIP
// layer's ring time.
func TestEventRingingAsItHappens(t *testing.T) {
	requireEspeak(t)
	s := startSIPp(t, "uas-ring-busy.xml")
	b := startBox(t, s.port, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+b.api+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if ev := readEvent(ctx, t, c); ev.Type != EventHello {
		t.Fatalf("first event %+v", ev)
	}
	var placed struct{ ID string }
	if code := apiCall(t, b, "POST", "/v1/calls", apiv1.PlaceCall{Number: "+8613800000010", Say: "Hello there."}, &placed); code != http.StatusAccepted {
		t.Fatalf("place call: %d", code)
	}
	var order []string
	got := map[string]time.Time{}
	var ringEv StreamEvent
	for got[EventCallEnded].IsZero() {
		ev := readEvent(ctx, t, c)
		if ev.Call == nil || ev.Call.ID != placed.ID {
			continue
		}
		order = append(order, ev.Type)
		got[ev.Type] = time.Now()
		if ev.Type == EventCallRinging {
			ringEv = ev
		}
	}
	want := []string{EventCallStarted, EventCallRinging, EventCallEnded}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", order, want)
	}
	// SIPp rings for 2.5 s: ringing must arrive at least 1.5 s before the end
	// (a loose bound for a loaded machine; before the fix the gap was ~0).
	if gap := got[EventCallEnded].Sub(got[EventCallRinging]); gap < 1500*time.Millisecond {
		t.Errorf("ringing arrived only %s before the end", gap)
	}
	if ringEv.Call.State != "ringing" || ringEv.Call.RingAt == nil || !ringEv.At.Equal(*ringEv.Call.RingAt) {
		t.Errorf("ringing event %+v call %+v", ringEv, ringEv.Call)
	}
	if lag := got[EventCallRinging].Sub(ringEv.At); lag > time.Second || lag < -time.Second {
		t.Errorf("ringing event received %s after its ring time", lag)
	}
	var rec apiv1.CallRecord
	apiCall(t, b, "GET", "/v1/calls/"+placed.ID, nil, &rec)
	if rec.RingAt == nil || !rec.RingAt.Equal(*ringEv.Call.RingAt) || rec.Disposition != "busy" {
		t.Errorf("record ring time %v disposition %s; event ring time %v", rec.RingAt, rec.Disposition, ringEv.Call.RingAt)
	}
	s.wait(t)
}
