package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

type memStream struct {
	bytes.Buffer
	closed int
}

func (m *memStream) Close() error { m.closed++; return nil }

// TestRecorderStream: with an injected stream the recorder writes the WAV
// header (sizes unknown) and every frame, never seeks, and closes the
// stream exactly once.
func TestRecorderStream(t *testing.T) {
	var ms memStream
	var gotPath string
	r, err := CreateRecorderWith("/rec/c1.cbrec", RecorderOptions{Create: func(p string) (io.WriteCloser, error) {
		gotPath = p
		return &ms, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	callee, box := make([]int16, FrameSamples), make([]int16, FrameSamples)
	for i := range callee {
		callee[i], box[i] = int16(i), int16(-i)
	}
	for i := 0; i < 10; i++ {
		if err := r.WriteStereo(callee, box); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if gotPath != "/rec/c1.cbrec" || ms.closed != 1 {
		t.Fatalf("path %q closed %d", gotPath, ms.closed)
	}
	b := ms.Bytes()
	if len(b) != wavHeaderSize+10*FrameSamples*4 || string(b[0:4]) != "RIFF" {
		t.Fatalf("%d bytes", len(b))
	}
	if binary.LittleEndian.Uint32(b[40:44]) != wavUnknownSize {
		t.Error("stream header claims a size")
	}
	pcm, rate, ch, err := ReadWAV(bytes.NewReader(b))
	if err != nil || rate != SampleRate || ch != 2 || len(pcm) != 10*FrameSamples*2 || pcm[2] != 1 || pcm[3] != -1 {
		t.Fatalf("ReadWAV: %v rate %d ch %d n %d", err, rate, ch, len(pcm))
	}
	// A factory error is reported.
	if _, err := CreateRecorderWith("x", RecorderOptions{Create: func(string) (io.WriteCloser, error) { return nil, errors.New("disk full") }}); err == nil {
		t.Error("factory error swallowed")
	}
}
