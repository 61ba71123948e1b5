//go:build portaudio

package hw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// With -race, add -gcflags=github.com/gordonklaus/portaudio=-d=checkptr=0:
// the portaudio package passes a handle through unsafe.Pointer, which
// checkptr rejects (not a bug of this package).
//
// The tests run real PortAudio over real ALSA: TestMain points HOME at a
// temporary directory whose .asoundrc defines two "file" plugin devices
// over the "null" plugin. What the console plays lands in outRaw; what it
// captures is read from inRaw. Both are raw S16_LE mono at 8 kHz.
var (
	outRaw string
	inRaw  string
	inPCM  []int16
)

const (
	outDev = "callbox_headset_out"
	inDev  = "callbox_headset_mic"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hwaudio")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	outRaw = filepath.Join(dir, "out.raw")
	inRaw = filepath.Join(dir, "in.raw")
	// Microphone content: a non-zero, non-repeating pattern (no sample is 0
	// so that silence is never mistaken for it).
	inPCM = make([]int16, 8000)
	for i := range inPCM {
		inPCM[i] = int16(1 + (i*37)%20000)
	}
	if err := os.WriteFile(inRaw, le16(inPCM), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	asoundrc := fmt.Sprintf(`pcm.!default { type null }
pcm.%s {
	type file
	slave.pcm "null"
	file "%s"
	format "raw"
}
pcm.%s {
	type file
	slave.pcm "null"
	file "/dev/null"
	infile "%s"
	format "raw"
}
`, outDev, outRaw, inDev, inRaw)
	if err := os.WriteFile(filepath.Join(dir, ".asoundrc"), []byte(asoundrc), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("HOME", dir)
	os.Unsetenv("XDG_CONFIG_HOME")
	os.Unsetenv("ALSA_CONFIG_PATH")
	os.Setenv("JACK_NO_START_SERVER", "1")
	return m.Run()
}

func le16(s []int16) []byte {
	b := make([]byte, 2*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func readRaw(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

func withoutZeros(s []int16) []int16 {
	return slices.DeleteFunc(slices.Clone(s), func(v int16) bool { return v == 0 })
}

func TestDevicesListsALSAConfigDevices(t *testing.T) {
	devs, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	var out, in *Device
	for i := range devs {
		switch devs[i].Name {
		case outDev:
			out = &devs[i]
		case inDev:
			in = &devs[i]
		}
	}
	if out == nil || in == nil {
		t.Fatalf("devices %v lack %s/%s from the test asoundrc", devs, outDev, inDev)
	}
	if out.MaxOutputChannels < 1 || in.MaxInputChannels < 1 || out.HostAPI != "ALSA" {
		t.Fatalf("unexpected capabilities: out=%+v in=%+v", *out, *in)
	}
}

func TestConsoleListenMixesCalleeAndBox(t *testing.T) {
	c, err := OpenConsole(NoDevice, "headset_out", nil) // substring match
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := func(base, step int) []int16 {
		f := make([]int16, 160)
		for i := range f {
			f[i] = int16(base + (i*step)%1000)
		}
		return f
	}
	// Off: nothing reaches the headset.
	c.Monitor(frame(5000, 3), frame(5000, 3))
	var want []int16
	if err := c.SetMode(ConsoleListen); err != nil {
		t.Fatal(err)
	}
	// Stay within the 200 ms queue: the writer may not have run yet.
	for k := 0; k < 5; k++ {
		callee, box := frame(100+k*10, 7), frame(2000+k*10, 11)
		c.Monitor(callee, box)
		for i := range callee {
			want = append(want, callee[i]+box[i])
		}
	}
	// Saturation instead of wrap-around.
	c.Monitor([]int16{30000, -30000}, []int16{10000, -10000})
	want = append(want, 32767, -32768)
	// Barge: the headset hears the callee only.
	if err := c.SetMode(ConsoleBarge); err != nil {
		t.Fatal(err)
	}
	callee := frame(300, 5)
	c.Monitor(callee, frame(9000, 1))
	want = append(want, callee...)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	raw := readRaw(t, outRaw)
	firstNZ := slices.IndexFunc(raw, func(v int16) bool { return v != 0 })
	t.Logf("raw len %d first non-zero at %d", len(raw), firstNZ)
	got := withoutZeros(raw)
	if !slices.Equal(got, want) {
		t.Fatalf("headset got %d non-silent samples, want %d; first got %v, want %v",
			len(got), len(want), got[:min(8, len(got))], want[:8])
	}
	c.Monitor(callee, callee) // after Close: must not panic or block
	if err := c.SetMode(ConsoleListen); !errors.Is(err, ErrConsoleClosed) {
		t.Fatalf("SetMode after Close: %v", err)
	}
}

func TestConsoleMicAndBarge(t *testing.T) {
	c, err := OpenConsole(inDev, NoDevice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pcm := make([]int16, 160)
	// Off: the microphone is muted.
	if n, err := c.ReadMic(pcm); err != nil || n != 160 || slices.ContainsFunc(pcm, func(v int16) bool { return v != 0 }) {
		t.Fatalf("ReadMic while Off = %d, %v, non-silent %v", n, err, pcm[:4])
	}
	botCalls := 0
	bot := FrameReaderFunc(func(p []int16) (int, error) {
		botCalls++
		for i := range p {
			p[i] = -7
		}
		return len(p), nil
	})
	out := c.Outbound(bot)
	if err := c.SetMode(ConsoleWhisper); err != nil {
		t.Fatal(err)
	}
	if _, err := out.ReadFrame(pcm); err != nil || pcm[0] != -7 || botCalls != 1 {
		t.Fatalf("whisper: callee must hear the bot, got %v (bot calls %d, err %v)", pcm[:2], botCalls, err)
	}
	if err := c.SetMode(ConsoleBarge); err != nil {
		t.Fatal(err)
	}
	var got []int16
	for k := 0; k < 5; k++ {
		n, err := out.ReadFrame(pcm)
		if err != nil || n != 160 {
			t.Fatalf("barge ReadFrame = %d, %v", n, err)
		}
		got = append(got, pcm...)
	}
	if botCalls != 1 {
		t.Fatalf("bot read %d times during barge, want it silent", botCalls-1)
	}
	// The microphone audio must be a contiguous run of the file's content.
	got = withoutZeros(got)
	if len(got) < 320 {
		t.Fatalf("barge delivered only %d microphone samples out of 800", len(got))
	}
	at := slices.Index(inPCM, got[0])
	if at < 0 || at+len(got) > len(inPCM) || !slices.Equal(inPCM[at:at+len(got)], got) {
		t.Fatalf("microphone audio %v… does not match the captured device content", got[:4])
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadMic(pcm); !errors.Is(err, ErrConsoleClosed) {
		t.Fatalf("ReadMic after Close: %v", err)
	}
	// A closed console falls back to the bot.
	if _, err := out.ReadFrame(pcm); err != nil || pcm[0] != -7 {
		t.Fatalf("Outbound after Close = %v, %v; want bot audio", pcm[:2], err)
	}
}

func TestOpenConsoleDeviceNotFound(t *testing.T) {
	_, err := OpenConsole(NoDevice, "usb headset 7", nil)
	if !errors.Is(err, ErrDeviceNotFound) {
		t.Fatalf("err = %v, want ErrDeviceNotFound", err)
	}
	if !strings.Contains(err.Error(), outDev) || !strings.Contains(err.Error(), "usb headset 7") {
		t.Fatalf("error %q should name the request and list %s", err, outDev)
	}
	// callbox_headset_mic is capture-only... as an output it must be refused
	// only if it has no output channels; "callbox_headset" matches both.
	if _, err := OpenConsole("callbox_headset", NoDevice, nil); err == nil {
		t.Fatal("ambiguous or output-only input accepted")
	}
	if _, err := OpenConsole(NoDevice, NoDevice, nil); !errors.Is(err, ErrDeviceNotFound) {
		t.Fatalf("none/none: %v", err)
	}
}
