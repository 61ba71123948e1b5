package speech

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Espeak synthesizes with the espeak-ng binary (Debian package espeak-ng),
// fully offline. The zero value is ready to use.
//
// Text is passed on stdin (never through a shell or argv), UTF-8, without
// SSML interpretation. espeak-ng writes a 22.05 kHz WAV to stdout, which is
// resampled to 8 kHz.
type Espeak struct {
	Binary  string        // default "espeak-ng" (looked up in PATH)
	Timeout time.Duration // per call; default 20 s
}

const (
	espeakDefaultTimeout = 20 * time.Second
	maxEngineAudioBytes  = 64 << 20 // ~25 min at 22.05 kHz
	espeakMinRate        = 80
	espeakMaxRate        = 500
)

func (e *Espeak) binary() string {
	if e.Binary == "" {
		return "espeak-ng"
	}
	return e.Binary
}

// EngineID implements EngineIdentifier.
func (e *Espeak) EngineID() string { return "espeak-ng:" + e.binary() }

// Synthesize implements Synthesizer. Voice names go through VoiceFor's
// mapping, so "en", "zh", "zh-CN" and "cmn" work.
func (e *Espeak) Synthesize(ctx context.Context, text string, v Voice) ([]int16, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	voice := espeakVoiceName(v.Name)
	if !voiceNameRE.MatchString(voice) {
		return nil, fmt.Errorf("%w: voice name %q (letters, digits, '-', '+', '_', '.')", ErrBadVoice, v.Name)
	}
	if v.Rate != 0 && (v.Rate < espeakMinRate || v.Rate > espeakMaxRate) {
		return nil, fmt.Errorf("%w: rate %d words/min, want %d..%d or 0", ErrBadVoice, v.Rate, espeakMinRate, espeakMaxRate)
	}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = espeakDefaultTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	args := []string{"--stdout", "-b", "1", "-v", voice}
	if v.Rate != 0 {
		args = append(args, "-s", strconv.Itoa(v.Rate))
	}
	cmd := exec.CommandContext(ctx, e.binary(), args...)
	cmd.Stdin = strings.NewReader(text)
	var stdout limitedBuffer
	stdout.limit = maxEngineAudioBytes
	var stderr limitedBuffer
	stderr.limit = 4 << 10
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s: %v (install the espeak-ng package)", ErrEngineMissing, e.binary(), err)
	case parent.Err() != nil:
		return nil, fmt.Errorf("espeak-ng: %w", context.Cause(parent))
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%w: espeak-ng took longer than %v", ErrTimeout, timeout)
	case err != nil:
		var pe *exec.Error
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s: %v", ErrEngineMissing, e.binary(), err)
		}
		return nil, fmt.Errorf("%w: espeak-ng voice %q: %v: %s", ErrEngineFailed, voice, err, strings.TrimSpace(stderr.String()))
	case stdout.overflow:
		return nil, fmt.Errorf("%w: espeak-ng output exceeds %d bytes", ErrBadAudio, maxEngineAudioBytes)
	}
	pcm, rate, err := decodeWAVMono(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("espeak-ng voice %q: %w", voice, err)
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("%w: espeak-ng voice %q produced no samples: %s", ErrBadAudio, voice, strings.TrimSpace(stderr.String()))
	}
	return resample(pcm, rate, SampleRate), nil
}

// limitedBuffer is an io.Writer that keeps at most limit bytes and records
// whether more were offered (the writer still reports success so the child
// process is not killed by EPIPE mid-message).
type limitedBuffer struct {
	bytes.Buffer
	limit    int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.Len()
	if len(p) > room {
		b.overflow = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

var _ io.Writer = (*limitedBuffer)(nil)
