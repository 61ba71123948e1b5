package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTLSClusterApply commits call records across a three-box mutual
// TLS cluster on loopback, 64 writers spread over all boxes (followers
// forward), so raft batches concurrent entries.
func BenchmarkTLSClusterApply(b *testing.B) {
	nodes, _ := tlsClusterB(b, 3)
	var next, elections atomic.Int64
	const writers = 64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(n *Node) {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				for {
					_, err := n.Apply(ctx, rec(fmt.Sprintf("b%d", i), t0, ""))
					if err == nil {
						break
					}
					if !errorsIs(err, ErrNotLeader) || ctx.Err() != nil {
						b.Error(err)
						break
					}
					elections.Add(1) // leadership moved under load: retry
				}
				cancel()
			}
		}(nodes[w%3])
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
	b.ReportMetric(float64(elections.Load()), "not-leader-retries")
}
