package media

import (
	"math"
	"testing"
)

// sineAt returns n samples of a sine at f Hz sampled at rate.
func sineAt(f float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*f*float64(i)/float64(rate)))
	}
	return out
}

// toneLevel returns the mean power of the f Hz component of pcm at rate,
// ignoring the edges.
func toneLevel(pcm []int16, f float64, rate int) float64 {
	mid := toFloat(pcm[len(pcm)/4 : 3*len(pcm)/4])
	return goertzelPowerAt(mid, f, rate)
}

func goertzelPowerAt(x []float64, f float64, rate int) float64 {
	return goertzelPower(x, 2*math.Cos(2*math.Pi*f/float64(rate)))
}

func TestResamplePassAndStop(t *testing.T) {
	for _, c := range []struct {
		from, to int
		pass     float64 // must survive
		stop     float64 // above the output Nyquist: must be removed
	}{
		{22050, 8000, 1000, 5000},
		{44100, 8000, 3000, 6000},
		{48000, 8000, 300, 4500},
		{16000, 8000, 2500, 6000},
		{16000, 8000, 440, 7000},
		{24000, 8000, 3000, 5000},
		{8000, 16000, 1000, 0},
		{8000, 22050, 3400, 0},
	} {
		in := sineAt(c.pass, c.from, c.from, 10000)
		out := Resample(in, c.from, c.to)
		if want := c.to; len(out) != want {
			t.Errorf("%d→%d: %d samples, want %d", c.from, c.to, len(out), want)
			continue
		}
		p := toneLevel(out, c.pass, c.to)
		if db := 10 * math.Log10(p/5e7); math.Abs(db) > 0.5 {
			t.Errorf("%d→%d: %v Hz changed by %.2f dB", c.from, c.to, c.pass, db)
		}
		if c.stop == 0 {
			continue
		}
		alias := sineAt(c.stop, c.from, c.from, 10000)
		out = Resample(alias, c.from, c.to)
		aliasF := math.Abs(c.stop - float64(c.to)) // where it would fold to
		if db := 10 * math.Log10(frameEnergy(out)/5e7); db > -50 {
			t.Errorf("%d→%d: %v Hz leaks at %.1f dB (would alias to %v Hz)", c.from, c.to, c.stop, db, aliasF)
		}
	}
}

func frameEnergy(pcm []int16) float64 {
	mid := pcm[len(pcm)/4 : 3*len(pcm)/4]
	var s float64
	for _, v := range mid {
		s += float64(v) * float64(v)
	}
	return s/float64(len(mid)) + 1e-9
}

func TestResampleEdges(t *testing.T) {
	if Resample([]int16{1, 2}, 0, 8000) != nil || Resample([]int16{1}, 8000, -1) != nil {
		t.Fatal("invalid rates accepted")
	}
	in := []int16{1, 2, 3}
	out := Resample(in, 8000, 8000)
	out[0] = 9
	if in[0] != 1 {
		t.Fatal("equal rates did not copy")
	}
	if got := Resample(nil, 22050, 8000); got == nil || len(got) != 0 {
		t.Fatal("empty input")
	}
	// Odd ratio without a precomputed table still works.
	if got := Resample(make([]int16, 8001), 8001, 8000); len(got) != 8000 {
		t.Fatalf("8001→8000: %d", len(got))
	}
	// DC is preserved.
	dc := make([]int16, 4000)
	for i := range dc {
		dc[i] = 5000
	}
	for _, v := range Resample(dc, 22050, 8000)[100:1300] {
		if v < 4995 || v > 5005 {
			t.Fatalf("DC drifted to %d", v)
		}
	}
}

func TestResamplerStreamMatchesWhole(t *testing.T) {
	in := sineAt(700, 8000, 8000, 9000)
	for i := range in {
		in[i] += int16(i%97) * 20
	}
	for _, rates := range [][2]int{{8000, 16000}, {22050, 8000}, {8000, 8000}, {8000, 11025}, {8001, 8000}} {
		whole := Resample(in, rates[0], rates[1])
		r := NewResampler(rates[0], rates[1], LongFilter)
		var got []int16
		for p := in; len(p) > 0; {
			n := min(160, len(p))
			got = r.Push(got, p[:n])
			p = p[n:]
		}
		got = r.Flush(got)
		if len(got) != len(whole) {
			t.Errorf("%v: streamed %d samples, whole-buffer %d", rates, len(got), len(whole))
			continue
		}
		for i := range got {
			if got[i] != whole[i] {
				t.Errorf("%v: sample %d streamed %d, whole-buffer %d", rates, i, got[i], whole[i])
				break
			}
		}
	}
	if NewResampler(0, 8000, LongFilter) != nil || NewResampler(8000, 16000, 0) != nil {
		t.Error("NewResampler accepted rate 0 or no filter")
	}
}

// The short filter (the speech front end's) still passes the band and
// removes what would alias, within 1% of the amplitude.
func TestResampleShortFilter(t *testing.T) {
	for _, c := range []struct {
		from, to   int
		pass, stop float64
	}{
		{22050, 8000, 1000, 6000},
		{24000, 8000, 3000, 5000},
		{8000, 16000, 1000, 0},
		{16000, 8000, 440, 7000},
	} {
		out := ResampleWith(sineAt(c.pass, c.from, c.from, 8000), c.from, c.to, ShortFilter)
		if db := 10 * math.Log10(toneLevel(out, c.pass, c.to)/(8000.0*8000/2)); math.Abs(db) > 0.5 {
			t.Errorf("%d→%d: %v Hz changed by %.2f dB", c.from, c.to, c.pass, db)
		}
		if c.stop == 0 {
			continue
		}
		alias := ResampleWith(sineAt(c.stop, c.from, c.from, 8000), c.from, c.to, ShortFilter)
		if rms := math.Sqrt(frameEnergy(alias)); rms > 8000*0.01 {
			t.Errorf("%d→%d: %v Hz leaks through at rms %.0f", c.from, c.to, c.stop, rms)
		}
	}
}
