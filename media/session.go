package media

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Session errors.
var (
	// ErrSessionClosed is returned by operations on a closed Session.
	ErrSessionClosed = errors.New("media: session closed")
	// ErrInvalidSessionConfig wraps problems with a SessionConfig.
	ErrInvalidSessionConfig = errors.New("media: invalid session config")
	// ErrUnsupportedCodec means the negotiated codec is not PCMU or PCMA.
	ErrUnsupportedCodec = errors.New("media: unsupported codec")
	// ErrInvalidRemote means the remote RTP address or DTMF payload type
	// from SDP is unusable.
	ErrInvalidRemote = errors.New("media: invalid remote media description")
	// ErrNoRemote means no codec was negotiated yet (SetRemote not called).
	ErrNoRemote = errors.New("media: remote not set")
)

// Direction is the SDP media direction of the session from our side.
type Direction int

// Media directions. Only SendRecv and SendOnly send RTP; RecvOnly and
// Inactive (hold) send nothing but RTCP. Received audio is always
// processed.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// String returns the SDP attribute name.
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return fmt.Sprintf("direction(%d)", int(d))
}

func (d Direction) sends() bool { return d == SendRecv || d == SendOnly }

// SessionConfig configures NewSession.
type SessionConfig struct {
	IP     net.IP       // address to advertise in SDP; nil means the port range's address
	Ports  *PortRange   // where to bind the RTP/RTCP pair (required)
	Clock  *Clock       // the shared media clock (required)
	Logger *slog.Logger // nil means slog.Default()
	SSRC   uint32       // 0 means random

	Now    func() time.Time // time source for arrival/send times; nil means time.Now
	Jitter JitterConfig     // jitter buffer tuning; zero means defaults
	CNAME  string           // RTCP CNAME; "" means one derived from the SSRC
}

// dtmfPendingLen bounds received DTMF events waiting for the next tick.
const dtmfPendingLen = 16

// rxBufSize is the receive buffer; a datagram that fills it is treated as
// truncated.
const rxBufSize = 2048

// maxPayload is the largest RTP payload the session sends.
const maxPayload = 512

// playback is one Play call.
type playback struct {
	src    FrameSource
	done   chan struct{}
	closed bool // guarded by Session.mu
}

// Session is one call leg's RTP/RTCP stream pair. It owns two UDP sockets
// and no goroutine: the shared Clock's worker sends, then drains both
// sockets without blocking (see udpSocket), plays out the jitter buffer,
// records and sends RTCP reports, all on the tick. Stats drains the
// sockets too, so counters include everything that has arrived.
//
// Lock order: mu, then rxMu. tickMu is held for each half of a tick (and
// by Close around the sockets) and is taken before either.
type Session struct {
	log      *slog.Logger
	clock    *Clock
	now      func() time.Time
	period   time.Duration
	ssrc     uint32
	cname    []byte
	rtpSock  *udpSocket // fd used under tickMu (send) and rxMu (receive); closed with both held
	rtcpSock *udpSocket // like rtpSock
	local    *net.UDPAddr
	kernelTS bool // arrival times come from kernel timestamps (real time source)
	closing  sync.Once

	mu         sync.Mutex
	closed     bool            // guarded by mu
	started    bool            // guarded by mu
	unregister func()          // guarded by mu
	sdpRemote  netip.AddrPort  // guarded by mu: RTP address from SDP (invalid when unknown)
	codec      Codec           // guarded by mu
	dtmfPT     uint8           // guarded by mu
	dir        Direction       // guarded by mu
	play       *playback       // guarded by mu: current prompt
	reading    *playback       // guarded by mu: prompt whose ReadFrame is in progress
	recorder   StereoSink      // guarded by mu
	inbound    FrameSink       // guarded by mu
	onDTMF     func(DTMFEvent) // guarded by mu
	gen        DTMFGenerator   // own lock: RFC 4733 sender
	tone       ToneGenerator   // own lock: in-band DTMF sender

	rxMu        sync.Mutex
	rxCodec     Codec                     // guarded by rxMu
	rxDTMFPT    uint8                     // guarded by rxMu
	rxReady     bool                      // guarded by rxMu: a supported codec is set
	rxSDP       netip.AddrPort            // guarded by rxMu: copy of sdpRemote
	latched     netip.AddrPort            // guarded by rxMu: learned RTP source (invalid until the first valid packet)
	rtcpLatched netip.AddrPort            // guarded by rxMu: learned RTCP source
	src         rtpSourceStats            // guarded by rxMu
	haveSrc     bool                      // guarded by rxMu
	jb          *JitterBuffer             // guarded by rxMu
	dtmfRx      DTMFReceiver              // guarded by rxMu
	rxPkt       rtp.Packet                // guarded by rxMu
	decodeBuf   []int16                   // guarded by rxMu
	pending     [dtmfPendingLen]DTMFEvent // guarded by rxMu: RFC 4733 events for the next tick
	npending    int                       // guarded by rxMu
	dtmfOpen    bool                      // guarded by rxMu: telephone-events seen since the last flush
	dtmfLastAt  time.Time                 // guarded by rxMu: arrival of the last telephone-event
	rtcpIn      rtcpParser                // guarded by rxMu
	remote      remoteReport              // guarded by rxMu
	epoch       time.Time                 // guarded by rxMu: origin of arrival timestamps
	rxCounters  rxCounters                // guarded by rxMu
	rx          rxBatch                   // guarded by rxMu: receive buffers for both sockets
	rxErrs      uint64                    // guarded by rxMu: socket receive errors

	tickMu        sync.Mutex
	seq           uint16              // guarded by tickMu
	ts            uint32              // guarded by tickMu: RTP timestamp of the current tick
	lastTickAt    time.Time           // guarded by tickMu
	needMarker    bool                // guarded by tickMu
	eventTS       uint32              // guarded by tickMu: timestamp of the RFC 4733 event being sent
	prevSent      bool                // guarded by tickMu: a packet went out on the previous tick
	lastSendAt    time.Time           // guarded by tickMu
	rtcpDue       int                 // guarded by tickMu: ticks until the next report
	pcmOut        [FrameSamples]int16 // guarded by tickMu
	pcmBox        [FrameSamples]int16 // guarded by tickMu: zeros, what the box "says" when silent
	pcmIn         [FrameSamples]int16 // guarded by tickMu
	payload       [maxPayload]byte    // guarded by tickMu
	pktBuf        [1500]byte          // guarded by tickMu
	rtcpBuf       [512]byte           // guarded by tickMu
	txPkt         rtp.Packet          // guarded by tickMu
	inband        *InbandDetector     // guarded by tickMu
	sinkErrLogged bool                // guarded by tickMu
	dstRTP        sockaddr            // guarded by tickMu: prepared RTP destination
	dstRTCP       sockaddr            // guarded by tickMu: prepared RTCP destination
	half          halfTick            // guarded by tickMu: state from tickSend for tickRest
	tickCount     uint64              // guarded by tickMu: completed ticks

	statMu        sync.Mutex
	tx            txCounters         // guarded by statMu
	hist          DeviationHistogram // guarded by statMu
	dtmfDelivered atomic.Uint64
}

// halfTick carries what the send half of a tick decided to the rest of it.
type halfTick struct {
	pending  bool // tickSend ran and tickRest has not yet
	boxAudio bool // the box sent pcmOut (else silence or nothing)
	dest     netip.AddrPort
}

type rxCounters struct {
	packets, bytes                           uint64
	foreign, malformed, wrongPT, notReady    uint64
	dtmfErrors, dtmfDropped, seqJumps        uint64
	rtcpReceived, rtcpMalformed, rtcpForeign uint64
}

type txCounters struct {
	packets, bytes, dtmf, rtcp, sinkErrors, sendErrors uint64
}

// NewSession binds an RTP/RTCP port pair from cfg.Ports and returns a
// session ready for SetRemote and Start.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.Ports == nil {
		return nil, fmt.Errorf("%w: Ports is nil", ErrInvalidSessionConfig)
	}
	if cfg.Clock == nil {
		return nil, fmt.Errorf("%w: Clock is nil", ErrInvalidSessionConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ssrc := cfg.SSRC
	for ssrc == 0 {
		ssrc = randUint32()
	}
	kernelTS := cfg.Now == nil
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rtpSock, rtcpSock, err := cfg.Ports.listenSockets()
	if err != nil {
		return nil, err
	}
	local := &net.UDPAddr{IP: cfg.IP, Port: rtpSock.port}
	if local.IP == nil {
		local.IP = cfg.Ports.IP()
		if ip4 := local.IP.To4(); ip4 != nil {
			local.IP = ip4
		}
	}
	cname := cfg.CNAME
	if cname == "" {
		cname = fmt.Sprintf("callbox-%08x@%s", ssrc, local.IP)
	}
	s := &Session{
		clock:      cfg.Clock,
		now:        cfg.Now,
		period:     cfg.Clock.Period(),
		ssrc:       ssrc,
		cname:      []byte(cname),
		rtpSock:    rtpSock,
		rtcpSock:   rtcpSock,
		local:      local,
		kernelTS:   kernelTS,
		jb:         NewJitterBuffer(cfg.Jitter),
		decodeBuf:  make([]int16, rxBufSize),
		seq:        uint16(randUint32()),
		ts:         randUint32(),
		needMarker: true,
		inband:     NewInbandDetector(),
	}
	s.log = cfg.Logger.With("rtp_local", local.String(), "ssrc", fmt.Sprintf("%08x", ssrc))
	s.rtcpDue = 50 + int(randUint32()%250) // first report after 1-6 s, staggered
	return s, nil
}

func randUint32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return uint32(time.Now().UnixNano())
	}
	return binary.BigEndian.Uint32(b[:])
}

// LocalAddr returns the RTP address to put in SDP (the RTCP port is one
// above it).
func (s *Session) LocalAddr() *net.UDPAddr {
	return &net.UDPAddr{IP: s.local.IP, Port: s.local.Port}
}

// SSRC returns the session's RTP synchronisation source.
func (s *Session) SSRC() uint32 { return s.ssrc }

// SetRemote applies the negotiated remote media from SDP: the remote RTP
// address, the codec and the telephone-event payload type (0 = none). It
// may be called again on re-INVITE. A new address resets the learned
// (latched) source. Invalid input is logged and ignored; use UpdateRemote
// to get the error.
func (s *Session) SetRemote(rtpAddr *net.UDPAddr, c Codec, dtmfPT uint8) {
	if err := s.UpdateRemote(rtpAddr, c, dtmfPT); err != nil {
		s.log.Error("rejected remote media description", "err", err)
	}
}

// UpdateRemote is SetRemote returning an error for an unsupported codec,
// a DTMF payload type that is out of range or collides with the codec, or
// after Close. A nil or unspecified (0.0.0.0, old-style hold) address is
// accepted: nothing is sent until a packet from the peer is latched.
func (s *Session) UpdateRemote(rtpAddr *net.UDPAddr, c Codec, dtmfPT uint8) error {
	if !c.supported() {
		return fmt.Errorf("%w: %s/%d payload type %d (want PCMU/8000 pt 0 or PCMA/8000 pt 8)", ErrUnsupportedCodec, c.Name, c.ClockRate, c.PayloadType)
	}
	if dtmfPT > 127 || (dtmfPT != 0 && dtmfPT == c.PayloadType) {
		return fmt.Errorf("%w: telephone-event payload type %d", ErrInvalidRemote, dtmfPT)
	}
	var ap netip.AddrPort
	if rtpAddr != nil {
		if rtpAddr.Port <= 0 || rtpAddr.Port > 65535 {
			return fmt.Errorf("%w: RTP port %d", ErrInvalidRemote, rtpAddr.Port)
		}
		if ip, ok := netip.AddrFromSlice(rtpAddr.IP); ok && !ip.Unmap().IsUnspecified() {
			ap = netip.AddrPortFrom(ip.Unmap(), uint16(rtpAddr.Port))
		} else if !ok && rtpAddr.IP != nil {
			return fmt.Errorf("%w: RTP address %q", ErrInvalidRemote, rtpAddr.IP)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	changed := ap != s.sdpRemote
	s.sdpRemote, s.codec, s.dtmfPT = ap, c, dtmfPT
	s.rxMu.Lock()
	s.rxCodec, s.rxDTMFPT, s.rxReady, s.rxSDP = c, dtmfPT, true, ap
	if changed {
		s.latched, s.rtcpLatched = netip.AddrPort{}, netip.AddrPort{}
	}
	s.rxMu.Unlock()
	s.log.Info("remote media set", "remote", ap.String(), "codec", c.Name, "dtmf_pt", dtmfPT, "relatch", changed)
	return nil
}

// Start registers the session with the clock; from then on each tick
// sends and receives. It is a no-op after Close or a second Start.
func (s *Session) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.started {
		return
	}
	s.started = true
	s.unregister = s.clock.Register(s)
}

// SetDirection changes the media direction (hold and resume). RecvOnly
// and Inactive stop sending RTP; the prompt pauses meanwhile.
func (s *Session) SetDirection(d Direction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d < SendRecv || d > Inactive {
		s.log.Error("ignored unknown media direction", "direction", int(d))
		return
	}
	if d != s.dir {
		s.log.Info("media direction", "from", s.dir.String(), "to", d.String())
	}
	s.dir = d
}

// Direction returns the current media direction.
func (s *Session) Direction() Direction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// Play starts playing src, replacing (and stopping) any current prompt.
// The returned channel closes when src returns io.EOF or another error, or
// when it is stopped, replaced, or the session closes; after it closes,
// src is no longer read. A nil src just stops the current prompt. src is
// read on a clock worker with the tick lock held: it must not block and
// must not call Close. The prompt pauses while the session is on hold or
// has no remote address yet.
func (s *Session) Play(src FrameSource) <-chan struct{} {
	p := &playback{src: src, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopPlayLocked()
	if src == nil || s.closed {
		p.closed = true
		close(p.done)
		return p.done
	}
	s.play = p
	return p.done
}

// StopPlay stops the current prompt, if any.
func (s *Session) StopPlay() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopPlayLocked()
}

// stopPlayLocked detaches the current prompt and closes its channel,
// unless a tick is reading it right now, in which case that tick closes it
// when the read returns.
func (s *Session) stopPlayLocked() {
	p := s.play
	if p == nil {
		return
	}
	s.play = nil
	if s.reading != p && !p.closed {
		p.closed = true
		close(p.done)
	}
}

// SendDTMF sends one digit (0-9, *, #, A-D) held for dur
// (MinDTMFDuration..MaxDTMFDuration): as RFC 4733 telephone-events when a
// payload type was negotiated, else as in-band tones. Digits sent while
// another is playing are queued by the generator with an inter-digit gap.
// Errors wrap ErrInvalidDigit, ErrDTMFDuration, ErrDTMFQueueFull,
// ErrNoRemote or ErrSessionClosed.
func (s *Session) SendDTMF(digit rune, dur time.Duration) error {
	s.mu.Lock()
	closed, codec, dtmfPT := s.closed, s.codec, s.dtmfPT
	s.mu.Unlock()
	if closed {
		return ErrSessionClosed
	}
	if !codec.supported() {
		return ErrNoRemote
	}
	var err error
	if dtmfPT != 0 {
		err = s.gen.Start(digit, dur)
	} else {
		err = s.tone.Start(digit, dur)
	}
	if err != nil {
		return fmt.Errorf("media: send DTMF: %w", err)
	}
	return nil
}

// OnDTMF sets the function called for each received DTMF event (RFC 4733,
// or in-band detection when no telephone-event payload type was
// negotiated). It runs on a clock worker goroutine, outside the session's
// locks, so it may call other Session methods (even Close), but it must
// not block.
func (s *Session) OnDTMF(fn func(DTMFEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onDTMF = fn
}

// SetRecorder sets the sink receiving, every tick, the callee's frame
// (jitter buffer output) and the box's frame (what was sent; silence when
// nothing was). nil removes it. The sink is called with the session's tick
// lock held: it must not call Close.
func (s *Session) SetRecorder(r StereoSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorder = r
}

// SetInboundSink sets the sink receiving the callee's frame every tick
// (for VAD/ASR). nil removes it. Like the recorder, it must not call Close.
func (s *Session) SetInboundSink(fn FrameSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound = fn
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() SessionStats {
	st := SessionStats{SSRC: s.ssrc}
	s.mu.Lock()
	st.Codec = s.codec
	sdp := s.sdpRemote
	live := s.started && !s.closed
	s.mu.Unlock()

	s.rxMu.Lock()
	if live {
		s.drainLocked(s.now(), true)
	}
	c := s.rxCounters
	st.PacketsReceived, st.BytesReceived = c.packets, c.bytes
	st.ForeignDropped, st.Malformed, st.WrongPayloadType, st.NotReady = c.foreign, c.malformed, c.wrongPT, c.notReady
	st.DTMFErrors, st.SequenceJumps = c.dtmfErrors, c.seqJumps
	st.RTCPReceived, st.RTCPMalformed, st.RTCPForeign = c.rtcpReceived, c.rtcpMalformed, c.rtcpForeign
	if s.haveSrc {
		st.RemoteSSRC = s.src.ssrc
		st.Expected = s.src.expected()
		st.Lost = s.src.lost()
		st.JitterMs = s.src.jitter * 1000 / SampleRate
	}
	if s.latched.IsValid() {
		st.RemoteAddr = s.latched.String()
	} else if sdp.IsValid() {
		st.RemoteAddr = sdp.String()
	}
	js := s.jb.Stats()
	r := s.remote
	s.rxMu.Unlock()

	st.Late, st.Duplicate, st.Concealed = js.Late, js.Duplicate, js.Concealed
	st.Discarded, st.Resets = js.Discarded, js.Resets
	st.JitterTarget, st.JitterDepth = js.Target, js.Depth
	st.RemoteFractionLost, st.RemoteTotalLost, st.RemoteJitterMs, st.RTT = r.fractionLost, r.totalLost, r.jitterMs, r.rtt

	s.statMu.Lock()
	t := s.tx
	st.SendInterval = s.hist
	s.statMu.Unlock()
	st.PacketsSent, st.BytesSent, st.DTMFPacketsSent, st.RTCPSent, st.SinkErrors = t.packets, t.bytes, t.dtmf, t.rtcp, t.sinkErrors
	st.SendIntervalMaxDeviation = st.SendInterval.Max
	st.SendIntervalP50 = st.SendInterval.Quantile(0.50)
	st.SendIntervalP99 = st.SendInterval.Quantile(0.99)
	st.DTMFEvents = s.dtmfDelivered.Load()
	return st
}

// Close stops the session: it unregisters from the clock, waits for a
// tick in progress, closes any Play channel and the sockets. It is
// idempotent and returns nil.
func (s *Session) Close() error {
	s.closing.Do(func() {
		s.mu.Lock()
		s.closed = true
		unregister := s.unregister
		s.stopPlayLocked()
		s.mu.Unlock()
		if unregister != nil {
			unregister()
		}
		// Wait for a tick that may still be running (it sees closed next
		// time), then close a prompt it was reading.
		s.tickMu.Lock()
		s.tickMu.Unlock()
		s.mu.Lock()
		if p := s.reading; p != nil && !p.closed {
			p.closed = true
			close(p.done)
		}
		s.mu.Unlock()
		s.tickMu.Lock()
		s.rxMu.Lock()
		s.rtpSock.close()
		s.rtcpSock.close()
		s.rxMu.Unlock()
		s.tickMu.Unlock()
		st := s.Stats()
		s.log.Info("rtp session closed",
			"sent", st.PacketsSent, "received", st.PacketsReceived, "lost", st.Lost,
			"jitter_ms", st.JitterMs, "foreign", st.ForeignDropped, "malformed", st.Malformed,
			"remote_loss", st.RemoteFractionLost, "send_dev_max", st.SendIntervalMaxDeviation)
	})
	return nil
}

// rtcpType reports whether a datagram on the RTP port looks like RTCP
// multiplexed onto it (RFC 5761: second byte 192-223).
func rtcpType(b []byte) bool {
	return len(b) >= 2 && b[1] >= 192 && b[1] <= 223
}
