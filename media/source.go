package media

// This file holds the prompt players: FrameSources over PCM in memory,
// silence, and concatenation of sources.

import (
	"io"
	"time"
)

// PCMSource plays 8 kHz mono PCM held in memory as a FrameSource. The last
// frame is zero-padded to the full frame length; after it ReadFrame returns
// 0, io.EOF. It does not copy pcm: the caller must not modify it while it
// plays. It is not safe for concurrent use.
type PCMSource struct {
	pcm []int16
	pos int
}

// NewPCMSource returns a source playing pcm from the start.
func NewPCMSource(pcm []int16) *PCMSource { return &PCMSource{pcm: pcm} }

// ReadFrame copies the next len(pcm) samples.
func (s *PCMSource) ReadFrame(pcm []int16) (int, error) {
	if s.pos >= len(s.pcm) || len(pcm) == 0 {
		if len(pcm) == 0 && s.pos < len(s.pcm) {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(pcm, s.pcm[s.pos:])
	s.pos += n
	clear(pcm[n:])
	return len(pcm), nil
}

// Reset rewinds the source to the start.
func (s *PCMSource) Reset() { s.pos = 0 }

// Remaining returns the audio left to play.
func (s *PCMSource) Remaining() time.Duration {
	return samplesToDuration(int64(len(s.pcm) - s.pos))
}

// Silence returns a FrameSource of d of digital silence, in whole frames
// (rounded up to the frame length the caller reads), then io.EOF.
// A non-positive d gives an empty source.
func Silence(d time.Duration) FrameSource {
	return &silenceSource{left: max(0, durationToSamples(d))}
}

type silenceSource struct{ left int }

func (s *silenceSource) ReadFrame(pcm []int16) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	clear(pcm)
	s.left -= len(pcm)
	return len(pcm), nil
}

// Concat plays the sources one after the other; nil sources are skipped. It
// moves to the next source when one returns io.EOF (a frame returned along
// with io.EOF is passed on). Errors other than io.EOF are returned
// unchanged and the next call asks the same source again. The returned
// source is not safe for concurrent use.
func Concat(srcs ...FrameSource) FrameSource {
	c := &concatSource{srcs: make([]FrameSource, 0, len(srcs))}
	for _, s := range srcs {
		if s != nil {
			c.srcs = append(c.srcs, s)
		}
	}
	return c
}

type concatSource struct {
	srcs []FrameSource
	i    int
}

func (c *concatSource) ReadFrame(pcm []int16) (int, error) {
	for c.i < len(c.srcs) {
		n, err := c.srcs[c.i].ReadFrame(pcm)
		if err == io.EOF {
			c.i++
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
	return 0, io.EOF
}
