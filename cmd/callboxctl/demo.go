package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"callbox/daemon/apiv1"
	"callbox/sim"
)

//go:embed demo/callboxd.yaml
var demoConfig string

//go:embed demo/reminder-en.yaml
var demoFlowEN []byte

//go:embed demo/reminder-zh.yaml
var demoFlowZH []byte

// demoContact is one row of the sample campaigns.
type demoContact struct {
	Name  string
	Phone string
}

// demoContacts builds the sample contacts of one campaign: numbers of the
// simulator's persona scheme (+8613800000NN), so each contact answers as a
// different persona (yes, no, keys, silence, talk-over, anger, opt-out,
// voicemail, busy, no answer, reject, hang-up midway).
func demoContacts(lang string, first, n int) []demoContact {
	en := []string{"Alice Wong", "Brian Lee", "Carol Tan", "David Lim", "Emma Chen", "Frank Ho", "Grace Liu", "Henry Ng"}
	zh := []string{"王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄涛"}
	names := en
	if lang == "zh" {
		names = zh
	}
	out := make([]demoContact, 0, n)
	for nn := first; len(out) < n && nn < 100; nn++ {
		if sim.SchemeOrder[nn%len(sim.SchemeOrder)] == "hangup-midway" {
			continue // that persona plays the agent a transfer reaches
		}
		out = append(out, demoContact{Name: names[len(out)%len(names)], Phone: fmt.Sprintf("%s0%02d", sim.SchemePrefix, nn)})
	}
	return out
}

// daytimeZone returns a time zone where it is now between 10:00 and 19:00,
// so the demo dials whatever the hour: calling windows are evaluated in
// the callee's local time and never open outside 08:00-21:00.
func daytimeZone(now time.Time) string {
	for _, z := range []string{"Asia/Shanghai", "Europe/London", "America/New_York", "Asia/Kolkata", "America/Los_Angeles", "Europe/Berlin", "Asia/Dubai", "Pacific/Auckland", "America/Sao_Paulo", "Pacific/Honolulu", "Asia/Tokyo"} {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue
		}
		if h := now.In(loc).Hour(); h >= 10 && h < 19 {
			return z
		}
	}
	return "UTC"
}

func demoCSV(contacts []demoContact, tz string) string {
	var b strings.Builder
	b.WriteString("phone,name,timezone,value\n")
	for i, c := range contacts {
		fmt.Fprintf(&b, "%s,%s,%s,%d\n", c.Phone, c.Name, tz, 100-i)
	}
	return b.String()
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("contacts", 14, "contacts in each of the two sample campaigns (English, Mandarin)")
	parallel := fs.Int("parallel", 6, "calls at once per campaign")
	keep := fs.Bool("keep", false, "keep the demo's data directory and leave the box running until interrupted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n <= 0 || *n > 36 || *parallel <= 0 || *parallel > 30 {
		fmt.Fprintln(stderr, "callboxctl demo: --contacts must be 1-36 and --parallel 1-30")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, *n, *parallel, *keep, stdout, stderr); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "\ndemo interrupted; box and simulator stopped")
			return 130
		}
		fmt.Fprintln(stderr, "callboxctl demo:", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, n, parallel int, keep bool, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "callbox-demo-*")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	daemonBin, err := findDaemon()
	if err != nil {
		return err
	}
	ports, err := pickPorts(4)
	if err != nil {
		return err
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	simPort := ports[1]

	// The simulator answers as the contacts' personas.
	// The demo's callees answer the reminder: "dtmf" presses 1 to confirm,
	// "yes" and "no" answer in one clear word (the offline recogniser is
	// grammar-constrained pocketsphinx, which does best on short answers).
	personas := sim.DefaultPersonas()
	for name, change := range map[string]func(*sim.Persona){
		"dtmf": func(p *sim.Persona) { p.DTMF = "1" },
		"yes":  func(p *sim.Persona) { p.Say = []string{"Yes."} },
		"no":   func(p *sim.Persona) { p.Say = []string{"No."} },
	} {
		p := personas[name]
		change(&p)
		personas[name] = p
	}
	srv, err := sim.New(sim.Config{
		ListenIP: "127.0.0.1", Port: simPort, Transport: "udp", RTPPortMin: 42000, RTPPortMax: 43998,
		Default: "answer", LogFile: filepath.Join(dir, "sim-calls.jsonl"), Personas: personas,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer srv.Close()

	flowsDir := filepath.Join(dir, "flows")
	if err := os.MkdirAll(flowsDir, 0o750); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"demo-reminder-en.yaml": demoFlowEN, "demo-reminder-zh.yaml": demoFlowZH} {
		if err := os.WriteFile(filepath.Join(flowsDir, name), data, 0o640); err != nil {
			return err
		}
	}
	cfg := demoConfig
	for _, r := range [][2]string{
		{"127.0.0.1:18080", apiAddr},
		{"listen_port: 15060", fmt.Sprintf("listen_port: %d", ports[2])},
		{"port: 15070", fmt.Sprintf("port: %d", simPort)},
		{"127.0.0.1:17000", fmt.Sprintf("127.0.0.1:%d", ports[3])},
		{"FLOWS_DIR", fmt.Sprintf("%q", flowsDir)},
		{"  id: demo-box\n", fmt.Sprintf("  id: demo-box\n  data_dir: %q\n", filepath.Join(dir, "data"))},
	} {
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	cfgPath := filepath.Join(dir, "callboxd.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "callboxd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(daemonBin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start callboxd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	fmt.Fprintf(stdout, "callbox demo: a box and the callee simulator on loopback; 2 campaigns (English, Mandarin) of %d contacts each\n", n)
	api := &client{base: "http://" + apiAddr}
	if err := waitHealthy(ctx, api, exited, logPath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "box is up: dashboard and API at http://%s/ (health: /healthz)\n", apiAddr)

	tz := daytimeZone(time.Now())
	fmt.Fprintf(stdout, "contacts are in %s, where it is %s now: calling windows are in the callee's local time\n", tz, localClock(tz))
	campaigns := []struct{ id, flow, lang string }{{"demo-en", "demo-reminder-en", "en"}, {"demo-zh", "demo-reminder-zh", "zh"}}
	total := 0
	for i, c := range campaigns {
		contacts := demoContacts(c.lang, i*40, n)
		if err := createDemoCampaign(ctx, api, c.id, c.flow, parallel, demoCSV(contacts, tz)); err != nil {
			return err
		}
		total += len(contacts)
	}

	start := time.Now()
	last, lastAt := -1, time.Time{}
	for {
		done, err := demoProgress(ctx, api, campaigns[0].id, campaigns[1].id)
		if err != nil {
			return err
		}
		if done != last || time.Since(lastAt) > 5*time.Second {
			progress(stdout, done, total, start)
			last, lastAt = done, time.Now()
		}
		if done >= total {
			break
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout)
			return ctx.Err()
		case err := <-exited:
			fmt.Fprintln(stdout)
			tail, _ := os.ReadFile(logPath)
			return fmt.Errorf("callboxd exited (%v):\n%s", err, lastLines(string(tail), 15))
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Fprintln(stdout)
	if err := printDemoReports(ctx, stdout, api, campaigns[0].id, campaigns[1].id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ndashboard: http://%s/   box log: %s\n", apiAddr, logPath)
	if keep {
		fmt.Fprintf(stdout, "data kept in %s; the box keeps running until you press Ctrl-C\n", dir)
		<-ctx.Done()
	}
	return nil
}

func localClock(tz string) string {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return "?"
	}
	return time.Now().In(loc).Format("15:04")
}

// createDemoCampaign creates a campaign, imports its contacts and starts it.
func createDemoCampaign(ctx context.Context, api *client, id, flow string, parallel int, csv string) error {
	spec := apiv1.CampaignSpec{
		ID: id, Name: "Demo appointment reminder (" + id + ")", Flow: flow, Trunks: []string{"sim"},
		Region: "CN", MaxAttempts: 2,
		Retry: map[string]apiv1.RetryRule{
			"busy": {Action: "retry", Delay: "5s"}, "no-answer": {Action: "retry", Delay: "5s"},
			"machine": {Action: "stop"}, // the demo does not call voicemail back hours later
		},
		Pacing: apiv1.Pacing{Mode: "agentless", MaxConcurrent: parallel, CPS: 5},
		AMD:    apiv1.AMD{Enabled: true, Action: "hangup"},
	}
	if err := api.doCtx(ctx, "POST", "/v1/campaigns", spec, nil); err != nil {
		return fmt.Errorf("create campaign %s: %w", id, err)
	}
	var rep struct {
		Imported int `json:"imported"`
		Problems []struct {
			Line   int    `json:"line"`
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"problems"`
	}
	if err := api.doRaw(ctx, "POST", "/v1/campaigns/"+id+"/contacts?mode=reject-all", "text/csv", strings.NewReader(csv), &rep); err != nil {
		return fmt.Errorf("import contacts into %s: %w", id, err)
	}
	if rep.Imported == 0 {
		return fmt.Errorf("import into %s imported no contact: %+v", id, rep.Problems)
	}
	if err := api.doCtx(ctx, "POST", "/v1/campaigns/"+id+"/start", nil, nil); err != nil {
		return fmt.Errorf("start campaign %s: %w", id, err)
	}
	return nil
}

// demoProgress counts contacts that need no more calls.
func demoProgress(ctx context.Context, api *client, ids ...string) (int, error) {
	done := 0
	for _, id := range ids {
		var c apiv1.Campaign
		if err := api.doCtx(ctx, "GET", "/v1/campaigns/"+id, nil, &c); err != nil {
			return 0, err
		}
		done += int(c.Counters.Done + c.Counters.DNC)
	}
	return done, nil
}

// demoReport is the part of GET /v1/campaigns/{id}/report the demo shows.
type demoReport struct {
	Total struct {
		Attempts     int     `json:"attempts"`
		Answered     int     `json:"answered"`
		Machines     int     `json:"machines"`
		Conversions  int     `json:"conversions"`
		Transfers    int     `json:"transfers"`
		OptOuts      int     `json:"opt_outs"`
		AvgHandleSec float64 `json:"avg_handle_sec"`
	} `json:"total"`
	Dispositions map[string]int `json:"dispositions"`
}

func printDemoReports(ctx context.Context, w io.Writer, api *client, ids ...string) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "campaign\tattempts\tanswered\tmachine\tbusy\tno answer\trejected\tconverted\ttransferred\topted out\tavg handle\t")
	for _, id := range ids {
		var r demoReport
		if err := api.doCtx(ctx, "GET", "/v1/campaigns/"+id+"/report", nil, &r); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1fs\t\n", id, r.Total.Attempts, r.Total.Answered, r.Total.Machines,
			r.Dispositions["busy"], r.Dispositions["no-answer"], r.Dispositions["rejected"],
			r.Total.Conversions, r.Total.Transfers, r.Total.OptOuts, r.Total.AvgHandleSec)
	}
	return tw.Flush()
}

func progress(w io.Writer, done, total int, start time.Time) {
	const width = 30
	fill := done * width / total
	fmt.Fprintf(w, "\r[%s%s] %d/%d contacts done  %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total, time.Since(start).Round(time.Second))
}

// findDaemon looks for callboxd beside this binary, then on PATH.
func findDaemon() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "callboxd")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("callboxd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("callboxd not found beside callboxctl or on PATH: run make build")
}

// pickPorts returns n distinct ports free for UDP and TCP on loopback.
func pickPorts(n int) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for tries := 0; len(out) < n && tries < 200; tries++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("no free ports on 127.0.0.1")
	}
	return out, nil
}

func waitHealthy(ctx context.Context, api *client, exited <-chan error, logPath string) error {
	deadline := time.After(60 * time.Second)
	for {
		var h map[string]any
		if err := api.doCtx(ctx, "GET", "/healthz", nil, &h); err == nil {
			return nil
		}
		select {
		case err := <-exited:
			tail, _ := os.ReadFile(logPath)
			return fmt.Errorf("callboxd exited (%v):\n%s", err, lastLines(string(tail), 15))
		case <-deadline:
			return fmt.Errorf("callboxd not healthy after 60s; see %s", logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
