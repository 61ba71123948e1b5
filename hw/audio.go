package hw

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the local audio console.
var (
	// ErrNoAudioSupport is returned by Devices and OpenConsole in builds
	// without the "portaudio" build tag.
	ErrNoAudioSupport = errors.New("hw: local audio not supported in this build (rebuild with -tags portaudio)")
	// ErrDeviceNotFound means no audio device matched the requested name;
	// the error text lists the available devices.
	ErrDeviceNotFound = errors.New("hw: audio device not found")
	// ErrAmbiguousDevice means the requested name matched several devices;
	// the error text lists them.
	ErrAmbiguousDevice = errors.New("hw: audio device name is ambiguous")
	// ErrConsoleClosed is returned by Console methods after Close.
	ErrConsoleClosed = errors.New("hw: console closed")
	// ErrInvalidMode is returned for a ConsoleMode outside Off..Barge.
	ErrInvalidMode = errors.New("hw: invalid console mode")
	// ErrAudioFormat means the device accepts neither 8 kHz nor its default
	// rate, in mono or stereo 16-bit.
	ErrAudioFormat = errors.New("hw: audio device format not supported")
)

// NoDevice as a device name in OpenConsole opens no stream on that side: a
// headset without microphone, or a microphone-only console.
const NoDevice = "none"

// consoleRate is the box's internal audio rate (media.SampleRate; hw may not
// import media).
const consoleRate = 8000

// Device describes one local audio device as PortAudio reports it.
type Device struct {
	Name              string  `json:"name"`
	Index             int     `json:"index"`
	MaxInputChannels  int     `json:"max_input_channels"`
	MaxOutputChannels int     `json:"max_output_channels"`
	DefaultSampleRate float64 `json:"default_sample_rate"`
	HostAPI           string  `json:"host_api"`
}

// ConsoleMode is what the supervisor's headset does on the call it is
// attached to.
type ConsoleMode int32

const (
	// ConsoleOff: the headset hears nothing; the microphone is muted.
	ConsoleOff ConsoleMode = iota
	// ConsoleListen: the headset hears the callee and the bot mixed; the
	// microphone goes nowhere.
	ConsoleListen
	// ConsoleWhisper: as Listen, and the microphone is live locally
	// (ReadMic returns it, e.g. for the supervisor's notes recording) but
	// it is never sent to the callee.
	ConsoleWhisper
	// ConsoleBarge: the headset microphone replaces the bot's outbound
	// audio to the callee and the bot falls silent (its source is not read,
	// so its prompt resumes where it stopped when barge ends). The headset
	// hears the callee only: the supervisor hears their own voice directly.
	ConsoleBarge
)

var modeNames = [...]string{"off", "listen", "whisper", "barge"}

// String returns the lower-case mode name.
func (m ConsoleMode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("ConsoleMode(%d)", int32(m))
	}
	return modeNames[m]
}

// Valid reports whether m is one of the defined modes.
func (m ConsoleMode) Valid() bool { return m >= ConsoleOff && m <= ConsoleBarge }

// ParseConsoleMode parses "off", "listen", "whisper" or "barge"
// (case-insensitive).
func ParseConsoleMode(s string) (ConsoleMode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return ConsoleMode(i), nil
		}
	}
	return ConsoleOff, fmt.Errorf("%w: %q (want one of %s)", ErrInvalidMode, s, strings.Join(modeNames[:], ", "))
}

// FrameReader is the shape of media.FrameSource (hw may not import media):
// ReadFrame fills pcm with 8 kHz mono samples and returns how many.
type FrameReader interface {
	ReadFrame(pcm []int16) (int, error)
}

// FrameReaderFunc adapts a function to FrameReader.
type FrameReaderFunc func(pcm []int16) (int, error)

// ReadFrame calls f.
func (f FrameReaderFunc) ReadFrame(pcm []int16) (int, error) { return f(pcm) }

// FindDevice picks the device called name among devs for input (capture)
// or output (playback). An exact, case-insensitive name wins; otherwise the
// name must be a case-insensitive substring of exactly one capable device.
// The errors wrap ErrDeviceNotFound or ErrAmbiguousDevice and list the
// candidate names so that a site engineer can copy the right one.
func FindDevice(devs []Device, name string, input bool) (Device, error) {
	dir, capable := "output", func(d Device) bool { return d.MaxOutputChannels > 0 }
	if input {
		dir, capable = "input", func(d Device) bool { return d.MaxInputChannels > 0 }
	}
	want := strings.ToLower(strings.TrimSpace(name))
	if want == "" {
		return Device{}, fmt.Errorf("%w: empty %s device name; available %s devices: %s", ErrDeviceNotFound, dir, dir, deviceList(devs, capable))
	}
	var matches []Device
	var incapable []string
	for _, d := range devs {
		lname := strings.ToLower(d.Name)
		if !strings.Contains(lname, want) {
			continue
		}
		if !capable(d) {
			incapable = append(incapable, fmt.Sprintf("%q", d.Name))
			continue
		}
		if lname == want {
			return d, nil
		}
		matches = append(matches, d)
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		extra := ""
		if len(incapable) > 0 {
			extra = fmt.Sprintf(" (matching but without %s channels: %s)", dir, strings.Join(incapable, ", "))
		}
		return Device{}, fmt.Errorf("%w: no %s device matches %q; available %s devices: %s%s",
			ErrDeviceNotFound, dir, name, dir, deviceList(devs, capable), extra)
	default:
		return Device{}, fmt.Errorf("%w: %q matches %d %s devices: %s; use a longer part of the name",
			ErrAmbiguousDevice, name, len(matches), dir, deviceList(matches, capable))
	}
}

func deviceList(devs []Device, keep func(Device) bool) string {
	var names []string
	for _, d := range devs {
		if keep(d) {
			names = append(names, fmt.Sprintf("%q", d.Name))
		}
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
