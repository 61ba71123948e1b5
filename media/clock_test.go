package media

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rtpWaitFor polls cond for up to 5 s.
func rtpWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type ckCountTicker struct {
	n       atomic.Int64
	busy    atomic.Bool
	overlap atomic.Bool
	mu      sync.Mutex
	times   []time.Time // guarded by mu
}

func (c *ckCountTicker) Tick(now time.Time) {
	if !c.busy.CompareAndSwap(false, true) {
		c.overlap.Store(true)
	}
	c.n.Add(1)
	c.mu.Lock()
	c.times = append(c.times, now)
	c.mu.Unlock()
	c.busy.Store(false)
}

func TestClockTicksEveryRegisteredTicker(t *testing.T) {
	c := NewClock(5*time.Millisecond, 2)
	defer c.Close()
	var ts [10]ckCountTicker
	var unreg [10]func()
	for i := range ts {
		unreg[i] = c.Register(&ts[i])
	}
	if st := c.Stats(); st.Registered != 10 || st.Workers != 2 {
		t.Fatalf("stats %+v", st)
	}
	c.Start()
	rtpWaitFor(t, "10 ticks each", func() bool {
		for i := range ts {
			if ts[i].n.Load() < 10 {
				return false
			}
		}
		return true
	})
	unreg[0]()
	unreg[0]() // idempotent
	stopped := ts[0].n.Load()
	rtpWaitFor(t, "more ticks", func() bool { return ts[1].n.Load() > stopped+10 })
	if got := ts[0].n.Load(); got > stopped+1 {
		t.Errorf("unregistered ticker ticked %d more times", got-stopped)
	}
	if st := c.Stats(); st.Registered != 9 {
		t.Errorf("Registered = %d, want 9", st.Registered)
	}
	for i := range ts {
		if ts[i].overlap.Load() {
			t.Errorf("ticker %d ticked concurrently", i)
		}
	}
	// Tick times are scheduled deadlines: exact multiples of the period.
	ts[1].mu.Lock()
	times := append([]time.Time(nil), ts[1].times...)
	ts[1].mu.Unlock()
	for i := 1; i < len(times); i++ {
		d := times[i].Sub(times[i-1])
		if d <= 0 || d%(5*time.Millisecond) != 0 {
			t.Fatalf("tick %d came %v after the previous one: not a multiple of the period", i, d)
		}
	}
}

func TestClockSkipsMissedDeadlinesWithoutBurst(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	c := NewClockWithConfig(ClockConfig{Period: 10 * time.Millisecond, Workers: 1, Now: now})
	defer c.Close()
	var tk ckCountTicker
	c.Register(&tk)
	c.Start()
	rtpWaitFor(t, "first ticks", func() bool { return tk.n.Load() >= 3 })
	before := c.Stats()
	offset.Store(int64(205 * time.Millisecond)) // the clock "oversleeps" by ~20 periods
	rtpWaitFor(t, "skip recorded", func() bool { return c.Stats().Skipped > before.Skipped })
	st := c.Stats()
	if st.Skipped < 15 {
		t.Errorf("Skipped = %d, want about 20", st.Skipped)
	}
	if st.MaxLateness < 150*time.Millisecond {
		t.Errorf("MaxLateness = %v, want >= 150ms", st.MaxLateness)
	}
	// No catch-up burst: the ticker saw one tick for the whole jump, and
	// the gap between its tick times spans the skipped deadlines.
	tk.mu.Lock()
	defer tk.mu.Unlock()
	maxGap := time.Duration(0)
	for i := 1; i < len(tk.times); i++ {
		maxGap = max(maxGap, tk.times[i].Sub(tk.times[i-1]))
	}
	if maxGap < 150*time.Millisecond {
		t.Errorf("largest gap between tick times %v: missed deadlines were replayed", maxGap)
	}
}

type ckReentrant struct {
	c     *Clock
	n     atomic.Int64
	inner ckCountTicker
	done  chan struct{}
	once  sync.Once
}

func (r *ckReentrant) Tick(time.Time) {
	if r.n.Add(1) == 2 {
		unreg := r.c.Register(&r.inner)
		unreg()
		r.c.Register(&r.inner)
		r.once.Do(func() { close(r.done) })
	}
}

func TestClockRegisterFromTick(t *testing.T) {
	c := NewClock(2*time.Millisecond, 1)
	defer c.Close()
	r := &ckReentrant{c: c, done: make(chan struct{})}
	c.Register(r)
	c.Start()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Register from inside Tick deadlocked")
	}
	rtpWaitFor(t, "inner ticker ticks", func() bool { return r.inner.n.Load() > 2 })
}

func TestClockHealthyAndClose(t *testing.T) {
	base := runtime.NumGoroutine()
	c := NewClock(5*time.Millisecond, 3)
	if c.Healthy(time.Now()) {
		t.Error("healthy before Start")
	}
	var tk ckCountTicker
	c.Register(&tk)
	if err := c.Step(time.Now()); err != nil || tk.n.Load() != 1 {
		t.Fatalf("Step before Start: err %v ticks %d", err, tk.n.Load())
	}
	c.Start()
	c.Start() // no-op
	rtpWaitFor(t, "ticks", func() bool { return tk.n.Load() > 3 })
	if !c.Healthy(time.Now()) {
		t.Error("not healthy while ticking")
	}
	if c.Healthy(time.Now().Add(time.Second)) {
		t.Error("healthy although the last tick is a second old")
	}
	if err := c.Step(time.Now()); !errors.Is(err, ErrClockRunning) {
		t.Errorf("Step while running: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	n := tk.n.Load()
	time.Sleep(20 * time.Millisecond)
	if tk.n.Load() != n {
		t.Error("ticked after Close returned")
	}
	if c.Healthy(time.Now()) {
		t.Error("healthy after Close")
	}
	c.Start() // no-op after Close
	rtpWaitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

func TestClockCloseWithoutStart(t *testing.T) {
	c := NewClock(0, 0)
	if c.Period() != 20*time.Millisecond || c.Stats().Workers != runtime.GOMAXPROCS(0) {
		t.Errorf("defaults: period %v workers %d", c.Period(), c.Stats().Workers)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

type ckNopTicker struct{}

func (ckNopTicker) Tick(time.Time) {}

func BenchmarkClockStep1000(b *testing.B) {
	c := NewClock(20*time.Millisecond, 2)
	for range 1000 {
		c.Register(ckNopTicker{})
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(20 * time.Millisecond)
		_ = c.Step(now)
	}
}
