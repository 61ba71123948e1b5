package media

// This file holds the WAV (RIFF/WAVE) reader and writer and LoadPrompt,
// which turns any supported WAV into 8 kHz mono PCM for playback.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// WAV format tags understood by ReadWAV.
const (
	wavFormatPCM        = 1
	wavFormatFloat      = 3
	wavFormatALaw       = 6
	wavFormatMuLaw      = 7
	wavFormatExtensible = 0xFFFE
)

// Limits applied to WAV headers.
const (
	// MinWAVSampleRate and MaxWAVSampleRate bound the sample rates accepted.
	MinWAVSampleRate = 1000
	MaxWAVSampleRate = 384000
	// MaxWAVChannels bounds the channel count accepted.
	MaxWAVChannels = 8
	// MaxWAVDataBytes bounds the audio read from one file (1 GiB).
	MaxWAVDataBytes = 1 << 30
	// wavHeaderSize is the size of the canonical header WriteWAV writes.
	wavHeaderSize = 44
	// wavUnknownSize in a RIFF or data size field means "until end of file"
	// (written by streaming writers, and by Recorder until it is closed).
	wavUnknownSize = 0xFFFFFFFF
)

// Sentinel errors of the WAV code; returned errors wrap them with details.
var (
	// ErrNotWAV: the input does not start with a RIFF/WAVE header.
	ErrNotWAV = errors.New("media: not a RIFF/WAVE file")
	// ErrWAVFormat: a WAV encoding this package does not decode (only
	// 16-bit PCM, 8-bit PCM, 8-bit A-law and 8-bit μ-law are supported).
	ErrWAVFormat = errors.New("media: unsupported WAV encoding")
	// ErrWAVHeader: a malformed or inconsistent fmt chunk, or a missing one.
	ErrWAVHeader = errors.New("media: malformed WAV header")
	// ErrWAVTruncated: the file ends before the data chunk does. The samples
	// that were present are still returned alongside this error.
	ErrWAVTruncated = errors.New("media: WAV data truncated")
	// ErrWAVTooLarge: more audio than MaxWAVDataBytes.
	ErrWAVTooLarge = errors.New("media: WAV data too large")
	// ErrWAVParams: bad arguments to WriteWAV or LoadPrompt's conversion.
	ErrWAVParams = errors.New("media: invalid WAV parameters")
)

type wavFmt struct {
	format     uint16
	channels   int
	sampleRate int
	blockAlign int
	bits       int
}

// ReadWAV reads a RIFF/WAVE stream and returns its samples as 16-bit PCM
// (channels interleaved), its sample rate and channel count. It decodes
// 16-bit and 8-bit PCM and 8-bit A-law (format 6) and μ-law (format 7),
// including WAVE_FORMAT_EXTENSIBLE wrappers of them. Unknown chunks are
// skipped. A data size of 0xFFFFFFFF means "until end of stream". If the
// stream ends inside the data chunk, the samples read are returned together
// with an error wrapping ErrWAVTruncated.
func ReadWAV(r io.Reader) (pcm []int16, sampleRate int, channels int, err error) {
	br := bufio.NewReader(r)
	var hdr [12]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: reading RIFF header: %v", ErrNotWAV, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, 0, 0, fmt.Errorf("%w: starts with %q", ErrNotWAV, hdr[0:4])
	}
	var f *wavFmt
	for {
		var ch [8]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			if f == nil {
				return nil, 0, 0, fmt.Errorf("%w: no fmt chunk", ErrWAVHeader)
			}
			return nil, 0, 0, fmt.Errorf("%w: no data chunk", ErrWAVHeader)
		}
		id := string(ch[0:4])
		size := binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if f != nil {
				return nil, 0, 0, fmt.Errorf("%w: two fmt chunks", ErrWAVHeader)
			}
			if f, err = readWAVFmt(br, size); err != nil {
				return nil, 0, 0, err
			}
		case "data":
			if f == nil {
				return nil, 0, 0, fmt.Errorf("%w: data chunk before fmt chunk", ErrWAVHeader)
			}
			pcm, err := readWAVData(br, f, size)
			return pcm, f.sampleRate, f.channels, err
		default:
			if err := skipWAVChunk(br, int64(size)+int64(size&1)); err != nil {
				return nil, 0, 0, fmt.Errorf("%w: inside %q chunk", ErrWAVTruncated, id)
			}
		}
	}
}

func skipWAVChunk(r io.Reader, n int64) error {
	got, err := io.CopyN(io.Discard, r, n)
	if got == n {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readWAVFmt parses a fmt chunk of the given size.
func readWAVFmt(r io.Reader, size uint32) (*wavFmt, error) {
	if size < 16 || size > 1024 {
		return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrWAVHeader, size)
	}
	b := make([]byte, int(size)+int(size&1))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: fmt chunk cut short", ErrWAVTruncated)
	}
	le := binary.LittleEndian
	f := &wavFmt{
		format:     le.Uint16(b[0:2]),
		channels:   int(le.Uint16(b[2:4])),
		sampleRate: int(le.Uint32(b[4:8])),
		blockAlign: int(le.Uint16(b[12:14])),
		bits:       int(le.Uint16(b[14:16])),
	}
	if f.format == wavFormatExtensible {
		// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16): the
		// first two GUID bytes hold the real format tag.
		if size < 40 {
			return nil, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", ErrWAVHeader, size)
		}
		f.format = le.Uint16(b[24:26])
	}
	if f.channels < 1 || f.channels > MaxWAVChannels {
		return nil, fmt.Errorf("%w: %d channels (want 1-%d)", ErrWAVHeader, f.channels, MaxWAVChannels)
	}
	if f.sampleRate < MinWAVSampleRate || f.sampleRate > MaxWAVSampleRate {
		return nil, fmt.Errorf("%w: sample rate %d Hz (want %d-%d)", ErrWAVHeader, f.sampleRate, MinWAVSampleRate, MaxWAVSampleRate)
	}
	switch f.format {
	case wavFormatPCM:
		if f.bits != 16 && f.bits != 8 {
			return nil, fmt.Errorf("%w: %d-bit PCM (want 8 or 16)", ErrWAVFormat, f.bits)
		}
	case wavFormatALaw, wavFormatMuLaw:
		if f.bits != 8 {
			return nil, fmt.Errorf("%w: %d-bit G.711 (want 8)", ErrWAVFormat, f.bits)
		}
	case wavFormatFloat:
		return nil, fmt.Errorf("%w: IEEE float samples (convert with sox -e signed -b 16)", ErrWAVFormat)
	default:
		return nil, fmt.Errorf("%w: format tag %#x", ErrWAVFormat, f.format)
	}
	if want := f.channels * f.bits / 8; f.blockAlign != want {
		return nil, fmt.Errorf("%w: block align %d, want %d for %d channels of %d bits", ErrWAVHeader, f.blockAlign, want, f.channels, f.bits)
	}
	return f, nil
}

// readWAVData reads and decodes a data chunk of size bytes.
func readWAVData(r io.Reader, f *wavFmt, size uint32) ([]int16, error) {
	limit := int64(size)
	unknown := size == wavUnknownSize
	if unknown || limit > MaxWAVDataBytes {
		limit = MaxWAVDataBytes
	}
	if !unknown && int64(size) > MaxWAVDataBytes {
		return nil, fmt.Errorf("%w: data chunk of %d bytes (limit %d)", ErrWAVTooLarge, size, MaxWAVDataBytes)
	}
	bps := f.bits / 8
	// Grow as data actually arrives: a lying header cannot force a huge
	// allocation.
	pcm := make([]int16, 0, min(limit/int64(bps), 1<<16))
	var buf [4096]byte
	var carry int // a dangling byte of a 16-bit sample across reads
	var total int64
	for total < limit {
		want := int64(len(buf) - carry)
		if rest := limit - total; rest < want {
			want = rest
		}
		n, err := io.ReadFull(r, buf[carry:carry+int(want)])
		total += int64(n)
		avail := carry + n
		var used int
		switch {
		case bps == 2:
			used = avail &^ 1
			for i := 0; i < used; i += 2 {
				pcm = append(pcm, int16(binary.LittleEndian.Uint16(buf[i:])))
			}
		case f.format == wavFormatMuLaw:
			used = avail
			for _, b := range buf[:avail] {
				pcm = append(pcm, mulawToLinear(b))
			}
		case f.format == wavFormatALaw:
			used = avail
			for _, b := range buf[:avail] {
				pcm = append(pcm, alawToLinear(b))
			}
		default: // 8-bit unsigned PCM
			used = avail
			for _, b := range buf[:avail] {
				pcm = append(pcm, (int16(b)-128)<<8)
			}
		}
		carry = copy(buf[:], buf[used:avail])
		if err != nil {
			if unknown && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
				break // streaming size: end of file is the end of data
			}
			return trimFrames(pcm, f.channels), fmt.Errorf("%w: got %d of %d data bytes", ErrWAVTruncated, total, size)
		}
	}
	if unknown && total >= limit {
		// More may follow; refuse rather than silently cut the audio.
		var one [1]byte
		if n, _ := r.Read(one[:]); n > 0 {
			return nil, fmt.Errorf("%w: more than %d bytes of audio", ErrWAVTooLarge, MaxWAVDataBytes)
		}
	}
	return trimFrames(pcm, f.channels), nil
}

// trimFrames drops a trailing partial multi-channel frame.
func trimFrames(pcm []int16, channels int) []int16 {
	return pcm[:len(pcm)-len(pcm)%channels]
}

// mulawToLinear decodes one G.711 μ-law byte to 16-bit linear PCM.
func mulawToLinear(b byte) int16 {
	u := ^b
	exp := (u >> 4) & 7
	mag := (int32(u&0x0f)<<3 + 0x84) << exp
	mag -= 0x84
	if u&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// alawToLinear decodes one G.711 A-law byte to 16-bit linear PCM.
func alawToLinear(b byte) int16 {
	a := b ^ 0x55
	exp := (a >> 4) & 7
	mant := int32(a & 0x0f)
	var mag int32
	if exp == 0 {
		mag = mant<<4 + 8
	} else {
		mag = (mant<<4 + 0x108) << (exp - 1)
	}
	if a&0x80 != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// putWAVHeader writes a canonical 44-byte PCM header for dataBytes of audio
// into b. A dataBytes of wavUnknownSize marks both sizes as unknown.
func putWAVHeader(b []byte, sampleRate, channels int, dataBytes uint32) {
	le := binary.LittleEndian
	copy(b[0:4], "RIFF")
	riff := uint32(wavUnknownSize)
	if dataBytes != wavUnknownSize {
		riff = 36 + dataBytes
	}
	le.PutUint32(b[4:8], riff)
	copy(b[8:12], "WAVE")
	copy(b[12:16], "fmt ")
	le.PutUint32(b[16:20], 16)
	le.PutUint16(b[20:22], wavFormatPCM)
	le.PutUint16(b[22:24], uint16(channels))
	le.PutUint32(b[24:28], uint32(sampleRate))
	le.PutUint32(b[28:32], uint32(sampleRate*channels*2))
	le.PutUint16(b[32:34], uint16(channels*2))
	le.PutUint16(b[34:36], 16)
	copy(b[36:40], "data")
	le.PutUint32(b[40:44], dataBytes)
}

// WriteWAV writes pcm (channels interleaved) as a 16-bit PCM WAV file.
func WriteWAV(w io.Writer, pcm []int16, sampleRate, channels int) error {
	if channels < 1 || channels > MaxWAVChannels {
		return fmt.Errorf("%w: %d channels (want 1-%d)", ErrWAVParams, channels, MaxWAVChannels)
	}
	if sampleRate < MinWAVSampleRate || sampleRate > MaxWAVSampleRate {
		return fmt.Errorf("%w: sample rate %d Hz (want %d-%d)", ErrWAVParams, sampleRate, MinWAVSampleRate, MaxWAVSampleRate)
	}
	if len(pcm)%channels != 0 {
		return fmt.Errorf("%w: %d samples is not a whole number of %d-channel frames", ErrWAVParams, len(pcm), channels)
	}
	if int64(len(pcm))*2 > 0xFFFFFFFF-36 {
		return fmt.Errorf("%w: %d samples do not fit in a WAV file", ErrWAVTooLarge, len(pcm))
	}
	var buf [4096]byte
	putWAVHeader(buf[:], sampleRate, channels, uint32(len(pcm)*2))
	if _, err := w.Write(buf[:wavHeaderSize]); err != nil {
		return fmt.Errorf("media: writing WAV header: %w", err)
	}
	for len(pcm) > 0 {
		n := min(len(pcm), len(buf)/2)
		for i, s := range pcm[:n] {
			binary.LittleEndian.PutUint16(buf[2*i:], uint16(s))
		}
		if _, err := w.Write(buf[:2*n]); err != nil {
			return fmt.Errorf("media: writing WAV data: %w", err)
		}
		pcm = pcm[n:]
	}
	return nil
}

// LoadPrompt reads any supported WAV file and returns it as 8 kHz mono PCM:
// channels are averaged and the rate converted with Resample.
func LoadPrompt(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: loading prompt: %w", err)
	}
	defer f.Close()
	pcm, rate, channels, err := ReadWAV(f)
	if err != nil {
		return nil, fmt.Errorf("media: loading prompt %s: %w", path, err)
	}
	return Resample(Downmix(pcm, channels), rate, SampleRate), nil
}

// Downmix averages interleaved channels into mono. channels < 2 returns pcm
// itself; a trailing partial frame is dropped.
func Downmix(pcm []int16, channels int) []int16 {
	if channels < 2 {
		return pcm
	}
	out := make([]int16, len(pcm)/channels)
	for i := range out {
		var sum int32
		for _, s := range pcm[i*channels : (i+1)*channels] {
			sum += int32(s)
		}
		out[i] = int16(sum / int32(channels))
	}
	return out
}
