package campaign

// This file holds campaign reports: per campaign and per A/B variant
// figures from the attempts and their call records, and the difference
// between variants with a two-proportion z-test.

import (
	"math"
	"sort"
	"time"

	"callbox/cluster"
)

// Flow outcomes the report counts (CallRecord.Outcome).
const (
	OutcomeConverted   = "converted"
	OutcomeRefused     = "refused"
	OutcomeCallback    = "callback"
	OutcomeTransferred = "transferred"
	OutcomeOptOut      = "opt-out"
)

// Dispositions a dialogue flow sets that the report spells differently.
const (
	FlowOptOut   = "opt_out"
	FlowCallback = "callback_requested"
)

// RecordOutcome is a call record's dialogue result in the report's words:
// the flow's opt_out and callback_requested become opt-out and callback,
// an opt-out or a transfer flagged by the dialogue counts even when a
// later node set another disposition.
func RecordOutcome(rec cluster.CallRecord) string {
	o := rec.Outcome
	switch o {
	case FlowOptOut:
		o = OutcomeOptOut
	case FlowCallback:
		o = OutcomeCallback
	}
	if d := rec.Dialogue; d != nil {
		switch {
		case d.OptOut:
			o = OutcomeOptOut
		case d.Transferred && o != OutcomeConverted:
			o = OutcomeTransferred
		}
	}
	return o
}

// Figures are one group's report figures.
type Figures struct {
	Variant        string  `json:"variant,omitempty"`
	Attempts       int     `json:"attempts"`
	Finished       int     `json:"finished"`
	InProgress     int     `json:"in_progress"` // claimed attempts: counted in Attempts only
	Answered       int     `json:"answered"`
	Machines       int     `json:"machines"`
	Humans         int     `json:"humans"`
	Conversions    int     `json:"conversions"`
	Transfers      int     `json:"transfers"`
	OptOuts        int     `json:"opt_outs"`
	AnswerRate     float64 `json:"answer_rate"`
	MachineRate    float64 `json:"machine_rate"`
	ConversionRate float64 `json:"conversion_rate"`
	TransferRate   float64 `json:"transfer_rate"`
	AvgHandleSec   float64 `json:"avg_handle_sec"`
	handle         time.Duration
}

// Comparison is a variant's conversion rate against the first variant's.
type Comparison struct {
	Variant     string  `json:"variant"`
	Baseline    string  `json:"baseline"`
	Difference  float64 `json:"difference"` // variant rate minus baseline rate
	Z           float64 `json:"z"`
	PValue      float64 `json:"p_value"`     // two-sided
	Significant bool    `json:"significant"` // p < 0.05
}

// Report is a campaign's report.
type Report struct {
	CampaignID   string           `json:"campaign_id"`
	Total        Figures          `json:"total"`
	Variants     []Figures        `json:"variants,omitempty"`
	Comparisons  []Comparison     `json:"comparisons,omitempty"`
	Dispositions map[string]int   `json:"dispositions"`
	Counters     cluster.Counters `json:"counters"`
}

// BuildReport computes a report from a campaign's attempts and the call
// records found by attempt ID (records may lack entries: a not-dialled or
// interrupted attempt has none).
func BuildReport(k *cluster.Campaign, attempts []cluster.Attempt, record func(attemptID string) (cluster.CallRecord, bool)) Report {
	rep := Report{CampaignID: k.ID, Dispositions: map[string]int{}, Counters: k.Counters}
	byVar := map[string]*Figures{}
	var order []string
	for _, v := range k.Variants {
		byVar[v.Name] = &Figures{Variant: v.Name}
		order = append(order, v.Name)
	}
	for _, a := range attempts {
		if a.Disposition == DispNotDialled {
			continue
		}
		rec, _ := record(a.ID)
		groups := []*Figures{&rep.Total}
		if f := byVar[a.Variant]; f != nil {
			groups = append(groups, f)
		}
		if a.State != cluster.AttemptClaimed {
			rep.Dispositions[a.Disposition]++
		}
		for _, f := range groups {
			f.add(a, rec)
		}
	}
	rep.Total.finish()
	for _, n := range order {
		f := byVar[n]
		f.finish()
		rep.Variants = append(rep.Variants, *f)
	}
	for i := 1; i < len(rep.Variants); i++ {
		rep.Comparisons = append(rep.Comparisons, Compare(rep.Variants[0], rep.Variants[i]))
	}
	return rep
}

// add counts one attempt. Every figure after Attempts counts finished
// attempts only: a call still up mid-run has an answer time in its record
// but no final disposition, and counting it as answered while the
// denominator (Finished) leaves it out let the answer rate pass 100%.
func (f *Figures) add(a cluster.Attempt, rec cluster.CallRecord) {
	f.Attempts++
	if a.State == cluster.AttemptClaimed {
		f.InProgress++
		return
	}
	f.Finished++
	if rec.AnswerAt.IsZero() {
		return
	}
	f.Answered++
	if !rec.EndAt.IsZero() && rec.EndAt.After(rec.AnswerAt) {
		f.handle += rec.EndAt.Sub(rec.AnswerAt)
	}
	if rec.AMD == "machine" || a.Disposition == DispMachine {
		f.Machines++
		return
	}
	f.Humans++
	outcome := RecordOutcome(rec)
	switch outcome {
	case OutcomeConverted:
		f.Conversions++
	case OutcomeTransferred:
		f.Transfers++
	case OutcomeOptOut:
		f.OptOuts++
	}
	if outcome != OutcomeOptOut && a.Disposition == DispOptOut {
		f.OptOuts++
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (f *Figures) finish() {
	f.AnswerRate = ratio(f.Answered, f.Finished) // both count finished attempts only: never above 1
	f.MachineRate = ratio(f.Machines, f.Answered)
	f.ConversionRate = ratio(f.Conversions, f.Humans)
	f.TransferRate = ratio(f.Transfers, f.Humans)
	if f.Answered > 0 {
		f.AvgHandleSec = math.Round(f.handle.Seconds()/float64(f.Answered)*10) / 10
	}
}

// Compare tests variant b's conversion rate against baseline a with a
// pooled two-proportion z-test (conversions over human-answered calls).
func Compare(a, b Figures) Comparison {
	c := Comparison{Variant: b.Variant, Baseline: a.Variant, PValue: 1}
	z, p := TwoProportionZ(a.Conversions, a.Humans, b.Conversions, b.Humans)
	c.Difference = ratio(b.Conversions, b.Humans) - ratio(a.Conversions, a.Humans)
	c.Z, c.PValue = z, p
	c.Significant = p < 0.05
	return c
}

// TwoProportionZ returns the z statistic and two-sided p-value for
// x1/n1 vs x2/n2 (z=0, p=1 when undefined).
func TwoProportionZ(x1, n1, x2, n2 int) (z, p float64) {
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 1
	}
	z = (p2 - p1) / se
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// SortedDispositions lists dispositions by count, for tables.
func SortedDispositions(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
