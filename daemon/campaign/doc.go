// Package campaign owns the campaign engine's rules, independent of SIP and
// of the HTTP API: contact normalisation (E.164, time zone from the
// number), streamed CSV import with a per-row validation report, calling
// windows evaluated in the callee's local time, retry policy per
// disposition, pacing (agentless, progressive, predictive with an
// abandon-rate cap), priority ordering and A/B variant choice, and reports
// with a two-proportion significance test.
//
// Everything here is deterministic given its inputs: clocks are injected
// (a time.Time argument or a now func), so the dialler in package daemon
// and the property tests drive it with any time they like. State changes
// go through cluster commands that the caller applies via an Applier.
package campaign
