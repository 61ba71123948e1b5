// Package apiv1 owns the wire types of callboxd's /v1 HTTP API, shared by
// the daemon and callboxctl so both sides agree on every field.
package apiv1

import "time"

// CallRecord is one call as the API shows it.
type CallRecord struct {
	ID            string     `json:"id"`
	SIPCallID     string     `json:"sip_call_id,omitempty"`
	Box           string     `json:"box"`
	Trunk         string     `json:"trunk"`
	Number        string     `json:"number"`
	Direction     string     `json:"direction"`
	CallerID      string     `json:"caller_id,omitempty"`
	CampaignID    string     `json:"campaign_id,omitempty"`
	InviteAt      time.Time  `json:"invite_at"`
	RingAt        *time.Time `json:"ring_at,omitempty"`
	EarlyMediaAt  *time.Time `json:"early_media_at,omitempty"`
	AnswerAt      *time.Time `json:"answer_at,omitempty"`
	EndAt         *time.Time `json:"end_at,omitempty"`
	Disposition   string     `json:"disposition,omitempty"`
	SIPCode       int        `json:"sip_code,omitempty"`
	SIPReason     string     `json:"sip_reason,omitempty"`
	HangupBy      string     `json:"hangup_by,omitempty"`
	DTMF          string     `json:"dtmf,omitempty"`
	Codec         string     `json:"codec,omitempty"`
	Prompt        string     `json:"prompt,omitempty"`
	RTP           RTP        `json:"rtp"`
	RecordingPath string     `json:"recording_path,omitempty"`
	RecordingBox  string     `json:"recording_box,omitempty"`
	// RecordingPauses are the intervals the recording holds silence
	// (POST /v1/calls/{id}/recording/pause, or a flow's recording: paused).
	RecordingPauses []RecordingPause `json:"recording_pauses,omitempty"`
	Error           string           `json:"error,omitempty"`
	// Campaign calls.
	ContactID     string `json:"contact_id,omitempty"`
	AttemptID     string `json:"attempt_id,omitempty"`
	Variant       string `json:"variant,omitempty"`
	AMD           string `json:"amd,omitempty"` // human, machine, notsure
	AMDDecisionMs int64  `json:"amd_decision_ms,omitempty"`
	AMDBeep       bool   `json:"amd_beep,omitempty"`
	Outcome       string `json:"outcome,omitempty"`
	Intent        string `json:"intent,omitempty"`
	// Calls that ran a dialogue flow.
	Flow       string           `json:"flow,omitempty"`
	Dialogue   *Dialogue        `json:"dialogue,omitempty"`
	Transcript []TranscriptTurn `json:"transcript,omitempty"`
}

// RecordingPause is one interval of a recording replaced by silence on
// both channels: offsets from the start of the recording, and wall-clock
// times.
type RecordingPause struct {
	Start       time.Time  `json:"start"`
	End         *time.Time `json:"end,omitempty"`
	OffsetMs    int64      `json:"offset_ms"`
	EndOffsetMs int64      `json:"end_offset_ms,omitempty"`
	By          string     `json:"by,omitempty"`
}

// Dialogue is what a call's flow decided.
type Dialogue struct {
	Disposition   string            `json:"disposition"` // converted, refused, callback_requested, transferred, opt_out…
	IntentLevel   string            `json:"intent_level,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	Slots         map[string]string `json:"slots,omitempty"`
	OptOut        bool              `json:"opt_out,omitempty"`
	Transferred   bool              `json:"transferred,omitempty"`
	EmotionScores []float64         `json:"emotion_scores,omitempty"`
	FailedTurns   int               `json:"failed_turns,omitempty"`
	ResumeNode    string            `json:"resume_node,omitempty"`
}

// TranscriptTurn is one entry of a call's transcript.
type TranscriptTurn struct {
	Who        string    `json:"who"` // bot, caller or system
	Node       string    `json:"node,omitempty"`
	Text       string    `json:"text,omitempty"`
	Digits     string    `json:"digits,omitempty"`
	Intent     string    `json:"intent,omitempty"`
	Confidence float64   `json:"confidence,omitempty"`
	Emotion    float64   `json:"emotion,omitempty"`
	BargedIn   bool      `json:"barged_in,omitempty"`
	NoInput    bool      `json:"no_input,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
}

// RTP is a call's RTP/RTCP summary.
type RTP struct {
	PacketsSent        int64   `json:"packets_sent"`
	PacketsReceived    int64   `json:"packets_received"`
	PacketsLost        int64   `json:"packets_lost"`
	LossFraction       float64 `json:"loss_fraction"`
	JitterMs           float64 `json:"jitter_ms"`
	RemoteLossFraction float64 `json:"remote_loss_fraction"`
	RemoteJitterMs     float64 `json:"remote_jitter_ms"`
}

// PlaceCall is the body of POST /v1/calls.
type PlaceCall struct {
	Number         string  `json:"number"`
	Trunk          string  `json:"trunk,omitempty"`
	CallerID       string  `json:"caller_id,omitempty"`
	Say            string  `json:"say"`
	Voice          string  `json:"voice,omitempty"`
	WaitDTMF       int     `json:"wait_dtmf,omitempty"`
	DTMFTimeoutSec float64 `json:"dtmf_timeout_sec,omitempty"`
	RingTimeoutSec float64 `json:"ring_timeout_sec,omitempty"`
	// Flow runs a dialogue flow after answer instead of Say: a file path
	// or a name under flows.dir. Profile holds the contact's fields the
	// flow's templates and branches use.
	Flow    string            `json:"flow,omitempty"`
	Profile map[string]string `json:"profile,omitempty"`
}

// Error is every non-2xx body.
type Error struct {
	Error string `json:"error"`
}

// MediaStats is GET /v1/stats/media: the RTP plane since the daemon started,
// over every finished call leg, plus the shared media clock.
type MediaStats struct {
	ActiveCalls       int     `json:"active_calls"`
	Legs              uint64  `json:"legs"`
	PacketsSent       uint64  `json:"packets_sent"`
	PacketsReceived   uint64  `json:"packets_received"`
	PacketsExpected   uint64  `json:"packets_expected"`
	PacketsLost       int64   `json:"packets_lost"`
	LossFraction      float64 `json:"loss_fraction"`
	SendIntervalP50Ms float64 `json:"send_interval_deviation_p50_ms"`
	SendIntervalP99Ms float64 `json:"send_interval_deviation_p99_ms"`
	SendIntervalMaxMs float64 `json:"send_interval_deviation_max_ms"`
	SendIntervals     uint64  `json:"send_intervals"`
	ClockTicks        uint64  `json:"clock_ticks"`
	ClockSkipped      uint64  `json:"clock_skipped_ticks"`
	ClockMaxLateMs    float64 `json:"clock_max_lateness_ms"`
	ClockMaxWorkMs    float64 `json:"clock_max_work_ms"`
}

// Trunk is GET /v1/trunks: one trunk's registration and keepalive state.
type Trunk struct {
	Name          string     `json:"name"`
	Auth          string     `json:"auth"`
	Registered    bool       `json:"registered"`
	RegState      string     `json:"registration,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	NextRefresh   *time.Time `json:"next_refresh,omitempty"`
	Up            bool       `json:"up"`
	LastOptionsAt *time.Time `json:"last_options_at,omitempty"`
	ActiveCalls   int        `json:"active_calls"`
	MaxCalls      int        `json:"max_calls"`
}
