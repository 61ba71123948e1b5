package sim

// This file holds the simulator's own espeak-ng helper and its in-memory
// phrase cache. (daemon/speech.Espeak has no amplitude control, which the
// Loud persona needs, and the simulator stays independent of the box.)

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"callbox/media"
)

// SynthFunc turns text into 8 kHz mono PCM for a voice; loud asks for an
// angry delivery. Config.Synth replaces espeak-ng with it (tests, other
// engines).
type SynthFunc func(ctx context.Context, text, voice string, loud bool) ([]int16, error)

const (
	espeakTimeout  = 20 * time.Second
	maxEspeakBytes = 32 << 20
)

// Espeak synthesises with the espeak-ng binary: `espeak-ng -w FILE -v
// VOICE [-a 140 -s 190] --stdin`, the text on stdin (never argv or a
// shell). The WAV (22.05 kHz) is loaded with media.LoadPrompt (8 kHz).
func Espeak(ctx context.Context, text, voice string, loud bool) ([]int16, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%w: empty text", ErrSpeech)
	}
	if voice == "" {
		voice = DefaultVoice
	}
	if !validVoice(voice) {
		return nil, fmt.Errorf("%w: voice %q", ErrSpeech, voice)
	}
	ctx, cancel := context.WithTimeout(ctx, espeakTimeout)
	defer cancel()
	if err := checkEspeakVoice(ctx, voice); err != nil {
		return nil, err
	}
	// espeak-ng's --stdout WAV header carries a placeholder length, so it
	// writes a real file (-w) which media.LoadPrompt reads and resamples.
	dir, err := os.MkdirTemp("", "callbox-sim-espeak-")
	if err != nil {
		return nil, fmt.Errorf("%w: temp dir: %v", ErrSpeech, err)
	}
	defer os.RemoveAll(dir)
	wav := filepath.Join(dir, "say.wav")
	args := []string{"-w", wav, "-v", voice}
	if loud {
		// Louder and faster, but not clipped: -a 200 drives espeak-ng's
		// peaks into full scale, and the clipped speech was unrecognisable
		// to pocketsphinx after μ-law (TestASRMatrix in daemon/speech).
		args = append(args, "-a", "140", "-s", "190")
	}
	args = append(args, "--stdin")
	cmd := exec.CommandContext(ctx, "espeak-ng", args...)
	cmd.Stdin = strings.NewReader(text)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%w: espeak-ng not installed (apt-get install espeak-ng): %v", ErrSpeech, err)
		}
		return nil, fmt.Errorf("%w: espeak-ng -v %s: %v: %s", ErrSpeech, voice, err, strings.TrimSpace(errb.String()))
	}
	if fi, err := os.Stat(wav); err == nil && fi.Size() > maxEspeakBytes {
		return nil, fmt.Errorf("%w: espeak-ng output of %d bytes is too large", ErrSpeech, fi.Size())
	}
	pcm, err := media.LoadPrompt(wav)
	if err != nil {
		return nil, fmt.Errorf("%w: espeak-ng -v %s output: %v", ErrSpeech, voice, err)
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("%w: espeak-ng -v %s produced no audio: %s", ErrSpeech, voice, strings.TrimSpace(errb.String()))
	}
	return pcm, nil
}

// phraseCache keeps synthesised phrases in memory, one synthesis per key
// even under concurrent calls.
type phraseCache struct {
	synth SynthFunc

	mu      sync.Mutex
	entries map[phraseKey]*phraseEntry // guarded by mu
}

type phraseKey struct {
	text, voice string
	loud        bool
}

type phraseEntry struct {
	done chan struct{} // closed when pcm/err are set
	pcm  []int16
	err  error
}

func newPhraseCache(synth SynthFunc) *phraseCache {
	return &phraseCache{synth: synth, entries: map[phraseKey]*phraseEntry{}}
}

// get returns the PCM of a phrase; callers must not modify it. Failures
// are not cached.
func (c *phraseCache) get(ctx context.Context, text, voice string, loud bool) ([]int16, error) {
	k := phraseKey{text, voice, loud}
	c.mu.Lock()
	e, ok := c.entries[k]
	if !ok {
		e = &phraseEntry{done: make(chan struct{})}
		c.entries[k] = e
	}
	c.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.pcm, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.pcm, e.err = c.synth(ctx, text, voice, loud)
	if e.err != nil {
		c.mu.Lock()
		delete(c.entries, k)
		c.mu.Unlock()
	}
	close(e.done)
	return e.pcm, e.err
}

// espeak-ng falls back to its default voice for an unknown name without
// any error, so voices are checked against `espeak-ng --voices` (read
// once per process).
var espeakVoices struct {
	once  sync.Once
	names map[string]bool // lower-case languages, voice names and file names
	err   error
}

func checkEspeakVoice(ctx context.Context, voice string) error {
	espeakVoices.once.Do(func() {
		out, err := exec.CommandContext(ctx, "espeak-ng", "--voices").Output()
		if err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				espeakVoices.err = fmt.Errorf("%w: espeak-ng not installed (apt-get install espeak-ng): %v", ErrSpeech, err)
			} else {
				espeakVoices.err = fmt.Errorf("%w: espeak-ng --voices: %v", ErrSpeech, err)
			}
			return
		}
		espeakVoices.names = parseEspeakVoices(string(out))
	})
	if espeakVoices.err != nil {
		return espeakVoices.err
	}
	base, _, _ := strings.Cut(strings.ToLower(voice), "+") // "en-us+f3": variant f3
	if !espeakVoices.names[base] {
		return fmt.Errorf("%w: espeak-ng has no voice %q (see espeak-ng --voices; Mandarin is %q)", ErrSpeech, voice, MandarinVoice)
	}
	return nil
}

// parseEspeakVoices reads the table printed by `espeak-ng --voices`:
// "Pty Language Age/Gender VoiceName File Other Languages".
func parseEspeakVoices(table string) map[string]bool {
	names := map[string]bool{}
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 5 {
			continue
		}
		names[strings.ToLower(f[1])] = true
		names[strings.ToLower(f[3])] = true
		names[strings.ToLower(f[4])] = true
		names[strings.ToLower(filepath.Base(f[4]))] = true
	}
	return names
}
