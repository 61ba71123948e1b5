package campaign

// This file holds a campaign's figures over time: the report's figures per
// time bucket of the attempts' finish times, for the dashboard's charts.

import (
	"errors"
	"fmt"
	"time"

	"callbox/cluster"
)

// ErrBadSeries classifies a series request that cannot be answered (a
// step that is not positive, a range that ends before it starts, too many
// buckets).
var ErrBadSeries = errors.New("bad series request")

// MaxSeriesPoints bounds the buckets of one series, MaxSeriesStep their
// width.
const (
	MaxSeriesPoints = 1440
	MaxSeriesStep   = 31 * 24 * time.Hour
)

// seriesSteps are the steps AutoStep chooses from.
var seriesSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// SeriesPoint is one bucket: the report figures of the attempts that
// finished in [Start, Start+step).
type SeriesPoint struct {
	Start time.Time `json:"start"`
	Figures
}

// Series is a campaign's figures over time.
type Series struct {
	CampaignID string        `json:"campaign_id"`
	StepSec    int64         `json:"step_sec"`
	From       time.Time     `json:"from"`  // first bucket's start
	Until      time.Time     `json:"until"` // end of the last bucket
	Points     []SeriesPoint `json:"points"`
}

// AutoStep is the smallest of 1m, 5m, 15m, 1h, 6h and 1d that covers
// [from, until) in at most want buckets (1d when none does).
func AutoStep(from, until time.Time, want int) time.Duration {
	span := until.Sub(from)
	for _, s := range seriesSteps {
		if span <= s*time.Duration(want) {
			return s
		}
	}
	return seriesSteps[len(seriesSteps)-1]
}

// BuildSeries buckets a campaign's finished attempts by finish time into
// steps (aligned to the Unix epoch) from since to until. A zero since
// starts at the first finished attempt, a zero until ends at now, a zero
// step picks AutoStep for 120 buckets. Every bucket in the range is
// present (empty ones with zero figures) so a chart's x axis is time.
// Attempts still up are left out, as in the report: a bucket's answer rate
// never passes 1.
func BuildSeries(k *cluster.Campaign, attempts []cluster.Attempt, record func(attemptID string) (cluster.CallRecord, bool),
	step time.Duration, since, until, now time.Time) (Series, error) {
	if step < 0 {
		return Series{}, fmt.Errorf("%w: step %s is negative", ErrBadSeries, step)
	}
	if step > 0 && step < time.Second || step > MaxSeriesStep {
		return Series{}, fmt.Errorf("%w: step %s is not between 1s and %s", ErrBadSeries, step, MaxSeriesStep)
	}
	if step%time.Second != 0 {
		return Series{}, fmt.Errorf("%w: step %s is not a whole number of seconds", ErrBadSeries, step)
	}
	if until.IsZero() {
		until = now
	}
	if since.IsZero() {
		for _, a := range attempts {
			if a.State != cluster.AttemptClaimed && a.Disposition != DispNotDialled && !a.FinishedAt.IsZero() &&
				(since.IsZero() || a.FinishedAt.Before(since)) {
				since = a.FinishedAt
			}
		}
		if since.IsZero() {
			since = until
		}
	}
	if until.Before(since) {
		return Series{}, fmt.Errorf("%w: until %s is before since %s", ErrBadSeries, until.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	if step == 0 {
		step = AutoStep(since, until, 120)
	}
	from := since.Truncate(step)
	n := int(until.Sub(from)/step) + 1
	if n > MaxSeriesPoints {
		return Series{}, fmt.Errorf("%w: %s to %s in steps of %s is %d buckets (at most %d): use a larger step",
			ErrBadSeries, since.Format(time.RFC3339), until.Format(time.RFC3339), step, n, MaxSeriesPoints)
	}
	s := Series{CampaignID: k.ID, StepSec: int64(step / time.Second), From: from.UTC(), Until: from.Add(step * time.Duration(n)).UTC(),
		Points: make([]SeriesPoint, n)}
	for i := range s.Points {
		s.Points[i].Start = from.Add(step * time.Duration(i)).UTC()
	}
	for _, a := range attempts {
		if a.State == cluster.AttemptClaimed || a.Disposition == DispNotDialled || a.FinishedAt.IsZero() {
			continue
		}
		if a.FinishedAt.Before(from) || !a.FinishedAt.Before(s.Until) {
			continue
		}
		rec, _ := record(a.ID)
		s.Points[int(a.FinishedAt.Sub(from)/step)].add(a, rec)
	}
	for i := range s.Points {
		s.Points[i].finish()
	}
	return s, nil
}
