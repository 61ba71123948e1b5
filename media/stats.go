package media

import "time"

// histBounds are the inclusive upper bounds of the DeviationHistogram
// buckets. The last bucket (index len(histBounds)) holds everything above.
var histBounds = [...]time.Duration{
	100 * time.Microsecond,
	250 * time.Microsecond,
	500 * time.Microsecond,
	1 * time.Millisecond,
	2 * time.Millisecond,
	3 * time.Millisecond,
	5 * time.Millisecond,
	7500 * time.Microsecond,
	10 * time.Millisecond,
	15 * time.Millisecond,
	20 * time.Millisecond,
	30 * time.Millisecond,
	50 * time.Millisecond,
	100 * time.Millisecond,
	200 * time.Millisecond,
}

// HistogramBuckets is the number of buckets in a DeviationHistogram.
const HistogramBuckets = len(histBounds) + 1

// DeviationHistogram is a cheap fixed-bucket histogram of timing deviations
// (for example |send interval - 20 ms|). It is a plain value: copying it
// copies the counts, and adding to it never allocates.
type DeviationHistogram struct {
	Counts [HistogramBuckets]uint64
	Total  uint64
	Max    time.Duration
}

// Add records one deviation. Negative values are recorded as their
// absolute value.
func (h *DeviationHistogram) Add(d time.Duration) {
	if d < 0 {
		d = -d
	}
	i := 0
	for i < len(histBounds) && d > histBounds[i] {
		i++
	}
	h.Counts[i]++
	h.Total++
	if d > h.Max {
		h.Max = d
	}
}

// Merge adds the counts of o to h.
func (h *DeviationHistogram) Merge(o DeviationHistogram) {
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	h.Total += o.Total
	h.Max = max(h.Max, o.Max)
}

// Quantile returns an upper bound for the q-quantile (0 < q <= 1): the
// upper edge of the bucket holding it, capped at the maximum seen. It
// returns 0 for an empty histogram.
func (h *DeviationHistogram) Quantile(q float64) time.Duration {
	if h.Total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q*float64(h.Total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			if i < len(histBounds) {
				return min(histBounds[i], h.Max)
			}
			return h.Max
		}
	}
	return h.Max
}

// ClockStats is a snapshot of the media clock's health counters.
type ClockStats struct {
	Ticks       uint64        // ticks dispatched
	Skipped     uint64        // deadlines missed entirely (a worker woke more than a period late), summed over workers
	Overruns    uint64        // ticks whose shard work took longer than one period
	MaxLateness time.Duration // worst delay between a deadline and the tick that served it
	MaxWork     time.Duration // worst time one worker spent ticking its shard
	Registered  int           // tickers currently registered
	Workers     int           // worker goroutines
	LastTick    time.Time     // scheduled time of the last tick (zero before the first)

	Realtime      int    // workers running at SCHED_FIFO priority
	RealtimeError string // why real-time priority was refused ("" when granted or not asked for)
}

// SessionStats is a snapshot of one RTP session's counters. Packet and
// byte counts cover RTP only; bytes are payload octets (RFC 3550 octet
// count semantics).
type SessionStats struct {
	SSRC       uint32 // our SSRC
	RemoteSSRC uint32 // SSRC of the latched inbound stream (0 before any packet)
	Codec      Codec  // negotiated codec
	RemoteAddr string // latched RTP source "ip:port", or the SDP address before latching; "" when unknown

	PacketsSent     uint64
	BytesSent       uint64
	PacketsReceived uint64 // valid packets from the latched source, audio and telephone-event
	BytesReceived   uint64
	DTMFPacketsSent uint64 // RFC 4733 packets sent (included in PacketsSent)

	// RFC 3550 receiver statistics for the latched source.
	Expected uint64  // extended highest sequence - base sequence + 1
	Lost     int64   // Expected - received; may go negative with duplicates, as in RFC 3550
	JitterMs float64 // interarrival jitter estimate in milliseconds

	ForeignDropped   uint64 // packets from a source other than the latched ip:port
	Malformed        uint64 // datagrams that are not valid RTP (truncated, bad version, bad padding, oversize)
	WrongPayloadType uint64 // valid RTP with a payload type that was not negotiated
	NotReady         uint64 // packets dropped because no remote/codec was set yet
	DTMFErrors       uint64 // telephone-event payloads the DTMF receiver rejected
	SequenceJumps    uint64 // packets dropped as an unconfirmed sequence jump (RFC 3550 A.1)

	// Jitter buffer.
	Late         uint64 // audio that arrived after its playout time
	Duplicate    uint64 // audio already in the buffer
	Concealed    uint64 // frames synthesised for missing audio
	Discarded    uint64 // frames dropped to shrink the buffer after a burst
	Resets       uint64 // buffer re-anchored (SSRC change, timestamp jump, new talkspurt)
	JitterTarget time.Duration
	JitterDepth  time.Duration

	// RTCP.
	RTCPSent           uint64
	RTCPReceived       uint64
	RTCPMalformed      uint64
	RTCPForeign        uint64        // RTCP from an address other than the remote's IP
	RemoteFractionLost float64       // 0..1, from the last report block about our stream
	RemoteTotalLost    int64         // cumulative, from the last report block about our stream
	RemoteJitterMs     float64       // remote's interarrival jitter of our stream
	RTT                time.Duration // from LSR/DLSR, 0 when unknown

	// Send pacing: deviation of the interval between consecutive sent
	// packets from the clock period.
	SendIntervalMaxDeviation time.Duration
	SendIntervalP50          time.Duration
	SendIntervalP99          time.Duration
	SendInterval             DeviationHistogram

	SinkErrors uint64 // errors returned by the recorder or inbound sink
	DTMFEvents uint64 // DTMF events delivered to OnDTMF
}
