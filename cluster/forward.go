package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Forwarding: a follower hands writes and membership changes to the leader
// over a TLS forward stream ('F'); the leader answers with the FSM response
// and the raft index, and the follower waits until its own FSM has applied
// that index, so a box reads its own writes.

// Forward operations.
const (
	opApply  = "apply"
	opAdd    = "add"    // add ID at Addr as voter (Voter) or non-voter
	opRemove = "remove" // remove ID from the configuration and the registry
	opVerify = "verify" // leader confirms it still leads (raft VerifyLeader)
)

type fwdReq struct {
	Op        string
	Cmd       []byte `json:",omitempty"`
	ID, Addr  string `json:",omitempty"`
	Voter     bool   `json:",omitempty"`
	TimeoutMs int64  `json:",omitempty"`
}

type fwdResp struct {
	Kind  string          `json:",omitempty"`
	Body  json.RawMessage `json:",omitempty"`
	Index uint64          `json:",omitempty"`
	Err   *wireError      `json:",omitempty"`
}

// wireError carries an error across boxes keeping its sentinel.
type wireError struct {
	Sentinel string `json:",omitempty"`
	Msg      string
}

// remoteError is an error returned by another box; it unwraps to the
// sentinel the remote error wrapped.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

var sentinels = map[string]error{}

func init() {
	for _, e := range []error{ErrClosed, ErrNotLeader, ErrOutcomeUnknown, ErrInvalidCommand, ErrUnknownCommand,
		ErrCommandTooLarge, ErrFSMFailed, ErrSnapshotCorrupt, ErrStateAhead, ErrNotFound, ErrExists,
		ErrBadTransition, ErrCampaignNotActive, ErrDNC, ErrNotDue, ErrAlreadyClaimed, ErrMaxAttempts,
		ErrStaleToken, ErrAttemptNotOpen, ErrImportConflict, ErrLeaseExpired, ErrFenced, ErrNoTLS, ErrJoinRefused} {
		sentinels[e.Error()] = e
	}
}

func wireErr(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Msg: err.Error()}
	for name, s := range sentinels {
		if errors.Is(err, s) {
			w.Sentinel = name
			break
		}
	}
	return w
}

func (w *wireError) err() error {
	if w == nil {
		return nil
	}
	return &remoteError{sentinel: sentinels[w.Sentinel], msg: w.Msg}
}

// Response kinds that cross the wire; other response types arrive as
// json.RawMessage.
func encodeResp(v any) (kind string, body json.RawMessage, err error) {
	switch v.(type) {
	case nil:
		return "nil", nil, nil
	case int:
		kind = "int"
	case Campaign:
		kind = "Campaign"
	case Attempt:
		kind = "Attempt"
	case Box:
		kind = "Box"
	case ExpireResult:
		kind = "ExpireResult"
	case ClaimBatchResult:
		kind = "ClaimBatchResult"
	default:
		kind = fmt.Sprintf("%T", v)
	}
	body, err = json.Marshal(v)
	return kind, body, err
}

func decodeResp(kind string, body json.RawMessage) (any, error) {
	switch kind {
	case "nil", "":
		return nil, nil
	case "int":
		return unmarshalAs[int](body)
	case "Campaign":
		return unmarshalAs[Campaign](body)
	case "Attempt":
		return unmarshalAs[Attempt](body)
	case "Box":
		return unmarshalAs[Box](body)
	case "ExpireResult":
		return unmarshalAs[ExpireResult](body)
	case "ClaimBatchResult":
		return unmarshalAs[ClaimBatchResult](body)
	}
	return body, nil
}

// unmarshalAs decodes body as a T, answered by value as the FSM does.
func unmarshalAs[T any](body json.RawMessage) (any, error) {
	var v T
	err := json.Unmarshal(body, &v)
	return v, err
}

// fwdPool keeps idle forward streams per leader address.
type fwdPool struct {
	mu   sync.Mutex
	idle map[string][]net.Conn // guarded by mu
}

func (p *fwdPool) get(addr string) net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cs := p.idle[addr]; len(cs) > 0 {
		c := cs[len(cs)-1]
		p.idle[addr] = cs[:len(cs)-1]
		return c
	}
	return nil
}

func (p *fwdPool) put(addr string, c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = map[string][]net.Conn{}
	}
	if len(p.idle[addr]) >= 8 {
		c.Close()
		return
	}
	p.idle[addr] = append(p.idle[addr], c)
}

func (p *fwdPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cs := range p.idle {
		for _, c := range cs {
			c.Close()
		}
	}
	p.idle = nil
}

// errNotSent marks a forward that never reached the leader (safe to retry).
var errNotSent = errors.New("cluster: forward not sent")

// roundTrip sends one request to addr. An error wrapping errNotSent means
// the leader never saw it.
func (n *Node) roundTrip(ctx context.Context, addr string, req *fwdReq) (*fwdResp, error) {
	for attempt := 0; attempt < 2; attempt++ {
		c := n.pool.get(addr)
		pooled := c != nil
		if c == nil {
			var err error
			if c, err = n.layer.dial(ctx, addr, 0, streamForward); err != nil {
				return nil, fmt.Errorf("%w: dial leader %s: %v", errNotSent, addr, err)
			}
		}
		if dl, ok := ctx.Deadline(); ok {
			c.SetDeadline(dl)
		} else {
			c.SetDeadline(time.Now().Add(defaultApplyTimeout))
		}
		if err := writeFrame(c, req); err != nil {
			c.Close()
			if pooled {
				continue // a stale idle stream: retry on a fresh one
			}
			return nil, fmt.Errorf("%w: write to leader %s: %v", errNotSent, addr, err)
		}
		var resp fwdResp
		if err := readFrame(c, &resp); err != nil {
			c.Close()
			return nil, fmt.Errorf("cluster: forward to leader %s: %w", addr, err)
		}
		c.SetDeadline(time.Time{})
		n.pool.put(addr, c)
		return &resp, nil
	}
	return nil, fmt.Errorf("%w: leader %s keeps closing streams", errNotSent, addr)
}

// forward sends req to the current leader, retrying while there is none or
// the target is not (or no longer) the leader and the request was not
// seen. It returns the leader's response.
func (n *Node) forward(ctx context.Context, req *fwdReq) (*fwdResp, error) {
	self := string(n.trans.LocalAddr())
	for {
		if n.isClosed() {
			return nil, ErrClosed
		}
		_, addr := n.Leader()
		if addr != "" && addr != self {
			if dl, ok := ctx.Deadline(); ok {
				req.TimeoutMs = time.Until(dl).Milliseconds()
			}
			resp, err := n.roundTrip(ctx, addr, req)
			if err == nil && (resp.Err == nil || resp.Err.Sentinel != ErrNotLeader.Error()) {
				return resp, nil
			}
			if err != nil && !errors.Is(err, errNotSent) {
				return nil, fmt.Errorf("%w: %s: %w", ErrOutcomeUnknown, req.Op, err)
			}
			if err != nil {
				n.log.Debug("forward to leader failed; retrying", "leader", addr, "error", err)
			}
		} else if addr == self && n.IsLeader() {
			return n.serveForwardLocal(ctx, req), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: no reachable leader for %s: %w", ErrNotLeader, req.Op, ctx.Err())
		case <-n.stop:
			return nil, ErrClosed
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// forwardApply commits data through the leader and waits until the local
// FSM has applied it.
func (n *Node) forwardApply(ctx context.Context, cmd Command, data []byte) (any, error) {
	resp, err := n.forward(ctx, &fwdReq{Op: opApply, Cmd: data})
	if err != nil {
		return nil, err
	}
	if resp.Err != nil {
		return nil, resp.Err.err()
	}
	if err := n.waitApplied(ctx, resp.Index); err != nil {
		return nil, fmt.Errorf("%w: %s committed at index %d but not yet applied here: %w", ErrOutcomeUnknown, cmd.Type(), resp.Index, err)
	}
	return decodeResp(resp.Kind, resp.Body)
}

// waitApplied blocks until the local FSM has applied index.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	for n.fsm.AppliedIndex() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stop:
			return ErrClosed
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// handleForward serves a forward stream request from peer (a box with a
// cluster certificate).
func (n *Node) handleForward(peer string, req *fwdReq) *fwdResp {
	timeout := time.Duration(req.TimeoutMs) * time.Millisecond
	if timeout <= 0 || timeout > defaultApplyTimeout {
		timeout = defaultApplyTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if !n.IsLeader() {
		id, addr := n.Leader()
		return &fwdResp{Err: wireErr(fmt.Errorf("%w (leader %q at %q)", ErrNotLeader, id, addr))}
	}
	n.log.Debug("forwarded request", "peer", peer, "op", req.Op)
	return n.serveForwardLocal(ctx, req)
}

// serveForwardLocal runs req on this node, which must be the leader.
func (n *Node) serveForwardLocal(ctx context.Context, req *fwdReq) *fwdResp {
	fail := func(err error) *fwdResp { return &fwdResp{Err: wireErr(err)} }
	timeout := defaultApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	switch req.Op {
	case opApply:
		cmd, err := Decode(req.Cmd)
		if err != nil {
			return fail(err)
		}
		resp, idx, err := n.applyLocal(ctx, cmd, req.Cmd)
		if err != nil {
			return fail(err)
		}
		kind, body, err := encodeResp(resp)
		if err != nil {
			return fail(fmt.Errorf("cluster: encode %s response: %w", cmd.Type(), err))
		}
		return &fwdResp{Kind: kind, Body: body, Index: idx}
	case opAdd:
		if err := checkID("ID", req.ID); err != nil {
			return fail(err)
		}
		if _, _, err := net.SplitHostPort(req.Addr); err != nil {
			return fail(invalid("Addr %q is not host:port", req.Addr))
		}
		var f raft.IndexFuture
		if req.Voter {
			f = n.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, timeout)
		} else {
			f = n.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.Addr), 0, timeout)
		}
		if err := f.Error(); err != nil {
			return fail(raftErr("add "+req.ID, err))
		}
		n.log.Info("member added", "id", req.ID, "addr", req.Addr, "voter", req.Voter)
		return &fwdResp{Kind: "nil", Index: f.Index()}
	case opRemove:
		if err := checkID("ID", req.ID); err != nil {
			return fail(err)
		}
		f := n.raft.RemoveServer(raft.ServerID(req.ID), 0, timeout)
		if err := f.Error(); err != nil {
			return fail(raftErr("remove "+req.ID, err))
		}
		n.log.Info("member removed", "id", req.ID)
		return &fwdResp{Kind: "nil", Index: f.Index()}
	case opVerify:
		if err := n.raft.VerifyLeader().Error(); err != nil {
			return fail(raftErr("verify leader", err))
		}
		return &fwdResp{Kind: "nil"}
	}
	return fail(invalid("unknown forward op %q", req.Op))
}

func raftErr(what string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %s: %v", ErrNotLeader, what, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %s: %v", ErrClosed, what, err)
	}
	return fmt.Errorf("cluster: %s: %w", what, err)
}
