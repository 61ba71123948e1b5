package speech

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zaf/g711"
)

// telephone turns espeak-ng speech into what a call delivers: 8 kHz PCM that
// went through G.711 μ-law, with silence around it.
func telephone(t testing.TB, text string) []int16 {
	t.Helper()
	pcm, err := (&Espeak{}).Synthesize(context.Background(), text, VoiceFor("en"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, 0, len(pcm)+2*2400)
	out = append(out, make([]int16, 2400)...) // 300 ms
	for _, s := range pcm {
		out = append(out, g711.DecodeUlawFrame(g711.EncodeUlawFrame(s)))
	}
	return append(out, make([]int16, 2400)...)
}

// listen feeds pcm in 20 ms frames, ends the utterance and collects results.
func listen(t testing.TB, r Recognizer, ctx context.Context, opts ListenOptions, pcm []int16) ([]Result, error) {
	t.Helper()
	s, err := r.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for len(pcm) > 0 {
		n := min(160, len(pcm))
		if err := s.Write(pcm[:n]); err != nil {
			return nil, err
		}
		pcm = pcm[n:]
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	var out []Result
	for res := range s.Results() {
		out = append(out, res)
	}
	return out, s.Err()
}

func finalText(rs []Result) string {
	var parts []string
	for _, r := range rs {
		if r.Final {
			parts = append(parts, r.Text)
		}
	}
	return strings.Join(parts, " ")
}

func needPocketsphinx(t testing.TB) {
	needBinary(t, "espeak-ng")
	needBinary(t, "pocketsphinx_continuous")
	if _, err := os.Stat(defaultPocketsphinxModel); err != nil {
		t.Skip("pocketsphinx en-us model not installed")
	}
}

func TestPocketsphinxGrammar(t *testing.T) {
	needPocketsphinx(t)
	ps := &Pocketsphinx{}
	phrases := []string{"yes", "no", "Stop calling me!"}
	for _, said := range []string{"yes", "no", "stop calling me"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		rs, err := listen(t, ps, ctx, ListenOptions{Lang: "en-US", Phrases: phrases}, telephone(t, said))
		cancel()
		if err != nil {
			t.Fatalf("%q: %v", said, err)
		}
		want := said
		if said == "stop calling me" {
			want = "Stop calling me!" // the phrase as the flow wrote it
		}
		if got := finalText(rs); got != want {
			t.Errorf("said %q, recognized %q (want %q)", said, got, want)
		}
		if len(rs) == 1 && rs[0].Latency <= 0 {
			t.Errorf("latency %v", rs[0].Latency)
		}
	}
}

func TestPocketsphinxDropsUnknownWords(t *testing.T) {
	needPocketsphinx(t)
	ps := &Pocketsphinx{}
	rs, err := listen(t, ps, context.Background(),
		ListenOptions{Phrases: []string{"yes xqzzyv", "no", "qqxxzz"}}, telephone(t, "yes"))
	if err != nil {
		t.Fatal(err)
	}
	if got := finalText(rs); got != "yes xqzzyv" {
		t.Fatalf("recognized %q", got)
	}
	if _, err := ps.Start(context.Background(), ListenOptions{Phrases: []string{"qqxxzz", "zzqqxx vvbbnn"}}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("all-unknown phrases: %v", err)
	}
}

func TestPocketsphinxDictation(t *testing.T) {
	needPocketsphinx(t)
	rs, err := listen(t, &Pocketsphinx{}, context.Background(), ListenOptions{}, telephone(t, "hello world"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !rs[0].Final || rs[0].Text == "" {
		t.Fatalf("results %+v", rs)
	}
}

func TestPocketsphinxStreamEdges(t *testing.T) {
	needPocketsphinx(t)
	ps := &Pocketsphinx{MaxUtterance: time.Second}
	ctx := context.Background()
	// Nothing said: clean end without results.
	rs, err := listen(t, ps, ctx, ListenOptions{Phrases: []string{"yes"}}, nil)
	if err != nil || len(rs) != 0 {
		t.Fatalf("empty utterance: %v %+v", err, rs)
	}
	s, err := ps.Start(ctx, ListenOptions{Phrases: []string{"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(make([]int16, 8001)); !errors.Is(err, ErrUtteranceTooLong) {
		t.Fatalf("long write: %v", err)
	}
	s.Close()
	if _, ok := <-s.Results(); ok {
		t.Fatal("results open after Close")
	}
	if !errors.Is(s.Err(), ErrStreamClosed) {
		t.Fatalf("Err after Close: %v", s.Err())
	}
	if err := s.Write(make([]int16, 160)); err == nil {
		t.Fatal("write after Close succeeded")
	}
	s.Close() // idempotent

	// Context ends before CloseSend: Results closes, Err says why.
	cctx, cancel := context.WithCancel(ctx)
	s, _ = ps.Start(cctx, ListenOptions{Phrases: []string{"yes"}})
	cancel()
	for range s.Results() {
	}
	if !errors.Is(s.Err(), context.Canceled) {
		t.Fatalf("Err after cancel: %v", s.Err())
	}
	s.Close()

	// Double CloseSend.
	s, _ = ps.Start(ctx, ListenOptions{Phrases: []string{"yes"}})
	s.CloseSend()
	if err := s.CloseSend(); !errors.Is(err, ErrStreamClosed) {
		t.Fatalf("second CloseSend: %v", err)
	}
	s.Close()
}

func TestPocketsphinxErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (&Pocketsphinx{Binary: "pocketsphinx-not-installed"}).Start(ctx, ListenOptions{}); !errors.Is(err, ErrEngineMissing) {
		t.Errorf("missing binary: %v", err)
	}
	if _, err := (&Pocketsphinx{}).Start(ctx, ListenOptions{Lang: "zh-CN"}); !errors.Is(err, ErrUnsupportedLang) {
		t.Errorf("zh: %v", err)
	}
	if _, err := (&Pocketsphinx{}).Start(ctx, ListenOptions{Phrases: []string{" "}}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("blank phrase: %v", err)
	}
	needPocketsphinx(t)
	if _, err := (&Pocketsphinx{ModelDir: t.TempDir()}).Start(ctx, ListenOptions{}); !errors.Is(err, ErrEngineMissing) {
		t.Errorf("missing model: %v", err)
	}

	dir := t.TempDir()
	// A decoder that hangs is killed at Timeout.
	hang := filepath.Join(dir, "hang")
	os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755)
	start := time.Now()
	_, err := listen(t, &Pocketsphinx{Binary: hang, Timeout: 300 * time.Millisecond}, ctx,
		ListenOptions{Phrases: []string{"yes"}}, make([]int16, 1600))
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 10*time.Second {
		t.Errorf("hanging decoder: %v after %v", err, time.Since(start))
	}
	// A decoder that fails reports its log.
	fail := filepath.Join(dir, "fail")
	os.WriteFile(fail, []byte("#!/bin/sh\nfor a; do case $prev in -logfn) echo 'ERROR: \"x.c\", line 1: bad grammar' > $a;; esac; prev=$a; done\nexit 1\n"), 0o755)
	_, err = listen(t, &Pocketsphinx{Binary: fail}, ctx, ListenOptions{Phrases: []string{"yes"}}, make([]int16, 1600))
	if !errors.Is(err, ErrEngineFailed) || !strings.Contains(err.Error(), "bad grammar") {
		t.Errorf("failing decoder: %v", err)
	}
}

func TestBuildJSGF(t *testing.T) {
	dict := map[string]struct{}{"yes": {}, "no": {}, "stop": {}, "calling": {}, "me": {}, "don't": {}, "a<b": {}}
	g, of, dropped := buildJSGF([]string{"Yes", "yes.", "NO!", "don't stop", "stop calling me please", "a<b", "zzz"}, dict)
	want := "#JSGF V1.0;\n\ngrammar callbox;\n\npublic <answer> = ( yes ) | ( no ) | ( don't stop ) | ( stop calling me ) ;\n"
	if g != want {
		t.Fatalf("grammar:\n%s\nwant:\n%s", g, want)
	}
	if of["yes"] != "Yes" || of["stop calling me"] != "stop calling me please" {
		t.Fatalf("phraseOf %v", of)
	}
	if strings.Join(dropped, ",") != "a,b,please,zzz" {
		t.Fatalf("dropped %v", dropped)
	}
}

func TestBuildJSGFLeadIn(t *testing.T) {
	dict := map[string]struct{}{"talk": {}, "to": {}, "a": {}, "person": {}, "i": {}, "want": {}, "can": {}, "let": {}, "me": {}}
	g, of, _, lead := buildJSGFShape([]string{"talk to a person", "yes"}, "en", dict, shapeLeadIn)
	// Lead-ins with a word the dictionary lacks ("i'd", "need") are left out.
	want := "#JSGF V1.0;\n\ngrammar callbox;\n\npublic <answer> = [ <lead> ] <phrase> ;\n\n" +
		"<lead> = ( i want to ) | ( can i ) | ( let me ) ;\n\n<phrase> = ( talk to a person ) ;\n"
	if g != want {
		t.Fatalf("grammar:\n%s\nwant:\n%s", g, want)
	}
	if of["talk to a person"] != "talk to a person" || strings.Join(lead, " ") != "i want to can i let me" {
		t.Fatalf("phraseOf %v, lead words %v", of, lead)
	}
	// Without a usable lead-in it is the one-phrase grammar.
	g, _, _, _ = buildJSGFShape([]string{"talk to a person"}, "en", map[string]struct{}{"talk": {}, "to": {}, "a": {}, "person": {}}, shapeLeadIn)
	if one, _, _ := buildJSGF([]string{"talk to a person"}, dict); g != one {
		t.Fatalf("no lead-in: %q, want %q", g, one)
	}
}

func TestParsePocketsphinxOutput(t *testing.T) {
	out := "stop calling\n\nme\nINFO: something\n"
	if got := parsePocketsphinxOutput(out); got != "stop calling me" {
		t.Fatalf("got %q", got)
	}
}

func FuzzBuildJSGF(f *testing.F) {
	f.Add("Stop calling me!", "yes")
	f.Add("不要", "no; public <x> = a | b")
	f.Fuzz(func(t *testing.T, a, b string) {
		dict := map[string]struct{}{"yes": {}, "no": {}, "stop": {}, "calling": {}, "me": {}}
		for _, w := range phraseWords(a + " " + b) {
			dict[w] = struct{}{} // even words the dictionary knows must not break the grammar
		}
		g, of, _ := buildJSGF([]string{a, b}, dict)
		if g == "" {
			return
		}
		const head = "#JSGF V1.0;\n\ngrammar callbox;\n\npublic <answer> = "
		body := strings.TrimSuffix(strings.TrimPrefix(g, head), " ;\n")
		for _, r := range body {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("' ()|", r)) {
				t.Fatalf("grammar body has %q: %q", r, g)
			}
		}
		if len(of) == 0 {
			t.Fatal("grammar without phrase map")
		}
	})
}

func FuzzPocketsphinxOutput(f *testing.F) {
	f.Add("yes\n")
	f.Add("stop calling\nme\nINFO: x\n")
	f.Fuzz(func(t *testing.T, out string) {
		got := parsePocketsphinxOutput(out)
		if strings.Contains(got, "\n") || strings.Contains(got, "  ") || strings.TrimSpace(got) != got {
			t.Fatalf("%q -> %q", out, got)
		}
	})
}
