package media

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRecorderStereoWAV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "call.wav")
	rec, err := CreateRecorder(path)
	if err != nil {
		t.Fatal(err)
	}
	const frames = 50 // 1 s
	callee := Sine(440, frames*20, 9000)
	box := Sine(1000, frames*20, 5000)
	for i := range frames {
		sl := i * FrameSamples
		if err := rec.WriteStereo(callee[sl:sl+FrameSamples], box[sl:sl+FrameSamples]); err != nil {
			t.Fatal(err)
		}
	}
	// A short box frame is padded with silence.
	if err := rec.WriteStereo(callee[:FrameSamples], box[:10]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("final file exists before Close")
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := rec.WriteStereo(callee[:10], box[:10]); !errors.Is(err, ErrRecorderClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if _, err := os.Stat(path + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal(".part left behind")
	}
	st := rec.Stats()
	if st.FramesWritten != frames+1 || st.FramesDropped != 0 || st.Bytes != (frames+1)*FrameSamples*4 {
		t.Fatalf("stats %+v", st)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pcm, rate, ch, err := ReadWAV(f)
	f.Close()
	if err != nil || rate != SampleRate || ch != 2 || len(pcm) != (frames+1)*FrameSamples*2 {
		t.Fatalf("ReadWAV: %d Hz %d ch %d samples %v", rate, ch, len(pcm), err)
	}
	for i := range frames * FrameSamples {
		if pcm[2*i] != callee[i] || pcm[2*i+1] != box[i] {
			t.Fatalf("sample %d: L=%d R=%d, want %d %d", i, pcm[2*i], pcm[2*i+1], callee[i], box[i])
		}
	}
	tail := pcm[2*frames*FrameSamples:]
	if tail[2*9+1] != box[9] || tail[2*10+1] != 0 || tail[2*159] != callee[159] {
		t.Fatal("padding of the short frame wrong")
	}

	if _, err := exec.LookPath("sox"); err != nil {
		t.Skip("sox not installed")
	}
	out, err := exec.Command("sox", "--i", path).CombinedOutput()
	if err != nil {
		t.Fatalf("sox --i: %v: %s", err, out)
	}
	info := string(out)
	for _, want := range []string{"Channels       : 2", "Sample Rate    : 8000", "Precision      : 16-bit", "= 8160 samples"} {
		if !strings.Contains(info, want) {
			t.Errorf("sox --i lacks %q:\n%s", want, info)
		}
	}
	// sox agrees on the channel contents: the left channel alone, remixed,
	// has the callee's level (-14.2 dBFS RMS for amplitude 9000).
	stat, err := exec.Command("sox", path, "-n", "remix", "1", "stat").CombinedOutput()
	if err != nil {
		t.Fatalf("sox stat: %v: %s", err, stat)
	}
	if !strings.Contains(string(stat), "Maximum amplitude:     0.27") {
		t.Errorf("left channel peak not 9000/32768:\n%s", stat)
	}
}

func TestRecorderRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.wav")
	os.WriteFile(path, []byte("precious"), 0o600)
	if _, err := CreateRecorder(path); !errors.Is(err, ErrRecordingExists) {
		t.Fatalf("existing file: %v", err)
	}
	p2 := filepath.Join(dir, "b.wav")
	os.WriteFile(p2+".part", []byte("earlier crash"), 0o600)
	if _, err := CreateRecorder(p2); !errors.Is(err, ErrRecordingExists) {
		t.Fatalf("existing .part: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("existing file modified")
	}
	if _, err := CreateRecorder(filepath.Join(dir, "no/such/dir/c.wav")); err == nil {
		t.Fatal("missing directory accepted")
	}
}

func TestRecorderPartReadableBeforeClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.wav")
	rec, err := CreateRecorder(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	frame := Sine(500, 20, 3000)
	for range 10 {
		rec.WriteStereo(frame, frame)
	}
	waitFor(t, func() bool { return rec.Stats().FramesWritten == 10 })
	// The writer flushes when idle: a crash now would leave a readable .part.
	waitFor(t, func() bool {
		fi, err := os.Stat(path + ".part")
		return err == nil && fi.Size() == 44+10*FrameSamples*4
	})
	f, err := os.Open(path + ".part")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, _, ch, err := ReadWAV(f)
	if err != nil || ch != 2 || len(pcm) != 10*FrameSamples*2 {
		t.Fatalf("live .part: %d samples, %v", len(pcm), err)
	}
}

// waitFor polls cond (a synchronisation point on the writer goroutine, not
// a timing assertion) and fails after a generous deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// stallFile is a recFile whose writes block until release is closed, or
// fail with failErr.
type stallFile struct {
	release chan struct{}
	failErr error
	mu      sync.Mutex
	data    []byte // guarded by mu
	header  []byte // guarded by mu
	closed  bool   // guarded by mu
}

func (s *stallFile) Write(p []byte) (int, error) {
	if s.release != nil {
		<-s.release
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr != nil && len(s.data) > 0 {
		return 0, s.failErr
	}
	s.data = append(s.data, p...)
	return len(p), nil
}

func (s *stallFile) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.header = append([]byte(nil), p...)
	return len(p), nil
}
func (s *stallFile) Sync() error { return nil }
func (s *stallFile) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func TestRecorderNeverBlocksOnStalledDisk(t *testing.T) {
	sf := &stallFile{}
	rec, err := newRecorder(sf, "stalled.wav", "", 8)
	if err != nil {
		t.Fatal(err)
	}
	sf.release = make(chan struct{}) // header went through; now the disk hangs
	const total = 1000
	frame := make([]int16, FrameSamples)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range total {
			if err := rec.WriteStereo(frame, frame); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("WriteStereo blocked on a stalled writer")
	}
	st := rec.Stats()
	if st.FramesDropped == 0 || st.FramesDropped > total-8 {
		t.Fatalf("stats while stalled %+v", st)
	}
	close(sf.release)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	st = rec.Stats()
	if st.FramesWritten+st.FramesDropped != total {
		t.Fatalf("written %d + dropped %d != %d", st.FramesWritten, st.FramesDropped, total)
	}
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if want := 44 + int(st.FramesWritten)*FrameSamples*4; len(sf.data) != want || !sf.closed {
		t.Fatalf("file has %d bytes, want %d; closed %v", len(sf.data), want, sf.closed)
	}
	if len(sf.header) != 44 || sf.header[40] != byte(st.Bytes) {
		t.Fatal("header not fixed on Close")
	}
}

func TestRecorderWriteFailure(t *testing.T) {
	sf := &stallFile{failErr: errors.New("no space left on device")}
	rec, err := newRecorder(sf, "full.wav", "", 8)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, FrameSamples)
	for range recBatchFrames { // one batch reaches the writer
		rec.WriteStereo(frame, frame)
	}
	waitFor(t, func() bool { return rec.failed.Load() })
	if err := rec.WriteStereo(frame, frame); !errors.Is(err, ErrRecorderWrite) {
		t.Fatalf("write after failure: %v", err)
	}
	if err := rec.Close(); !errors.Is(err, ErrRecorderWrite) || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("Close: %v", err)
	}
	// The first batch reached the buffer before the flush failed; the
	// frame after it was refused.
	if st := rec.Stats(); st.FramesDropped != 1 || st.FramesWritten != recBatchFrames {
		t.Fatalf("stats %+v", st)
	}
}

func TestRecorderWriteStereoNoAlloc(t *testing.T) {
	rec, err := CreateRecorder(filepath.Join(t.TempDir(), "n.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	frame := make([]int16, FrameSamples)
	if a := testing.AllocsPerRun(100, func() { rec.WriteStereo(frame, frame) }); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
}

func BenchmarkRecorderWriteStereo(b *testing.B) {
	rec, err := CreateRecorder(filepath.Join(b.TempDir(), "bench.wav"))
	if err != nil {
		b.Fatal(err)
	}
	callee := Sine(440, 20, 8000)
	box := Sine(1000, 20, 8000)
	b.ReportAllocs()
	for b.Loop() {
		rec.WriteStereo(callee, box)
	}
	b.StopTimer()
	if err := rec.Close(); err != nil {
		b.Fatal(err)
	}
	st := rec.Stats()
	b.ReportMetric(float64(st.FramesDropped), "dropped")
}
