package campaign

// This file maps the API's campaign definition onto the cluster's
// Campaign, with defaults and errors naming the field.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
)

// PromptFlow is the FlowID of campaigns that only speak their Prompt.
const PromptFlow = "prompt"

// Spec defaults.
const (
	DefaultMaxConcurrent = 4
	DefaultCPS           = 1.0
	DefaultMaxAttempts   = 3
)

func toWindows(ws []apiv1.Window) []cluster.Window {
	var out []cluster.Window
	for _, w := range ws {
		days := make([]string, len(w.Days))
		for i, d := range w.Days {
			days[i] = strings.ToLower(strings.TrimSpace(d))
		}
		out = append(out, cluster.Window{Days: days, Start: w.Start, End: w.End})
	}
	return out
}

func fromWindows(ws []cluster.Window) []apiv1.Window {
	var out []apiv1.Window
	for _, w := range ws {
		out = append(out, apiv1.Window{Days: w.Days, Start: w.Start, End: w.End})
	}
	return out
}

// FromSpec validates an API campaign definition and returns the campaign
// to create. Errors wrap ErrBadSpec and name the field.
func FromSpec(s apiv1.CampaignSpec) (cluster.Campaign, error) {
	bad := func(format string, a ...any) (cluster.Campaign, error) {
		return cluster.Campaign{}, fmt.Errorf("%w: "+format, append([]any{ErrBadSpec}, a...)...)
	}
	k := cluster.Campaign{
		ID: strings.TrimSpace(s.ID), Name: s.Name, FlowID: s.Flow, Trunks: s.Trunks, CallerID: s.CallerID,
		Windows: toWindows(s.Windows), Holidays: s.Holidays, TimezonePolicy: s.TimezonePolicy, Timezone: s.Timezone,
		MaxAttempts: s.MaxAttempts, DefaultRegion: strings.ToUpper(s.Region), Prompt: s.Prompt, SafeHarbour: s.SafeHarbour,
		AMD:      cluster.AMDPolicy{Enabled: s.AMD.Enabled, Action: s.AMD.Action, Message: s.AMD.Message},
		Priority: cluster.Priority{GoldenHours: toWindows(s.Priority.GoldenHours), ValueBoost: s.Priority.ValueBoost},
		Pacing: cluster.Pacing{Mode: s.Pacing.Mode, MaxConcurrent: s.Pacing.MaxConcurrent, CPS: s.Pacing.CPS,
			PerTrunk: s.Pacing.PerTrunk, Agents: s.Pacing.Agents, AbandonCap: s.Pacing.AbandonCap},
	}
	if k.ID == "" {
		return bad("id is required")
	}
	for _, r := range k.ID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return bad("id %q may hold only letters, digits, '-', '_' and '.'", k.ID)
		}
	}
	if k.Name == "" {
		k.Name = k.ID
	}
	if k.FlowID == "" && len(k.Variants) == 0 && len(s.Variants) == 0 {
		if strings.TrimSpace(k.Prompt) == "" {
			return bad("flow or prompt is required")
		}
		k.FlowID = PromptFlow
	}
	if k.TimezonePolicy == "" {
		k.TimezonePolicy = "contact"
	}
	if k.Timezone != "" {
		if _, err := LoadZone(k.Timezone); err != nil {
			return bad("timezone %q is not an IANA zone such as Asia/Shanghai", k.Timezone)
		}
	}
	if k.DefaultRegion == "" {
		k.DefaultRegion = DefaultRegion
	}
	if k.MaxAttempts == 0 {
		k.MaxAttempts = DefaultMaxAttempts
	}
	if k.Pacing.Mode == "" {
		k.Pacing.Mode = "agentless"
	}
	if k.Pacing.MaxConcurrent == 0 {
		k.Pacing.MaxConcurrent = DefaultMaxConcurrent
	}
	if k.Pacing.CPS == 0 {
		k.Pacing.CPS = DefaultCPS
	}
	if k.AMD.Enabled && k.AMD.Action == "" {
		k.AMD.Action = "hangup"
	}
	for _, v := range s.Variants {
		k.Variants = append(k.Variants, cluster.Variant{Name: v.Name, Weight: v.Weight, FlowID: v.Flow})
	}
	if len(s.Retry) > 0 {
		k.RetryRules = map[string]cluster.RetryRule{}
	}
	for d, r := range s.Retry {
		var delay time.Duration
		if r.Delay != "" {
			var err error
			if delay, err = time.ParseDuration(r.Delay); err != nil {
				return bad("retry.%s.delay %q: want a duration such as 10m or 2h", d, r.Delay)
			}
		}
		if r.Action == "" {
			r.Action = "retry"
		}
		k.RetryRules[d] = cluster.RetryRule{Action: r.Action, Delay: delay}
	}
	if s.StartAt != nil {
		k.StartAt = *s.StartAt
	}
	if s.EndAt != nil {
		k.EndAt = *s.EndAt
	}
	if _, err := NewCalendar(k.Windows, k.Holidays); err != nil {
		return cluster.Campaign{}, err
	}
	if err := (cluster.CreateCampaign{Campaign: k, At: time.Unix(1, 0)}).Validate(); err != nil {
		msg := err.Error()
		if errors.Is(err, cluster.ErrInvalidCommand) {
			msg = strings.TrimPrefix(msg, cluster.ErrInvalidCommand.Error()+": ")
		}
		return bad("%s", msg)
	}
	return k, nil
}

// View turns a stored campaign into its API form.
func View(k cluster.Campaign) apiv1.Campaign {
	v := apiv1.Campaign{State: string(k.State), CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	v.ID, v.Name, v.Flow, v.Prompt, v.Trunks, v.CallerID = k.ID, k.Name, k.FlowID, k.Prompt, k.Trunks, k.CallerID
	v.Windows, v.Holidays, v.TimezonePolicy, v.Timezone = fromWindows(k.Windows), k.Holidays, k.TimezonePolicy, k.Timezone
	v.Region, v.MaxAttempts, v.SafeHarbour = k.DefaultRegion, k.MaxAttempts, k.SafeHarbour
	v.Pacing = apiv1.Pacing{Mode: k.Pacing.Mode, MaxConcurrent: k.Pacing.MaxConcurrent, CPS: k.Pacing.CPS,
		PerTrunk: k.Pacing.PerTrunk, Agents: k.Pacing.Agents, AbandonCap: k.Pacing.AbandonCap}
	v.Priority = apiv1.Priority{GoldenHours: fromWindows(k.Priority.GoldenHours), ValueBoost: k.Priority.ValueBoost}
	v.AMD = apiv1.AMD{Enabled: k.AMD.Enabled, Action: k.AMD.Action, Message: k.AMD.Message}
	for _, x := range k.Variants {
		v.Variants = append(v.Variants, apiv1.Variant{Name: x.Name, Weight: x.Weight, Flow: x.FlowID})
	}
	if len(k.RetryRules) > 0 {
		v.Retry = map[string]apiv1.RetryRule{}
		for d, r := range k.RetryRules {
			v.Retry[d] = apiv1.RetryRule{Action: r.Action, Delay: r.Delay.String()}
		}
	}
	if !k.StartAt.IsZero() {
		t := k.StartAt
		v.StartAt = &t
	}
	if !k.EndAt.IsZero() {
		t := k.EndAt
		v.EndAt = &t
	}
	c := k.Counters
	v.Counters = apiv1.Counters{Contacts: c.Contacts, Pending: c.Pending, InProgress: c.InProgress, Done: c.Done,
		DNC: c.DNC, Attempts: c.Attempts, Finished: c.Finished, Interrupted: c.Interrupted, Dispositions: c.Dispositions}
	v.Exhausted = c.Contacts > 0 && c.Pending == 0 && c.InProgress == 0
	return v
}
