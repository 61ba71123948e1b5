package voice

import (
	"context"
	"math/rand/v2"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callbox/daemon/speech"
	"callbox/media"
)

// pair is two RTP sessions on loopback sharing one media clock: box is
// where the CallIO runs, peer plays the caller.
type pair struct {
	clock     *media.Clock
	box, peer *media.Session
	done      chan struct{}
}

func newPair(t testing.TB) *pair {
	t.Helper()
	clock := media.NewClock(20*time.Millisecond, 2)
	clock.Start()
	t.Cleanup(func() { clock.Close() })
	var sessions [2]*media.Session
	for i := range sessions {
		base := 43000 + rand.IntN(900)*2
		ports, err := media.NewPortRange(net.IPv4(127, 0, 0, 1), base, base+40)
		if err != nil {
			t.Fatal(err)
		}
		s, err := media.NewSession(media.SessionConfig{Ports: ports, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sessions[i] = s
	}
	p := &pair{clock: clock, box: sessions[0], peer: sessions[1], done: make(chan struct{})}
	p.box.SetRemote(p.peer.LocalAddr(), media.PCMU, 101)
	p.peer.SetRemote(p.box.LocalAddr(), media.PCMU, 101)
	p.box.Start()
	p.peer.Start()
	return p
}

// needEspeak skips without espeak-ng.
func needEspeak(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng is not installed")
	}
}

var ttsOnce struct {
	sync.Once
	c   *speech.Cache
	err error
}

// testTTS is espeak-ng behind a cache shared by the package's tests.
func testTTS(t testing.TB) speech.Synthesizer {
	t.Helper()
	needEspeak(t)
	ttsOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			ttsOnce.err = err
			return
		}
		ttsOnce.c, ttsOnce.err = speech.NewCache(dir, &speech.Espeak{})
	})
	if ttsOnce.err != nil {
		t.Fatal(ttsOnce.err)
	}
	return ttsOnce.c
}

// speak synthesises text with leading silence trimmed.
func speak(t testing.TB, text string) []int16 {
	t.Helper()
	pcm, err := testTTS(t).Synthesize(context.Background(), text, speech.Voice{Name: "en-us"})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range pcm {
		if s > 1000 || s < -1000 {
			return pcm[i:]
		}
	}
	return pcm
}

// timedSource records when the clock first read it.
type timedSource struct {
	src media.FrameSource
	at  atomic.Int64
}

func (s *timedSource) ReadFrame(pcm []int16) (int, error) {
	s.at.CompareAndSwap(0, time.Now().UnixNano())
	return s.src.ReadFrame(pcm)
}

func (s *timedSource) started() time.Time { return time.Unix(0, s.at.Load()) }

// noise is d of white noise at about -20 dBFS.
func noise(d time.Duration) []int16 {
	n := int(d.Seconds() * media.SampleRate)
	out := make([]int16, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range out {
		out[i] = int16(r.IntN(6000) - 3000)
	}
	return out
}

// hungASR accepts audio and never answers: an engine that hangs.
type hungASR struct{ started atomic.Int32 }

type hungStream struct {
	ctx     context.Context
	results chan speech.Result
	once    sync.Once
	stop    chan struct{}
}

func (h *hungASR) Start(ctx context.Context, _ speech.ListenOptions) (speech.Stream, error) {
	h.started.Add(1)
	return &hungStream{ctx: ctx, results: make(chan speech.Result), stop: make(chan struct{})}, nil
}
func (s *hungStream) Write([]int16) error           { return nil }
func (s *hungStream) Results() <-chan speech.Result { return s.results }
func (s *hungStream) CloseSend() error              { return nil }
func (s *hungStream) Close() error                  { s.once.Do(func() { close(s.stop) }); return nil }
func (s *hungStream) Err() error                    { return nil }
