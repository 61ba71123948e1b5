package media

import (
	"sync"
	"testing"
	"time"
)

// ckPhased records the order in which the clock runs the halves of its
// tick.
type ckPhased struct {
	id  int
	log *ckLog
}

type ckLog struct {
	mu  sync.Mutex
	ops []string // guarded by mu
}

func (l *ckLog) add(op string) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

func (p *ckPhased) Tick(now time.Time)     { p.tickSend(now); p.tickRest(now) }
func (p *ckPhased) tickSend(now time.Time) { p.log.add("send") }
func (p *ckPhased) tickRest(now time.Time) { p.log.add("rest") }

func TestClockRunsAllSendsBeforeTheRest(t *testing.T) {
	c := NewClock(20*time.Millisecond, 1)
	defer c.Close()
	var log ckLog
	for i := range 5 {
		c.Register(&ckPhased{id: i, log: &log})
	}
	var plain ckCountTicker
	c.Register(&plain)
	now := time.Unix(1_700_000_000, 0)
	for range 3 {
		now = now.Add(20 * time.Millisecond)
		if err := c.Step(now); err != nil {
			t.Fatal(err)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.ops) != 30 {
		t.Fatalf("%d operations, want 30: %v", len(log.ops), log.ops)
	}
	for tick := range 3 {
		ops := log.ops[tick*10 : tick*10+10]
		for i, op := range ops {
			want := "send"
			if i >= 5 {
				want = "rest"
			}
			if op != want {
				t.Fatalf("tick %d: order %v, want five sends then five rests", tick, ops)
			}
		}
	}
	if plain.n.Load() != 3 {
		t.Errorf("plain ticker ticked %d times, want 3", plain.n.Load())
	}
}

func TestClockRealtimeReported(t *testing.T) {
	off := NewClockWithConfig(ClockConfig{Period: 5 * time.Millisecond, Workers: 2, RealtimePriority: -1})
	off.Start()
	rtpWaitFor(t, "ticks", func() bool { return off.Stats().Ticks > 2 })
	if st := off.Stats(); st.Realtime != 0 || st.RealtimeError != "" {
		t.Errorf("real-time disabled: Realtime %d error %q", st.Realtime, st.RealtimeError)
	}
	off.Close()

	on := NewClockWithConfig(ClockConfig{Period: 5 * time.Millisecond, Workers: 2})
	on.Start()
	rtpWaitFor(t, "ticks", func() bool { return on.Stats().Ticks > 2 })
	st := on.Stats()
	// Either every worker got SCHED_FIFO or the refusal says why.
	if (st.Realtime == 2) == (st.RealtimeError != "") {
		t.Errorf("default priority: Realtime %d of 2 workers, error %q", st.Realtime, st.RealtimeError)
	}
	t.Logf("real-time workers %d, error %q", st.Realtime, st.RealtimeError)
	on.Close()
	if st := on.Stats(); st.Realtime != 0 {
		t.Errorf("after Close %d workers still counted real-time", st.Realtime)
	}
}
