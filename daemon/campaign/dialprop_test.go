package campaign

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"callbox/cluster"
)

// TestDialDecisionsProperty drives the campaign rules against a real
// one-node cluster with an injected clock stepping over two weeks that
// include DST changes in several zones, and checks, with an oracle that
// does not use Calendar: no claim outside the callee's window, no claim
// of a DNC number, retries never before their delay, never more attempts
// than the cap.
func TestDialDecisionsProperty(t *testing.T) {
	n := openNode(t)
	k := testCampaign("p1")
	k.Windows = []cluster.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat"}, Start: "09:00", End: "20:00"}}
	k.Holidays = []string{"2026-03-10"}
	k.RetryRules = map[string]cluster.RetryRule{"busy": {Action: "retry", Delay: 10 * time.Minute}, "no-answer": {Action: "retry", Delay: 2 * time.Hour}}
	apply(t, n, cluster.CreateCampaign{Campaign: k, At: t0})
	rng := rand.New(rand.NewPCG(7, 7))
	var contacts []cluster.Contact
	zoneOf := map[string]string{}
	for i := 0; i < 60; i++ {
		z := testZones[i%len(testZones)]
		phone := fmt.Sprintf("+86138%08d", i)
		c := cluster.Contact{ID: ContactID(phone), Phone: phone, Timezone: z, Value: float64(rng.IntN(100))}
		contacts = append(contacts, c)
		zoneOf[c.ID] = z
	}
	apply(t, n, cluster.ImportContacts{CampaignID: "p1", ImportID: "i1", Contacts: contacts, At: t0})
	dnc := map[string]bool{}
	for i := 0; i < 60; i += 7 {
		apply(t, n, cluster.AddDNC{Scope: cluster.ScopeGlobal, Phone: contacts[i].Phone, At: t0})
		dnc[contacts[i].ID] = true
	}
	apply(t, n, cluster.SetCampaignState{ID: "p1", State: cluster.CampaignRunning, At: t0})
	k, _, _ = n.Campaign("p1")
	cal, _ := NewCalendar(k.Windows, k.Holidays)
	days := map[time.Weekday]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true}
	hol := map[string]bool{"2026-03-10": true}
	lastEnd := map[string]time.Time{}
	lastDelay := map[string]time.Duration{}
	attempts := map[string]int{}
	disps := []string{"busy", "no-answer", "answered", "busy", "failed"}
	token := uint64(0)
	claims := 0
	ctx := context.Background()
	for now := t0; now.Before(t0.Add(14 * 24 * time.Hour)); now = now.Add(time.Duration(5+rng.IntN(20)) * time.Minute) {
		due, err := n.DueContacts("p1", now, 100)
		if err != nil {
			t.Fatal(err)
		}
		Order(&k, nil, due, now, func(c *cluster.Contact) []*time.Location { return Zones(&k, c) })
		for _, c := range due {
			if !cal.OpenAll(now, Zones(&k, &c)) {
				continue
			}
			token++
			_, err := n.Apply(ctx, cluster.ClaimAttempt{AttemptID: fmt.Sprintf("a%d", token), CampaignID: "p1", ContactID: c.ID, Box: "b", Token: token, At: now})
			if errors.Is(err, cluster.ErrDNC) || errors.Is(err, cluster.ErrMaxAttempts) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			claims++
			loc, _ := LoadZone(zoneOf[c.ID])
			if !oracle(now, loc, days, 9*60, 20*60, hol) {
				t.Fatalf("claimed %s at %s = local %s: outside the window", c.ID, now, now.In(loc))
			}
			if dnc[c.ID] {
				t.Fatalf("claimed DNC contact %s", c.ID)
			}
			if e, ok := lastEnd[c.ID]; ok && now.Before(e.Add(lastDelay[c.ID])) {
				t.Fatalf("%s retried at %s, before %s + %s", c.ID, now, e, lastDelay[c.ID])
			}
			attempts[c.ID]++
			if attempts[c.ID] > k.MaxAttempts {
				t.Fatalf("%s: attempt %d over the cap %d", c.ID, attempts[c.ID], k.MaxAttempts)
			}
			end := now.Add(time.Duration(rng.IntN(120)) * time.Second)
			disp := disps[rng.IntN(len(disps))]
			dec := Decide(&k, disp, attempts[c.ID], end, time.Time{})
			apply(t, n, cluster.FinishAttempt{AttemptID: fmt.Sprintf("a%d", token), Disposition: disp, At: end, Outcome: dec.Outcome, NextAttemptAt: dec.Next})
			lastEnd[c.ID], lastDelay[c.ID] = end, RetryRuleFor(&k, disp).Delay
		}
	}
	if claims < 60 {
		t.Fatalf("only %d claims in two weeks: the property test did not exercise the dialler", claims)
	}
	t.Logf("%d claims", claims)
}

func TestVariantDeterministicAndWeighted(t *testing.T) {
	k := testCampaign("v")
	k.Variants = []cluster.Variant{{Name: "a", Weight: 1, FlowID: "fa"}, {Name: "b", Weight: 3, FlowID: "fb"}}
	count := map[string]int{}
	for i := 0; i < 4000; i++ {
		id := ContactID(fmt.Sprintf("+86138%08d", i))
		v1, _ := PickVariant(&k, id)
		v2, _ := PickVariant(&k, id)
		if v1.Name != v2.Name {
			t.Fatal("variant choice is not deterministic")
		}
		count[v1.Name]++
	}
	if count["b"] < 2700 || count["b"] > 3300 {
		t.Fatalf("weights 1:3 gave %v", count)
	}
}

func TestTwoProportionZ(t *testing.T) {
	// 200/1000 vs 250/1000: z about 2.68, p about 0.0074
	z, p := TwoProportionZ(200, 1000, 250, 1000)
	if z < 2.6 || z > 2.75 || p < 0.006 || p > 0.009 {
		t.Fatalf("z %g p %g", z, p)
	}
	if _, p := TwoProportionZ(0, 0, 1, 2); p != 1 {
		t.Fatal("undefined test must give p=1")
	}
}

func TestPacerAbandonCapAndAgents(t *testing.T) {
	p := NewPacer("predictive", 100, 100, 0, 2, 0.03)
	now := t0
	for i := 0; i < 40; i++ { // history: 1 in 4 answered
		p.Release(now, "t", i%4 == 0, false, false)
		p.active++ // Release decremented a line never acquired
	}
	now = now.Add(time.Second) // fill the calls-per-second bucket
	if a := p.Allowance(now); a < 4 {
		t.Fatalf("predictive with 2 free agents and 25%% answers allows %d lines, want over-dial", a)
	}
	p.Release(now, "t", true, false, true) // one abandon over 11 answers > 3%
	p.active++
	if a := p.Allowance(now); a > 2 {
		t.Fatalf("over the abandon cap the pacer still over-dials: %d", a)
	}
	if a := p.Allowance(now.Add(AbandonWindow + time.Minute)); a < 2 {
		t.Fatalf("after the window the pacer allows %d", a)
	}
	q := NewPacer("progressive", 10, 100, 0, 1, 0)
	if !q.Acquire(now, "t") || q.Acquire(now, "t") {
		t.Fatal("progressive with one agent must allow exactly one line")
	}
	if !q.Answered(now) || q.Answered(now) {
		t.Fatal("second answer must find no agent")
	}
}

// BenchmarkDialDecisions measures the dialler's per-contact decision: order
// 200 due contacts, window check in the callee's zone, pacing, variant.
func BenchmarkDialDecisions(b *testing.B) {
	k := testCampaign("b")
	k.Variants = []cluster.Variant{{Name: "a", Weight: 1, FlowID: "f"}, {Name: "b", Weight: 1, FlowID: "g"}}
	k.Priority = cluster.Priority{GoldenHours: []cluster.Window{{Start: "18:00", End: "20:00"}}, ValueBoost: 10}
	due := make([]cluster.Contact, 200)
	for i := range due {
		p := fmt.Sprintf("+86138%08d", i)
		due[i] = cluster.Contact{ID: ContactID(p), Phone: p, Value: float64(i % 17), Callback: i%13 == 0}
	}
	now := time.Date(2026, 3, 2, 4, 0, 0, 0, time.UTC) // 12:00 in Shanghai
	b.ResetTimer()
	decisions := 0
	for i := 0; i < b.N; i++ {
		cal, _ := NewCalendar(k.Windows, k.Holidays)
		zones := func(c *cluster.Contact) []*time.Location { return Zones(&k, c) }
		cs := append([]cluster.Contact(nil), due...)
		Order(&k, GoldenCalendar(&k), cs, now, zones)
		p := NewPacer("agentless", 1000, 1000, 0, 0, 0)
		for j := range cs {
			if cal.OpenAll(now, zones(&cs[j])) && p.Acquire(now, "t") {
				PickVariant(&k, cs[j].ID)
			}
			decisions++
		}
	}
	b.ReportMetric(float64(decisions)/b.Elapsed().Seconds(), "decisions/s")
}
