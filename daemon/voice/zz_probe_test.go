package voice

import (
	"context"
	"testing"

	"callbox/daemon/flow"
	"callbox/daemon/speech"
	"callbox/sim"
)

func TestZZProbe(t *testing.T) {
	f, err := flow.Load("../testdata/flows/voice-test.en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ph := f.Matcher().Phrases([]string{"yes", "no", "complaint"})
	t.Log(ph)
	for _, txt := range []string{"Do not call me again.", "Don't call me again.", "Stop calling.", "Do not call me.", "Operator."} {
		pcm, err := sim.Espeak(context.Background(), txt, "en-us", false)
		if err != nil {
			t.Fatal(err)
		}
		p := &speech.Pocketsphinx{}
		s, err := p.Start(context.Background(), speech.ListenOptions{Lang: "en", Phrases: ph})
		if err != nil {
			t.Fatal(err)
		}
		s.Write(pcm)
		s.CloseSend()
		for r := range s.Results() {
			t.Log(txt, " → ", r.Text)
		}
	}
}
