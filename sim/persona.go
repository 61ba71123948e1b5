package sim

// This file holds the Persona type, its validation and the built-in
// personas.

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Persona kinds.
const (
	KindAnswer    = "answer"    // answer and play the script
	KindBusy      = "busy"      // ring, then a 486 (or Code)
	KindNoAnswer  = "noanswer"  // ring until CANCEL (or MaxRing, then 480)
	KindReject    = "reject"    // ring, then a 603 (or Code)
	KindHangup    = "hangup"    // answer, play the script, send BYE after HangupAfter
	KindVoicemail = "voicemail" // answer, play Greeting and the beep, then listen
)

var kinds = []string{KindAnswer, KindBusy, KindNoAnswer, KindReject, KindHangup, KindVoicemail}

// Defaults applied to personas.
const (
	DefaultRingFor      = time.Second
	DefaultHangupAfter  = 4 * time.Second // for KindHangup without HangupAfter
	DefaultVoice        = "en-us"
	MandarinVoice       = "cmn-latn-pinyin" // plain "cmn" is broken on Debian 12
	maxUtterances       = 32
	maxUtteranceBytes   = 1024
	maxDigits           = 32 // the media session queues 32 digits
	maxRingFor          = 5 * time.Minute
	defaultBusyCode     = 486
	defaultRejectCode   = 603
	defaultNoAnswerCode = 480 // sent when a noanswer call rings for MaxRing
)

// Persona is how the simulated callee behaves on one call.
type Persona struct {
	Name string `json:"name"` // e.g. "yes"
	// Kind is one of answer, busy, noanswer, reject, hangup, voicemail.
	Kind string `json:"kind"`
	// RingFor is how long 180 Ringing (or 183 early media) lasts before the
	// final answer; default 1 s. noanswer rings until CANCEL.
	RingFor time.Duration `json:"ring_for,omitempty"`
	// EarlyMedia sends 183 Session Progress with SDP and plays a ringback
	// tone (450 Hz, 1 s on 4 s off) until the 200.
	EarlyMedia bool `json:"early_media,omitempty"`
	// Say are utterances spoken in turn, each after the box stops talking
	// (VAD end of the box's speech plus a 300-700 ms human gap), the first
	// one 500 ms into the box's first prompt when Talkover.
	Say []string `json:"say,omitempty"`
	// Voice is the espeak-ng voice ("en-us" by default, "cmn-latn-pinyin"
	// for Mandarin written in numbered pinyin).
	Voice string `json:"voice,omitempty"`
	// Loud is an angry callee: louder and faster (espeak -a 140 -s 190,
	// peaks just below full scale).
	Loud bool `json:"loud,omitempty"`
	// DTMF digits are sent as RFC 4733 events after the box's first prompt
	// ends, e.g. "1234#".
	DTMF string `json:"dtmf,omitempty"`
	// Talkover starts speaking 500 ms into the box's first prompt.
	Talkover bool `json:"talkover,omitempty"`
	// HangupAfter makes the callee send BYE this long after answering
	// (any answering kind; KindHangup defaults it to 4 s).
	HangupAfter time.Duration `json:"hangup_after,omitempty"`
	// Silent answers and says nothing.
	Silent bool `json:"silent,omitempty"`
	// Greeting is the voicemail greeting; Beep follows it with a 1 kHz
	// 400 ms beep, then the voicemail listens in silence.
	Greeting string `json:"greeting,omitempty"`
	Beep     bool   `json:"beep,omitempty"`
	// Code is the final response for busy/reject (486, 603, 480, ...).
	Code int `json:"code,omitempty"`
}

// answers reports whether the persona sends a 200 OK.
func (p Persona) answers() bool {
	return p.Kind == KindAnswer || p.Kind == KindHangup || p.Kind == KindVoicemail
}

// withDefaults fills in RingFor, Voice, HangupAfter and Code.
func (p Persona) withDefaults() Persona {
	if p.RingFor == 0 {
		p.RingFor = DefaultRingFor
	}
	if p.Voice == "" {
		p.Voice = DefaultVoice
	}
	if p.Kind == KindHangup && p.HangupAfter == 0 {
		p.HangupAfter = DefaultHangupAfter
	}
	if p.Code == 0 {
		switch p.Kind {
		case KindBusy:
			p.Code = defaultBusyCode
		case KindReject:
			p.Code = defaultRejectCode
		}
	}
	p.Say = slices.Clone(p.Say)
	return p
}

// Validate reports the first problem with the persona, naming the field.
func (p Persona) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrPersona, p.Name, fmt.Sprintf(format, args...))
	}
	if p.Name == "" || strings.ContainsAny(p.Name, " \t\r\n=") {
		return bad("name must be non-empty without spaces or '='")
	}
	if !slices.Contains(kinds, p.Kind) {
		return bad("kind %q is not one of %s", p.Kind, strings.Join(kinds, ", "))
	}
	if p.RingFor < 0 || p.RingFor > maxRingFor {
		return bad("ring_for %s must be between 0 and %s", p.RingFor, maxRingFor)
	}
	if p.HangupAfter < 0 {
		return bad("hangup_after %s is negative", p.HangupAfter)
	}
	if len(p.Say) > maxUtterances {
		return bad("%d utterances, at most %d", len(p.Say), maxUtterances)
	}
	for i, s := range append(slices.Clone(p.Say), p.Greeting) {
		if len(s) > maxUtteranceBytes || !utf8.ValidString(s) {
			return bad("utterance %d must be valid UTF-8 of at most %d bytes", i, maxUtteranceBytes)
		}
		if i < len(p.Say) && strings.TrimSpace(s) == "" {
			return bad("utterance %d is empty", i)
		}
	}
	if p.Voice != "" && !validVoice(p.Voice) {
		return bad("voice %q: letters, digits, '-', '+', '_' only", p.Voice)
	}
	if len(p.DTMF) > maxDigits {
		return bad("%d DTMF digits, at most %d", len(p.DTMF), maxDigits)
	}
	for _, d := range p.DTMF {
		if !strings.ContainsRune("0123456789*#ABCD", d) {
			return bad("DTMF digit %q is not one of 0-9 * # A-D", d)
		}
	}
	if p.Code != 0 {
		if p.Kind != KindBusy && p.Kind != KindReject {
			return bad("code is only used by busy and reject")
		}
		if p.Code < 300 || p.Code > 699 {
			return bad("code %d must be a final failure response 300-699", p.Code)
		}
	}
	if (p.Greeting != "" || p.Beep) && p.Kind != KindVoicemail {
		return bad("greeting and beep are only used by voicemail")
	}
	return nil
}

func validVoice(v string) bool {
	if len(v) > 64 || v[0] == '-' {
		return false
	}
	for _, r := range v {
		ok := r == '-' || r == '+' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// DefaultPersonas returns the built-in personas by name. Each call returns
// a fresh map the caller may change.
func DefaultPersonas() map[string]Persona {
	list := []Persona{
		{Name: "answer", Kind: KindAnswer, Say: []string{"Hello?"}},
		{Name: "yes", Kind: KindAnswer, Say: []string{"Yes, that's right.", "Yes, thank you."}},
		{Name: "no", Kind: KindAnswer, Say: []string{"No, not interested."}},
		{Name: "dtmf", Kind: KindAnswer, DTMF: "1234#"},
		{Name: "silent", Kind: KindAnswer, Silent: true},
		{Name: "talkover", Kind: KindAnswer, Talkover: true, Say: []string{"Sorry, who is this? What is this about?"}},
		{Name: "angry", Kind: KindAnswer, Loud: true, Say: []string{"Why do you keep calling me? This is ridiculous!"}},
		{Name: "optout", Kind: KindAnswer, Say: []string{"Stop calling me, take me off your list."}},
		{Name: "optout-zh", Kind: KindAnswer, Voice: MandarinVoice, Say: []string{"bu4 yao4 zai4 da3 le5"}},
		{Name: "yes-zh", Kind: KindAnswer, Voice: MandarinVoice, Say: []string{"dui4, shi4 de5"}},
		{Name: "no-zh", Kind: KindAnswer, Voice: MandarinVoice, Say: []string{"bu2 yong4 le5, xie4 xie4"}},
		{Name: "voicemail", Kind: KindVoicemail, RingFor: 2 * time.Second,
			Greeting: "The person you are calling is not available. Please leave a message after the tone.", Beep: true},
		{Name: "busy", Kind: KindBusy, RingFor: 500 * time.Millisecond, Code: 486},
		{Name: "noanswer", Kind: KindNoAnswer},
		{Name: "reject", Kind: KindReject, Code: 603},
		{Name: "unavailable", Kind: KindReject, RingFor: 200 * time.Millisecond, Code: 480},
		{Name: "hangup-midway", Kind: KindHangup, HangupAfter: 3 * time.Second, Say: []string{"Hello?"}},
		{Name: "early-media", Kind: KindAnswer, EarlyMedia: true, RingFor: 2 * time.Second, Say: []string{"Hello, yes?"}},
	}
	m := make(map[string]Persona, len(list))
	for _, p := range list {
		m[p.Name] = p
	}
	return m
}

// SchemeOrder is the persona order of the numeric scheme: a number of the
// form SchemePrefix+NN (two digits) gets SchemeOrder[NN % len(SchemeOrder)]
// when no Rule matches.
var SchemeOrder = []string{
	"answer", "yes", "no", "dtmf", "silent", "talkover", "angry", "optout",
	"optout-zh", "voicemail", "busy", "noanswer", "reject", "hangup-midway", "yes-zh",
}

// SchemePrefix is the number prefix of the numeric persona scheme; a 0
// may follow it (+86138000000NN, a valid 11-digit mobile number)
// (+8613800000NN; the leading '+' is optional).
const SchemePrefix = "+8613800000"
