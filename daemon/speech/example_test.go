package speech_test

import (
	"context"
	"fmt"
	"time"

	"callbox/daemon/speech"
)

// A prompt through the cached offline TTS, then a grammar-constrained answer
// through offline ASR.
func Example() {
	ctx := context.Background()
	tts, err := speech.NewCache("/var/lib/callbox/tts-cache", &speech.Espeak{})
	if err != nil {
		fmt.Println(err)
		return
	}
	prompt, err := tts.Synthesize(ctx, "Press one or say yes to confirm.", speech.VoiceFor("en"))
	if err != nil {
		fmt.Println(err) // errors.Is(err, speech.ErrEngineMissing) etc.
		return
	}
	_ = prompt // play it: media.NewPCMSource(prompt)

	var asr speech.Recognizer = &speech.Pocketsphinx{}
	turn, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := asr.Start(turn, speech.ListenOptions{Lang: "en", Phrases: []string{"yes", "no", "stop calling me"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	// For each 20 ms frame of the callee's audio: s.Write(frame)
	// At end of speech (VAD): s.CloseSend()
	for r := range s.Results() {
		if r.Final {
			fmt.Println("heard:", r.Text)
		}
	}
	if err := s.Err(); err != nil {
		fmt.Println("recognizer failed:", err)
	}
}
