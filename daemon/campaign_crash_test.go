package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
)

// TestCampaignSurvivesKill9 runs the real callboxd binary on a campaign
// against the simulator and kills it with SIGKILL at seeded random moments,
// restarting it each time. The simulator's call log (appended by the far
// end) proves every number was dialled at most once per recorded attempt,
// and every contact ends in a final state: none lost. CALLBOX_SOAK=1 runs
// the long version.
func TestCampaignSurvivesKill9(t *testing.T) {
	requireEspeak(t)
	kills, contacts := 3, 12
	if os.Getenv("CALLBOX_SOAK") == "1" {
		kills, contacts = 20, 40
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "callboxd")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/callboxd").CombinedOutput(); err != nil {
		t.Fatalf("build callboxd: %v\n%s", err, out)
	}
	logFile := filepath.Join(dir, "far-end.jsonl")
	s := startCampaignSim(t, logFile)
	apiPort, sipPort := freePort(t), freePort(t)
	rtp := 42000 + (sipPort%100)*20
	cfgPath := filepath.Join(dir, "callboxd.yaml")
	yaml := fmt.Sprintf(`
box: {id: crash-box, data_dir: %q}
log: {level: info}
api: {listen: "127.0.0.1:%d"}
sip: {listen_ip: 127.0.0.1, listen_port: %d, transports: [udp]}
media: {ip: 127.0.0.1, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: "127.0.0.1:0"}
calls: {ring_timeout: 3s, dtmf_timeout: 2s, drain_timeout: 5s}
tts: {cache_dir: %q}
trunks:
  - {name: sim, host: 127.0.0.1, port: %d, transport: udp, options_interval: 0s}
`, filepath.Join(dir, "data"), apiPort, sipPort, rtp, rtp+19, ttsCacheDir(t), campSimPort(t, s))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &box{t: t, api: fmt.Sprintf("127.0.0.1:%d", apiPort)}
	var proc *exec.Cmd
	start := func() {
		proc = exec.Command(bin, "--config", cfgPath)
		lf, err := os.OpenFile(filepath.Join(dir, "callboxd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer lf.Close()
		proc.Stdout, proc.Stderr = lf, lf
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 300; i++ {
			if resp, err := http.Get("http://" + b.api + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("callboxd not healthy after 30s")
	}
	start()
	t.Cleanup(func() { _ = proc.Process.Kill(); _, _ = proc.Process.Wait() })
	spec := testSpec("crash")
	spec.MaxAttempts = kills + 2
	spec.AMD = apiv1.AMD{}
	spec.Pacing = apiv1.Pacing{MaxConcurrent: 3, CPS: 3}
	spec.Retry = map[string]apiv1.RetryRule{"busy": {Action: "retry", Delay: "1s"}}
	if code := apiCall(t, b, "POST", "/v1/campaigns", spec, nil); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	var csv strings.Builder
	csv.WriteString("phone\n")
	for i := 0; i < contacts; i++ {
		fmt.Fprintf(&csv, "1390000%04d\n", 100+i) // persona "hello" (answers) by the catch-all rule
	}
	var rep campaign.ImportReport
	if code := apiCall(t, b, "POST", "/v1/campaigns/crash/contacts", []byte(csv.String()), &rep); code != 200 || rep.Imported != contacts {
		t.Fatalf("import: %d %+v", code, rep)
	}
	apiCall(t, b, "POST", "/v1/campaigns/crash/start", nil, nil)
	rng := rand.New(rand.NewPCG(42, uint64(kills)))
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(300+rng.IntN(2500)) * time.Millisecond)
		_ = proc.Process.Signal(syscall.SIGKILL)
		_, _ = proc.Process.Wait()
		t.Logf("kill -9 #%d", k+1)
		start()
	}
	done := waitCampaignDone(t, b, "crash", 90*time.Second)
	var atts []cluster.Attempt
	apiCall(t, b, "GET", "/v1/campaigns/crash/attempts", nil, &atts)
	perContact := map[string]int{}
	for _, a := range atts {
		perContact[a.ContactID]++
		if a.State == cluster.AttemptClaimed {
			t.Errorf("attempt %s still open after the campaign finished", a.ID)
		}
	}
	_ = proc.Process.Signal(syscall.SIGTERM)
	_, _ = proc.Process.Wait()
	time.Sleep(300 * time.Millisecond) // let the far end log the last BYEs
	far := map[string]int{}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Number string `json:"number"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			far[l.Number]++
		}
	}
	for i := 0; i < contacts; i++ {
		phone := fmt.Sprintf("+861390000%04d", 100+i)
		id := campaign.ContactID(phone)
		if perContact[id] == 0 {
			t.Errorf("contact %s lost: no attempt recorded", id)
		}
		if far[phone] > perContact[id] {
			t.Errorf("contact %s dialled %d times at the far end but only %d attempts recorded", id, far[phone], perContact[id])
		}
	}
	if done.Counters.Done+done.Counters.DNC != int64(contacts) {
		t.Errorf("counters %+v: not every contact is final", done.Counters)
	}
	if os.Getenv("CALLBOX_KEEP_LOG") != "" {
		data, _ := os.ReadFile(filepath.Join(dir, "callboxd.log"))
		_ = os.WriteFile(os.Getenv("CALLBOX_KEEP_LOG"), data, 0o644)
	}
	t.Logf("attempts %d (interrupted %d), dispositions %v, far-end calls per number %v", done.Counters.Attempts, done.Counters.Interrupted, done.Counters.Dispositions, far)
}
