package campaign

import (
	"errors"
	"testing"
	"time"

	"callbox/cluster"
)

// FuzzSeries feeds BuildSeries arbitrary steps and ranges (as the API's
// query parameters can) and finish times: it never panics, answers either
// ErrBadSeries or a series of at most MaxSeriesPoints contiguous buckets
// holding every finished attempt in range, with no rate above 1.
func FuzzSeries(f *testing.F) {
	f.Add(int64(60e9), int64(0), int64(0), int64(30e9), int64(70e9), true)
	f.Add(int64(0), int64(-3600e9), int64(5*3600e9), int64(1), int64(2), false)
	f.Add(int64(1e9), int64(0), int64(86400e9), int64(0), int64(0), true)
	f.Add(int64(1<<62), int64(-1<<62), int64(1<<62), int64(1<<61), int64(-1<<61), false)
	f.Fuzz(func(t *testing.T, step, since, until, end1, end2 int64, answered bool) {
		t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
		at := func(ns int64) time.Time {
			if ns == 0 {
				return time.Time{}
			}
			return t0.Add(time.Duration(ns))
		}
		atts := []cluster.Attempt{
			{ID: "a1", State: cluster.AttemptFinished, Disposition: "answered", FinishedAt: t0.Add(time.Duration(end1))},
			{ID: "a2", State: cluster.AttemptFinished, Disposition: "busy", FinishedAt: t0.Add(time.Duration(end2))},
			{ID: "a3", State: cluster.AttemptClaimed},
		}
		rec := func(id string) (cluster.CallRecord, bool) {
			if id == "a1" && answered {
				return cluster.CallRecord{ID: id, AnswerAt: t0, EndAt: t0.Add(time.Duration(end1))}, true
			}
			return cluster.CallRecord{ID: id}, true
		}
		s, err := BuildSeries(&cluster.Campaign{ID: "f"}, atts, rec, time.Duration(step), at(since), at(until), t0.Add(time.Hour))
		if err != nil {
			if !errors.Is(err, ErrBadSeries) {
				t.Fatalf("error %v is not ErrBadSeries", err)
			}
			return
		}
		if len(s.Points) == 0 || len(s.Points) > MaxSeriesPoints || s.StepSec < 1 {
			t.Fatalf("%d points, step %d s", len(s.Points), s.StepSec)
		}
		stepD := time.Duration(s.StepSec) * time.Second
		finished := 0
		for i, p := range s.Points {
			if !p.Start.Equal(s.From.Add(stepD * time.Duration(i))) {
				t.Fatalf("point %d starts at %s", i, p.Start)
			}
			if p.AnswerRate > 1 || p.ConversionRate > 1 || p.Answered > p.Finished || p.InProgress != 0 {
				t.Fatalf("point %d %+v", i, p)
			}
			finished += p.Finished
		}
		in := 0
		for _, a := range atts[:2] {
			if !a.FinishedAt.Before(s.From) && a.FinishedAt.Before(s.Until) {
				in++
			}
		}
		if finished != in {
			t.Fatalf("%d finished in the points, %d in range", finished, in)
		}
	})
}
