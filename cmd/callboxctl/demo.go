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
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"callbox/daemon/apiv1"
	"callbox/sim"
)

//go:embed demo.yaml
var demoConfig string

// demoContact is one row of the embedded sample campaign.
type demoContact struct {
	Name  string
	Lang  string // en or zh
	Phone string
}

// demoContacts is the sample campaign: numbers of the simulator's persona
// scheme (+8613800000NN), so each contact answers as a different persona.
func demoContacts(n int) []demoContact {
	en := []string{"Alice Wong", "Brian Lee", "Carol Tan", "David Lim", "Emma Chen", "Frank Ho", "Grace Liu", "Henry Ng"}
	zh := []string{"Wang Fang", "Li Wei", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Lei", "Zhao Li", "Huang Tao"}
	out := make([]demoContact, 0, n)
	for i := 0; i < n; i++ {
		c := demoContact{Phone: fmt.Sprintf("%s%02d", sim.SchemePrefix, i%100)}
		if i%3 == 2 {
			c.Lang, c.Name = "zh", zh[i%len(zh)]
		} else {
			c.Lang, c.Name = "en", en[i%len(en)]
		}
		out = append(out, c)
	}
	return out
}

// demoScript is the reminder each contact hears.
func demoScript(c demoContact) (text, voice string) {
	if c.Lang == "zh" {
		// espeak-ng's Mandarin voice reads pinyin with tone numbers.
		return "nin2 hao3, zhe4 li3 shi4 shi4 fan4 yin2 hang2 de5 zhi4 neng2 yu3 yin1 zhu4 shou3. " +
			"nin2 ming2 tian1 shang4 wu3 shi2 dian3 you3 yi2 ge4 yu4 yue1. que4 ren4 qing3 an4 yi1.", "cmn-latn-pinyin"
	}
	return "Hello " + c.Name + ", this is the automated assistant of Example Bank. " +
		"Your appointment is tomorrow at ten a m. Press 1 to confirm.", "en-us"
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("contacts", 30, "contacts in the sample campaign")
	parallel := fs.Int("parallel", 6, "calls at once")
	keep := fs.Bool("keep", false, "keep the demo's data directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n <= 0 || *n > 100 || *parallel <= 0 || *parallel > 50 {
		fmt.Fprintln(stderr, "callboxctl demo: --contacts must be 1-100 and --parallel 1-50")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, *n, *parallel, *keep, stdout, stderr); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "\ndemo interrupted; processes stopped")
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
	ports, err := pickPorts(5)
	if err != nil {
		return err
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	simPort := ports[1]

	// The simulator answers as the contacts' personas.
	simLog := filepath.Join(dir, "sim-calls.jsonl")
	srv, err := sim.New(sim.Config{
		ListenIP: "127.0.0.1", Port: simPort, Transport: "udp", RTPPortMin: 42000, RTPPortMax: 43998,
		Default: "answer", LogFile: simLog,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer srv.Close()

	cfg := demoConfig
	for _, r := range [][2]string{
		{"127.0.0.1:18080", apiAddr},
		{"listen_port: 15060", fmt.Sprintf("listen_port: %d", ports[2])},
		{"port: 15070", fmt.Sprintf("port: %d", simPort)},
		{"127.0.0.1:17000", fmt.Sprintf("127.0.0.1:%d", ports[3])},
	} {
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	cfg = strings.Replace(cfg, "  id: demo-box\n", fmt.Sprintf("  id: demo-box\n  data_dir: %q\n", filepath.Join(dir, "data")), 1)
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

	fmt.Fprintf(stdout, "callbox demo: box %s, simulator 127.0.0.1:%d, %d contacts, %d at once\n", apiAddr, simPort, n, parallel)
	api := &client{base: "http://" + apiAddr}
	if err := waitHealthy(ctx, api, exited, logPath); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "box is up: API at http://%s (health: /healthz)\n", apiAddr)

	contacts := demoContacts(n)
	results := make([]apiv1.CallRecord, len(contacts))
	errs := make([]error, len(contacts))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, parallel)
	start := time.Now()
	progress(stdout, 0, n, start)
	for i, c := range contacts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func(i int, c demoContact) {
			defer wg.Done()
			defer func() { <-sem }()
			text, voice := demoScript(c)
			var rec apiv1.CallRecord
			err := api.doCtx(ctx, "POST", "/v1/calls?wait=true", apiv1.PlaceCall{
				Number: c.Phone, Say: text, Voice: voice, WaitDTMF: 1, DTMFTimeoutSec: 4, RingTimeoutSec: 6,
			}, &rec)
			mu.Lock()
			results[i], errs[i] = rec, err
			done++
			progress(stdout, done, n, start)
			mu.Unlock()
		}(i, c)
	}
	wg.Wait()
	fmt.Fprintln(stdout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	printDemoResults(stdout, contacts, results, errs)
	fmt.Fprintf(stdout, "\nbox log: %s\n", logPath)
	if keep {
		fmt.Fprintf(stdout, "data kept in %s\n", dir)
	}
	return nil
}

func progress(w io.Writer, done, total int, start time.Time) {
	const width = 30
	fill := done * width / total
	fmt.Fprintf(w, "\r[%s%s] %d/%d calls  %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), done, total, time.Since(start).Round(time.Second))
}

func printDemoResults(w io.Writer, contacts []demoContact, recs []apiv1.CallRecord, errs []error) {
	count := map[string]int{}
	var talk time.Duration
	talked, converted := 0, 0
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCONTACT\tLANG\tNUMBER\tDISPOSITION\tSIP\tDTMF\tTALK\tHUNG UP BY")
	for i, r := range recs {
		d := r.Disposition
		if errs[i] != nil {
			d = "error: " + errs[i].Error()
		}
		count[d]++
		t := "-"
		if r.AnswerAt != nil && r.EndAt != nil {
			dt := r.EndAt.Sub(*r.AnswerAt)
			talk += dt
			talked++
			t = dt.Round(100 * time.Millisecond).String()
		}
		if strings.HasPrefix(r.DTMF, "1") {
			converted++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", contacts[i].Name, contacts[i].Lang, contacts[i].Phone, d, codeText(r.SIPCode, ""), orDash(r.DTMF), t, orDash(r.HangupBy))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nResults")
	tw = tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%d\n", k, count[k])
	}
	fmt.Fprintf(tw, "  converted (pressed 1)\t%d\n", converted)
	aht := "-"
	if talked > 0 {
		aht = (talk / time.Duration(talked)).Round(100 * time.Millisecond).String()
	}
	fmt.Fprintf(tw, "  average handle time\t%s\n", aht)
	tw.Flush()
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
