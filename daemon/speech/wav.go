package speech

import (
	"encoding/binary"
	"fmt"
)

// A small private WAV codec. media.ReadWAV exists but rejects what engines
// actually send: espeak-ng --stdout declares a 0x7ffff000-byte data chunk
// (only 0xFFFFFFFF is taken as "until EOF" there). The cache also needs an
// extra checksum chunk on write and strict parsing that exposes it on read.
// It works on whole files held in memory (engine output and cache files are
// bounded in size).

// wavFile is a parsed RIFF/WAVE file.
type wavFile struct {
	rate      int
	channels  int
	bits      int
	data      []byte            // the data chunk (possibly shorter than declared)
	truncated bool              // data chunk shorter than its declared size
	extra     map[string][]byte // other chunks by id, first occurrence
}

const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
)

// parseWAV parses a 16-bit PCM RIFF/WAVE file. Streaming writers (espeak-ng
// --stdout, many HTTP TTS servers) declare a placeholder size for the data
// chunk; parseWAV then takes whatever follows and sets truncated.
func parseWAV(b []byte) (*wavFile, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrBadAudio)
	}
	w := &wavFile{extra: map[string][]byte{}}
	haveFmt := false
	p := 12
	for p+8 <= len(b) {
		id := string(b[p : p+4])
		size := int64(binary.LittleEndian.Uint32(b[p+4 : p+8]))
		p += 8
		rest := int64(len(b) - p)
		if id == "data" {
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrBadAudio)
			}
			if size > rest {
				size = rest
				w.truncated = true
			}
			w.data = b[p : p+int(size)]
			return w, w.check()
		}
		if size > rest {
			return nil, fmt.Errorf("%w: chunk %q declares %d bytes, only %d left", ErrBadAudio, id, size, rest)
		}
		body := b[p : p+int(size)]
		if id == "fmt " {
			if size < 16 {
				return nil, fmt.Errorf("%w: fmt chunk is %d bytes, want at least 16", ErrBadAudio, size)
			}
			format := binary.LittleEndian.Uint16(body[0:2])
			w.channels = int(binary.LittleEndian.Uint16(body[2:4]))
			w.rate = int(binary.LittleEndian.Uint32(body[4:8]))
			w.bits = int(binary.LittleEndian.Uint16(body[14:16]))
			if format == wavFormatExtensible && size >= 26 {
				format = binary.LittleEndian.Uint16(body[24:26]) // sub-format GUID starts with the tag
			}
			if format != wavFormatPCM {
				return nil, fmt.Errorf("%w: WAV format tag %#x, want PCM", ErrBadAudio, format)
			}
			haveFmt = true
		} else if _, dup := w.extra[id]; !dup {
			w.extra[id] = body
		}
		p += int(size) + int(size&1) // chunks are word aligned
	}
	return nil, fmt.Errorf("%w: no data chunk", ErrBadAudio)
}

func (w *wavFile) check() error {
	switch {
	case w.bits != 16:
		return fmt.Errorf("%w: %d bits per sample, want 16", ErrBadAudio, w.bits)
	case w.channels < 1 || w.channels > 8:
		return fmt.Errorf("%w: %d channels", ErrBadAudio, w.channels)
	case w.rate < 4000 || w.rate > 192000:
		return fmt.Errorf("%w: sample rate %d Hz", ErrBadAudio, w.rate)
	}
	return nil
}

// mono returns the samples mixed down to one channel. A trailing partial
// frame is dropped.
func (w *wavFile) mono() []int16 {
	frame := 2 * w.channels
	n := len(w.data) / frame
	out := make([]int16, n)
	for i := 0; i < n; i++ {
		if w.channels == 1 {
			out[i] = int16(binary.LittleEndian.Uint16(w.data[2*i:]))
			continue
		}
		sum := 0
		for c := 0; c < w.channels; c++ {
			sum += int(int16(binary.LittleEndian.Uint16(w.data[i*frame+2*c:])))
		}
		out[i] = int16(sum / w.channels)
	}
	return out
}

// decodeWAVMono parses a 16-bit PCM WAV and returns mono samples and rate.
// A data chunk shorter than declared is accepted (streaming writers declare
// placeholders).
func decodeWAVMono(b []byte) ([]int16, int, error) {
	w, err := parseWAV(b)
	if err != nil {
		return nil, 0, err
	}
	return w.mono(), w.rate, nil
}

// chunk is an extra RIFF chunk to write before the data chunk.
type chunk struct {
	id   string // four characters
	body []byte
}

// encodeWAV returns a mono 16-bit PCM WAV file holding pcm at rate, with the
// extra chunks placed between fmt and data.
func encodeWAV(pcm []int16, rate int, extra ...chunk) []byte {
	size := 12 + 8 + 16 + 8 + 2*len(pcm)
	for _, c := range extra {
		size += 8 + len(c.body) + len(c.body)&1
	}
	b := make([]byte, 0, size)
	le := binary.LittleEndian
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, uint32(size-8))
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, wavFormatPCM)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint32(b, uint32(rate))
	b = le.AppendUint32(b, uint32(rate*2))
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 16)
	for _, c := range extra {
		b = append(b, c.id...)
		b = le.AppendUint32(b, uint32(len(c.body)))
		b = append(b, c.body...)
		if len(c.body)&1 == 1 {
			b = append(b, 0)
		}
	}
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(2*len(pcm)))
	return appendPCM(b, pcm)
}

// appendPCM appends pcm as little-endian 16-bit samples.
func appendPCM(b []byte, pcm []int16) []byte {
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// decodePCM decodes little-endian 16-bit samples; a trailing odd byte is
// dropped.
func decodePCM(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}
