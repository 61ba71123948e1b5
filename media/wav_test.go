package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zaf/g711"
)

// espeakCache holds synthesised test speech per text so each phrase is
// rendered once per test binary.
var espeakCache sync.Map // string → []int16

// dspSpeech renders text with espeak-ng and returns it as 8 kHz mono PCM
// through LoadPrompt. The test is skipped when espeak-ng is missing.
func dspSpeech(t testing.TB, voice, text string) []int16 {
	t.Helper()
	key := voice + "\x00" + text
	if v, ok := espeakCache.Load(key); ok {
		return v.([]int16)
	}
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		t.Skip("espeak-ng not installed")
	}
	out := filepath.Join(t.TempDir(), "speech.wav")
	args := []string{"-w", out}
	if voice != "" {
		args = append(args, "-v", voice)
	}
	if msg, err := exec.Command(bin, append(args, text)...).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, msg)
	}
	pcm, err := LoadPrompt(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pcm) < SampleRate/10 {
		t.Fatalf("espeak-ng produced only %d samples", len(pcm))
	}
	espeakCache.Store(key, pcm)
	return pcm
}

func TestWAVRoundTrip(t *testing.T) {
	for _, ch := range []int{1, 2} {
		pcm := make([]int16, 1000*ch)
		for i := range pcm {
			pcm[i] = int16(i*37 - 16000)
		}
		pcm[0], pcm[1] = -32768, 32767
		var buf bytes.Buffer
		if err := WriteWAV(&buf, pcm, 16000, ch); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != 44+2*len(pcm) {
			t.Fatalf("file size %d", buf.Len())
		}
		got, rate, gotCh, err := ReadWAV(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if rate != 16000 || gotCh != ch || !slicesEqual(got, pcm) {
			t.Fatalf("round trip: rate %d ch %d equal %v", rate, gotCh, slicesEqual(got, pcm))
		}
	}
}

func slicesEqual(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// makeWAV builds a WAV with an arbitrary fmt chunk and data.
func makeWAV(format, channels uint16, rate uint32, bits uint16, extra []byte, data []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(0)) // readers must not rely on it
	b.WriteString("WAVE")
	// an unknown chunk first, odd-sized to exercise padding
	b.WriteString("LIST")
	binary.Write(&b, le, uint32(3))
	b.Write([]byte{1, 2, 3, 0})
	b.WriteString("fmt ")
	binary.Write(&b, le, uint32(16+len(extra)))
	binary.Write(&b, le, format)
	binary.Write(&b, le, channels)
	binary.Write(&b, le, rate)
	binary.Write(&b, le, rate*uint32(channels)*uint32(bits)/8)
	binary.Write(&b, le, channels*bits/8)
	binary.Write(&b, le, bits)
	b.Write(extra)
	b.WriteString("data")
	binary.Write(&b, le, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

func TestReadWAVG711(t *testing.T) {
	sine := Sine(1000, 50, 12000)
	mu := make([]byte, len(sine))
	al := make([]byte, len(sine))
	for i, s := range sine {
		mu[i] = g711.EncodeUlawFrame(s)
		al[i] = g711.EncodeAlawFrame(s)
	}
	for _, c := range []struct {
		name   string
		format uint16
		data   []byte
		dec    func(uint8) int16
	}{
		{"ulaw", 7, mu, g711.DecodeUlawFrame},
		{"alaw", 6, al, g711.DecodeAlawFrame},
	} {
		pcm, rate, ch, err := ReadWAV(bytes.NewReader(makeWAV(c.format, 1, 8000, 8, []byte{0, 0}, c.data)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if rate != 8000 || ch != 1 || len(pcm) != len(sine) {
			t.Fatalf("%s: rate %d ch %d len %d", c.name, rate, ch, len(pcm))
		}
		for i, b := range c.data {
			if pcm[i] != c.dec(b) {
				t.Fatalf("%s sample %d: %d, g711 says %d", c.name, i, pcm[i], c.dec(b))
			}
		}
	}
	// Every code point agrees with the reference decoder.
	for v := range 256 {
		if got, want := mulawToLinear(byte(v)), g711.DecodeUlawFrame(uint8(v)); got != want {
			t.Errorf("μ-law %#x: %d want %d", v, got, want)
		}
		if got, want := alawToLinear(byte(v)), g711.DecodeAlawFrame(uint8(v)); got != want {
			t.Errorf("A-law %#x: %d want %d", v, got, want)
		}
	}
}

func TestReadWAVExtensibleAnd8Bit(t *testing.T) {
	// WAVE_FORMAT_EXTENSIBLE wrapping PCM, 16-bit stereo.
	extra := make([]byte, 24)
	binary.LittleEndian.PutUint16(extra[0:], 22)
	binary.LittleEndian.PutUint16(extra[2:], 16)
	binary.LittleEndian.PutUint16(extra[8:], 1) // subformat GUID starts with the tag
	data := []byte{1, 0, 2, 0, 0xff, 0xff, 0, 0x80}
	pcm, _, ch, err := ReadWAV(bytes.NewReader(makeWAV(0xFFFE, 2, 44100, 16, extra, data)))
	if err != nil || ch != 2 || !slicesEqual(pcm, []int16{1, 2, -1, -32768}) {
		t.Fatalf("extensible: %v %d %v", pcm, ch, err)
	}
	pcm, _, _, err = ReadWAV(bytes.NewReader(makeWAV(1, 1, 8000, 8, nil, []byte{128, 255, 0})))
	if err != nil || !slicesEqual(pcm, []int16{0, 127 << 8, -128 << 8}) {
		t.Fatalf("8-bit: %v %v", pcm, err)
	}
}

func TestReadWAVErrors(t *testing.T) {
	good := makeWAV(1, 1, 8000, 16, nil, []byte{1, 0, 2, 0, 3, 0})
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotWAV},
		{"mp3", []byte("ID3\x03\x00\x00\x00\x00\x00\x00\x00\x00"), ErrNotWAV},
		{"float", makeWAV(3, 1, 8000, 32, nil, make([]byte, 8)), ErrWAVFormat},
		{"24-bit", makeWAV(1, 1, 8000, 24, nil, make([]byte, 6)), ErrWAVFormat},
		{"gsm", makeWAV(0x31, 1, 8000, 0, nil, nil), ErrWAVFormat},
		{"16-bit ulaw", makeWAV(7, 1, 8000, 16, nil, nil), ErrWAVFormat},
		{"0 channels", makeWAV(1, 0, 8000, 16, nil, nil), ErrWAVHeader},
		{"rate 0", makeWAV(1, 1, 0, 16, nil, nil), ErrWAVHeader},
		{"no fmt", []byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x00"), ErrWAVHeader},
		{"no data", good[:12+12+16+8], ErrWAVHeader},
		{"truncated data", good[:len(good)-3], ErrWAVTruncated},
		{"huge data", append(append([]byte{}, good[:len(good)-10]...), 0, 0, 0, 0x7f), ErrWAVTooLarge},
	}
	for _, c := range cases {
		_, _, _, err := ReadWAV(bytes.NewReader(c.in))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	// Truncated data still returns what was there.
	pcm, _, _, err := ReadWAV(bytes.NewReader(good[:len(good)-2]))
	if !errors.Is(err, ErrWAVTruncated) || !slicesEqual(pcm, []int16{1, 2}) {
		t.Errorf("partial: %v %v", pcm, err)
	}
	// Unknown size (streaming writer): read to EOF.
	streaming := append([]byte{}, good...)
	binary.LittleEndian.PutUint32(streaming[len(streaming)-10:], 0xFFFFFFFF)
	pcm, _, _, err = ReadWAV(bytes.NewReader(streaming))
	if err != nil || !slicesEqual(pcm, []int16{1, 2, 3}) {
		t.Errorf("streaming: %v %v", pcm, err)
	}
}

func TestWriteWAVErrors(t *testing.T) {
	var buf bytes.Buffer
	for _, c := range []struct {
		pcm      []int16
		rate, ch int
	}{
		{nil, 8000, 0}, {nil, 0, 1}, {[]int16{1, 2, 3}, 8000, 2}, {nil, 8000, 9},
	} {
		if err := WriteWAV(&buf, c.pcm, c.rate, c.ch); !errors.Is(err, ErrWAVParams) {
			t.Errorf("WriteWAV(%d samples, %d Hz, %d ch) = %v", len(c.pcm), c.rate, c.ch, err)
		}
	}
}

func TestLoadPromptEspeak(t *testing.T) {
	pcm := dspSpeech(t, "", "one two three")
	// espeak-ng writes 22050 Hz: LoadPrompt must have converted to 8 kHz,
	// so the length matches the file's duration.
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.wav")
	if err := exec.Command("espeak-ng", "-w", raw, "one two three").Run(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	orig, rate, ch, err := ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if rate == SampleRate || ch != 1 {
		t.Fatalf("espeak-ng gave %d Hz %d ch; test assumes a non-8 kHz mono file", rate, ch)
	}
	want := len(orig) * SampleRate / rate
	if d := len(pcm) - want; d < -1 || d > 1 {
		t.Fatalf("LoadPrompt gave %d samples, want ≈%d", len(pcm), want)
	}
	if dbfs := frameDBFS(pcm); dbfs < -40 {
		t.Fatalf("prompt is nearly silent: %.1f dBFS", dbfs)
	}
	// Stereo files are downmixed.
	stereo := make([]int16, 2*SampleRate/10)
	for i := range len(stereo) / 2 {
		stereo[2*i], stereo[2*i+1] = 1000, 3000
	}
	sp := filepath.Join(dir, "stereo.wav")
	sf, _ := os.Create(sp)
	WriteWAV(sf, stereo, SampleRate, 2)
	sf.Close()
	mono, err := LoadPrompt(sp)
	if err != nil || len(mono) != len(stereo)/2 || mono[100] != 2000 {
		t.Fatalf("downmix: len %d err %v", len(mono), err)
	}
	if _, err := LoadPrompt(filepath.Join(dir, "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzReadWAV(f *testing.F) {
	f.Add(makeWAV(1, 1, 8000, 16, nil, []byte{1, 0, 2, 0}))
	f.Add(makeWAV(7, 1, 8000, 8, nil, []byte{0xff, 0x7f}))
	f.Add(makeWAV(6, 2, 8000, 8, nil, []byte{0xd5, 0x55}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, rate, ch, err := ReadWAV(bytes.NewReader(b))
		if err != nil && pcm == nil {
			return
		}
		if err != nil && !errors.Is(err, ErrWAVTruncated) {
			t.Fatalf("error %v with %d samples", err, len(pcm))
		}
		if ch < 1 || ch > MaxWAVChannels || rate < MinWAVSampleRate || rate > MaxWAVSampleRate {
			t.Fatalf("accepted rate %d channels %d", rate, ch)
		}
		if len(pcm)%ch != 0 || len(pcm) > len(b) {
			t.Fatalf("%d samples from %d bytes, %d channels", len(pcm), len(b), ch)
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteWAV(&buf, pcm, rate, ch); err != nil {
			t.Fatal(err)
		}
		back, _, _, err := ReadWAV(&buf)
		if err != nil || !slicesEqual(back, pcm) {
			t.Fatalf("rewrite round trip failed: %v", err)
		}
	})
}
