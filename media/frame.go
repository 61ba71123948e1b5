package media

// SampleRate is the rate of all audio inside the box: 8 kHz, 16-bit signed, mono.
const SampleRate = 8000

// FrameDuration is the packetisation interval and the media clock period.
const FrameDuration = 20 // milliseconds

// FrameSamples is the number of samples in one 20 ms frame at 8 kHz.
const FrameSamples = SampleRate * FrameDuration / 1000

// FrameSource yields audio one frame at a time. ReadFrame fills pcm (normally
// FrameSamples long) and returns how many samples it wrote; a short final
// frame is allowed. It returns io.EOF when there is nothing more to play.
type FrameSource interface {
	ReadFrame(pcm []int16) (int, error)
}

// FrameSink consumes audio one frame at a time. The slice is only valid for
// the duration of the call: a sink that keeps audio must copy it.
type FrameSink interface {
	WriteFrame(pcm []int16) error
}

// StereoSink consumes two time-aligned frames per media tick: the callee's
// audio and the box's audio. The recorder implements it.
type StereoSink interface {
	WriteStereo(callee, box []int16) error
}

// FrameSourceFunc adapts a function to FrameSource.
type FrameSourceFunc func(pcm []int16) (int, error)

// ReadFrame calls f.
func (f FrameSourceFunc) ReadFrame(pcm []int16) (int, error) { return f(pcm) }

// FrameSinkFunc adapts a function to FrameSink.
type FrameSinkFunc func(pcm []int16) error

// WriteFrame calls f.
func (f FrameSinkFunc) WriteFrame(pcm []int16) error { return f(pcm) }
