package media

import (
	"errors"
	"io"
	"math"
	"testing"
	"time"
)

func TestSine(t *testing.T) {
	s := Sine(1000, 20, 1000)
	if len(s) != FrameSamples {
		t.Fatalf("len %d", len(s))
	}
	var peak int16
	for _, v := range s {
		peak = max(peak, v)
	}
	if peak < 990 || peak > 1000 {
		t.Fatalf("peak %d", peak)
	}
	if p := goertzelPower(toFloat(s), goertzelCoef(1000)); math.Abs(p-500000)/500000 > 0.02 {
		t.Fatalf("1 kHz power %.0f, want ≈500000", p)
	}
	if len(Sine(1000, 0, 1)) != 0 || len(Sine(1000, -5, 1)) != 0 {
		t.Fatal("non-positive length")
	}
}

func toFloat(pcm []int16) []float64 {
	f := make([]float64, len(pcm))
	for i, v := range pcm {
		f[i] = float64(v)
	}
	return f
}

func TestToneGeneratorLengthsAndEOF(t *testing.T) {
	var g ToneGenerator
	if _, err := g.ReadFrame(make([]int16, FrameSamples)); err != io.EOF {
		t.Fatalf("idle: %v", err)
	}
	g.Start('1', 100*time.Millisecond)
	if err := g.StartTone(440, 0, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var all []int16
	frame := make([]int16, FrameSamples)
	for {
		n, err := g.ReadFrame(frame)
		if err == io.EOF {
			break
		}
		all = append(all, frame[:n]...)
	}
	// 100 ms tone + 60 ms gap + 30 ms tone, padded to whole frames.
	want := (100 + 60 + 40) * SampleRate / 1000
	if len(all) != want {
		t.Fatalf("%d samples, want %d", len(all), want)
	}
	gap := all[100*8 : 160*8]
	for _, v := range gap {
		if v != 0 {
			t.Fatal("inter-digit gap not silent")
		}
	}
	if frameDBFS(all[160*8:190*8]) < -25 || frameDBFS(all[190*8:]) > -100 {
		t.Fatal("tone/padding levels wrong")
	}
	if g.Pending() {
		t.Fatal("pending after EOF")
	}
}

func TestToneGeneratorErrors(t *testing.T) {
	var g ToneGenerator
	if err := g.Start('E', time.Second); !errors.Is(err, ErrInvalidDigit) {
		t.Error(err)
	}
	if err := g.Start('1', 10*time.Millisecond); !errors.Is(err, ErrDTMFDuration) {
		t.Error(err)
	}
	for _, f := range [][2]float64{{0, 0}, {4000, 0}, {-1, 0}, {440, 5000}, {math.NaN(), 0}} {
		if err := g.StartTone(f[0], f[1], time.Second); !errors.Is(err, ErrToneFrequency) {
			t.Errorf("%v: %v", f, err)
		}
	}
	if err := g.StartTone(440, 0, 0); !errors.Is(err, ErrDTMFDuration) {
		t.Error(err)
	}
	if err := g.SetAmplitude(0); !errors.Is(err, ErrToneAmplitude) {
		t.Error(err)
	}
}

func TestToneGeneratorNoAlloc(t *testing.T) {
	var g ToneGenerator
	frame := make([]int16, FrameSamples)
	allocs := testing.AllocsPerRun(100, func() {
		if !g.Pending() {
			g.Start('#', time.Second)
		}
		g.ReadFrame(frame)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}
