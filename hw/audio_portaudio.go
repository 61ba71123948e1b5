//go:build portaudio

package hw

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gordonklaus/portaudio"
)

// paMu serialises PortAudio's library-wide initialisation, which is not
// thread-safe.
var paMu sync.Mutex

func paInit() error {
	paMu.Lock()
	defer paMu.Unlock()
	if err := portaudio.Initialize(); err != nil {
		return fmt.Errorf("hw: initialise PortAudio: %w", err)
	}
	return nil
}

func paTerm() error {
	paMu.Lock()
	defer paMu.Unlock()
	if err := portaudio.Terminate(); err != nil {
		return fmt.Errorf("hw: terminate PortAudio: %w", err)
	}
	return nil
}

func toDevice(d *portaudio.DeviceInfo) Device {
	dev := Device{
		Name:              d.Name,
		Index:             d.Index,
		MaxInputChannels:  d.MaxInputChannels,
		MaxOutputChannels: d.MaxOutputChannels,
		DefaultSampleRate: d.DefaultSampleRate,
	}
	if d.HostApi != nil {
		dev.HostAPI = d.HostApi.Name
	}
	return dev
}

// Devices lists the local audio devices PortAudio can see.
func Devices() ([]Device, error) {
	if err := paInit(); err != nil {
		return nil, err
	}
	defer paTerm()
	infos, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("hw: list audio devices: %w", err)
	}
	devs := make([]Device, 0, len(infos))
	for _, d := range infos {
		devs = append(devs, toDevice(d))
	}
	return devs, nil
}

// cushionBuffers is how many 20 ms buffers of silence are written ahead of
// the headset audio after start and after every underflow, to absorb media
// clock jitter.
const cushionBuffers = 2

// Console is the supervisor's headset at the box: it plays the call's audio
// (Monitor) and captures the headset microphone (ReadMic) according to its
// mode. All methods are safe for concurrent use.
type Console struct {
	logger *slog.Logger
	mode   atomic.Int32 // a ConsoleMode
	closed atomic.Bool
	out    *playback // nil when the output device is NoDevice
	in     *capture  // nil when the input device is NoDevice
	wg     sync.WaitGroup
	once   sync.Once
	err    error // result of Close
}

// playback owns the output stream and its writer goroutine.
type playback struct {
	stream   *portaudio.Stream
	dev      Device
	channels int
	frames   int     // device frames per 20 ms buffer
	buf      []int16 // frames*channels, bound to stream
	rs       *resampler

	mu       sync.Mutex
	cond     *sync.Cond
	ring     *sampleRing // guarded by mu; 8 kHz mono mixed audio
	mix      []int16     // guarded by mu; Monitor scratch
	stopping bool        // guarded by mu

	underflows atomic.Uint64
	writeErrs  atomic.Uint64
}

// capture owns the input stream; ReadMic pulls from it without blocking.
type capture struct {
	stream   *portaudio.Stream
	dev      Device
	channels int
	frames   int
	buf      []int16 // frames*channels, bound to stream

	mu        sync.Mutex
	rs        *resampler  // guarded by mu
	fifo      *sampleRing // guarded by mu; 8 kHz mono microphone audio
	mono      []int16     // guarded by mu; scratch
	conv      []int16     // guarded by mu; scratch
	closed    bool        // guarded by mu
	overflows uint64      // guarded by mu
}

// OpenConsole opens the headset: inputName is the microphone device and
// outputName the earpiece device, each matched by FindDevice (exact or
// unique case-insensitive substring), "" for PortAudio's default device, or
// NoDevice ("none") to leave that side out. Streams run at 8 kHz mono when
// the device accepts it, else at the device's default rate (and/or stereo)
// with resampling. The console starts in ConsoleOff.
//
// For hardware devices set PA_ALSA_PLUGHW=1 in the daemon's environment so
// that ALSA converts rates itself (the systemd unit does).
func OpenConsole(inputName, outputName string, logger *slog.Logger) (*Console, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if inputName == NoDevice && outputName == NoDevice {
		return nil, fmt.Errorf("%w: both input and output are %q", ErrDeviceNotFound, NoDevice)
	}
	if err := paInit(); err != nil {
		return nil, err
	}
	c := &Console{logger: logger.With("component", "console")}
	ok := false
	defer func() {
		if !ok {
			c.closeStreams()
			_ = paTerm()
		}
	}()
	infos, err := portaudio.Devices()
	if err != nil {
		return nil, fmt.Errorf("hw: list audio devices: %w", err)
	}
	if outputName != NoDevice {
		info, err := pickDevice(infos, outputName, false)
		if err != nil {
			return nil, err
		}
		if c.out, err = openPlayback(info); err != nil {
			return nil, err
		}
	}
	if inputName != NoDevice {
		info, err := pickDevice(infos, inputName, true)
		if err != nil {
			return nil, err
		}
		if c.in, err = openCapture(info); err != nil {
			return nil, err
		}
	}
	if c.out != nil {
		c.wg.Add(1)
		go c.writeLoop()
		c.logger.Info("console output open", "device", c.out.dev.Name, "rate", c.out.dev.DefaultSampleRate, "channels", c.out.channels, "resampling", c.out.rs != nil)
	}
	if c.in != nil {
		c.logger.Info("console input open", "device", c.in.dev.Name, "channels", c.in.channels, "resampling", c.in.rs != nil)
	}
	ok = true
	return c, nil
}

func pickDevice(infos []*portaudio.DeviceInfo, name string, input bool) (*portaudio.DeviceInfo, error) {
	if name == "" {
		get, dir := portaudio.DefaultOutputDevice, "output"
		if input {
			get, dir = portaudio.DefaultInputDevice, "input"
		}
		d, err := get()
		if err != nil || d == nil {
			devs := make([]Device, 0, len(infos))
			for _, i := range infos {
				devs = append(devs, toDevice(i))
			}
			_, ferr := FindDevice(devs, "", input) // builds the listing
			return nil, fmt.Errorf("hw: no default %s device (%v); name one: %w", dir, err, ferr)
		}
		return d, nil
	}
	devs := make([]Device, 0, len(infos))
	for _, i := range infos {
		devs = append(devs, toDevice(i))
	}
	d, err := FindDevice(devs, name, input)
	if err != nil {
		return nil, err
	}
	for _, i := range infos {
		if i.Index == d.Index {
			return i, nil
		}
	}
	return nil, fmt.Errorf("%w: %q vanished while opening", ErrDeviceNotFound, name)
}

// streamFormat finds a rate and channel count the device accepts: 8 kHz
// first, mono first.
func streamFormat(d *portaudio.DeviceInfo, input bool) (portaudio.StreamParameters, error) {
	maxCh := d.MaxOutputChannels
	lat := d.DefaultLowOutputLatency
	if input {
		maxCh, lat = d.MaxInputChannels, d.DefaultLowInputLatency
	}
	lat = max(lat, 40*time.Millisecond)
	var tried []string
	for _, ch := range []int{1, 2} {
		if ch > maxCh {
			continue
		}
		for _, rate := range []float64{consoleRate, d.DefaultSampleRate} {
			if rate <= 0 {
				continue
			}
			var p portaudio.StreamParameters
			sp := portaudio.StreamDeviceParameters{Device: d, Channels: ch, Latency: lat}
			if input {
				p.Input = sp
			} else {
				p.Output = sp
			}
			p.SampleRate = rate
			p.FramesPerBuffer = int(rate) / 50
			err := portaudio.IsFormatSupported(p, make([]int16, ch))
			if err == nil {
				return p, nil
			}
			tried = append(tried, fmt.Sprintf("%d ch at %g Hz: %v", ch, rate, err))
		}
	}
	return portaudio.StreamParameters{}, fmt.Errorf("%w: %q: %v", ErrAudioFormat, d.Name, tried)
}

func openPlayback(d *portaudio.DeviceInfo) (*playback, error) {
	p, err := streamFormat(d, false)
	if err != nil {
		return nil, err
	}
	pb := &playback{
		dev:      toDevice(d),
		channels: p.Output.Channels,
		frames:   p.FramesPerBuffer,
		ring:     newSampleRing(consoleRate / 5), // 200 ms
	}
	pb.cond = sync.NewCond(&pb.mu)
	pb.buf = make([]int16, pb.frames*pb.channels)
	if p.SampleRate != consoleRate {
		pb.rs = newResampler(consoleRate, p.SampleRate)
	}
	if pb.stream, err = portaudio.OpenStream(p, pb.buf); err != nil {
		return nil, fmt.Errorf("hw: open output %q: %w", d.Name, err)
	}
	if err := pb.stream.Start(); err != nil {
		_ = pb.stream.Close()
		return nil, fmt.Errorf("hw: start output %q: %w", d.Name, err)
	}
	return pb, nil
}

func openCapture(d *portaudio.DeviceInfo) (*capture, error) {
	p, err := streamFormat(d, true)
	if err != nil {
		return nil, err
	}
	cp := &capture{
		dev:      toDevice(d),
		channels: p.Input.Channels,
		frames:   p.FramesPerBuffer,
		fifo:     newSampleRing(consoleRate / 2), // 500 ms
	}
	cp.buf = make([]int16, cp.frames*cp.channels)
	if p.SampleRate != consoleRate {
		cp.rs = newResampler(p.SampleRate, consoleRate)
	}
	if cp.stream, err = portaudio.OpenStream(p, cp.buf); err != nil {
		return nil, fmt.Errorf("hw: open input %q: %w", d.Name, err)
	}
	if err := cp.stream.Start(); err != nil {
		_ = cp.stream.Close()
		return nil, fmt.Errorf("hw: start input %q: %w", d.Name, err)
	}
	return cp, nil
}

// Mode returns the current mode.
func (c *Console) Mode() ConsoleMode { return ConsoleMode(c.mode.Load()) }

// SetMode switches the console. Switching to ConsoleOff discards queued
// headset audio. It fails with ErrInvalidMode or ErrConsoleClosed.
func (c *Console) SetMode(m ConsoleMode) error {
	if !m.Valid() {
		return fmt.Errorf("%w: %d", ErrInvalidMode, int32(m))
	}
	if c.closed.Load() {
		return ErrConsoleClosed
	}
	old := ConsoleMode(c.mode.Swap(int32(m)))
	if m == ConsoleOff && c.out != nil {
		c.out.mu.Lock()
		c.out.ring.Pop(make([]int16, c.out.ring.Len()))
		c.out.mu.Unlock()
	}
	if old != m {
		c.logger.Info("console mode changed", "from", old.String(), "to", m.String())
	}
	return nil
}

// Monitor queues one media tick of call audio for the headset: the
// callee's and the box's 8 kHz frames, mixed according to the mode (both in
// Listen and Whisper, the callee only in Barge, nothing when Off). It never
// blocks: when the headset falls behind, the oldest queued audio is dropped.
func (c *Console) Monitor(callee, box []int16) {
	if c.out == nil || c.closed.Load() {
		return
	}
	mode := c.Mode()
	if mode == ConsoleOff {
		return
	}
	if mode == ConsoleBarge {
		box = nil
	}
	o := c.out
	o.mu.Lock()
	if n := max(len(callee), len(box)); cap(o.mix) < n {
		o.mix = make([]int16, n)
	}
	n := mixInto(o.mix[:cap(o.mix)], callee, box)
	o.ring.Push(o.mix[:n])
	o.mu.Unlock()
	o.cond.Signal()
}

// writeLoop feeds the output stream from the ring. It writes only when
// audio is queued: between calls the device underruns and plays silence.
func (c *Console) writeLoop() {
	defer c.wg.Done()
	o := c.out
	chunk := make([]int16, consoleRate/50)
	var pending []int16 // mono samples at device rate
	primed := false
	var lastErr string
	write := func() {
		err := o.stream.Write()
		switch {
		case err == nil:
		case errors.Is(err, portaudio.OutputUnderflowed):
			o.underflows.Add(1)
			primed = false
		default:
			o.writeErrs.Add(1)
			if err.Error() != lastErr {
				lastErr = err.Error()
				c.logger.Warn("console output write failed", "device", o.dev.Name, "err", err)
			}
		}
	}
	for {
		o.mu.Lock()
		for o.ring.Len() == 0 && !o.stopping {
			o.cond.Wait()
		}
		if o.ring.Len() == 0 { // stopping and drained
			o.mu.Unlock()
			if len(pending) > 0 { // last partial buffer, padded with silence
				clear(o.buf)
				for i, s := range pending {
					for ch := 0; ch < o.channels; ch++ {
						o.buf[i*o.channels+ch] = s
					}
				}
				write()
			}
			return
		}
		n := o.ring.Pop(chunk)
		o.mu.Unlock()

		if !primed {
			clear(o.buf)
			for i := 0; i < cushionBuffers; i++ {
				write()
			}
			primed = true
		}
		if o.rs != nil {
			pending = o.rs.process(pending, chunk[:n])
		} else {
			pending = append(pending, chunk[:n]...)
		}
		for len(pending) >= o.frames {
			for i, s := range pending[:o.frames] {
				for ch := 0; ch < o.channels; ch++ {
					o.buf[i*o.channels+ch] = s
				}
			}
			write()
			pending = pending[:copy(pending, pending[o.frames:])]
		}
	}
}

// ReadMic fills pcm with 8 kHz mono audio from the headset microphone. It
// never blocks: what the device has not yet delivered is returned as
// silence, and n is always len(pcm). When the mode is ConsoleOff or the
// console has no input device it returns silence. It is a FrameReader (the
// shape of media.FrameSource); errors wrap the device name.
func (c *Console) ReadMic(pcm []int16) (int, error) {
	if c.closed.Load() {
		return 0, ErrConsoleClosed
	}
	if c.in == nil || c.Mode() == ConsoleOff {
		clear(pcm)
		return len(pcm), nil
	}
	in := c.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return 0, ErrConsoleClosed
	}
	for in.fifo.Len() < len(pcm) {
		avail, err := in.stream.AvailableToRead()
		if err != nil {
			return 0, fmt.Errorf("hw: microphone %q: %w", in.dev.Name, err)
		}
		if avail < in.frames {
			break
		}
		if err := in.stream.Read(); err != nil {
			if !errors.Is(err, portaudio.InputOverflowed) {
				return 0, fmt.Errorf("hw: read microphone %q: %w", in.dev.Name, err)
			}
			in.overflows++ // stale audio was dropped by the driver; carry on
		}
		in.mono = in.mono[:0]
		for i := 0; i < in.frames; i++ {
			var s int32
			for ch := 0; ch < in.channels; ch++ {
				s += int32(in.buf[i*in.channels+ch])
			}
			in.mono = append(in.mono, int16(s/int32(in.channels)))
		}
		if in.rs != nil {
			in.conv = in.rs.process(in.conv[:0], in.mono)
			in.fifo.Push(in.conv)
		} else {
			in.fifo.Push(in.mono)
		}
	}
	n := in.fifo.Pop(pcm)
	clear(pcm[n:])
	return len(pcm), nil
}

// Outbound wraps the bot's outbound source: in ConsoleBarge it returns the
// headset microphone instead (and does not read bot, which so pauses); in
// every other mode it returns bot's audio. If the microphone fails, the
// bot's audio is used and the failure logged once.
func (c *Console) Outbound(bot FrameReader) FrameReader {
	var warned atomic.Bool
	return FrameReaderFunc(func(pcm []int16) (int, error) {
		if c.Mode() == ConsoleBarge {
			n, err := c.ReadMic(pcm)
			if err == nil {
				return n, nil
			}
			if !warned.Swap(true) {
				c.logger.Error("barge microphone failed; bot audio resumes", "err", err)
			}
		}
		return bot.ReadFrame(pcm)
	})
}

// Close plays out the queued headset audio (at most 200 ms), stops the
// writer goroutine, closes both streams and releases PortAudio. It is
// idempotent.
func (c *Console) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		if c.out != nil {
			c.out.mu.Lock()
			c.out.stopping = true
			c.out.mu.Unlock()
			c.out.cond.Broadcast()
		}
		c.wg.Wait()
		c.err = errors.Join(c.closeStreams(), paTerm())
		if c.out != nil && c.out.underflows.Load()+c.out.writeErrs.Load() > 0 {
			c.logger.Info("console output closed", "underflows", c.out.underflows.Load(), "write_errors", c.out.writeErrs.Load())
		}
	})
	return c.err
}

// closeStreams aborts and closes whatever streams are open.
func (c *Console) closeStreams() error {
	var errs []error
	if c.out != nil && c.out.stream != nil {
		// Stop plays out what is buffered (at most the device latency).
		errs = append(errs, ignoreStopped(c.out.stream.Stop()), c.out.stream.Close())
	}
	if c.in != nil && c.in.stream != nil {
		c.in.mu.Lock()
		c.in.closed = true
		errs = append(errs, ignoreStopped(c.in.stream.Abort()), c.in.stream.Close())
		c.in.mu.Unlock()
	}
	return errors.Join(errs...)
}

func ignoreStopped(err error) error {
	if errors.Is(err, portaudio.StreamIsStopped) {
		return nil
	}
	return err
}
