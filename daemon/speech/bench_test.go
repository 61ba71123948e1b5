package speech

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCacheHit measures a cached prompt lookup (file read, checksum,
// decode) for a 2 s prompt.
func BenchmarkCacheHit(b *testing.B) {
	c, err := NewCache(b.TempDir(), SynthesizerFunc(func(context.Context, string, Voice) ([]int16, error) {
		return sine(440, SampleRate, 2*SampleRate, 8000), nil
	}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Synthesize(ctx, "welcome", VoiceFor("en")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Synthesize(ctx, "welcome", VoiceFor("en")); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if s := c.Stats(); s.Misses != 1 {
		b.Fatalf("stats %+v", s)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/lookup")
}

// BenchmarkPocketsphinxUtterance measures end-of-utterance to final result
// for a grammar of three phrases (process start, model load, decode).
func BenchmarkPocketsphinxUtterance(b *testing.B) {
	needPocketsphinx(b)
	pcm := telephone(b, "stop calling me")
	ps := &Pocketsphinx{}
	opts := ListenOptions{Phrases: []string{"yes", "no", "stop calling me"}}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := ps.Start(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		s.Write(pcm)
		start := time.Now()
		s.CloseSend()
		for range s.Results() {
		}
		total += time.Since(start)
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/utterance")
}

// BenchmarkEspeak measures an uncached synthesis of a short prompt.
func BenchmarkEspeak(b *testing.B) {
	needBinary(b, "espeak-ng")
	e := &Espeak{}
	for i := 0; i < b.N; i++ {
		if _, err := e.Synthesize(context.Background(), "Hello, this is your bank calling.", VoiceFor("en")); err != nil {
			b.Fatal(err)
		}
	}
}
