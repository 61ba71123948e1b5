package sipua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"time"
)

// unregisterTimeout bounds the Expires: 0 REGISTER of a trunk that a reload
// removed.
const unregisterTimeout = 3 * time.Second

// trunkRun is the lifecycle of one started trunk's background loops
// (REGISTER and OPTIONS): cancelling stops them, done waits for them.
type trunkRun struct {
	cancel context.CancelFunc
	loops  sync.WaitGroup
}

// TrunkChanges reports what UpdateTrunks did, by trunk name.
type TrunkChanges struct {
	Added     []string
	Removed   []string
	Changed   []string // removed and re-added with the new settings
	Unchanged []string
}

// Empty reports whether the update changed nothing.
func (c TrunkChanges) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// newTrunk builds the runtime state of a validated trunk configuration.
func newTrunk(tc TrunkConfig) *trunk {
	t := &trunk{cfg: tc, up: true, regState: RegUnregistered}
	for _, name := range tc.Codecs {
		c, _ := codecByName(name)
		t.codecs = append(t.codecs, c)
	}
	for _, s := range tc.AllowedSources {
		n, _ := parseSource(s)
		t.allowed = append(t.allowed, n)
	}
	return t
}

// resolveAllowed fills t.allowed from the trunk's host when AllowedSources
// was not configured. It runs before t is published.
func resolveAllowed(ctx context.Context, t *trunk) error {
	if len(t.allowed) > 0 {
		return nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", t.cfg.Host)
	if err != nil {
		return &ConfigError{Trunk: t.cfg.Name, Field: "Host", Msg: fmt.Sprintf("cannot resolve %q for AllowedSources: %v", t.cfg.Host, err)}
	}
	for _, ip := range ips {
		n, _ := parseSource(ip.String())
		t.allowed = append(t.allowed, n)
	}
	return nil
}

// trunkList returns the current trunks in configuration order.
func (u *UA) trunkList() []*trunk {
	u.tmu.RLock()
	defer u.tmu.RUnlock()
	return u.trunks
}

// trunkNamed returns the current trunk called name, or nil.
func (u *UA) trunkNamed(name string) *trunk {
	u.tmu.RLock()
	defer u.tmu.RUnlock()
	return u.trunkByName[name]
}

// startTrunk starts t's REGISTER and OPTIONS loops under their own context,
// a child of the UA's. The caller holds tmu.
func (u *UA) startTrunk(t *trunk) {
	ctx, cancel := context.WithCancel(u.ctx)
	run := &trunkRun{cancel: cancel}
	u.runs[t] = run
	if t.cfg.Auth == AuthRegister {
		u.wg.Add(1)
		run.loops.Add(1)
		go func() {
			defer u.wg.Done()
			defer run.loops.Done()
			u.registerLoop(ctx, t)
		}()
	}
	if t.cfg.OptionsInterval > 0 {
		u.wg.Add(1)
		run.loops.Add(1)
		go func() {
			defer u.wg.Done()
			defer run.loops.Done()
			u.optionsLoop(ctx, t)
		}()
	}
}

// stopTrunk stops t's loops and waits for them. The caller must not hold
// tmu (a loop may be reading the trunk list).
func (u *UA) stopTrunk(run *trunkRun) {
	if run == nil {
		return
	}
	run.cancel()
	run.loops.Wait()
}

// unregister sends REGISTER with Expires: 0 for a registered trunk and
// marks it unregistered. It is a no-op for other trunks.
func (u *UA) unregister(ctx context.Context, t *trunk) error {
	if t.cfg.Auth != AuthRegister {
		return nil
	}
	t.mu.Lock()
	reg := t.regState == RegRegistered
	t.mu.Unlock()
	if !reg {
		return nil
	}
	_, err := u.register(ctx, t, 0)
	t.mu.Lock()
	t.regState = RegUnregistered
	t.nextRefresh = time.Time{}
	if err != nil {
		t.lastErr = err.Error()
	}
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("unregister trunk %q: %w", t.cfg.Name, err)
	}
	return nil
}

// UpdateTrunks replaces the trunk set live (SIGHUP reload). The new set is
// validated as a whole first (errors are *ConfigError values, joined, and
// nothing changes). Then, by name:
//   - an unchanged trunk keeps its runtime state: registration, OPTIONS
//     verdict, call counter and loops;
//   - a removed trunk stops its REGISTER/OPTIONS loops, unregisters
//     (Expires: 0) if it was registered, and takes no new calls; calls
//     already on it continue to their end;
//   - a changed trunk is removed and added again with fresh state (calls
//     already on it continue on the old settings and are not counted
//     against the new MaxCalls);
//   - a new trunk starts its loops (after the removed and changed ones
//     have unregistered, so a changed trunk's new binding survives).
//
// It returns ErrClosed after Close. Unregistering failures are logged and
// returned joined, after the new set is in force.
func (u *UA) UpdateTrunks(ctx context.Context, trunks []TrunkConfig) (TrunkChanges, error) {
	var ch TrunkChanges
	u.reloadMu.Lock() // one reload at a time
	defer u.reloadMu.Unlock()
	probe := u.cfg
	probe.Transports = append([]string(nil), u.cfg.Transports...)
	probe.Trunks = append([]TrunkConfig(nil), trunks...)
	if err := probe.validate(); err != nil {
		return ch, err
	}

	u.mu.Lock()
	started, closed := u.started, u.closed
	u.mu.Unlock()
	if closed {
		return ch, ErrClosed
	}

	u.tmu.RLock()
	old := u.trunkByName
	u.tmu.RUnlock()
	next := make([]*trunk, 0, len(probe.Trunks))
	byName := make(map[string]*trunk, len(probe.Trunks))
	var fresh []*trunk
	for _, tc := range probe.Trunks {
		if o := old[tc.Name]; o != nil && reflect.DeepEqual(o.cfg, tc) {
			next = append(next, o)
			byName[tc.Name] = o
			ch.Unchanged = append(ch.Unchanged, tc.Name)
			continue
		}
		t := newTrunk(tc)
		if started {
			if err := resolveAllowed(ctx, t); err != nil {
				return TrunkChanges{}, err
			}
		}
		if old[tc.Name] != nil {
			ch.Changed = append(ch.Changed, tc.Name)
		} else {
			ch.Added = append(ch.Added, tc.Name)
		}
		next = append(next, t)
		byName[tc.Name] = t
		fresh = append(fresh, t)
	}
	var gone []*trunk
	for name, o := range old {
		if byName[name] != o {
			gone = append(gone, o)
			if _, still := byName[name]; !still {
				ch.Removed = append(ch.Removed, name)
			}
		}
	}

	u.tmu.Lock()
	u.trunks, u.trunkByName = next, byName
	u.cfg.Trunks = probe.Trunks
	var stops []*trunkRun
	if started {
		for _, o := range gone {
			stops = append(stops, u.runs[o])
			delete(u.runs, o)
		}
	}
	u.tmu.Unlock()

	for _, run := range stops {
		u.stopTrunk(run)
	}
	var errs []error
	if started {
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, o := range gone {
			wg.Add(1)
			go func() {
				defer wg.Done()
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unregisterTimeout)
				defer cancel()
				if err := u.unregister(uctx, o); err != nil {
					u.log.Warn("unregister of removed trunk failed", "trunk", o.cfg.Name, "error", err)
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			}()
		}
		wg.Wait()
		// New loops start only now: a changed registering trunk's new
		// REGISTER must come after the old binding's Expires: 0.
		u.tmu.Lock()
		for _, t := range fresh {
			u.startTrunk(t)
		}
		u.tmu.Unlock()
	}
	if !ch.Empty() {
		u.log.Info("SIP trunks updated", "added", ch.Added, "removed", ch.Removed, "changed", ch.Changed, "unchanged", len(ch.Unchanged))
	}
	return ch, errors.Join(errs...)
}
