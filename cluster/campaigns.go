package cluster

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// CampaignState is a campaign's lifecycle state.
type CampaignState string

// Campaign lifecycle states.
const (
	CampaignCreated  CampaignState = "created"
	CampaignRunning  CampaignState = "running"
	CampaignPaused   CampaignState = "paused"
	CampaignStopped  CampaignState = "stopped"
	CampaignArchived CampaignState = "archived" // terminal
)

// campaignTransitions lists the allowed lifecycle moves.
var campaignTransitions = map[CampaignState][]CampaignState{
	CampaignCreated:  {CampaignRunning, CampaignStopped, CampaignArchived},
	CampaignRunning:  {CampaignPaused, CampaignStopped},
	CampaignPaused:   {CampaignRunning, CampaignStopped},
	CampaignStopped:  {CampaignArchived},
	CampaignArchived: nil,
}

// Window is a daily calling window in the timezone chosen by the
// campaign's TimezonePolicy.
type Window struct {
	Days  []string // "mon".."sun"; empty: every day
	Start string   // "HH:MM" inclusive
	End   string   // "HH:MM" exclusive
}

// RetryRule says what to do after an attempt ends with a disposition.
type RetryRule struct {
	Delay  time.Duration
	Action string // "retry" | "stop" | "dnc"
}

// Pacing bounds how fast a campaign dials.
type Pacing struct {
	// Mode is "agentless" (bot calls; "fixed" is its old name),
	// "progressive" or "predictive" (calls handed to human agents).
	Mode          string
	MaxConcurrent int
	CPS           float64
	// PerTrunk caps concurrent calls of this campaign on one trunk (0: no cap).
	PerTrunk int `json:",omitempty"`
	// Agents is the number of human agents for progressive/predictive.
	Agents int `json:",omitempty"`
	// AbandonCap is the maximum abandoned/answered ratio over the rolling
	// window for predictive pacing (0: default 0.03).
	AbandonCap float64 `json:",omitempty"`
}

// AMDPolicy is a campaign's answering-machine handling.
type AMDPolicy struct {
	Enabled bool
	// Action on a machine verdict: "hangup", "message" (speak Message after
	// the beep) or "continue".
	Action  string
	Message string `json:",omitempty"`
}

// Priority orders due contacts beyond callbacks-first and value score.
type Priority struct {
	// GoldenHours are local-time windows in which contacts get ValueBoost
	// added to their value score.
	GoldenHours []Window `json:",omitempty"`
	ValueBoost  float64  `json:",omitempty"`
}

// Variant is an A/B flow variant chosen by weight.
type Variant struct {
	Name   string
	Weight int
	FlowID string
}

// Counters summarise a campaign's contacts and attempts. They are
// maintained by the FSM on every change.
type Counters struct {
	Contacts, Pending, InProgress, Done, DNC int64
	Attempts, Finished, Interrupted          int64
	Dispositions                             map[string]int64
}

// Campaign is an outbound campaign.
type Campaign struct {
	ID, Name, FlowID string
	Trunks           []string
	CallerID         string
	Windows          []Window
	Holidays         []string // "YYYY-MM-DD"
	TimezonePolicy   string   // "contact" (fall back to Timezone) | "campaign"
	Timezone         string   // IANA name, e.g. "Asia/Shanghai"
	MaxAttempts      int      // 0: unlimited
	RetryRules       map[string]RetryRule
	Pacing           Pacing
	Variants         []Variant
	StartAt, EndAt   time.Time
	// DefaultRegion is the ISO region for numbers without a country code ("CN").
	DefaultRegion string    `json:",omitempty"`
	Prompt        string    `json:",omitempty"` // text spoken when no flow runs the call
	SafeHarbour   string    `json:",omitempty"` // spoken when an answered call finds no free agent
	AMD           AMDPolicy `json:",omitzero"`
	Priority      Priority  `json:",omitzero"`
	State         CampaignState
	Counters      Counters
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CreateCampaign creates a campaign in state created. Campaign.State and
// Counters must be left zero.
type CreateCampaign struct {
	Campaign Campaign
	At       time.Time
}

// SetCampaignState moves a campaign through its lifecycle. Setting the
// current state again is a no-op.
type SetCampaignState struct {
	ID     string
	State  CampaignState
	At     time.Time
	Reason string
}

// Type implements Command.
func (CreateCampaign) Type() CommandType { return TypeCreateCampaign }

// Type implements Command.
func (SetCampaignState) Type() CommandType { return TypeSetCampaignState }

var (
	hhmmRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	dateRe = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`)
	tzRe   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$`)
)

var weekdays = map[string]bool{"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true}

// Validate implements Command.
func (c CreateCampaign) Validate() error {
	k := &c.Campaign
	if err := checkID("Campaign.ID", k.ID); err != nil {
		return err
	}
	if err := checkText("Campaign.Name", k.Name); err != nil {
		return err
	}
	if err := checkOptID("Campaign.FlowID", k.FlowID); err != nil {
		return err
	}
	if len(k.Trunks) > MaxListEntries {
		return invalid("Campaign.Trunks has %d entries, limit %d", len(k.Trunks), MaxListEntries)
	}
	for i, tr := range k.Trunks {
		if err := checkID(fmt.Sprintf("Campaign.Trunks[%d]", i), tr); err != nil {
			return err
		}
	}
	if err := checkText("Campaign.CallerID", k.CallerID); err != nil {
		return err
	}
	if err := checkWindows("Campaign.Windows", k.Windows); err != nil {
		return err
	}
	if len(k.Holidays) > 4*MaxListEntries {
		return invalid("Campaign.Holidays has %d entries, limit %d", len(k.Holidays), 4*MaxListEntries)
	}
	for i, h := range k.Holidays {
		if !dateRe.MatchString(h) {
			return invalid("Campaign.Holidays[%d] %q: want YYYY-MM-DD", i, h)
		}
	}
	switch k.TimezonePolicy {
	case "contact", "campaign":
	default:
		return invalid("Campaign.TimezonePolicy %q: want \"contact\" or \"campaign\"", k.TimezonePolicy)
	}
	if k.Timezone != "" && (len(k.Timezone) > 64 || !tzRe.MatchString(k.Timezone)) {
		return invalid("Campaign.Timezone %q is not an IANA zone name", k.Timezone)
	}
	if k.TimezonePolicy == "campaign" && k.Timezone == "" {
		return invalid("Campaign.Timezone is required when TimezonePolicy is \"campaign\"")
	}
	if k.MaxAttempts < 0 || k.MaxAttempts > 100 {
		return invalid("Campaign.MaxAttempts %d: want 0..100", k.MaxAttempts)
	}
	if len(k.RetryRules) > MaxMapEntries {
		return invalid("Campaign.RetryRules has %d entries, limit %d", len(k.RetryRules), MaxMapEntries)
	}
	for d, r := range k.RetryRules {
		if err := checkID("Campaign.RetryRules key", d); err != nil {
			return err
		}
		switch r.Action {
		case "retry", "stop", "dnc":
		default:
			return invalid("Campaign.RetryRules[%s].Action %q: want retry, stop or dnc", d, r.Action)
		}
		if r.Delay < 0 || r.Delay > 366*24*time.Hour {
			return invalid("Campaign.RetryRules[%s].Delay %s: want 0..366 days", d, r.Delay)
		}
	}
	switch k.Pacing.Mode {
	case "fixed", "agentless", "progressive", "predictive":
	default:
		return invalid("Campaign.Pacing.Mode %q: want agentless, progressive or predictive", k.Pacing.Mode)
	}
	if k.Pacing.PerTrunk < 0 || k.Pacing.PerTrunk > 10000 {
		return invalid("Campaign.Pacing.PerTrunk %d: want 0..10000", k.Pacing.PerTrunk)
	}
	if k.Pacing.Agents < 0 || k.Pacing.Agents > 10000 {
		return invalid("Campaign.Pacing.Agents %d: want 0..10000", k.Pacing.Agents)
	}
	if (k.Pacing.Mode == "progressive" || k.Pacing.Mode == "predictive") && k.Pacing.Agents < 1 {
		return invalid("Campaign.Pacing.Agents is 0: %s pacing needs at least one agent", k.Pacing.Mode)
	}
	if err := checkFinite("Campaign.Pacing.AbandonCap", k.Pacing.AbandonCap); err != nil {
		return err
	}
	if k.Pacing.AbandonCap < 0 || k.Pacing.AbandonCap > 1 {
		return invalid("Campaign.Pacing.AbandonCap %g: want 0..1", k.Pacing.AbandonCap)
	}
	if k.DefaultRegion != "" && (len(k.DefaultRegion) != 2 || k.DefaultRegion[0] < 'A' || k.DefaultRegion[0] > 'Z' || k.DefaultRegion[1] < 'A' || k.DefaultRegion[1] > 'Z') {
		return invalid("Campaign.DefaultRegion %q: want a two-letter ISO region such as CN", k.DefaultRegion)
	}
	for _, f := range []struct{ n, v string }{{"Campaign.Prompt", k.Prompt}, {"Campaign.SafeHarbour", k.SafeHarbour}, {"Campaign.AMD.Message", k.AMD.Message}} {
		if err := checkText(f.n, f.v); err != nil {
			return err
		}
	}
	switch k.AMD.Action {
	case "", "hangup", "message", "continue":
	default:
		return invalid("Campaign.AMD.Action %q: want hangup, message or continue", k.AMD.Action)
	}
	if k.AMD.Action == "message" && k.AMD.Message == "" {
		return invalid("Campaign.AMD.Message is empty but AMD.Action is \"message\"")
	}
	if err := checkWindows("Campaign.Priority.GoldenHours", k.Priority.GoldenHours); err != nil {
		return err
	}
	if err := checkFinite("Campaign.Priority.ValueBoost", k.Priority.ValueBoost); err != nil {
		return err
	}
	if k.Pacing.MaxConcurrent < 1 || k.Pacing.MaxConcurrent > 10000 {
		return invalid("Campaign.Pacing.MaxConcurrent %d: want 1..10000", k.Pacing.MaxConcurrent)
	}
	if err := checkFinite("Campaign.Pacing.CPS", k.Pacing.CPS); err != nil {
		return err
	}
	if k.Pacing.CPS <= 0 || k.Pacing.CPS > 1000 {
		return invalid("Campaign.Pacing.CPS %g: want >0 and <=1000", k.Pacing.CPS)
	}
	if len(k.Variants) > MaxListEntries {
		return invalid("Campaign.Variants has %d entries, limit %d", len(k.Variants), MaxListEntries)
	}
	names := map[string]bool{}
	for i, v := range k.Variants {
		if err := checkID(fmt.Sprintf("Campaign.Variants[%d].Name", i), v.Name); err != nil {
			return err
		}
		if names[v.Name] {
			return invalid("Campaign.Variants[%d].Name %q is duplicated", i, v.Name)
		}
		names[v.Name] = true
		if v.Weight < 0 || v.Weight > 1000000 {
			return invalid("Campaign.Variants[%d].Weight %d: want 0..1000000", i, v.Weight)
		}
		if err := checkID(fmt.Sprintf("Campaign.Variants[%d].FlowID", i), v.FlowID); err != nil {
			return err
		}
	}
	if k.FlowID == "" && len(k.Variants) == 0 {
		return invalid("Campaign.FlowID is empty and there are no Variants")
	}
	if err := checkTime("Campaign.StartAt", k.StartAt); err != nil {
		return err
	}
	if err := checkTime("Campaign.EndAt", k.EndAt); err != nil {
		return err
	}
	if !k.StartAt.IsZero() && !k.EndAt.IsZero() && !k.StartAt.Before(k.EndAt) {
		return invalid("Campaign.StartAt is not before EndAt")
	}
	if k.State != "" && k.State != CampaignCreated {
		return invalid("Campaign.State must be empty or \"created\" on create, got %q", k.State)
	}
	if k.Counters.Contacts != 0 || k.Counters.Attempts != 0 || len(k.Counters.Dispositions) != 0 {
		return invalid("Campaign.Counters must be zero on create")
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c SetCampaignState) Validate() error {
	if err := checkID("ID", c.ID); err != nil {
		return err
	}
	if _, ok := campaignTransitions[c.State]; !ok {
		return invalid("State %q: want created, running, paused, stopped or archived", c.State)
	}
	if err := checkText("Reason", c.Reason); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

func checkWindows(field string, ws []Window) error {
	if len(ws) > MaxListEntries {
		return invalid("%s has %d entries, limit %d", field, len(ws), MaxListEntries)
	}
	for i, w := range ws {
		if !hhmmRe.MatchString(w.Start) || !hhmmRe.MatchString(w.End) {
			return invalid("%s[%d] start %q / end %q: want HH:MM", field, i, w.Start, w.End)
		}
		if w.Start >= w.End {
			return invalid("%s[%d] start %s is not before end %s", field, i, w.Start, w.End)
		}
		for _, d := range w.Days {
			if !weekdays[d] {
				return invalid("%s[%d] day %q: want mon..sun", field, i, d)
			}
		}
	}
	return nil
}

func campaignKey(id string) []byte { return key("c/", id) }

func loadCampaign(t *tx, id string) (*Campaign, error) {
	var c Campaign
	ok, err := t.getJSON(campaignKey(id), &c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return &c, nil
}

func saveCampaign(t *tx, c *Campaign) error {
	if len(c.Counters.Dispositions) == 0 {
		c.Counters.Dispositions = nil
	}
	return t.putJSON(campaignKey(c.ID), c)
}

func applyCreateCampaign(t *tx, c *CreateCampaign) (any, error) {
	k := c.Campaign
	if ex, err := loadCampaign(t, k.ID); err != nil {
		return nil, err
	} else if ex != nil {
		return fmt.Errorf("%w: campaign %q", ErrExists, k.ID), nil
	}
	if reject, err := checkCampaignFlows(t, &k); reject != nil || err != nil { // flows.go: store:NAME[@N]
		return reject, err
	}
	k.State = CampaignCreated
	k.Counters = Counters{}
	k.StartAt, k.EndAt = utc(k.StartAt), utc(k.EndAt)
	k.CreatedAt, k.UpdatedAt = utc(c.At), utc(c.At)
	if len(k.RetryRules) == 0 {
		k.RetryRules = nil
	}
	if err := saveCampaign(t, &k); err != nil {
		return nil, err
	}
	return k, nil
}

func applySetCampaignState(t *tx, c *SetCampaignState) (any, error) {
	k, err := loadCampaign(t, c.ID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, c.ID), nil
	}
	if k.State == c.State {
		return *k, nil
	}
	allowed := false
	for _, s := range campaignTransitions[k.State] {
		allowed = allowed || s == c.State
	}
	if !allowed {
		return fmt.Errorf("%w: campaign %q from %s to %s", ErrBadTransition, c.ID, k.State, c.State), nil
	}
	k.State = c.State
	k.UpdatedAt = utc(c.At)
	if err := saveCampaign(t, k); err != nil {
		return nil, err
	}
	return *k, nil
}

// Campaign reads one campaign from the local state.
func (f *FSM) Campaign(id string) (Campaign, bool, error) {
	return viewOne(f, func(t *tx) (*Campaign, error) { return loadCampaign(t, id) })
}

// Campaigns lists all campaigns ordered by ID.
func (f *FSM) Campaigns() ([]Campaign, error) {
	var out []Campaign
	err := f.view(func(t *tx) error {
		var ids []string
		err := t.scan(key("c/"), nil, false, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k[2:]))
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			k, err := loadCampaign(t, id)
			if err != nil {
				return err
			}
			if k != nil {
				out = append(out, *k)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// CampaignCounters returns a campaign's counters; ErrNotFound if unknown.
func (f *FSM) CampaignCounters(id string) (Counters, error) {
	k, ok, err := f.Campaign(id)
	if err != nil {
		return Counters{}, err
	}
	if !ok {
		return Counters{}, fmt.Errorf("%w: campaign %q", ErrNotFound, id)
	}
	return k.Counters, nil
}
