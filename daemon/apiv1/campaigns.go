package apiv1

import "time"

// Window is a daily calling window in the callee's local time.
type Window struct {
	Days  []string `json:"days,omitempty"` // mon..sun; empty: every day
	Start string   `json:"start"`          // "09:00"
	End   string   `json:"end"`            // "20:00" (exclusive)
}

// RetryRule is what follows a disposition: retry after Delay, stop, or dnc.
type RetryRule struct {
	Action string `json:"action"`          // retry | stop | dnc
	Delay  string `json:"delay,omitempty"` // Go duration, e.g. "10m", "2h"
}

// Pacing bounds how fast a campaign dials.
type Pacing struct {
	Mode          string  `json:"mode,omitempty"` // agentless (default) | progressive | predictive
	MaxConcurrent int     `json:"max_concurrent,omitempty"`
	CPS           float64 `json:"cps,omitempty"`
	PerTrunk      int     `json:"per_trunk,omitempty"`
	Agents        int     `json:"agents,omitempty"`
	AbandonCap    float64 `json:"abandon_cap,omitempty"` // default 0.03
}

// Variant is an A/B script variant.
type Variant struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
	Flow   string `json:"flow"`
}

// AMD is a campaign's answering-machine policy.
type AMD struct {
	Enabled bool   `json:"enabled"`
	Action  string `json:"action,omitempty"`  // hangup (default) | message | continue
	Message string `json:"message,omitempty"` // spoken after the beep for "message"
}

// Priority adds golden-hours rules to callbacks-first and value order.
type Priority struct {
	GoldenHours []Window `json:"golden_hours,omitempty"`
	ValueBoost  float64  `json:"value_boost,omitempty"`
}

// CampaignSpec is the body of POST /v1/campaigns.
type CampaignSpec struct {
	ID             string               `json:"id"`
	Name           string               `json:"name,omitempty"`
	Flow           string               `json:"flow,omitempty"`
	Prompt         string               `json:"prompt,omitempty"`
	Trunks         []string             `json:"trunks,omitempty"`
	CallerID       string               `json:"caller_id,omitempty"`
	Windows        []Window             `json:"windows,omitempty"`
	Holidays       []string             `json:"holidays,omitempty"`
	TimezonePolicy string               `json:"tz_policy,omitempty"` // contact (default) | campaign
	Timezone       string               `json:"timezone,omitempty"`
	Region         string               `json:"region,omitempty"` // default region of national numbers, e.g. CN
	MaxAttempts    int                  `json:"max_attempts,omitempty"`
	Retry          map[string]RetryRule `json:"retry,omitempty"`
	Pacing         Pacing               `json:"pacing"`
	Priority       Priority             `json:"priority"`
	Variants       []Variant            `json:"variants,omitempty"`
	StartAt        *time.Time           `json:"start_at,omitempty"`
	EndAt          *time.Time           `json:"end_at,omitempty"`
	SafeHarbour    string               `json:"safe_harbour,omitempty"`
	AMD            AMD                  `json:"amd"`
}

// Counters are a campaign's live progress.
type Counters struct {
	Contacts     int64            `json:"contacts"`
	Pending      int64            `json:"pending"`
	InProgress   int64            `json:"in_progress"`
	Done         int64            `json:"done"`
	DNC          int64            `json:"dnc"`
	Attempts     int64            `json:"attempts"`
	Finished     int64            `json:"finished"`
	Interrupted  int64            `json:"interrupted"`
	Dispositions map[string]int64 `json:"dispositions,omitempty"`
}

// Campaign is a campaign as the API shows it.
type Campaign struct {
	CampaignSpec
	State string `json:"state"`
	// Exhausted is true when every contact has a final result (nothing
	// pending, waiting for a retry or on a call): a running campaign dials
	// nothing more until contacts are imported. The dashboard shows it as
	// "completed".
	Exhausted bool      `json:"exhausted"`
	Counters  Counters  `json:"counters"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DNC is the body of POST /v1/dnc and an entry in answers.
type DNC struct {
	Scope  string `json:"scope,omitempty"` // "global" (default) or a campaign ID
	Phone  string `json:"phone"`
	Region string `json:"region,omitempty"` // for national numbers; default CN
	Reason string `json:"reason,omitempty"`
	Listed bool   `json:"listed,omitempty"` // in GET answers
}
