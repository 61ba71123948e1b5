package auth

import (
	"fmt"
	"sync"
	"time"
)

// LockoutPolicy says when failed logins slow down and lock a key.
type LockoutPolicy struct {
	FreeFailures int           // failures in a row before the slowdown starts
	BaseDelay    time.Duration // first delay; doubles per further failure
	MaxDelay     time.Duration
	LockAfter    int           // failures in a row that lock the key
	LockFor      time.Duration // how long a lock lasts
}

// Default policies: per user name and per client address.
var (
	UserPolicy = LockoutPolicy{FreeFailures: 3, BaseDelay: time.Second, MaxDelay: time.Minute, LockAfter: 10, LockFor: 15 * time.Minute}
	AddrPolicy = LockoutPolicy{FreeFailures: 20, BaseDelay: time.Second, MaxDelay: time.Minute, LockAfter: 50, LockFor: 15 * time.Minute}
)

// maxTracked bounds the limiter's memory under a spray of names.
const maxTracked = 100_000

type failState struct {
	failures    int
	notBefore   time.Time // next attempt allowed at
	lockedUntil time.Time
	last        time.Time
}

// Limiter counts failed logins per key (user name or address). Refusals
// are answered at once (ErrSlowDown, ErrLocked with the wait), never by
// holding a request open.
type Limiter struct {
	policy LockoutPolicy
	now    func() time.Time

	mu    sync.Mutex
	state map[string]*failState // guarded by mu
}

// NewLimiter makes a limiter; now may be nil (time.Now).
func NewLimiter(p LockoutPolicy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{policy: p, now: now, state: map[string]*failState{}}
}

// WaitError is ErrSlowDown or ErrLocked with how long to wait.
type WaitError struct {
	Err   error // ErrSlowDown or ErrLocked
	Wait  time.Duration
	Until time.Time
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%v (retry in %s)", e.Err, e.Wait.Round(time.Second))
}

func (e *WaitError) Unwrap() error { return e.Err }

// Check returns nil if key may try now, else a *WaitError.
func (l *Limiter) Check(key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.state[key]
	if !ok {
		return nil
	}
	now := l.now()
	if now.Before(st.lockedUntil) {
		return &WaitError{Err: ErrLocked, Wait: st.lockedUntil.Sub(now), Until: st.lockedUntil}
	}
	if !st.lockedUntil.IsZero() { // the lock expired: start over
		delete(l.state, key)
		return nil
	}
	if now.Before(st.notBefore) {
		return &WaitError{Err: ErrSlowDown, Wait: st.notBefore.Sub(now), Until: st.notBefore}
	}
	return nil
}

// Fail records a failed attempt by key.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st, ok := l.state[key]
	if !ok {
		if len(l.state) >= maxTracked {
			l.evictLocked(now)
		}
		st = &failState{}
		l.state[key] = st
	}
	st.failures++
	st.last = now
	p := l.policy
	if p.LockAfter > 0 && st.failures >= p.LockAfter {
		st.lockedUntil = now.Add(p.LockFor)
		return
	}
	if st.failures >= p.FreeFailures {
		d := p.BaseDelay
		for i := p.FreeFailures; i < st.failures && d < p.MaxDelay; i++ {
			d *= 2
		}
		st.notBefore = now.Add(min(d, p.MaxDelay))
	}
}

// Succeed forgets key's failures.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	delete(l.state, key)
	l.mu.Unlock()
}

// Failures returns key's failures in a row.
func (l *Limiter) Failures(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.state[key]; ok {
		return st.failures
	}
	return 0
}

// evictLocked drops entries idle for longer than a lock lasts, or, if
// none is, the oldest tenth; the caller holds mu.
func (l *Limiter) evictLocked(now time.Time) {
	for k, st := range l.state {
		if now.Sub(st.last) > l.policy.LockFor && now.After(st.lockedUntil) {
			delete(l.state, k)
		}
	}
	if len(l.state) < maxTracked {
		return
	}
	n := 0
	for k := range l.state { // map order is random: a random tenth
		delete(l.state, k)
		if n++; n >= maxTracked/10 {
			break
		}
	}
}
