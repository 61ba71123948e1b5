package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
)

// fileBox is a box started from a configuration FILE, with the reload
// channel and a log the test can search.
type fileBox struct {
	*box
	path     string
	reload   chan struct{}
	reloaded chan error
	logs     *syncBuffer
}

// syncBuffer collects log output for assertions (and passes it to t.Log).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	tw  *testLogWriter
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	return s.tw.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// boxYAML is a loopback configuration; trunks is the YAML list body and
// extra holds more top-level sections.
func boxYAML(t testing.TB, dataDir string, sipPort int, calls, trunks, extra string) string {
	rtp := 40000 + (sipPort%200)*40
	return fmt.Sprintf(`
box: {id: test-box, data_dir: %q}
log: {level: info}
api: {listen: "127.0.0.1:0"}
sip: {listen_ip: 127.0.0.1, listen_port: %d, transports: [udp, tcp]}
media: {ip: 127.0.0.1, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: "127.0.0.1:0"}
calls: %s
tts: {cache_dir: %q}
%s
trunks:
%s`, dataDir, sipPort, rtp, rtp+38, calls, ttsCacheDir(t), extra, trunks)
}

func startFileBox(t *testing.T, yaml string) *fileBox {
	t.Helper()
	path := filepath.Join(t.TempDir(), "callboxd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fb := &fileBox{path: path, reload: make(chan struct{}), reloaded: make(chan error, 1)}
	tw := &testLogWriter{t: t}
	fb.logs = &syncBuffer{tw: tw}
	b := launchBox(t, cfg, fb.logs, Options{Reload: fb.reload, Reloaded: func(err error) { fb.reloaded <- err }}, tw.close)
	fb.box = b
	return fb
}

// reloadWith writes yaml to the box's file, sends the reload and returns
// its result.
func (fb *fileBox) reloadWith(t *testing.T, yaml string) error {
	t.Helper()
	if err := os.WriteFile(fb.path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	fb.reload <- struct{}{}
	select {
	case err := <-fb.reloaded:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("reload did not finish within 20s")
		return nil
	}
}

func trunkNames(t *testing.T, b *box) []string {
	t.Helper()
	resp, err := http.Get("http://" + b.api + "/v1/trunks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var trunks []apiv1.Trunk
	if err := json.NewDecoder(resp.Body).Decode(&trunks); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tr := range trunks {
		names = append(names, tr.Name)
	}
	return names
}

// placeLive places a call without waiting and returns its id once the
// call is on its trunk and SIPp (which answers at once) has had time to
// answer. Records are committed at the start and end of a call only, so
// "up" is read from the trunk's active calls.
func placeLive(t *testing.T, b *box, body apiv1.PlaceCall) string {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post("http://"+b.api+"/v1/calls", "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || err != nil || out.ID == "" {
		t.Fatalf("place call: %d %v", resp.StatusCode, err)
	}
	waitDialled(t, b, 1)
	time.Sleep(500 * time.Millisecond)
	return out.ID
}

// waitEnded polls GET /v1/calls/{id} until the record has an end.
func waitEnded(t *testing.T, b *box, id string, within time.Duration) apiv1.CallRecord {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if r := getRecord(t, b, id); r.EndAt != nil {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("call %s did not end within %v", id, within)
	return apiv1.CallRecord{}
}

// TestReloadKeepsCallAndSwapsTrunks: a call is up on trunk a (SIPp echoes
// RTP and waits for BYE). A reload that adds trunk b, removes a, changes
// calls.ring_timeout and calls.max_active, and changes sip.listen_port
// (needs restart) applies without dropping the call: /v1/trunks shows only
// b, a new call via a is refused (unknown trunk), the new max_active is in
// force, the port change is logged as needing a restart. An invalid file
// (a misspelt key) is then refused naming the key, and the trunks stay.
// The call on a ends normally (the box's BYE after its DTMF wait) with
// media flowing to the end.
func TestReloadKeepsCallAndSwapsTrunks(t *testing.T) {
	requireEspeak(t)
	farA := startSIPp(t, "uas-bench.xml", "-rtp_echo")
	portB := freePort(t)
	sipPort := freePort(t)
	dataDir := t.TempDir()
	trunkA := fmt.Sprintf("  - {name: a, host: 127.0.0.1, port: %d, transport: udp, options_interval: 0s}\n", farA.port)
	trunkB := fmt.Sprintf("  - {name: b, host: 127.0.0.1, port: %d, transport: udp, options_interval: 0s}\n", portB)
	fb := startFileBox(t, boxYAML(t, dataDir, sipPort, "{ring_timeout: 3s, dtmf_timeout: 3s, drain_timeout: 10s}", trunkA, ""))

	id := placeLive(t, fb.box, apiv1.PlaceCall{Number: "8613800000031", Trunk: "a", Say: "Please hold.", WaitDTMF: 4, DTMFTimeoutSec: 6})

	newYAML := boxYAML(t, dataDir, sipPort+1, "{ring_timeout: 1s, dtmf_timeout: 3s, drain_timeout: 10s, max_active: 1}", trunkB, "")
	if err := fb.reloadWith(t, newYAML); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := trunkNames(t, fb.box); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("trunks after reload = %v, want [b]", got)
	}
	if n := fb.activeCalls(); n != 1 {
		t.Fatalf("active calls after reload = %d, want the call on a still up", n)
	}
	if _, code, raw := fb.call(apiv1.PlaceCall{Number: "8613800000032", Trunk: "a", Say: "hello"}); code != http.StatusBadRequest || !strings.Contains(raw, `unknown trunk \"a\"`) {
		t.Errorf("call via removed trunk: %d %s, want 400 unknown trunk", code, raw)
	}
	if _, code, raw := fb.call(apiv1.PlaceCall{Number: "8613800000033", Trunk: "b", Say: "hello"}); code != http.StatusServiceUnavailable || !strings.Contains(raw, "active call limit") {
		t.Errorf("call over the reloaded max_active 1: %d %s, want 503", code, raw)
	}
	if logs := fb.logs.String(); !strings.Contains(logs, "needs restart") || !strings.Contains(logs, "key=sip.listen_port") {
		t.Errorf("sip.listen_port change not reported as needing a restart")
	}

	bad := strings.Replace(newYAML, "ring_timeout: 1s", "ring_timeot: 1s", 1)
	bad = strings.Replace(bad, trunkB, trunkA, 1)
	err := fb.reloadWith(t, bad)
	if !errors.Is(err, ErrReloadRefused) || !strings.Contains(err.Error(), "ring_timeot") || !strings.Contains(err.Error(), fb.path) {
		t.Fatalf("invalid reload: %v, want refused naming the file and the key", err)
	}
	if got := trunkNames(t, fb.box); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("trunks after refused reload = %v, want [b]", got)
	}
	if !strings.Contains(fb.logs.String(), "configuration reload refused") {
		t.Error("refused reload not logged")
	}

	rec := waitEnded(t, fb.box, id, 30*time.Second)
	if rec.Disposition != "answered" || rec.HangupBy != "box" || rec.Error != "" || rec.AnswerAt == nil {
		t.Fatalf("call across reload: %+v", rec)
	}
	if el := rec.EndAt.Sub(*rec.AnswerAt); el < 5*time.Second {
		t.Errorf("call lasted %v after answer, want the full prompt + 6s DTMF wait", el)
	}
	// SIPp echoed our RTP for the whole call: at least the 6 s wait's worth.
	if rec.RTP.PacketsReceived < 250 {
		t.Errorf("RTP received %d packets, media stopped at the reload?", rec.RTP.PacketsReceived)
	}
	farA.wait(t)
}

// TestRestartKeysAndEffective checks the classification of keys without a
// running box.
func TestRestartKeysAndEffective(t *testing.T) {
	cur := config.Default()
	cur.Trunks = []config.Trunk{{Name: "a", Host: "h"}}
	next := cur
	next.Trunks = []config.Trunk{{Name: "b", Host: "h"}}
	next.Calls.RingTimeout = time.Second
	next.TTS.Voice = "cmn-latn-pinyin"
	next.TTS.Engine = "openai"
	next.SIP.ListenPort = 5070
	next.API.Listen = "127.0.0.1:9"
	next.Box.DataDir = "/elsewhere"
	next.Audio.Enabled = true
	got := restartKeys(&cur, &next)
	want := []string{"box.data_dir", "api.listen", "sip.listen_port", "tts.engine", "audio.enabled"}
	if !slices.Equal(got, want) {
		t.Fatalf("restartKeys = %v, want %v", got, want)
	}
	eff := effective(&cur, &next)
	if eff.SIP.ListenPort != cur.SIP.ListenPort || eff.API.Listen != cur.API.Listen || eff.Box.DataDir != cur.Box.DataDir ||
		eff.TTS.Engine != cur.TTS.Engine || eff.Audio.Enabled {
		t.Errorf("effective kept a restart-only change: %+v", eff)
	}
	if eff.Calls.RingTimeout != time.Second || eff.TTS.Voice != "cmn-latn-pinyin" || eff.Trunks[0].Name != "b" {
		t.Errorf("effective lost a reloadable change: %+v", eff)
	}
	if len(restartKeys(&cur, &cur)) != 0 {
		t.Error("identical configurations differ")
	}
}

// TestAPIProbe: the watchdog's self-probe passes only on a 200 from
// /healthz, and fails when nothing answers.
func TestAPIProbe(t *testing.T) {
	status := http.StatusOK
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	addr := srv.Listener.Addr()
	probe := newAPIProbe(addr)
	if err := probe(); err != nil {
		t.Fatalf("healthy API: %v", err)
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if err := probe(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unhealthy API: %v, want 503 error", err)
	}
	srv.Close()
	if err := probe(); err == nil {
		t.Fatal("closed API: probe passed")
	}
	// An unspecified listen address is probed on loopback.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go hs.Serve(ln)
	defer hs.Close()
	if err := newAPIProbe(ln.Addr())(); err != nil {
		t.Fatalf("probe of 0.0.0.0 listener: %v", err)
	}
}

// TestSdNotifyEndToEnd runs the real callboxd binary under a fake systemd:
// NOTIFY_SOCKET is a unixgram socket this test reads and WATCHDOG_USEC is
// set. It expects READY=1 and WATCHDOG=1, then on SIGHUP RELOADING=1 and
// READY=1 again, then on SIGTERM STOPPING=1 and exit status 0.
func TestSdNotifyEndToEnd(t *testing.T) {
	requireEspeak(t)
	if testing.Short() {
		t.Skip("builds callboxd")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "callboxd")
	build := exec.Command("go", "build", "-o", bin, "callbox/cmd/callboxd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build callboxd: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	cfgPath := filepath.Join(dir, "callboxd.yaml")
	yaml := boxYAML(t, filepath.Join(dir, "data"), freePort(t), "{ring_timeout: 3s}",
		fmt.Sprintf("  - {name: a, host: 127.0.0.1, port: %d, options_interval: 0s}\n", freePort(t)), "")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	stderr.tw = &testLogWriter{t: t}
	defer stderr.tw.close()
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()

	// expect reads notifications until one starts with want.
	var seen []string
	expect := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("notify socket closed waiting for %s; seen %q", want, seen)
				}
				seen = append(seen, m)
				if strings.HasPrefix(m, want) {
					return
				}
			case err := <-exited:
				t.Fatalf("callboxd exited (%v) waiting for %s; seen %q", err, want, seen)
			case <-deadline:
				t.Fatalf("no %s within %v; seen %q", want, within, seen)
			}
		}
	}
	expect("READY=1", 60*time.Second)
	expect("WATCHDOG=1", 5*time.Second)
	expect("WATCHDOG=1", 5*time.Second) // it keeps petting while healthy

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("RELOADING=1", 10*time.Second)
	if m := seen[len(seen)-1]; !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", m)
	}
	expect("READY=1", 10*time.Second)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect("STOPPING=1", 10*time.Second)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("callboxd exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("callboxd did not exit within 30s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "configuration reloaded") {
		t.Error("reload not logged")
	}
}
