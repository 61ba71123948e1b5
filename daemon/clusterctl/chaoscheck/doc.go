// Package chaoscheck judges a campaign run under faults from the outside.
// It owns the far-end log reader (the callee simulator's JSON lines, one
// per INVITE received; see sim.CallLog) and the checker that joins those
// lines with the cluster's final dial attempts (GET
// /v1/campaigns/{id}/attempts) and reports per contact whether it was
// lost, duplicated, interrupted and reconciled.
//
// The join key is the Call-ID: callboxd uses a campaign attempt's ID as
// the INVITE's Call-ID, so every INVITE the far end saw names the attempt
// that placed it, and its source address names the box that sent it. The
// checker trusts nothing else the boxes say about themselves: a dial is
// counted only when the far end logged it.
package chaoscheck
