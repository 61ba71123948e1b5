package speech

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// SampleRate is the rate of all PCM crossing this package's API. It equals
// media.SampleRate.
const SampleRate = 8000

// MaxTextBytes bounds the text of one Synthesize call (about ten minutes of
// speech): longer prompts are a configuration mistake, not a prompt.
const MaxTextBytes = 16 << 10

// Voice selects how text is spoken.
type Voice struct {
	Name string // engine voice, e.g. "en-us", "cmn-latn-pinyin"; "" = engine default
	Rate int    // words per minute, 0 = engine default
}

// Synthesizer turns text into speech: 8 kHz mono 16-bit PCM.
type Synthesizer interface {
	Synthesize(ctx context.Context, text string, v Voice) ([]int16, error)
}

// EngineIdentifier is implemented by synthesizers that can name their engine
// and its configuration; Cache uses it in its key so two engines never share
// cache entries. Synthesizers without it are keyed by their Go type.
type EngineIdentifier interface {
	EngineID() string
}

// SynthesizerFunc adapts a function to Synthesizer.
type SynthesizerFunc func(ctx context.Context, text string, v Voice) ([]int16, error)

// Synthesize calls f.
func (f SynthesizerFunc) Synthesize(ctx context.Context, text string, v Voice) ([]int16, error) {
	return f(ctx, text, v)
}

// VoiceFor returns the default espeak-ng voice for a language tag: "en",
// "en-US", "en-GB"…, "zh", "zh-CN", "cmn", "cmn-Hans"… Unknown tags are
// returned as the voice name unchanged (lower-cased), so espeak-ng voice
// names pass through.
func VoiceFor(lang string) Voice {
	return Voice{Name: espeakVoiceName(lang)}
}

// espeakVoiceName maps language tags to voices that work on Debian 12's
// espeak-ng (plain "cmn" is broken there; "cmn-latn-pinyin" works).
func espeakVoiceName(name string) string {
	n := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(name, "_", "-")))
	switch n {
	case "", "en", "en-us", "eng", "english":
		return "en-us"
	case "zh", "zh-cn", "zh-hans", "zh-hans-cn", "cmn", "cmn-cn", "cmn-hans", "mandarin", "chinese":
		return "cmn-latn-pinyin"
	}
	return n
}

var voiceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_+.-]{0,63}$`)

// checkText validates synthesis input.
func checkText(text string) error {
	if strings.TrimSpace(text) == "" {
		return ErrEmptyText
	}
	if len(text) > MaxTextBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTextTooLong, len(text), MaxTextBytes)
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadText)
	}
	return nil
}
