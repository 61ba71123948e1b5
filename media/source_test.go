package media

import (
	"errors"
	"io"
	"testing"
	"time"
)

func readAll(t *testing.T, s FrameSource) []int16 {
	t.Helper()
	var out []int16
	frame := make([]int16, FrameSamples)
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("source never ends")
		}
		n, err := s.ReadFrame(frame)
		out = append(out, frame[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestPCMSource(t *testing.T) {
	pcm := make([]int16, 2*FrameSamples+10)
	for i := range pcm {
		pcm[i] = int16(i + 1)
	}
	s := NewPCMSource(pcm)
	got := readAll(t, s)
	if len(got) != 3*FrameSamples {
		t.Fatalf("%d samples, want 3 whole frames", len(got))
	}
	if !slicesEqual(got[:len(pcm)], pcm) {
		t.Fatal("content differs")
	}
	for _, v := range got[len(pcm):] {
		if v != 0 {
			t.Fatal("last frame not zero-padded")
		}
	}
	if n, err := s.ReadFrame(make([]int16, FrameSamples)); n != 0 || err != io.EOF {
		t.Fatalf("after end: %d %v", n, err)
	}
	s.Reset()
	if s.Remaining() != samplesToDuration(int64(len(pcm))) {
		t.Fatalf("Remaining %s", s.Remaining())
	}
	if got := readAll(t, s); len(got) != 3*FrameSamples || got[0] != 1 {
		t.Fatal("Reset did not rewind")
	}
	if _, err := NewPCMSource(nil).ReadFrame(make([]int16, 160)); err != io.EOF {
		t.Fatal("empty source")
	}
}

func TestSilenceAndConcat(t *testing.T) {
	if n := len(readAll(t, Silence(50*time.Millisecond))); n != 3*FrameSamples {
		t.Fatalf("silence 50ms gave %d samples", n)
	}
	if n := len(readAll(t, Silence(-time.Second))); n != 0 {
		t.Fatalf("negative silence gave %d", n)
	}
	a := NewPCMSource([]int16{1, 2, 3})
	b := NewPCMSource([]int16{4})
	got := readAll(t, Concat(a, nil, Silence(20*time.Millisecond), b))
	if len(got) != 3*FrameSamples || got[0] != 1 || got[FrameSamples] != 0 || got[2*FrameSamples] != 4 {
		t.Fatalf("concat: len %d", len(got))
	}
	boom := errors.New("disk gone")
	c := Concat(FrameSourceFunc(func([]int16) (int, error) { return 0, boom }))
	if _, err := c.ReadFrame(make([]int16, 160)); !errors.Is(err, boom) {
		t.Fatalf("error not passed on: %v", err)
	}
	// A frame delivered together with io.EOF is not lost.
	last := Concat(FrameSourceFunc(func(p []int16) (int, error) { p[0] = 9; return len(p), io.EOF }))
	if n, err := last.ReadFrame(make([]int16, 160)); n != 160 || err != nil {
		t.Fatalf("frame with EOF: %d %v", n, err)
	}
	if _, err := last.ReadFrame(make([]int16, 160)); err != io.EOF {
		t.Fatal("no EOF")
	}
}

func TestPCMSourceNoAlloc(t *testing.T) {
	s := NewPCMSource(make([]int16, 10*SampleRate))
	frame := make([]int16, FrameSamples)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.ReadFrame(frame); err == io.EOF {
			s.Reset()
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}
