package campaign

// This file holds pacing: how many new calls a campaign may start now.

import (
	"math"
	"sync"
	"time"
)

// DefaultAbandonCap is the abandoned/answered ratio predictive pacing keeps
// under over its rolling window.
const DefaultAbandonCap = 0.03

// AbandonWindow is the rolling window of the abandon-rate cap.
const AbandonWindow = 30 * time.Minute

// Pacer limits one campaign's dialling. Its methods take the time, so the
// dialler's injected clock drives it. Safe for concurrent use.
type Pacer struct {
	mode          string
	maxConcurrent int
	perTrunk      int
	cps           float64
	agents        int
	abandonCap    float64

	mu       sync.Mutex
	tokens   float64        // guarded by mu; calls-per-second bucket
	last     time.Time      // guarded by mu
	active   int            // guarded by mu
	byTrunk  map[string]int // guarded by mu
	talking  int            // guarded by mu; answered calls holding an agent
	outcomes []paceEvent    // guarded by mu; rolling answered/abandoned events
}

type paceEvent struct {
	at       time.Time
	answered bool
	abandon  bool
}

// NewPacer returns a pacer for a campaign's pacing settings.
func NewPacer(mode string, maxConcurrent int, cps float64, perTrunk, agents int, abandonCap float64) *Pacer {
	if mode == "fixed" || mode == "" {
		mode = "agentless"
	}
	if abandonCap <= 0 {
		abandonCap = DefaultAbandonCap
	}
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	if cps <= 0 {
		cps = 1
	}
	return &Pacer{mode: mode, maxConcurrent: maxConcurrent, perTrunk: perTrunk, cps: cps, agents: agents,
		abandonCap: abandonCap, byTrunk: map[string]int{}, tokens: 1}
}

// Mode is agentless, progressive or predictive.
func (p *Pacer) Mode() string { return p.mode }

func (p *Pacer) refill(now time.Time) {
	switch {
	case p.last.IsZero():
		p.tokens = math.Max(1, p.cps) // start with a full second's worth
	case now.After(p.last):
		p.tokens += now.Sub(p.last).Seconds() * p.cps
	}
	if burst := math.Max(1, p.cps); p.tokens > burst {
		p.tokens = burst
	}
	if p.last.IsZero() || now.After(p.last) {
		p.last = now
	}
}

// Allowance returns how many calls may start now (before the per-trunk
// cap, which Acquire applies).
func (p *Pacer) Allowance(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refill(now)
	n := p.maxConcurrent - p.active
	if t := int(p.tokens); t < n {
		n = t
	}
	switch p.mode {
	case "progressive":
		// one line per free agent
		n = min(n, p.agents-p.talking-p.ringing())
	case "predictive":
		n = min(n, p.predictiveTarget(now)-p.active)
	}
	return max(n, 0)
}

// ringing is calls dialled but not yet answered.
func (p *Pacer) ringing() int { return p.active - p.talking }

// predictiveTarget is the number of lines to keep up: free agents divided
// by the recent answer rate, throttled to one line per free agent while
// the abandon rate is at or over the cap.
func (p *Pacer) predictiveTarget(now time.Time) int {
	free := p.agents - p.talking
	if free <= 0 {
		return p.talking // no new lines until an agent frees up
	}
	answered, abandoned, total := p.window(now)
	rate := 0.5 // prior before data
	if total >= 10 {
		rate = math.Max(float64(answered)/float64(total), 0.05)
	}
	if answered > 0 && float64(abandoned)/float64(answered) >= p.abandonCap {
		return p.talking + free
	}
	ratio := math.Min(1/rate, 3)
	return p.talking + int(math.Floor(float64(free)*ratio))
}

func (p *Pacer) window(now time.Time) (answered, abandoned, total int) {
	cut := now.Add(-AbandonWindow)
	i := 0
	for i < len(p.outcomes) && p.outcomes[i].at.Before(cut) {
		i++
	}
	p.outcomes = p.outcomes[i:]
	for _, e := range p.outcomes {
		total++
		if e.answered {
			answered++
		}
		if e.abandon {
			abandoned++
		}
	}
	return
}

// Acquire takes one line on trunk if the pacing allows it now.
func (p *Pacer) Acquire(now time.Time, trunk string) bool {
	if p.Allowance(now) < 1 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perTrunk > 0 && p.byTrunk[trunk] >= p.perTrunk {
		return false
	}
	p.tokens--
	p.active++
	p.byTrunk[trunk]++
	return true
}

// Answered notes that a paced call was answered by a human. It returns
// false when no agent is free (predictive over-dial): the caller plays the
// safe-harbour message and reports Abandoned.
func (p *Pacer) Answered(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "agentless" {
		return true
	}
	if p.talking >= p.agents {
		return false
	}
	p.talking++
	return true
}

// Release ends a paced call: answered says whether it was answered,
// agent whether it held an agent, abandoned whether it was abandoned.
func (p *Pacer) Release(now time.Time, trunk string, answered, agent, abandoned bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active--
	p.byTrunk[trunk]--
	if agent && p.talking > 0 {
		p.talking--
	}
	p.outcomes = append(p.outcomes, paceEvent{at: now, answered: answered, abandon: abandoned})
}

// AbandonRate is the abandoned/answered ratio over the rolling window.
func (p *Pacer) AbandonRate(now time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ab, _ := p.window(now)
	if a == 0 {
		return 0
	}
	return float64(ab) / float64(a)
}

// Active is the number of calls up or being set up.
func (p *Pacer) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active
}
