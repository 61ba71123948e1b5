//go:build !portaudio

package hw

import "log/slog"

// Devices lists local audio devices. This build has no PortAudio support:
// it returns ErrNoAudioSupport.
func Devices() ([]Device, error) { return nil, ErrNoAudioSupport }

// Console is the supervisor's headset at the box. This build has no
// PortAudio support, so OpenConsole always fails; the methods exist so that
// callers compile, and act as on a closed console.
type Console struct{}

// OpenConsole returns ErrNoAudioSupport in this build.
func OpenConsole(inputName, outputName string, logger *slog.Logger) (*Console, error) {
	return nil, ErrNoAudioSupport
}

// Mode returns ConsoleOff.
func (c *Console) Mode() ConsoleMode { return ConsoleOff }

// SetMode returns ErrNoAudioSupport.
func (c *Console) SetMode(m ConsoleMode) error { return ErrNoAudioSupport }

// Monitor discards the audio.
func (c *Console) Monitor(callee, box []int16) {}

// ReadMic returns ErrNoAudioSupport.
func (c *Console) ReadMic(pcm []int16) (int, error) { return 0, ErrNoAudioSupport }

// Outbound returns bot unchanged.
func (c *Console) Outbound(bot FrameReader) FrameReader { return bot }

// Close does nothing.
func (c *Console) Close() error { return nil }
