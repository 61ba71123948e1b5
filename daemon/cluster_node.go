package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"callbox/cluster"
	"callbox/daemon/config"
	"callbox/daemon/sipua"
)

// clusterTLSDir is where the box's cluster CA and certificate live.
func clusterTLSDir(cfg *config.Config) string {
	if cfg.Cluster.TLSDir != "" {
		return cfg.Cluster.TLSDir
	}
	return filepath.Join(cfg.Box.DataDir, "cluster", "tls")
}

// openClusterNode opens the raft node. With cluster TLS material (after
// `callboxctl cluster init` or `join`) the node listens with mutual TLS
// only and forwards writes to the leader; without it the box is a
// one-node cluster on plain TCP (bind it to loopback). A box that joined
// and has no raft state yet asks the member named in its join token to
// add it, retrying up to cluster.join_timeout.
func openClusterNode(ctx context.Context, cfg *config.Config, log *slog.Logger) (*cluster.Node, error) {
	nodeID := cfg.Cluster.NodeID
	if nodeID == "" {
		nodeID = cfg.Box.ID
	}
	tlsDir := clusterTLSDir(cfg)
	mat, err := cluster.LoadTLS(tlsDir)
	if errors.Is(err, cluster.ErrNoTLS) {
		mat, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster.tls_dir: %w", err)
	}
	var join cluster.JoinInfo
	joined := false
	if mat != nil {
		if mat.NodeID != nodeID {
			return nil, fmt.Errorf("cluster.tls_dir: certificate in %s is for node %q, this box is %q (cluster.node_id)", tlsDir, mat.NodeID, nodeID)
		}
		if join, joined, err = cluster.ReadJoinInfo(tlsDir); err != nil {
			return nil, err
		}
	}
	hb := cfg.Cluster.HeartbeatTimeout
	node, err := cluster.Open(cluster.Config{
		Dir: filepath.Join(cfg.Box.DataDir, "cluster"), NodeID: nodeID,
		BindAddr: cfg.Cluster.Bind, Advertise: cfg.Cluster.Advertise, TLS: mat,
		Bootstrap: cfg.Cluster.Bootstrap && !joined, Logger: log.With("component", "raft"),
		HeartbeatTimeout: hb, ElectionTimeout: cfg.Cluster.ElectionTimeout, LeaderLeaseTimeout: hb / 2,
	})
	if err != nil {
		return nil, err
	}
	if joined && !node.HasState() {
		jctx, cancel := context.WithTimeout(ctx, cfg.Cluster.JoinTimeout)
		err := node.RequestAdd(jctx, join.Via, join.Voter)
		cancel()
		if err != nil {
			node.Close()
			return nil, fmt.Errorf("join the cluster through %s: %w", join.Via, err)
		}
	}
	return node, nil
}

// clusterRuntime keeps this box's lease and, on the leader, expires the
// leases of boxes that stopped renewing. Its Fence is what the dialler
// consults before every INVITE.
type clusterRuntime struct {
	node   *cluster.Node
	fence  *cluster.Fence
	cfg    config.Cluster
	log    *slog.Logger
	now    func() time.Time
	status func() cluster.BoxStatus

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// boxStatus reports the box's lines and trunk health for lease renewals.
func boxStatus(ua *sipua.UA, active func() int, maxActive func() int, apiAddr, raftAddr string) func() cluster.BoxStatus {
	return func() cluster.BoxStatus {
		st := cluster.BoxStatus{RaftAddr: raftAddr, APIAddr: apiAddr, Active: active(), Lines: maxActive()}
		if ua != nil {
			for _, t := range ua.Trunks() {
				if t.Up && (t.Auth != "register" || t.Registered) {
					st.TrunksUp++
				}
			}
		}
		return st
	}
}

func startClusterRuntime(node *cluster.Node, box string, cfg config.Cluster, log *slog.Logger, status func() cluster.BoxStatus) *clusterRuntime {
	r := &clusterRuntime{node: node, cfg: cfg, log: log, now: time.Now, status: status, stop: make(chan struct{})}
	r.fence = node.NewFence(box, cfg.LeaseTTL, r.now)
	r.wg.Add(1)
	go r.loop()
	return r
}

func (r *clusterRuntime) loop() {
	defer r.wg.Done()
	every := r.cfg.LeaseTTL / 3
	t := time.NewTicker(every)
	defer t.Stop()
	lost := false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), every)
		if _, err := r.fence.Renew(ctx, r.status()); err != nil {
			if !lost && !r.fence.Valid() {
				lost = true
				r.log.Warn("lease lost: this box dials nothing until it renews", "error", err)
			}
		} else if lost {
			lost = false
			r.log.Info("lease renewed again")
		}
		if r.node.IsLeader() {
			r.expire(ctx)
		}
		cancel()
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
	}
}

// expire commits ExpireLeases when some active box is past its lease and
// grace (checked on the local registry first, so idle clusters write nothing).
func (r *clusterRuntime) expire(ctx context.Context) {
	now := r.now()
	boxes, err := r.node.FSM().Boxes()
	if err != nil {
		return
	}
	due := false
	for _, b := range boxes {
		if b.State == cluster.BoxActive && b.LeaseUntil.Add(r.cfg.LeaseGrace).Before(now) {
			due = true
		}
	}
	if !due {
		return
	}
	resp, err := r.node.Apply(ctx, &cluster.ExpireLeases{At: now, Grace: r.cfg.LeaseGrace, CallbackWithin: r.cfg.CallbackWithin})
	if err != nil {
		r.log.Warn("expire leases failed", "error", err)
		return
	}
	if res, ok := resp.(cluster.ExpireResult); ok && len(res.Boxes) > 0 {
		r.log.Warn("box leases expired; their calls were handed to other boxes", "boxes", res.Boxes,
			"requeued", res.Requeued, "callbacks", res.Callbacks)
	}
}

// Close stops renewing (the lease then lapses) and waits. Idempotent.
func (r *clusterRuntime) Close() {
	r.closeOnce.Do(func() {
		close(r.stop)
		r.wg.Wait()
		r.fence.Revoke()
	})
}
