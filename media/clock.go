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

// Clock is the single media clock of the box: a small fixed pool of
// workers, each ticking its own shard of registered Tickers in a stable
// order. Every worker paces itself: it sleeps in the kernel until the next
// shared deadline (start + n*period, so the clock does not drift) on its
// own locked OS thread, which runs at real-time (SCHED_FIFO) priority when
// the process is allowed to, so neither the Go scheduler, nor timers, nor
// other processes on a loaded machine stand between a deadline and the
// packets sent for it. When a worker wakes more than a period late the
// missed deadlines are skipped and counted, never replayed in a burst.
type Clock struct {
	period  time.Duration
	now     func() time.Time
	prio    int // SCHED_FIFO priority for the workers, 0 = none
	shards  []*clockShard
	stop    chan struct{}
	wg      sync.WaitGroup
	regMu   sync.Mutex // serialises shard choice in Register
	started atomic.Bool
	closed  atomic.Bool
	once    sync.Once // guards Close
	start   time.Time // set by Start before the workers run

	realtime  atomic.Int64 // workers running at real-time priority
	rtErrOnce sync.Once
	rtErr     atomic.Pointer[error] // why real-time priority was refused

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
}

type clockEntry struct {
	t       Ticker
	p       phasedTicker // t's two halves, nil when t is a plain Ticker
	removed atomic.Bool
}

// phasedTicker is a Ticker (a Session) whose tick the clock runs in two
// halves: a worker runs tickSend for every such ticker of its shard, in
// shard order, before any tickRest. Each session's packet then leaves at
// an offset within the tick that depends only on its place in the shard,
// not on how much receive, recording or ASR work the sessions before it
// had, which keeps every stream's inter-packet interval steady.
type phasedTicker interface {
	Ticker
	tickSend(now time.Time)
	tickRest(now time.Time)
}

// DefaultRealtimePriority is the SCHED_FIFO priority the clock workers ask
// for unless configured otherwise: above every normal process, well below
// the kernel's own real-time threads (50 and up).
const DefaultRealtimePriority = 20

// ClockConfig configures NewClockWithConfig.
type ClockConfig struct {
	Period  time.Duration    // tick period; <= 0 means 20 ms
	Workers int              // worker goroutines; <= 0 means GOMAXPROCS
	Now     func() time.Time // time source; nil means time.Now
	// RealtimePriority is the SCHED_FIFO priority (1-99) of the worker
	// threads: 0 means DefaultRealtimePriority, negative means normal
	// scheduling. It takes effect only when the process may use it (root,
	// CAP_SYS_NICE or RLIMIT_RTPRIO, e.g. systemd LimitRTPRIO=); otherwise
	// the workers run normally and ClockStats.RealtimeError says why.
	RealtimePriority int
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
	switch {
	case cfg.RealtimePriority == 0:
		cfg.RealtimePriority = DefaultRealtimePriority
	case cfg.RealtimePriority < 0:
		cfg.RealtimePriority = 0
	case cfg.RealtimePriority > 99:
		cfg.RealtimePriority = 99
	}
	c := &Clock{period: cfg.Period, now: cfg.Now, prio: cfg.RealtimePriority, stop: make(chan struct{})}
	c.shards = make([]*clockShard, cfg.Workers)
	for i := range c.shards {
		sh := &clockShard{}
		empty := []*clockEntry{}
		sh.tickers.Store(&empty)
		c.shards[i] = sh
	}
	return c
}

// Period returns the tick period.
func (c *Clock) Period() time.Duration { return c.period }

// Start starts the workers. It is a no-op when the clock is already
// started or closed.
func (c *Clock) Start() {
	if c.closed.Load() || !c.started.CompareAndSwap(false, true) {
		return
	}
	c.start = c.now()
	c.wg.Add(len(c.shards))
	for i, sh := range c.shards {
		go c.work(i, sh)
	}
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
	e.p, _ = t.(phasedTicker)
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
	var rtErr string
	if p := c.rtErr.Load(); p != nil {
		rtErr = (*p).Error()
	}
	return ClockStats{
		Realtime:      int(c.realtime.Load()),
		RealtimeError: rtErr,
		Ticks:         c.ticks.Load(),
		Skipped:       c.skipped.Load(),
		Overruns:      c.overruns.Load(),
		MaxLateness:   time.Duration(c.maxLateness.Load()),
		MaxWork:       time.Duration(c.maxWork.Load()),
		Registered:    int(c.registered.Load()),
		Workers:       len(c.shards),
		LastTick:      last,
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

func (c *Clock) noteTick(at time.Time) {
	c.ticks.Add(1)
	c.lastTick.Store(c.now().UnixNano())
	c.lastTickMu.Lock()
	c.lastTickT = at
	c.lastTickMu.Unlock()
}

// work is one worker goroutine. It owns its OS thread for good (the
// thread exits with it, so a real-time priority never leaks into the
// runtime's thread pool), sleeps until each deadline and ticks its shard.
// Worker 0 keeps the clock's tick count and health; every worker reports
// its lateness, skips and overruns.
func (c *Clock) work(i int, sh *clockShard) {
	defer c.wg.Done()
	runtime.LockOSThread() // never unlocked: see above
	if c.prio > 0 {
		if err := setRealtime(c.prio); err != nil {
			c.rtErrOnce.Do(func() { c.rtErr.Store(&err) })
		} else {
			c.realtime.Add(1)
			defer c.realtime.Add(-1)
		}
	}
	start := c.start
	next := int64(1) // index of the next deadline
	for {
		deadline := start.Add(time.Duration(next) * c.period)
		for {
			select {
			case <-c.stop:
				return
			default:
			}
			d := deadline.Sub(c.now())
			if d <= 0 {
				break
			}
			sleep(min(d, c.period)) // bounded, so Close never waits long
		}
		woke := c.now()
		k := int64(woke.Sub(start) / c.period) // latest deadline not after woke
		if k < next {
			k = next // the sleep ended a hair early: serve the deadline now
		}
		if k > next {
			c.skipped.Add(uint64(k - next))
		}
		storeMax(&c.maxLateness, int64(woke.Sub(deadline)))
		tickAt := start.Add(time.Duration(k) * c.period)
		if i == 0 {
			c.noteTick(tickAt)
		}
		c.tickShard(sh, tickAt)
		work := c.now().Sub(woke)
		storeMax(&c.maxWork, int64(work))
		if work > c.period {
			c.overruns.Add(1)
		}
		next = k + 1
	}
}

func (c *Clock) tickShard(sh *clockShard, at time.Time) {
	list := *sh.tickers.Load()
	phased := false
	for _, e := range list {
		switch {
		case e.removed.Load():
		case e.p != nil:
			e.p.tickSend(at)
			phased = true
		default:
			e.t.Tick(at)
		}
	}
	if !phased {
		return
	}
	for _, e := range list {
		if e.p != nil && !e.removed.Load() {
			e.p.tickRest(at)
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
