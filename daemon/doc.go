// Package daemon owns callboxd's wiring and call orchestration: it opens
// the Raft node, the media clock and RTP port range, the SIP user agent, the
// speech hooks and the HTTP API, runs every call from dial to call record,
// and stops only through its context (SIGTERM drains first; see Run).
//
// Subpackages own the pieces: config (YAML), sipua (SIP trunks and calls),
// speech (TTS and ASR hooks), flow (dialogue), sdnotify (systemd).
package daemon
