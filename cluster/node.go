package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Config configures a Node.
type Config struct {
	Dir    string // data directory; raft/, state/ and snapshots/ live under it
	NodeID string // stable, unique in the cluster

	// BindAddr is the TCP address of the default transport ("127.0.0.1:0" ok).
	BindAddr string
	// Transport, if set, replaces the default TCP transport (e.g. mutual
	// TLS, or raft.InmemTransport in tests). The caller closes it.
	Transport raft.Transport

	// TLS, if set (and Transport is not), makes the node listen on BindAddr
	// with a mutual-TLS stream layer (TLSLayer) that carries raft, write
	// forwarding and joins; Apply on a follower is then forwarded to the
	// leader. Advertise is the address other boxes dial (BindAddr if empty).
	TLS       *TLSMaterial
	Advertise string

	// Bootstrap makes this node a one-member cluster if Dir holds no raft
	// state yet. Existing state is never re-bootstrapped.
	Bootstrap bool

	Logger *slog.Logger

	// Raft timing; zero picks defaults tuned so a one-node cluster elects
	// itself in under a second.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration

	SnapshotThreshold uint64        // entries between snapshots; default 8192
	SnapshotInterval  time.Duration // how often to check; default 2 min

	trailingLogs uint64 // tests: entries kept after a snapshot (raft default when 0)
}

// Defaults applied by Open.
const (
	DefaultHeartbeatTimeout   = 300 * time.Millisecond
	DefaultElectionTimeout    = 300 * time.Millisecond
	DefaultLeaderLeaseTimeout = 150 * time.Millisecond
	DefaultCommitTimeout      = 20 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 2 * time.Minute
	defaultApplyTimeout       = 10 * time.Second
	valueLogGCInterval        = 10 * time.Minute
)

// Node is one cluster member: raft plus the FSM and both Badger DBs.
type Node struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	fsm   *FSM
	logs  *LogStore
	trans raft.Transport
	ownTr *raft.NetworkTransport // default transport, closed by Close
	layer *TLSLayer              // with Config.TLS; closed with ownTr
	pool  fwdPool                // idle forward streams to the leader
	joins joinTokens             // one-time join tokens issued here
	fence fenceSlot              // this box's own fence (NewFence), for its dialler

	stop chan struct{}
	wg   sync.WaitGroup // background loop
	// waiters counts Apply's future waiters. Close waits for them only a
	// bounded time: hashicorp/raft can leave a future that was queued when
	// it shut down unanswered (raft issue #498), and Close must not hang.
	waiters sync.WaitGroup
	// applyObserver holds a func(CommandType, time.Duration, error) or nil.
	applyObserver atomic.Value

	mu     sync.Mutex
	closed bool  // guarded by mu
	cerr   error // guarded by mu
}

// Open opens or creates the node's stores and starts raft.
func Open(cfg Config) (*Node, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Config.Dir is empty", ErrInvalidCommand)
	}
	if err := checkID("Config.NodeID", cfg.NodeID); err != nil {
		return nil, err
	}
	if cfg.Transport == nil && cfg.BindAddr == "" {
		return nil, fmt.Errorf("%w: Config.BindAddr is empty and no Transport given", ErrInvalidCommand)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&cfg.ElectionTimeout, DefaultElectionTimeout)
	def(&cfg.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	def(&cfg.CommitTimeout, DefaultCommitTimeout)
	def(&cfg.SnapshotInterval, DefaultSnapshotInterval)
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("cluster: create %s: %w", cfg.Dir, err)
	}
	lg := cfg.Logger.With("node", cfg.NodeID)
	n := &Node{cfg: cfg, log: lg, stop: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			if n.ownTr != nil {
				n.ownTr.Close()
			}
			if n.layer != nil {
				n.layer.Close()
			}
			n.closeStores()
		}
	}()

	var err error
	if n.logs, err = OpenLogStore(filepath.Join(cfg.Dir, "raft"), lg); err != nil {
		return nil, err
	}
	if n.fsm, err = OpenFSM(filepath.Join(cfg.Dir, "state"), lg); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.Dir, "snapshots"), 2, newHclog(lg, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	if err := n.catchUpFromSnapshot(snaps); err != nil {
		return nil, err
	}

	n.trans = cfg.Transport
	if n.trans == nil && cfg.TLS != nil {
		layer, err := ListenTLS(cfg.BindAddr, cfg.Advertise, cfg.TLS, lg.With("component", "cluster-tls"))
		if err != nil {
			return nil, err
		}
		tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream: layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: newHclog(lg, "transport"),
		})
		n.layer, n.ownTr, n.trans = layer, tr, tr
		// The forward and join handlers are set once raft exists (below):
		// until then the layer answers "node not ready", so a peer still
		// forwarding to this box from before its restart cannot reach a
		// nil raft.
	}
	if n.trans == nil {
		if _, err := net.ResolveTCPAddr("tcp", cfg.BindAddr); err != nil {
			return nil, fmt.Errorf("%w: Config.BindAddr %q: %v", ErrInvalidCommand, cfg.BindAddr, err)
		}
		tr, err := raft.NewTCPTransportWithLogger(cfg.BindAddr, nil, 3, 10*time.Second, newHclog(lg, "transport"))
		if err != nil {
			return nil, fmt.Errorf("cluster: raft transport on %s: %w", cfg.BindAddr, err)
		}
		n.ownTr, n.trans = tr, tr
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	if cfg.trailingLogs > 0 {
		rc.TrailingLogs = cfg.trailingLogs
	}
	rc.NoSnapshotRestoreOnStart = true
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.Logger = newHclog(lg, "raft")
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("%w: raft config: %v", ErrInvalidCommand, err)
	}

	if cfg.Bootstrap {
		existing, err := raft.HasExistingState(n.logs, n.logs, snaps)
		if err != nil {
			return nil, fmt.Errorf("cluster: check existing state: %w", err)
		}
		if !existing {
			conf := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: n.trans.LocalAddr(),
			}}}
			if err := raft.BootstrapCluster(rc, n.logs, n.logs, snaps, n.trans, conf); err != nil {
				return nil, fmt.Errorf("cluster: bootstrap: %w", err)
			}
			lg.Info("bootstrapped one-node cluster", "addr", string(n.trans.LocalAddr()))
		}
	}

	cache, err := raft.NewLogCache(512, n.logs)
	if err != nil {
		return nil, err
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, cache, n.logs, snaps, n.trans)
	if err != nil {
		return nil, fmt.Errorf("cluster: start raft: %w", err)
	}
	if n.layer != nil {
		n.layer.setHandlers(n.handleForward, n.handleJoin)
	}
	n.wg.Add(1)
	go n.maintain()
	ok = true
	lg.Info("cluster node open", "dir", cfg.Dir, "addr", string(n.trans.LocalAddr()),
		"applied_index", n.fsm.AppliedIndex())
	return n, nil
}

// catchUpFromSnapshot checks the state DB against the newest snapshot and
// the raft log. Raft runs with NoSnapshotRestoreOnStart and replays only
// entries after the newest snapshot, so if the state DB holds less than
// that snapshot (it was lost or damaged) the snapshot is restored first.
func (n *Node) catchUpFromSnapshot(snaps raft.SnapshotStore) error {
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("cluster: list snapshots: %w", err)
	}
	applied := n.fsm.AppliedIndex()
	last, _ := n.logs.LastIndex()
	var snapIndex uint64
	for _, meta := range list {
		_, rc, err := snaps.Open(meta.ID)
		if err != nil {
			n.log.Warn("snapshot unreadable; trying older", "id", meta.ID, "error", err)
			continue
		}
		snapApplied, err := snapshotAppliedIndex(rc)
		rc.Close()
		if err != nil {
			n.log.Warn("snapshot header bad; trying older", "id", meta.ID, "error", err)
			continue
		}
		snapIndex = meta.Index
		if applied >= snapApplied {
			break
		}
		n.log.Warn("state DB is behind the newest snapshot; restoring it",
			"applied_index", applied, "snapshot_index", meta.Index)
		_, rc, err = snaps.Open(meta.ID)
		if err != nil {
			return fmt.Errorf("cluster: open snapshot %s: %w", meta.ID, err)
		}
		if err := n.fsm.Restore(rc); err != nil {
			return fmt.Errorf("cluster: restore snapshot %s: %w", meta.ID, err)
		}
		applied = n.fsm.AppliedIndex()
		break
	}
	if len(list) > 0 && snapIndex == 0 {
		return fmt.Errorf("cluster: no readable snapshot among %d in %s", len(list), n.cfg.Dir)
	}
	if applied > last && applied > snapIndex {
		return fmt.Errorf("%w: state applied index %d, raft log ends at %d, newest snapshot %d",
			ErrStateAhead, applied, last, snapIndex)
	}
	return nil
}

// maintain runs periodic value-log GC on the raft DB until Close.
func (n *Node) maintain() {
	defer n.wg.Done()
	t := time.NewTicker(valueLogGCInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.logs.runValueLogGC()
		}
	}
}

// Close shuts raft down and closes both DBs. It is idempotent; later
// calls return the first call's result.
// closeWaitersBound is how long Close waits for Apply waiters after raft
// has shut down.
const closeWaitersBound = 2 * time.Second

func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return n.cerr
	}
	n.closed = true
	close(n.stop)
	var errs []error
	if err := n.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	n.wg.Wait()
	waited := make(chan struct{})
	go func() { n.waiters.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(closeWaitersBound):
		n.log.Warn("raft left an apply unanswered at shutdown; closing without it")
	}
	n.pool.closeAll()
	if n.ownTr != nil {
		if err := n.ownTr.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transport: %w", err))
		}
	}
	if n.layer != nil {
		_ = n.layer.Close() // NetworkTransport closed it already; waits for its goroutines
	}
	errs = append(errs, n.closeStores())
	n.cerr = errors.Join(errs...)
	n.log.Info("cluster node closed")
	return n.cerr
}

func (n *Node) closeStores() error {
	var errs []error
	if n.fsm != nil {
		errs = append(errs, n.fsm.Close())
	}
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	return errors.Join(errs...)
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// WaitLeader blocks until the cluster has a known leader (this node or
// another) or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if n.isClosed() {
			return ErrClosed
		}
		if addr, _ := n.raft.LeaderWithID(); addr != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: wait for leader: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the current leader's ID and address (empty if unknown).
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// Healthy reports whether raft is leader or follower with a known leader
// and the FSM is applying.
func (n *Node) Healthy() bool {
	if n.isClosed() || n.fsm.Failed() {
		return false
	}
	switch n.raft.State() {
	case raft.Leader:
		return true
	case raft.Follower:
		a, _ := n.raft.LeaderWithID()
		return a != ""
	}
	return false
}

// Apply validates and encodes cmd, commits it through raft and returns the
// FSM's response. A rejection by the FSM is returned as the error. The
// raft enqueue timeout comes from ctx's deadline (10 s without one). If
// ctx ends after the command was handed to raft, Apply returns
// ErrOutcomeUnknown: the command may still commit.
func (n *Node) Apply(ctx context.Context, cmd Command) (resp any, err error) {
	if cmd == nil {
		return nil, fmt.Errorf("%w: nil command", ErrInvalidCommand)
	}
	if obs, _ := n.applyObserver.Load().(func(CommandType, time.Duration, error)); obs != nil {
		start := time.Now()
		defer func() { obs(cmd.Type(), time.Since(start), err) }()
	}
	if err := cmd.Validate(); err != nil {
		return nil, err
	}
	data, err := Encode(cmd)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n.layer != nil && !n.IsLeader() {
		return n.forwardApply(ctx, cmd, data)
	}
	resp, _, err = n.applyLocal(ctx, cmd, data)
	return resp, err
}

// SetApplyObserver registers f to be told of every command this node
// commits through Apply (locally or forwarded to the leader): its type,
// how long the commit took and its error. Metrics use it.
func (n *Node) SetApplyObserver(f func(CommandType, time.Duration, error)) {
	n.applyObserver.Store(f)
}

// applyLocal commits data through this node's raft (it must lead) and
// returns the FSM response and the entry's index.
func (n *Node) applyLocal(ctx context.Context, cmd Command, data []byte) (any, uint64, error) {
	timeout := defaultApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, 0, context.DeadlineExceeded
		}
	}
	var err error
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, 0, ErrClosed
	}
	n.waiters.Add(1) // the waiter below; Close waits for it after raft shutdown
	n.mu.Unlock()
	f := n.raft.Apply(data, timeout)
	done := make(chan error, 1)
	go func() {
		defer n.waiters.Done()
		done <- f.Error()
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrOutcomeUnknown, cmd.Type(), ctx.Err())
	}
	if err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
			id, addr := n.Leader()
			return nil, 0, fmt.Errorf("%w (leader %q at %q): %w", ErrNotLeader, id, addr, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return nil, 0, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return nil, 0, fmt.Errorf("cluster: apply %s: %w", cmd.Type(), err)
	}
	resp := f.Response()
	if e, ok := resp.(error); ok {
		return nil, f.Index(), e
	}
	return resp, f.Index(), nil
}

// Barrier waits until every entry committed before it is applied locally
// (leader only).
func (n *Node) Barrier(ctx context.Context) error {
	timeout := defaultApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	return n.raft.Barrier(timeout).Error()
}

// Stats returns raft's stats plus the FSM's counters.
func (n *Node) Stats() map[string]string {
	s := n.raft.Stats()
	s["fsm_applied_index"] = fmt.Sprint(n.fsm.AppliedIndex())
	s["fsm_applies"] = fmt.Sprint(n.fsm.ApplyCount())
	s["fsm_skipped"] = fmt.Sprint(n.fsm.SkipCount())
	s["fsm_failed"] = fmt.Sprint(n.fsm.Failed())
	return s
}

// Raft exposes the raft instance (membership tooling, tests).
func (n *Node) Raft() *raft.Raft { return n.raft }

// FSM exposes the state machine for reads.
func (n *Node) FSM() *FSM { return n.fsm }

// AddVoter adds a voting member (leader only).
func (n *Node) AddVoter(id, addr string, timeout time.Duration) error {
	return n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout).Error()
}

// AddNonVoter adds a non-voting member (leader only).
func (n *Node) AddNonVoter(id, addr string, timeout time.Duration) error {
	return n.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeout).Error()
}

// RemoveServer removes a member (leader only).
func (n *Node) RemoveServer(id string, timeout time.Duration) error {
	return n.raft.RemoveServer(raft.ServerID(id), 0, timeout).Error()
}

// Read helpers: all read the local state DB (possibly slightly behind the
// leader on followers).

// CallRecord reads one call record.
func (n *Node) CallRecord(id string) (CallRecord, bool, error) { return n.fsm.CallRecord(id) }

// CallRecords lists call records newest first.
func (n *Node) CallRecords(f RecordFilter) ([]CallRecord, error) { return n.fsm.CallRecords(f) }

// Campaign reads one campaign.
func (n *Node) Campaign(id string) (Campaign, bool, error) { return n.fsm.Campaign(id) }

// CampaignCounters returns a campaign's counters.
func (n *Node) CampaignCounters(id string) (Counters, error) { return n.fsm.CampaignCounters(id) }

// DueContacts lists contacts due for a call.
func (n *Node) DueContacts(campaignID string, at time.Time, limit int) ([]Contact, error) {
	return n.fsm.DueContacts(campaignID, at, limit)
}

// Attempts lists a campaign's attempts.
func (n *Node) Attempts(campaignID string) ([]Attempt, error) { return n.fsm.Attempts(campaignID) }

// Campaigns lists all campaigns.
func (n *Node) Campaigns() ([]Campaign, error) { return n.fsm.Campaigns() }

// Contact reads one contact.
func (n *Node) Contact(campaignID, id string) (Contact, bool, error) {
	return n.fsm.Contact(campaignID, id)
}

// Contacts lists a campaign's contacts.
func (n *Node) Contacts(campaignID string) ([]Contact, error) { return n.fsm.Contacts(campaignID) }

// OpenAttempts lists attempts box claimed without a result.
func (n *Node) OpenAttempts(box string) ([]Attempt, error) { return n.fsm.OpenAttempts(box) }

// StagedImports lists imports with staged, uncommitted chunks.
func (n *Node) StagedImports() ([]string, error) { return n.fsm.StagedImports() }

// IsDNC reports whether a number is on the global or campaign DNC list.
func (n *Node) IsDNC(phone, campaignID string) (bool, error) { return n.fsm.IsDNC(phone, campaignID) }
