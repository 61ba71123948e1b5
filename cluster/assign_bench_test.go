package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkTLSClusterClaimBatch measures the leader's claim rate across a
// three-box mutual TLS cluster on loopback when claims travel batched,
// ClaimBatch of 64 or 256 per raft entry, 4 planners in flight (the dialler sends
// one batch per round; several campaigns' rounds overlap). The figure is
// claims committed per second (each a full ClaimAttempt: campaign,
// contact, DNC and lease checks, attempt and index writes).
func BenchmarkTLSClusterClaimBatch(b *testing.B) {
	for _, per := range []int{64, 256} {
		b.Run(fmt.Sprint(per), func(b *testing.B) { benchClaimBatch(b, per) })
	}
}

func benchClaimBatch(b *testing.B, per int) {
	nodes, _ := tlsClusterB(b, 3)
	var lead *Node
	for _, n := range nodes {
		if n.IsLeader() {
			lead = n
		}
	}
	if lead == nil {
		b.Fatal("no leader")
	}
	ctx := context.Background()
	const writers = 4
	total := b.N * per
	if _, err := lead.Apply(ctx, &CreateCampaign{Campaign: testCampaign("camp"), At: t0}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < total; i += MaxChunkContacts {
		cs := contacts(min(MaxChunkContacts, total-i), fmt.Sprintf("k%d-", i))
		if _, err := lead.Apply(ctx, &ImportContacts{CampaignID: "camp", ImportID: fmt.Sprintf("imp%d", i), Contacts: cs, At: t0}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := lead.Apply(ctx, &SetCampaignState{ID: "camp", State: CampaignRunning, At: t0}); err != nil {
		b.Fatal(err)
	}
	for _, box := range []string{"box0", "box1", "box2"} {
		if _, err := lead.Apply(ctx, renew(box, t0, time.Minute, 100000, 0, 1)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	var mu sync.Mutex
	committed := 0
	var wg sync.WaitGroup
	next := make(chan int)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var cs []ClaimAttempt
				for j := range per {
					m := i*per + j
					chunk := m / MaxChunkContacts * MaxChunkContacts
					cs = append(cs, ClaimAttempt{AttemptID: fmt.Sprintf("a%d", m), CampaignID: "camp",
						ContactID: fmt.Sprintf("k%d-%04d", chunk, m-chunk), Box: fmt.Sprintf("box%d", m%3), Token: 1, At: t0})
				}
				// Leadership may move under load on a shared machine: retry
				// through any box (followers forward); a retried batch
				// finds the claims that did commit as existing attempts.
				var res ClaimBatchResult
				for try := 0; ; try++ {
					resp, err := nodes[try%3].Apply(ctx, &ClaimBatch{Claims: cs})
					if err == nil {
						res = resp.(ClaimBatchResult)
						break
					}
					if try > 50 {
						b.Error(err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				n := 0
				for _, e := range res.Errors {
					if e == "" || strings.Contains(e, ErrExists.Error()) {
						n++
					}
				}
				mu.Lock()
				committed += n
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if committed != total {
		b.Fatalf("committed %d of %d claims", committed, total)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "claims/s")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "entries/s")
}
