package sim

// This file holds the per-call log and its JSON-lines file.

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Who hung up, in CallLog.HungUpBy.
const (
	ByCaller = "caller" // the box sent BYE or CANCEL
	ByCallee = "callee" // the simulator sent BYE or a final failure response
	ByNone   = ""       // the call is still up
)

// CallLog is what the far end saw of one call: one per initial INVITE
// received (re-INVITEs inside a call are not new calls). callboxd uses a
// campaign attempt's ID as the INVITE's Call-ID (daemon/calls.go), so
// CallID names the attempt and Source the box that sent it.
type CallLog struct {
	CallID     string    `json:"call_id"`
	Number     string    `json:"number"`           // Request-URI user part
	From       string    `json:"from,omitempty"`   // From URI user part (the caller ID shown)
	To         string    `json:"to,omitempty"`     // To URI user part
	Source     string    `json:"source,omitempty"` // ip:port the INVITE came from (which box sent it)
	Persona    string    `json:"persona"`
	ChosenBy   string    `json:"chosen_by"` // rule, scheme or default
	ReceivedAt time.Time `json:"received_at"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	// Status is the final response sent to the INVITE (200, 486, 487, ...).
	Status int `json:"status"`
	// HungUpBy is "caller" or "callee".
	HungUpBy string `json:"hung_up_by"`
	// EndReason says how the call ended: bye-received, bye-sent (persona
	// HangupAfter), cancel, rejected, shutdown, no-ack, max-duration, error.
	EndReason  string `json:"end_reason"`
	CancelSeen bool   `json:"cancel_seen,omitempty"`
	// Codec is the negotiated codec, RemoteRTP where the box's RTP went.
	Codec     string `json:"codec,omitempty"`
	RemoteRTP string `json:"remote_rtp,omitempty"`
	// DigitsReceived are the box's RFC 4733 digits, DigitsSent ours.
	DigitsReceived string `json:"digits_received,omitempty"`
	DigitsSent     string `json:"digits_sent,omitempty"`
	// Said are the utterances the simulator started speaking, in order.
	Said []string `json:"said,omitempty"`
	// BoxSpeechSegments and BoxSpeechMs measure the box's speech heard on
	// the inbound audio by the VAD.
	BoxSpeechSegments int   `json:"box_speech_segments"`
	BoxSpeechMs       int64 `json:"box_speech_ms"`
	// ReferTo is the target of a REFER the box sent (blind transfer),
	// TransferStatus the target's final answer to the simulator's INVITE
	// (200 when the callee was transferred), TransferEndedBy who left the
	// transferred call: "target" or "callee" (after TransferredTalk).
	ReferTo         string `json:"refer_to,omitempty"`
	TransferStatus  int    `json:"transfer_status,omitempty"`
	TransferEndedBy string `json:"transfer_ended_by,omitempty"`
	// Recording is the stereo WAV path when Config.RecordDir is set.
	Recording string `json:"recording,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (l CallLog) clone() CallLog {
	l.Said = slices.Clone(l.Said)
	return l
}

// logFile appends CallLogs as JSON lines (the far-end log). Each line is
// written with one write(2) on an O_APPEND descriptor so several processes
// can share a file and a reader never sees two lines interleaved.
//
// Durability: a line is written when its call ends (Close ends every call,
// so a clean stop logs every INVITE received; a simulator killed with -9
// loses the lines of calls still up). A written line survives the
// simulator's crash (it is in the kernel's page cache); with sync
// (Config.LogSync) it is also fsynced before the call's handler returns,
// so it survives power loss, at one fsync per call.
type logFile struct {
	mu   sync.Mutex
	f    *os.File // guarded by mu; nil when closed
	sync bool
}

func openLogFile(path string, sync bool) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: log file: %v", ErrConfig, err)
	}
	return &logFile{f: f, sync: sync}, nil
}

func (w *logFile) write(l CallLog) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return ErrClosed
	}
	if _, err = w.f.Write(b); err != nil {
		return err
	}
	if w.sync {
		return w.f.Sync()
	}
	return nil
}

func (w *logFile) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
