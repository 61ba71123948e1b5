package campaign

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"callbox/cluster"
)

// midRun is a campaign seen mid-run: two calls finished (one answered, one
// busy) and two calls up, both already answered in their records.
func midRun(t0 time.Time) (*cluster.Campaign, []cluster.Attempt, map[string]cluster.CallRecord) {
	k := &cluster.Campaign{ID: "c1"}
	atts := []cluster.Attempt{
		{ID: "a1", State: cluster.AttemptFinished, Disposition: "answered", FinishedAt: t0.Add(30 * time.Second)},
		{ID: "a2", State: cluster.AttemptFinished, Disposition: "busy", FinishedAt: t0.Add(70 * time.Second)},
		{ID: "a3", State: cluster.AttemptClaimed},
		{ID: "a4", State: cluster.AttemptClaimed},
		{ID: "a5", State: cluster.AttemptFinished, Disposition: DispNotDialled},
	}
	recs := map[string]cluster.CallRecord{
		"a1": {ID: "a1", AnswerAt: t0, EndAt: t0.Add(20 * time.Second), Outcome: OutcomeConverted},
		"a2": {ID: "a2", EndAt: t0.Add(70 * time.Second), Disposition: "busy"},
		"a3": {ID: "a3", AnswerAt: t0.Add(80 * time.Second)}, // up: answered, no end yet
		"a4": {ID: "a4", AnswerAt: t0.Add(85 * time.Second)},
	}
	return k, atts, recs
}

func TestReportMidRunAnswerRate(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	k, atts, recs := midRun(t0)
	rep := BuildReport(k, atts, func(id string) (cluster.CallRecord, bool) { r, ok := recs[id]; return r, ok })
	f := rep.Total
	if f.Attempts != 4 || f.Finished != 2 || f.InProgress != 2 || f.Answered != 1 || f.Humans != 1 || f.Conversions != 1 {
		t.Fatalf("figures %+v", f)
	}
	if f.AnswerRate != 0.5 || f.ConversionRate != 1 || f.AvgHandleSec != 20 {
		t.Errorf("rates %+v", f)
	}
	// Before the fix the two calls up counted as answered over 2 finished: 150%.
	if f.AnswerRate > 1 || f.ConversionRate > 1 || f.TransferRate > 1 || f.MachineRate > 1 {
		t.Errorf("a rate above 100%%: %+v", f)
	}
	if rep.Dispositions["answered"] != 1 || rep.Dispositions["busy"] != 1 || len(rep.Dispositions) != 2 {
		t.Errorf("dispositions %v", rep.Dispositions)
	}
	// The calls end: now they count.
	atts[2].State, atts[2].Disposition = cluster.AttemptFinished, "answered"
	atts[3].State, atts[3].Disposition = cluster.AttemptFinished, "machine"
	r3, r4 := recs["a3"], recs["a4"]
	r3.EndAt, r4.EndAt, r4.AMD = t0.Add(90*time.Second), t0.Add(95*time.Second), "machine"
	recs["a3"], recs["a4"] = r3, r4
	f = BuildReport(k, atts, func(id string) (cluster.CallRecord, bool) { r, ok := recs[id]; return r, ok }).Total
	if f.Finished != 4 || f.Answered != 3 || f.Machines != 1 || f.InProgress != 0 || f.AnswerRate != 0.75 {
		t.Errorf("after the end %+v", f)
	}
}

func TestSeriesBuckets(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	k, atts, recs := midRun(t0)
	get := func(id string) (cluster.CallRecord, bool) { r, ok := recs[id]; return r, ok }
	s, err := BuildSeries(k, atts, get, time.Minute, time.Time{}, time.Time{}, t0.Add(3*time.Minute+5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if s.StepSec != 60 || !s.From.Equal(t0) || len(s.Points) != 4 || !s.Until.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("series %+v", s)
	}
	p := s.Points
	if p[0].Finished != 1 || p[0].Answered != 1 || p[0].AnswerRate != 1 || p[0].Conversions != 1 ||
		p[1].Finished != 1 || p[1].Answered != 0 || p[1].AnswerRate != 0 || p[2].Finished != 0 || p[3].Finished != 0 {
		t.Errorf("points %+v", p)
	}
	for i, pt := range p {
		if pt.InProgress != 0 || pt.AnswerRate > 1 || !pt.Start.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("point %d %+v", i, pt)
		}
	}
	// Explicit range, automatic step.
	s, err = BuildSeries(k, atts, get, 0, t0.Add(-time.Hour), t0.Add(5*time.Hour), t0)
	if err != nil || s.StepSec != 300 || len(s.Points) != 73 {
		t.Errorf("auto step: %v %d points, step %d", err, len(s.Points), s.StepSec)
	}
	// No finished attempt: one empty bucket at now.
	s, err = BuildSeries(k, nil, get, time.Minute, time.Time{}, time.Time{}, t0)
	if err != nil || len(s.Points) != 1 || s.Points[0].Finished != 0 {
		t.Errorf("empty: %v %+v", err, s)
	}
	for _, bad := range []struct {
		step         time.Duration
		since, until time.Time
	}{
		{-time.Minute, time.Time{}, time.Time{}},
		{time.Millisecond, time.Time{}, time.Time{}},
		{time.Minute, t0, t0.Add(-time.Second)},
		{time.Second, t0, t0.Add(24 * time.Hour)},
	} {
		if _, err := BuildSeries(k, atts, get, bad.step, bad.since, bad.until, t0); err == nil {
			t.Errorf("step %s %s..%s: no error", bad.step, bad.since, bad.until)
		} else if !errors.Is(err, ErrBadSeries) {
			t.Errorf("error %v is not ErrBadSeries", err)
		}
	}
}

// BenchmarkSeries measures the series of a 10,000-attempt campaign over
// one day in 1-minute buckets (what the dashboard asks for each few
// seconds while a campaign runs; records come from a map here, from
// Badger in the daemon).
func BenchmarkSeries(b *testing.B) {
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	k := &cluster.Campaign{ID: "big"}
	atts := make([]cluster.Attempt, 10_000)
	recs := make(map[string]cluster.CallRecord, len(atts))
	for i := range atts {
		id := "a" + strconv.Itoa(i)
		end := t0.Add(time.Duration(i) * 8 * time.Second)
		atts[i] = cluster.Attempt{ID: id, State: cluster.AttemptFinished, Disposition: "answered", FinishedAt: end}
		recs[id] = cluster.CallRecord{ID: id, AnswerAt: end.Add(-30 * time.Second), EndAt: end, Outcome: OutcomeConverted}
	}
	get := func(id string) (cluster.CallRecord, bool) { r, ok := recs[id]; return r, ok }
	b.ReportAllocs()
	for b.Loop() {
		s, err := BuildSeries(k, atts, get, time.Minute, time.Time{}, time.Time{}, t0.Add(23*time.Hour))
		if err != nil || len(s.Points) != 1381 {
			b.Fatalf("%v %d", err, len(s.Points))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/series")
}
