package daemon

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
	"callbox/daemon/web"
	"callbox/sim"
)

// cdp is a minimal Chrome DevTools Protocol client over one page target.
type cdp struct {
	t    *testing.T
	conn *websocket.Conn

	mu         sync.Mutex
	next       int
	pending    map[int]chan cdpReply // guarded by mu
	exceptions []string              // guarded by mu: uncaught page exceptions
	done       chan struct{}
}

type cdpReply struct {
	Result json.RawMessage
	Err    string
}

// startChromium runs headless Chromium and connects to its first page.
func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin := "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("chromium is not installed (Debian package chromium): run make deps")
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--autoplay-policy=no-user-gesture-required", "--window-size=1280,1000",
		"--remote-debugging-port=0", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers too, so none writes into the profile after
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group: browser, renderers, crashpad
		_ = cmd.Wait()
		time.Sleep(200 * time.Millisecond) // let the killed helpers go before TempDir's cleanup removes the profile
	})
	portc := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on ws://127\.0\.0\.1:(\d+)/`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				portc <- m[1]
			}
		}
	}()
	var port string
	select {
	case port = <-portc:
	case <-time.After(20 * time.Second):
		t.Fatal("chromium did not report its DevTools port")
	}
	var wsURL string
	for i := 0; i < 50 && wsURL == ""; i++ {
		resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err == nil {
			var targets []struct{ Type, WebSocketDebuggerURL string }
			_ = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" {
					wsURL = tg.WebSocketDebuggerURL
				}
			}
		}
		if wsURL == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if wsURL == "" {
		t.Fatal("chromium has no page target")
	}
	conn, _, err := websocket.Dial(context.Background(), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(64 << 20) // screenshots
	c := &cdp{t: t, conn: conn, pending: map[int]chan cdpReply{}, done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { conn.CloseNow(); <-c.done })
	c.call("Runtime.enable", nil)
	c.call("Page.enable", nil)
	return c
}

func (c *cdp) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		var msg struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Result json.RawMessage `json:"result"`
			Params json.RawMessage `json:"params"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &msg) != nil {
			continue
		}
		c.mu.Lock()
		if msg.ID != 0 {
			if ch := c.pending[msg.ID]; ch != nil {
				r := cdpReply{Result: msg.Result}
				if msg.Error != nil {
					r.Err = msg.Error.Message
				}
				ch <- r
				delete(c.pending, msg.ID)
			}
		} else if msg.Method == "Runtime.exceptionThrown" {
			c.exceptions = append(c.exceptions, string(msg.Params))
		}
		c.mu.Unlock()
	}
}

// call sends one command and waits for its result.
func (c *cdp) call(method string, params any) json.RawMessage {
	c.t.Helper()
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan cdpReply, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	data, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	select {
	case r := <-ch:
		if r.Err != "" {
			c.t.Fatalf("%s: %s", method, r.Err)
		}
		return r.Result
	case <-ctx.Done():
		c.t.Fatalf("%s: no answer", method)
	}
	return nil
}

// eval evaluates a JavaScript expression (awaiting a promise) and returns
// its value.
func (c *cdp) eval(expr string) any {
	c.t.Helper()
	v, err := c.evalErr(expr)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// evalErr is eval returning a page exception as an error.
func (c *cdp) evalErr(expr string) (any, error) {
	c.t.Helper()
	raw := c.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true})
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	_ = json.Unmarshal(raw, &r)
	if r.ExceptionDetails != nil {
		return nil, fmt.Errorf("eval %s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return r.Result.Value, nil
}

// waitFor polls a JavaScript condition until it is truthy.
func (c *cdp) waitFor(what, expr string, bound time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(bound)
	for {
		v, _ := c.evalErr(expr) // the page may still be loading
		if b, ok := v.(bool); (ok && b) || (!ok && v != nil && v != "" && v != float64(0)) {
			return
		}
		if time.Now().After(deadline) {
			text, _ := c.evalErr("document.body.innerText")
			c.t.Fatalf("waited %s for %s (%s); page text: %.1500v", bound, what, expr, text)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// click clicks the centre of the element with real mouse events.
func (c *cdp) click(sel string) {
	c.t.Helper()
	c.waitFor(sel+" visible", fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e || e.offsetParent === null) return false; e.scrollIntoView({block: 'center'}); return true; })()`, sel), 10*time.Second)
	rect, _ := c.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`, sel)).([]any)
	if len(rect) != 2 {
		c.t.Fatalf("no rectangle for %s", sel)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		c.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": rect[0], "y": rect[1], "button": "left", "clickCount": 1})
	}
}

// fill focuses an input, clears it and types text.
func (c *cdp) fill(sel, text string) {
	c.t.Helper()
	c.click(sel)
	c.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.select && e.select(); return true; })()`, sel))
	c.call("Input.dispatchKeyEvent", map[string]any{"type": "keyDown", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8})
	c.call("Input.dispatchKeyEvent", map[string]any{"type": "keyUp", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8})
	c.call("Input.insertText", map[string]any{"text": text})
	if got := c.eval(fmt.Sprintf(`document.querySelector(%q).value`, sel)); got != text {
		c.t.Fatalf("%s holds %q after typing %q", sel, got, text)
	}
}

func (c *cdp) text(sel string) string {
	c.t.Helper()
	s, _ := c.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel)).(string)
	return strings.TrimSpace(s)
}

// screenshot saves a PNG and logs its path.
func (c *cdp) screenshot(dir, name string) {
	c.t.Helper()
	var r struct{ Data string }
	_ = json.Unmarshal(c.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}), &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		c.t.Fatalf("screenshot %s: not a PNG", name)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot: %s", p)
}

func (c *cdp) checkNoExceptions() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.exceptions {
		c.t.Errorf("page exception: %.600s", e)
	}
}

// setFile puts a file into a file input, as a user picking it would.
func setFile(page *cdp, sel, path string) {
	page.t.Helper()
	var docNode struct{ Root struct{ NodeID int } }
	_ = json.Unmarshal(page.call("DOM.getDocument", map[string]any{}), &docNode)
	var input struct{ NodeID int }
	_ = json.Unmarshal(page.call("DOM.querySelector", map[string]any{"nodeId": docNode.Root.NodeID, "selector": sel}), &input)
	if input.NodeID == 0 {
		page.t.Fatalf("no %s on the page", sel)
	}
	page.call("DOM.setFileInputFiles", map[string]any{"nodeId": input.NodeID, "files": []string{path}})
}

// screenshotDir is build/screenshots/dashboard (kept after the test, not
// committed), or $CALLBOX_SCREENSHOTS.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("CALLBOX_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "build", "screenshots", "dashboard")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		dir = t.TempDir()
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// TestDashboardInChromium drives the embedded dashboard in headless
// Chromium: log in through the form, switch the language, create a
// campaign with a flow, upload a CSV (row report), start it against the
// callee simulator, watch the live counters move, open an answered call and
// load and play its recording.
func TestDashboardInChromium(t *testing.T) {
	requireEspeak(t)
	page := startChromium(t)
	shots := screenshotDir(t)

	rtpBase := 47000 + (time.Now().Nanosecond()/1000%40)*20 // once: two reads of the clock gave an empty range
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: rtpBase, RTPPortMax: rtpBase + 19, MaxRing: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := startBox(t, campSimPort(t, s), func(c *config.Config) { c.Calls.RingTimeout = 5 * time.Second })
	base := "http://" + b.api
	setup := &apiClient{t: t, base: base}
	setup.must("POST", "/v1/users", apiv1.NewUser{Name: "ops-admin", Role: "admin", Password: "dashboard password"}, http.StatusCreated, nil)

	// Log in through the page.
	page.call("Page.navigate", map[string]any{"url": base + "/"})
	page.waitFor("login page", `!document.querySelector('#page-login').hidden`, 15*time.Second)
	page.eval(`localStorage.setItem('callbox.lang', 'en'); true`)
	page.fill("#login-user", "ops-admin")
	page.fill("#login-pass", "wrong password!")
	page.click(`#login-form button[type=submit]`)
	page.waitFor("login refused", `document.querySelector('#login-error').textContent.length > 0`, 10*time.Second)
	page.fill("#login-pass", "dashboard password")
	page.click(`#login-form button[type=submit]`)
	page.waitFor("overview", `!document.querySelector('#page-overview').hidden`, 10*time.Second)
	page.waitFor("event stream", `document.querySelector('#conn').classList.contains('live')`, 10*time.Second)
	page.waitFor("trunk health", `document.querySelectorAll('#trunks tbody tr').length === 1`, 10*time.Second)
	page.waitFor("cluster members", `document.querySelectorAll('#cluster tbody tr').length === 1`, 10*time.Second)
	page.screenshot(shots, "1-overview")

	// Mandarin and back.
	page.click("#lang-toggle")
	page.waitFor("Mandarin UI", `document.querySelector('[data-i18n="live.title"]').textContent === '实时通话'`, 5*time.Second)
	page.screenshot(shots, "2-overview-zh")
	page.click("#lang-toggle")
	page.waitFor("English UI", `document.querySelector('[data-i18n="live.title"]').textContent === 'Live calls'`, 5*time.Second)

	// The campaign wizard.
	flowPath, _ := filepath.Abs(filepath.Join("..", "flows", "reminder-appointment.en.yaml"))
	page.click("#nav-wizard")
	page.waitFor("wizard", `!document.querySelector('#page-wizard').hidden && document.querySelectorAll('#wiz-trunk option').length > 0`, 10*time.Second)
	page.fill("#wiz-id", "dash1")
	page.fill("#wiz-name", "Reminder test")
	page.waitFor("flows API probed", `S.flowsAPI !== null || document.querySelector('#wiz-flow-upload').hidden`, 10*time.Second)
	if page.eval(`S.flowsAPI === true`) == true {
		// The box stores flows: upload the file through the wizard and use it.
		setFile(page, "#wiz-flow-file", flowPath)
		page.fill("#wiz-flow-name", "dash-reminder")
		page.click("#wiz-flow-send")
		page.waitFor("flow stored", `document.querySelector('#wiz-flow-msg').classList.contains('good')`, 10*time.Second)
		if got := page.eval(`document.querySelector('#wiz-flow').value`); got != "store:dash-reminder" {
			t.Errorf("flow field after the upload: %v", got)
		}
	} else {
		page.fill("#wiz-flow", flowPath)
	}
	page.fill("#wiz-tz", noonZone())
	page.fill("#wiz-attempts", "1")
	page.fill("#wiz-cps", "3")
	page.click("#wiz-create")
	page.waitFor("step 2", `!document.querySelector('#wiz-step2').hidden`, 10*time.Second)

	csvPath := filepath.Join(t.TempDir(), "contacts.csv")
	csv := "phone,name,appt_date,appt_time,branch_name\n" +
		"13800000001,Ann,2026-12-01,10:30,Central\n" + // persona yes
		"13800000002,Bob,2026-12-01,11:00,Central\n" + // persona no
		"13800000010,Cai,2026-12-01,11:30,Central\n" + // persona busy
		"12345,Bad,2026-12-01,12:00,Central\n"
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	setFile(page, "#wiz-csv", csvPath)
	page.click("#wiz-upload")
	page.waitFor("import report", `!document.querySelector('#wiz-report').hidden`, 15*time.Second)
	if got := page.text("#rep-imported"); got != "3" {
		t.Errorf("imported %q, want 3", got)
	}
	if got := page.text("#rep-invalid"); got != "1" {
		t.Errorf("invalid %q, want 1", got)
	}
	if n := page.eval(`document.querySelectorAll('#rep-problems tbody tr').length`); n != float64(1) {
		t.Errorf("%v problem rows, want 1", n)
	}
	page.screenshot(shots, "3-import-report")
	page.click("#wiz-start")
	page.waitFor("overview after start", `location.hash === '#/overview' && !document.querySelector('#page-overview').hidden`, 10*time.Second)

	// Live counters move.
	ticks0, _ := strconv.Atoi(page.text("#stat-ticks"))
	page.waitFor("campaign listed with its contacts", `/ 3$/.test(document.querySelector('#campaigns tr[data-campaign="dash1"] .progress').textContent)`, 10*time.Second)
	progress0 := page.text(`#campaigns tr[data-campaign="dash1"] .progress`)
	page.waitFor("a call started", `Number(document.querySelector('#stat-started').textContent) >= 1`, 20*time.Second)
	page.waitFor("a live call row", `document.querySelectorAll('#live-calls tbody tr').length >= 1 || Number(document.querySelector('#stat-ended').textContent) >= 1`, 20*time.Second)
	page.screenshot(shots, "4-live-calls")
	page.waitFor("the busy call ended", `Number(document.querySelector('#stat-ended').textContent) >= 1`, 30*time.Second)
	page.waitFor("an answered call ended", `[...document.querySelectorAll('#recent-calls tbody tr')].some(r => r.cells[3].textContent === 'answered')`, 50*time.Second)
	if ticks, _ := strconv.Atoi(page.text("#stat-ticks")); ticks <= ticks0 {
		t.Errorf("counter ticks %d → %d", ticks0, ticks)
	}
	page.waitFor("campaign figures", `document.querySelector('#campaigns tr[data-campaign="dash1"] .answer-rate').textContent !== '–'`, 20*time.Second)
	page.waitFor("campaign chart", `document.querySelectorAll('#campaigns tr[data-campaign="dash1"] svg polyline, #campaigns tr[data-campaign="dash1"] svg circle').length > 0`, 10*time.Second)
	page.waitFor("campaign done", `document.querySelector('#campaigns tr[data-campaign="dash1"] .progress').textContent === '3 / 3'`, 60*time.Second)
	if progress0 == "3 / 3" {
		t.Errorf("campaign progress did not move: %q at the start", progress0)
	}
	// The large chart over time is drawn from the box's series endpoint.
	page.waitFor("chart over time", `document.querySelector('#chart-campaign').textContent === 'dash1' && Number(document.querySelector('#campaign-chart').dataset.points) >= 1 && document.querySelectorAll('#campaign-chart polyline, #campaign-chart circle').length >= 1`, 20*time.Second)
	// Two of the three dialled contacts answered (the third is busy): the
	// report's figures and the series agree once every attempt finished.
	page.waitFor("answer rate 2 of 3", `document.querySelector('#campaigns tr[data-campaign="dash1"] .answer-rate').textContent === '66.7%'`, 20*time.Second)
	page.waitFor("series holds every call", `S.series.get('dash1').points.reduce((n, p) => n + p.finished, 0) === 3 && S.series.get('dash1').points.reduce((n, p) => n + p.answered, 0) === 2`, 20*time.Second)
	page.screenshot(shots, "5-overview-after-calls")
	page.click("#lang-toggle")
	page.waitFor("Mandarin overview", `document.querySelector('[data-i18n="chart.title"]').textContent === '趋势'`, 5*time.Second)
	page.screenshot(shots, "5b-overview-after-calls-zh")
	page.click("#lang-toggle")
	page.waitFor("English UI", `document.querySelector('[data-i18n="chart.title"]').textContent === 'Over time'`, 5*time.Second)

	// Call detail: the recording loads as audio/wav and plays.
	page.eval(`[...document.querySelectorAll('#recent-calls tbody tr')].find(r => r.cells[3].textContent === 'answered').setAttribute('id', 'answered-row'); true`)
	page.click("#answered-row")
	page.waitFor("call detail", `!document.querySelector('#page-call').hidden && !document.querySelector('#call-recording-card').hidden`, 10*time.Second)
	page.waitFor("recording metadata", `document.querySelector('#call-audio').readyState >= 1 && document.querySelector('#call-audio').duration > 0.5`, 15*time.Second)
	if ct := page.eval(`fetch(document.querySelector('#call-audio').src, {credentials: 'same-origin'}).then(r => r.status + ' ' + r.headers.get('content-type'))`); ct != "200 audio/wav" {
		t.Errorf("recording fetch: %v", ct)
	}
	page.eval(`document.querySelector('#call-audio').play().then(() => true)`)
	page.waitFor("playback", `document.querySelector('#call-audio').currentTime > 0.2`, 10*time.Second)
	t1 := page.eval(`document.querySelector('#call-audio').currentTime`).(float64)
	page.waitFor("playback advancing", fmt.Sprintf(`document.querySelector('#call-audio').currentTime > %f + 0.3`, t1), 10*time.Second)
	if e := page.eval(`(() => { const a = document.querySelector('#call-audio'); return a.error ? 'error ' + a.error.code : (a.paused && !a.ended ? 'paused' : 'ok'); })()`); e != "ok" {
		t.Errorf("audio element: %v", e)
	}
	// The transcript shows what the bot said and what the callee answered.
	page.waitFor("transcript", `document.querySelectorAll('#call-transcript li').length >= 2`, 10*time.Second)
	tr := page.text("#call-transcript")
	caller := page.eval(`[...document.querySelectorAll('#call-transcript li')].filter(li => li.querySelector('.who').textContent === 'Caller').length`)
	if !strings.Contains(tr, "reminder of your appointment at Central") || caller == float64(0) {
		t.Errorf("transcript shown (%v caller turns): %q", caller, tr)
	}
	page.screenshot(shots, "6-call-detail")
	page.click("#lang-toggle")
	page.waitFor("Mandarin call page", `document.querySelector('[data-i18n="call.transcript"]').textContent === '对话记录' && [...document.querySelectorAll('#call-fields td')].some(td => td.textContent === '呼出') && [...document.querySelectorAll('#call-fields td')].some(td => td.textContent === '已接通')`, 5*time.Second)
	page.screenshot(shots, "6b-call-detail-zh")
	page.click("#lang-toggle")
	callHash := page.eval(`location.hash`).(string)

	// A viewer sees the call but no player, and the box refuses the audio.
	page.eval(`api('POST', '/v1/users', {name: 'ops-viewer', role: 'viewer', password: 'viewer password'}).then(() => true)`)
	page.click("#logout")
	page.waitFor("login page", `!document.querySelector('#page-login').hidden`, 10*time.Second)
	page.fill("#login-user", "ops-viewer")
	page.fill("#login-pass", "viewer password")
	page.click(`#login-form button[type=submit]`)
	page.waitFor("viewer signed in", `document.querySelector('#whoami').textContent.includes('viewer')`, 10*time.Second)
	page.eval(fmt.Sprintf(`location.hash = %q; true`, callHash))
	page.waitFor("viewer call page", `!document.querySelector('#page-call').hidden && document.querySelectorAll('#call-fields tr').length > 0`, 10*time.Second)
	page.waitFor("no player for the viewer", `document.querySelector('#call-recording-card').hidden && !document.querySelector('#call-no-listen').hidden`, 10*time.Second)
	if got := page.eval(`document.querySelector('#call-audio').getAttribute('src')`); got != nil {
		t.Errorf("viewer's audio element has a source: %v", got)
	}
	if st := page.eval(fmt.Sprintf(`fetch('/v1/calls/' + %q.split('/').pop() + '/recording', {credentials: 'same-origin'}).then(r => r.status)`, callHash)); st != float64(403) {
		t.Errorf("viewer fetching the recording: %v, want 403", st)
	}
	if !page.eval(`document.querySelector('#call-transcript-card').hidden`).(bool) {
		t.Error("the viewer sees a transcript")
	}
	page.screenshot(shots, "7-call-detail-viewer")
	page.checkNoExceptions()

	// The page's own files are served with a strict CSP.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Security-Policy") != web.ContentSecurityPolicy || !strings.Contains(string(body), "/ui/app.js") {
		t.Errorf("GET /: CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
		t.Error("the dashboard page refers to an external URL")
	}
}
