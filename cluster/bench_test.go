package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkApplyBatched measures commands/s through raft (synced log) and
// the batching FSM with many concurrent callers on one node.
func BenchmarkApplyBatched(b *testing.B) {
	n := openNode(b, b.TempDir())
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var seq atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := n.Apply(ctx, rec(fmt.Sprintf("bench-%d", i), t0.Add(time.Duration(i)), "camp")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
}

// BenchmarkFSMApplyBatch measures the FSM alone: 256 call records per batch.
func BenchmarkFSMApplyBatch(b *testing.B) {
	h := newFSM(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmds := make([]Command, 256)
		for j := range cmds {
			cmds[j] = rec(fmt.Sprintf("r-%d-%d", i, j), t0, "camp")
		}
		h.apply(cmds...)
	}
	b.ReportMetric(float64(b.N*256)/b.Elapsed().Seconds(), "cmds/s")
}
