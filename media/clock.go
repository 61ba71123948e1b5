package media

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClockRunning is returned by Clock.Step when the clock was started:
// manual steps and the clock's own goroutine must not tick concurrently.
var ErrClockRunning = errors.New("media: clock is running")

// Ticker is driven by the media clock once per period. now is the tick's
// scheduled deadline (start + n*period), so consecutive ticks are exactly
// a multiple of the period apart even when the clock woke up late.
//
// Tick is never called concurrently for the same registered Ticker, but it
// may be called once more after the unregister function returned (the tick
// may already be in flight); tickers must tolerate that.
type Ticker interface {
	Tick(now time.Time)
}

// Clock is the single media clock of the box. One goroutine sleeps until
// each absolute deadline and then wakes a small fixed pool of workers, each
// of which ticks its own shard of registered Tickers in order. Deadlines are
// start + n*period, so the clock does not drift; when it wakes up more than
// a period late the missed deadlines are skipped and counted, never replayed
// in a burst.
type Clock struct {
	period  time.Duration
	now     func() time.Time
	shards  []*clockShard
	stop    chan struct{}
	wg      sync.WaitGroup
	regMu   sync.Mutex // serialises shard choice in Register
	started atomic.Bool
	closed  atomic.Bool
	once    sync.Once // guards Close

	registered  atomic.Int64
	ticks       atomic.Uint64
	skipped     atomic.Uint64
	overruns    atomic.Uint64
	maxLateness atomic.Int64 // nanoseconds
	maxWork     atomic.Int64 // nanoseconds
	lastTick    atomic.Int64 // UnixNano of the last tick's scheduled time, 0 before
	lastTickMu  sync.Mutex   // guards lastTickT
	lastTickT   time.Time    // guarded by lastTickMu
}

type clockShard struct {
	mu      sync.Mutex                    // serialises writers of tickers
	tickers atomic.Pointer[[]*clockEntry] // copy-on-write list read by the worker without locking
	wake    chan time.Time                // capacity 1: the next tick for this shard
}

type clockEntry struct {
	t       Ticker
	removed atomic.Bool
}

// ClockConfig configures NewClockWithConfig.
type ClockConfig struct {
	Period  time.Duration    // tick period; <= 0 means 20 ms
	Workers int              // worker goroutines; <= 0 means GOMAXPROCS
	Now     func() time.Time // time source; nil means time.Now
}

// NewClock returns a stopped clock with the given period (normally 20 ms)
// and worker count (<= 0 means GOMAXPROCS). Call Start to run it.
func NewClock(period time.Duration, workers int) *Clock {
	return NewClockWithConfig(ClockConfig{Period: period, Workers: workers})
}

// NewClockWithConfig is NewClock with an injectable time source.
func NewClockWithConfig(cfg ClockConfig) *Clock {
	if cfg.Period <= 0 {
		cfg.Period = FrameDuration * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Clock{period: cfg.Period, now: cfg.Now, stop: make(chan struct{})}
	c.shards = make([]*clockShard, cfg.Workers)
	for i := range c.shards {
		sh := &clockShard{wake: make(chan time.Time, 1)}
		empty := []*clockEntry{}
		sh.tickers.Store(&empty)
		c.shards[i] = sh
	}
	return c
}

// Period returns the tick period.
func (c *Clock) Period() time.Duration { return c.period }

// Start starts the clock goroutine and its workers. It is a no-op when the
// clock is already started or closed.
func (c *Clock) Start() {
	if c.closed.Load() || !c.started.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(len(c.shards))
	for _, sh := range c.shards {
		go c.work(sh)
	}
	c.wg.Add(1)
	go c.run()
}

// Close stops the clock and waits for its goroutines, including any tick in
// progress. It is idempotent and always returns nil.
func (c *Clock) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.stop)
		if !c.started.Load() {
			return
		}
		c.wg.Wait()
	})
	return nil
}

// Register adds t to the least loaded shard and returns a function that
// removes it. Both are safe from any goroutine, including from inside Tick;
// the unregister function is idempotent.
func (c *Clock) Register(t Ticker) (unregister func()) {
	e := &clockEntry{t: t}
	c.regMu.Lock()
	sh := c.shards[0]
	for _, s := range c.shards[1:] {
		if len(*s.tickers.Load()) < len(*sh.tickers.Load()) {
			sh = s
		}
	}
	sh.mu.Lock()
	old := *sh.tickers.Load()
	next := make([]*clockEntry, len(old), len(old)+1)
	copy(next, old)
	next = append(next, e)
	sh.tickers.Store(&next)
	sh.mu.Unlock()
	c.regMu.Unlock()
	c.registered.Add(1)

	var once sync.Once
	return func() {
		once.Do(func() {
			e.removed.Store(true)
			sh.mu.Lock()
			old := *sh.tickers.Load()
			next := make([]*clockEntry, 0, len(old))
			for _, x := range old {
				if x != e {
					next = append(next, x)
				}
			}
			sh.tickers.Store(&next)
			sh.mu.Unlock()
			c.registered.Add(-1)
		})
	}
}

// Healthy reports whether the clock is running and ticked within the last
// ten periods (200 ms at 20 ms). The systemd watchdog uses it.
func (c *Clock) Healthy(now time.Time) bool {
	if !c.started.Load() || c.closed.Load() {
		return false
	}
	last := c.lastTick.Load()
	if last == 0 {
		return false
	}
	limit := max(10*c.period, 200*time.Millisecond)
	return now.UnixNano()-last <= int64(limit)
}

// Stats returns a snapshot of the clock's counters.
func (c *Clock) Stats() ClockStats {
	c.lastTickMu.Lock()
	last := c.lastTickT
	c.lastTickMu.Unlock()
	return ClockStats{
		Ticks:       c.ticks.Load(),
		Skipped:     c.skipped.Load(),
		Overruns:    c.overruns.Load(),
		MaxLateness: time.Duration(c.maxLateness.Load()),
		MaxWork:     time.Duration(c.maxWork.Load()),
		Registered:  int(c.registered.Load()),
		Workers:     len(c.shards),
		LastTick:    last,
	}
}

// Step ticks every registered Ticker once, synchronously in the calling
// goroutine, with now as the tick time. It is for tests and tools that
// drive time by hand, and fails with ErrClockRunning once Start was called.
func (c *Clock) Step(now time.Time) error {
	if c.started.Load() {
		return ErrClockRunning
	}
	c.noteTick(now)
	for _, sh := range c.shards {
		c.tickShard(sh, now)
	}
	return nil
}

// run is the single pacing goroutine.
func (c *Clock) run() {
	defer c.wg.Done()
	defer func() {
		for _, sh := range c.shards {
			close(sh.wake)
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := c.now()
	next := int64(1) // index of the next deadline
	for {
		deadline := start.Add(time.Duration(next) * c.period)
		if d := deadline.Sub(c.now()); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-c.stop:
				return
			}
		} else {
			select {
			case <-c.stop:
				return
			default:
			}
		}
		woke := c.now()
		k := int64(woke.Sub(start) / c.period) // latest deadline not after woke
		if k < next {
			k = next // the timer fired a hair early: serve the deadline now
		}
		if k > next {
			c.skipped.Add(uint64(k - next))
		}
		storeMax(&c.maxLateness, int64(woke.Sub(deadline)))
		tickAt := start.Add(time.Duration(k) * c.period)
		c.noteTick(tickAt)
		for _, sh := range c.shards {
			select {
			case sh.wake <- tickAt:
			default:
				c.overruns.Add(1)
			}
		}
		next = k + 1
	}
}

func (c *Clock) noteTick(at time.Time) {
	c.ticks.Add(1)
	c.lastTick.Store(c.now().UnixNano())
	c.lastTickMu.Lock()
	c.lastTickT = at
	c.lastTickMu.Unlock()
}

// work is one worker goroutine: it ticks its shard each time it is woken.
func (c *Clock) work(sh *clockShard) {
	defer c.wg.Done()
	for at := range sh.wake {
		began := c.now()
		c.tickShard(sh, at)
		storeMax(&c.maxWork, int64(c.now().Sub(began)))
	}
}

func (c *Clock) tickShard(sh *clockShard, at time.Time) {
	for _, e := range *sh.tickers.Load() {
		if !e.removed.Load() {
			e.t.Tick(at)
		}
	}
}

// storeMax raises v to x if x is larger.
func storeMax(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if x <= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}
