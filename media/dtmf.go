package media

// This file holds RFC 4733 telephone-event support: the digit/code mapping,
// the 4-byte payload codec, a receiver that turns a stream of payloads into
// one DTMFEvent per key press, and a generator that produces the payloads a
// sender must emit on each 20 ms tick.

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// DTMF event sources reported in DTMFEvent.Source.
const (
	DTMFSourceRFC4733 = "rfc4733"
	DTMFSourceInband  = "inband"
)

// DTMFPayloadSize is the size of one RFC 4733 telephone-event payload.
const DTMFPayloadSize = 4

// Limits of what DTMFGenerator and ToneGenerator accept for one digit.
const (
	// MinDTMFDuration is the shortest key press we send (and the shortest the
	// in-band detector is specified to catch).
	MinDTMFDuration = 40 * time.Millisecond
	// MaxDTMFDuration is the longest key press one RFC 4733 event can carry
	// without segmentation (the 16-bit duration field at 8 kHz, rounded down
	// to whole 20 ms packets).
	MaxDTMFDuration = 8 * time.Second
	// DTMFInterDigitGap is the pause the generators leave between queued
	// digits.
	DTMFInterDigitGap = 60 * time.Millisecond
	// dtmfGenQueueLen bounds how many digits can be queued on one generator.
	dtmfGenQueueLen = 64
	// dtmfEndRepeats is how many times the end packet of an event is sent.
	dtmfEndRepeats = 3
	// dtmfDefaultVolume is the volume field (-dBm0) the generator sends.
	dtmfDefaultVolume = 10
)

// Sentinel errors of the DTMF code. Callers test them with errors.Is; the
// returned errors wrap them with the offending value.
var (
	// ErrShortDTMF: a telephone-event payload shorter than 4 bytes.
	ErrShortDTMF = errors.New("media: telephone-event payload shorter than 4 bytes")
	// ErrDTMFBuffer: the destination buffer cannot hold a 4-byte payload.
	ErrDTMFBuffer = errors.New("media: buffer too small for a telephone-event payload")
	// ErrDTMFVolume: a volume above 63 (the field is 6 bits of -dBm0).
	ErrDTMFVolume = errors.New("media: telephone-event volume out of range 0-63")
	// ErrNotDTMF: a telephone-event code other than the 16 DTMF keys
	// (0-15), for example flash-hook (16) or a fax tone; the receiver
	// ignores such events and returns this error so the caller can log it.
	ErrNotDTMF = errors.New("media: telephone-event is not a DTMF key")
	// ErrInvalidDigit: a rune that is not one of 0-9 * # A-D.
	ErrInvalidDigit = errors.New("media: not a DTMF digit (want 0-9, *, #, A-D)")
	// ErrDTMFDuration: a key-press duration outside MinDTMFDuration..MaxDTMFDuration.
	ErrDTMFDuration = errors.New("media: DTMF duration out of range")
	// ErrDTMFQueueFull: too many digits queued on a generator.
	ErrDTMFQueueFull = errors.New("media: DTMF queue full")
)

// DTMFEvent is one detected key press.
type DTMFEvent struct {
	Digit    rune          // '0'-'9', '*', '#', 'A'-'D'
	Duration time.Duration // how long the key was held (as far as known when reported)
	Source   string        // DTMFSourceRFC4733 or DTMFSourceInband
}

// String formats the event for logs.
func (e DTMFEvent) String() string {
	return fmt.Sprintf("%c/%s/%s", e.Digit, e.Duration, e.Source)
}

// DTMFCode maps a key to its RFC 4733 event code: '0'-'9' → 0-9, '*' → 10,
// '#' → 11, 'A'-'D' → 12-15. Lower-case 'a'-'d' are accepted too.
func DTMFCode(d rune) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, true
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, true
	}
	return 0, false
}

// DTMFDigit maps an RFC 4733 event code 0-15 to its key.
func DTMFDigit(code uint8) (rune, bool) {
	switch {
	case code <= 9:
		return rune('0' + code), true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code <= 15:
		return rune('A' + code - 12), true
	}
	return 0, false
}

// DTMFPayload is the RFC 4733 telephone-event payload:
//
//	 0                   1                   2                   3
//	|     event     |E|R| volume    |          duration             |
type DTMFPayload struct {
	Event    uint8  // event code (0-15 are DTMF keys)
	End      bool   // E bit: last packet(s) of the event
	Volume   uint8  // power level in -dBm0, 0-63
	Duration uint16 // in RTP timestamp units (8 kHz samples) since the event began
}

// Unmarshal decodes a telephone-event payload. Bytes after the first four
// (RFC 4733 allows redundant events appended by some senders) are ignored.
// The reserved bit is ignored as the RFC requires.
func (p *DTMFPayload) Unmarshal(b []byte) error {
	if len(b) < DTMFPayloadSize {
		return fmt.Errorf("%w: got %d bytes", ErrShortDTMF, len(b))
	}
	p.Event = b[0]
	p.End = b[1]&0x80 != 0
	p.Volume = b[1] & 0x3f
	p.Duration = uint16(b[2])<<8 | uint16(b[3])
	return nil
}

// MarshalTo writes the 4-byte payload into b and returns 4.
func (p DTMFPayload) MarshalTo(b []byte) (int, error) {
	if len(b) < DTMFPayloadSize {
		return 0, fmt.Errorf("%w: have %d bytes", ErrDTMFBuffer, len(b))
	}
	if p.Volume > 63 {
		return 0, fmt.Errorf("%w: %d", ErrDTMFVolume, p.Volume)
	}
	b[0] = p.Event
	b[1] = p.Volume
	if p.End {
		b[1] |= 0x80
	}
	b[2] = byte(p.Duration >> 8)
	b[3] = byte(p.Duration)
	return DTMFPayloadSize, nil
}

// samplesToDuration converts 8 kHz sample counts to a duration.
func samplesToDuration(n int64) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}

// DTMFReceiver turns the telephone-event packets of one RTP stream into one
// DTMFEvent per key press. The zero value is ready to use. It is not safe for
// concurrent use: the session's receive goroutine owns it.
type DTMFReceiver struct {
	ts       uint32 // RTP timestamp of the current event
	event    uint8  // its code
	dur      uint16 // longest duration seen for it
	started  bool   // ts/event are meaningful
	reported bool   // the current event was already reported: later packets with ts are retransmissions
}

// Handle processes one telephone-event payload with its RTP timestamp (all
// packets of one event share the timestamp of its first packet). It returns
// ok=true exactly once per event: on the first packet with the End bit (the
// end packet is normally sent three times; the copies are ignored), or, when
// the end packets were all lost, on the first packet of the next event.
// Packets older than the current event (by RTP serial-number arithmetic) are
// ignored. A malformed payload returns an error wrapping ErrShortDTMF; a
// non-DTMF event (code > 15) returns an error wrapping ErrNotDTMF and leaves
// the receiver's state untouched.
//
// One corner case needs a second call: when an event's end was lost and the
// next event arrives as a lone end packet, Handle reports the lost event and
// keeps the new one, which is reported by its retransmitted end packet or by
// Flush.
func (r *DTMFReceiver) Handle(rtpTimestamp uint32, payload []byte) (ev DTMFEvent, ok bool, err error) {
	var p DTMFPayload
	if err := p.Unmarshal(payload); err != nil {
		return DTMFEvent{}, false, err
	}
	if p.Event > 15 {
		return DTMFEvent{}, false, fmt.Errorf("%w: event code %d", ErrNotDTMF, p.Event)
	}
	if r.started {
		if rtpTimestamp == r.ts {
			if r.reported {
				return DTMFEvent{}, false, nil // retransmitted end or late packet
			}
			if p.Duration > r.dur {
				r.dur = p.Duration
			}
			if p.End {
				r.reported = true
				return r.current(), true, nil
			}
			return DTMFEvent{}, false, nil
		}
		if int32(rtpTimestamp-r.ts) < 0 {
			return DTMFEvent{}, false, nil // stale packet of an older event
		}
	}
	// A new event begins.
	lost, haveLost := r.current(), r.started && !r.reported
	r.ts, r.event, r.dur, r.started, r.reported = rtpTimestamp, p.Event, p.Duration, true, false
	if haveLost {
		return lost, true, nil
	}
	if p.End {
		r.reported = true
		return r.current(), true, nil
	}
	return DTMFEvent{}, false, nil
}

// Flush reports the current event if it has not been reported yet (its end
// packets never arrived). Call it when the stream stops or after a timeout.
func (r *DTMFReceiver) Flush() (DTMFEvent, bool) {
	if !r.started || r.reported {
		return DTMFEvent{}, false
	}
	r.reported = true
	return r.current(), true
}

func (r *DTMFReceiver) current() DTMFEvent {
	d, _ := DTMFDigit(r.event)
	return DTMFEvent{Digit: d, Duration: samplesToDuration(int64(r.dur)), Source: DTMFSourceRFC4733}
}

// DTMFGenerator is the RFC 4733 sender state for one session. The zero value
// is ready to use. Start may be called from any goroutine; Next is called by
// the media clock once per 20 ms tick. No allocation happens after creation.
type DTMFGenerator struct {
	mu        sync.Mutex
	queue     [dtmfGenQueueLen]dtmfQueued // guarded by mu; ring buffer
	head      int                         // guarded by mu
	count     int                         // guarded by mu
	volume    uint8                       // guarded by mu; used when volumeSet
	volumeSet bool                        // guarded by mu; false means dtmfDefaultVolume

	playing bool   // guarded by mu: an event is being sent
	code    uint8  // guarded by mu
	total   uint16 // guarded by mu: final duration in samples
	dur     uint16 // guarded by mu: duration sent so far
	ends    int    // guarded by mu: end packets sent so far
	gap     int    // guarded by mu: idle ticks left before the next event
}

type dtmfQueued struct {
	code  uint8
	total uint16
}

// SetVolume sets the volume field (0-63, in -dBm0) of the packets sent.
func (g *DTMFGenerator) SetVolume(v uint8) error {
	if v > 63 {
		return fmt.Errorf("%w: %d", ErrDTMFVolume, v)
	}
	g.mu.Lock()
	g.volume, g.volumeSet = v, true
	g.mu.Unlock()
	return nil
}

// Start queues one key press of the given duration (MinDTMFDuration to
// MaxDTMFDuration, rounded up to whole 20 ms packets). Queued digits are sent
// one after the other with DTMFInterDigitGap of idle between them.
func (g *DTMFGenerator) Start(digit rune, dur time.Duration) error {
	code, ok := DTMFCode(digit)
	if !ok {
		return fmt.Errorf("%w: %q", ErrInvalidDigit, digit)
	}
	if dur < MinDTMFDuration || dur > MaxDTMFDuration {
		return fmt.Errorf("%w: %s (want %s to %s)", ErrDTMFDuration, dur, MinDTMFDuration, MaxDTMFDuration)
	}
	packets := (dur + FrameDuration*time.Millisecond - 1) / (FrameDuration * time.Millisecond)
	total := uint16(int64(packets) * FrameSamples)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.count == len(g.queue) {
		return fmt.Errorf("%w: %d digits pending", ErrDTMFQueueFull, g.count)
	}
	g.queue[(g.head+g.count)%len(g.queue)] = dtmfQueued{code: code, total: total}
	g.count++
	return nil
}

// Pending reports whether an event is being sent or queued.
func (g *DTMFGenerator) Pending() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.playing || g.count > 0
}

// Clear drops the queued digits; an event already being sent is finished
// properly (its end packets are still sent).
func (g *DTMFGenerator) Clear() {
	g.mu.Lock()
	g.count = 0
	g.mu.Unlock()
}

// Next is called once per 20 ms tick. When a telephone-event packet is due
// it writes the 4-byte payload into dst and returns n=4, ok=true; first is
// true on the first packet of an event (the caller sets the RTP marker bit
// and keeps that packet's RTP timestamp for every packet of the event). The
// duration field grows by 160 per packet and the end packet is sent three
// times. ok=false means no event is due this tick (the caller sends audio);
// it is also returned, without consuming anything, when dst is shorter than
// 4 bytes.
func (g *DTMFGenerator) Next(dst []byte) (n int, first bool, ok bool) {
	if len(dst) < DTMFPayloadSize {
		return 0, false, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.playing {
		if g.gap > 0 {
			g.gap--
			return 0, false, false
		}
		if g.count == 0 {
			return 0, false, false
		}
		q := g.queue[g.head]
		g.head = (g.head + 1) % len(g.queue)
		g.count--
		g.playing, g.code, g.total, g.dur, g.ends = true, q.code, q.total, 0, 0
		first = true
	}
	vol := uint8(dtmfDefaultVolume)
	if g.volumeSet {
		vol = g.volume
	}
	p := DTMFPayload{Event: g.code, Volume: vol}
	if g.dur < g.total {
		g.dur += FrameSamples
	}
	p.Duration = g.dur
	if g.dur >= g.total {
		p.End = true
		g.ends++
		if g.ends >= dtmfEndRepeats {
			g.playing = false
			g.gap = int(DTMFInterDigitGap / (FrameDuration * time.Millisecond))
		}
	}
	n, _ = p.MarshalTo(dst) // cannot fail: length and volume checked above
	return n, first, true
}
