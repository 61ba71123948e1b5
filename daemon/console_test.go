package daemon

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
	"callbox/hw"
	"callbox/media"
)

const (
	testHeadsetOut = "callbox_headset_out"
	testHeadsetMic = "callbox_headset_mic"
)

// micSample is the headset microphone's test pattern: sample i is
// 1+(37*i mod 20000), never 0 and recognisable in a recording.
func micSample(i int) int16 { return int16(1 + (i*37)%20000) }

// alsaFileDevices points ALSA (through HOME/.asoundrc) at two file-plugin
// devices over the null plugin: what the headset plays lands in the
// returned out file; the microphone reads a long pattern. It must run
// before PortAudio is first initialised in the process.
func alsaFileDevices(t *testing.T) (outRaw string) {
	dir := t.TempDir()
	outRaw = filepath.Join(dir, "out.raw")
	inRaw := filepath.Join(dir, "in.raw")
	mic := make([]byte, 2*8000*60)
	for i := 0; i < len(mic)/2; i++ {
		binary.LittleEndian.PutUint16(mic[2*i:], uint16(micSample(i)))
	}
	if err := os.WriteFile(inRaw, mic, 0o600); err != nil {
		t.Fatal(err)
	}
	rc := fmt.Sprintf(`pcm.!default { type null }
pcm.%s { type file slave.pcm "null" file "%s" format "raw" }
pcm.%s { type file slave.pcm "null" file "/dev/null" infile "%s" format "raw" }
`, testHeadsetOut, outRaw, testHeadsetMic, inRaw)
	if err := os.WriteFile(filepath.Join(dir, ".asoundrc"), []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("JACK_NO_START_SERVER", "1")
	return outRaw
}

func postConsole(t *testing.T, b *box, id, mode string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+b.api+"/v1/calls/"+id+"/console", "application/json",
		strings.NewReader(`{"mode": "`+mode+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestConsoleOnLiveCall attaches the supervisor's headset to a live call
// (SIPp echoes the box's RTP). Without PortAudio in the build, every mode
// answers 501 "audio support not built in". With it (-tags portaudio) the
// headset is real PortAudio on ALSA file devices: listen mode plays the
// call's audio into the output file, and barge mode sends the microphone's
// pattern to the callee in place of the bot (the recording's box channel
// carries it, so recording went on through the tee).
func TestConsoleOnLiveCall(t *testing.T) {
	requireEspeak(t)
	outRaw := alsaFileDevices(t)
	_, devErr := hw.Devices()
	noAudio := errors.Is(devErr, hw.ErrNoAudioSupport)

	far := startSIPp(t, "uas-bench.xml", "-rtp_echo")
	b := startBox(t, far.port, func(c *config.Config) {
		c.Audio = config.Audio{Enabled: true, Input: testHeadsetMic, Output: testHeadsetOut}
	})
	id := placeLive(t, b, apiv1.PlaceCall{Number: "8613800000041",
		Say:      "This call may be monitored for quality. Please hold while we look at your account, it will take a few seconds.",
		WaitDTMF: 4, DTMFTimeoutSec: 3})

	if code, raw := postConsole(t, b, id, "shout"); code != http.StatusBadRequest || !strings.Contains(raw, "shout") {
		t.Errorf("bad mode: %d %s, want 400 naming it", code, raw)
	}
	if noAudio {
		for _, mode := range []string{"listen", "barge", "off"} {
			if code, raw := postConsole(t, b, id, mode); code != http.StatusNotImplemented || !strings.Contains(raw, "audio support not built in") {
				t.Errorf("%s without PortAudio: %d %s, want 501 audio support not built in", mode, code, raw)
			}
		}
		waitEnded(t, b, id, 40*time.Second)
		far.wait(t)
		return
	}

	if code, raw := postConsole(t, b, "no-such-call", "listen"); code != http.StatusNotFound {
		t.Errorf("unknown call: %d %s, want 404", code, raw)
	}
	before := fileSize(outRaw)
	code, raw := postConsole(t, b, id, "listen")
	var st ConsoleState
	if code != http.StatusOK || json.Unmarshal([]byte(raw), &st) != nil || st.Call != id || st.Mode != "listen" {
		t.Fatalf("listen: %d %s", code, raw)
	}
	time.Sleep(1500 * time.Millisecond) // the prompt is still playing
	heard := readRaw(t, outRaw)[before/2:]
	if len(heard) < 4000 {
		t.Fatalf("headset got %d samples in 1.5 s of listening, want the call's audio", len(heard))
	}
	if r := headsetRMS(heard); r < 200 {
		t.Errorf("headset audio RMS %.0f: silence, want the prompt and its echo", r)
	}

	if code, raw := postConsole(t, b, id, "barge"); code != http.StatusOK {
		t.Fatalf("barge: %d %s", code, raw)
	}
	time.Sleep(time.Second)
	if code, raw := postConsole(t, b, id, "off"); code != http.StatusOK {
		t.Fatalf("off: %d %s", code, raw)
	}
	rec := waitEnded(t, b, id, 40*time.Second)
	if rec.Disposition != "answered" || rec.RecordingPath == "" {
		t.Fatalf("record %+v", rec)
	}
	// The recording as the API serves it (decrypted when the box
	// encrypts recordings at rest).
	resp, err := http.Get("http://" + b.api + "/v1/calls/" + id + "/recording")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET recording: %d %s", resp.StatusCode, msg)
	}
	pcm, _, ch, err := media.ReadWAV(resp.Body)
	if err != nil || ch != 2 {
		t.Fatalf("recording: %v (channels %d)", err, ch)
	}
	boxSide := make([]int16, 0, len(pcm)/2)
	for i := 1; i < len(pcm); i += 2 {
		boxSide = append(boxSide, pcm[i])
	}
	if run := longestMicRun(boxSide); run < 4000 {
		t.Errorf("box channel carries %d consecutive microphone samples, want ≥ 4000 (0.5 s of barge)", run)
	}
	far.wait(t)
}

// longestMicRun is the longest stretch of samples following the
// microphone pattern's step.
func longestMicRun(s []int16) int {
	best, cur := 0, 0
	for i := 1; i < len(s); i++ {
		if s[i-1] != 0 && int(s[i])-1 == (int(s[i-1])-1+37)%20000 {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

func fileSize(path string) int {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

func readRaw(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(b)/2)
	_ = binary.Read(bytes.NewReader(b[:2*len(out)]), binary.LittleEndian, out)
	return out
}

func headsetRMS(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}
