package campaign

// This file holds the retry policy: what a finished attempt's disposition
// means for the contact (retry later, call back, done, do-not-call) and when
// the next attempt may start.

import (
	"time"

	"callbox/cluster"
)

// Dispositions of campaign attempts beyond the SIP ones (answered, busy,
// no-answer, rejected, unreachable, failed).
const (
	DispMachine     = "machine"      // AMD said machine and the policy hung up
	DispOptOut      = "opt-out"      // the callee asked not to be called
	DispCallback    = "callback"     // the callee asked to be called back
	DispNotDialled  = "not-dialled"  // claimed, but the box could not place the call
	DispInterrupted = "interrupted"  // the box crashed while the attempt was open
	DispAbandoned   = "abandoned"    // answered, no agent free (predictive)
	DispAnsweredBox = "answered-box" // answered, then the box crashed: not redialled
	// DispInvalid: the box refused the call request for this contact (its
	// profile lacks a field the campaign's flow needs, or its number cannot
	// be dialled): no retry, since another attempt would fail the same way.
	DispInvalid = "invalid"
)

// DefaultRetryRules apply to dispositions a campaign does not list.
var DefaultRetryRules = map[string]cluster.RetryRule{
	"answered":      {Action: "stop"},
	"busy":          {Action: "retry", Delay: 10 * time.Minute},
	"no-answer":     {Action: "retry", Delay: 2 * time.Hour},
	"failed":        {Action: "retry", Delay: 0}, // on the next trunk
	"unreachable":   {Action: "retry", Delay: 30 * time.Minute},
	"rejected":      {Action: "stop"},
	DispMachine:     {Action: "retry", Delay: 4 * time.Hour},
	DispOptOut:      {Action: "dnc"},
	DispCallback:    {Action: "retry", Delay: time.Hour},
	DispAbandoned:   {Action: "retry", Delay: 30 * time.Minute},
	DispAnsweredBox: {Action: "stop"},
	DispInvalid:     {Action: "stop"},
}

// Decision is what to commit in FinishAttempt.
type Decision struct {
	Outcome string    // cluster.Outcome*
	Next    time.Time // for retry and callback
}

// RetryRuleFor returns the campaign's rule for disposition, else the default,
// else stop.
func RetryRuleFor(k *cluster.Campaign, disposition string) cluster.RetryRule {
	if r, ok := k.RetryRules[disposition]; ok {
		return r
	}
	if r, ok := DefaultRetryRules[disposition]; ok {
		return r
	}
	return cluster.RetryRule{Action: "stop"}
}

// Decide maps a finished attempt to its outcome. attempts is the number of
// attempts the contact has used including this one; callbackAt is a time
// the callee asked for (zero: none).
func Decide(k *cluster.Campaign, disposition string, attempts int, now, callbackAt time.Time) Decision {
	if disposition == DispNotDialled {
		return Decision{Outcome: cluster.OutcomeRelease, Next: now}
	}
	if disposition == DispCallback {
		next := callbackAt
		if next.IsZero() || next.Before(now) {
			next = now.Add(RetryRuleFor(k, DispCallback).Delay)
		}
		return Decision{Outcome: cluster.OutcomeCallback, Next: next}
	}
	r := RetryRuleFor(k, disposition)
	switch r.Action {
	case "dnc":
		return Decision{Outcome: cluster.OutcomeDNC}
	case "retry":
		if k.MaxAttempts > 0 && attempts >= k.MaxAttempts {
			return Decision{Outcome: cluster.OutcomeDone}
		}
		return Decision{Outcome: cluster.OutcomeRetry, Next: now.Add(r.Delay)}
	}
	return Decision{Outcome: cluster.OutcomeDone}
}

// TrunkFor picks the trunk for a contact's attempt n (1-based): attempts
// rotate through the campaign's trunks, so a "failed" retry goes out on
// the next trunk.
func TrunkFor(k *cluster.Campaign, attempt int) string {
	if len(k.Trunks) == 0 {
		return ""
	}
	if attempt < 1 {
		attempt = 1
	}
	return k.Trunks[(attempt-1)%len(k.Trunks)]
}
