package daemon

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
)

// BenchmarkConcurrentCalls holds CALLBOX_BENCH_CALLS calls (default 500)
// up at once for CALLBOX_BENCH_SECONDS (default 60) against SIPp answering
// with RTP echo on loopback, then reports calls failed, CPU seconds per
// call-minute, resident memory per call, outbound inter-packet interval
// deviation (p50, p99, max) and inbound packet loss. Run it with
// `make bench` (-benchtime 1x); figures go in docs/PERFORMANCE.md.
func BenchmarkConcurrentCalls(b *testing.B) {
	n := envInt("CALLBOX_BENCH_CALLS", 500)
	secs := envInt("CALLBOX_BENCH_SECONDS", 60)
	for i := 0; i < b.N; i++ {
		runLoad(b, n, secs)
	}
}

func runLoad(b *testing.B, n, secs int) {
	requireEspeak(b)
	TuneRuntime(nil) // as callboxd does at start
	// Before SIPp binds: its single echo socket takes the default buffer.
	defer raiseUDPBuffers(b)()
	rcvErrs0 := udpRcvbufErrors()
	far := startSIPp(b, "uas-bench.xml", "-rtp_echo", "-m", strconv.Itoa(n), "-l", strconv.Itoa(n+10),
		"-timeout", strconv.Itoa(secs+180)+"s", "-max_socket", "4096")
	far.waitFor = time.Duration(secs+200) * time.Second
	bx := startBox(b, far.port, func(c *config.Config) {
		c.Log.Level = "warn"
		c.Trunks[0].MaxCalls = n + 10
		c.Calls.MaxActive = n + 10
		c.Calls.RingTimeout = 20 * time.Second
		c.Media.RTPPortMin, c.Media.RTPPortMax = 20000, 20000+4*n+10
	})
	rssBase := rssKiB()
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()

	var wg sync.WaitGroup
	var answered, failed atomic.Int64
	var peakRSS atomic.Int64
	stopSampling := make(chan struct{})
	go func() { // sample resident memory while calls are up
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Second):
				if r := rssKiB(); r > peakRSS.Load() {
					peakRSS.Store(r)
				}
			}
		}
	}()
	client := &http.Client{Timeout: time.Duration(secs+120) * time.Second}
	ramp := time.NewTicker(20 * time.Millisecond) // 50 call attempts per second
	for i := 0; i < n; i++ {
		<-ramp.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body, _ := json.Marshal(apiv1.PlaceCall{Number: "86138" + strconv.Itoa(10000000+i), Say: "Hello.", WaitDTMF: 1, DTMFTimeoutSec: float64(secs)})
			resp, err := client.Post("http://"+bx.api+"/v1/calls?wait=true", "application/json", strings.NewReader(string(body)))
			if err != nil {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			var rec apiv1.CallRecord
			if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&rec) != nil || rec.Disposition != "answered" || rec.Error != "" {
				failed.Add(1)
				b.Logf("call %d: HTTP %d %s %d %s", i, resp.StatusCode, rec.Disposition, rec.SIPCode, rec.Error)
				return
			}
			answered.Add(1)
		}(i)
	}
	ramp.Stop()
	wg.Wait()
	close(stopSampling)
	elapsed := time.Since(start)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	far.wait(b)

	var ms apiv1.MediaStats
	resp, err := http.Get("http://" + bx.api + "/v1/stats/media")
	if err != nil {
		b.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&ms)
	resp.Body.Close()

	callMinutes := float64(n) * float64(secs) / 60
	b.ReportMetric(float64(answered.Load()), "calls_ok")
	b.ReportMetric(float64(failed.Load()), "calls_failed")
	b.ReportMetric(cpu/callMinutes, "cpu_s/call-min")
	b.ReportMetric(float64(peakRSS.Load()-rssBase)/float64(n), "rss_KiB/call")
	b.ReportMetric(ms.SendIntervalP50Ms, "dev_p50_ms")
	b.ReportMetric(ms.SendIntervalP99Ms, "dev_p99_ms")
	b.ReportMetric(ms.SendIntervalMaxMs, "dev_max_ms")
	b.ReportMetric(100*ms.LossFraction, "loss_%")
	rcvErrs := udpRcvbufErrors() - rcvErrs0
	b.ReportMetric(float64(rcvErrs), "udp_rcvbuf_errors")
	b.Logf("%d calls x %ds: ok %d failed %d, wall %v, cpu %.1fs, rss base %d KiB peak %d KiB, send deviation p50 %.2fms p99 %.2fms max %.2fms over %d intervals, loss %d/%d (%.3f%%), UDP RcvbufErrors +%d (whole host), clock skipped %d max late %.2fms",
		n, secs, answered.Load(), failed.Load(), elapsed.Round(time.Second), cpu, rssBase, peakRSS.Load(),
		ms.SendIntervalP50Ms, ms.SendIntervalP99Ms, ms.SendIntervalMaxMs, ms.SendIntervals, ms.PacketsLost, ms.PacketsExpected, 100*ms.LossFraction, rcvErrs, ms.ClockSkipped, ms.ClockMaxLateMs)
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// benchUDPBuffer is the socket receive buffer default the benchmark asks
// for: SIPp echoes every call's RTP through one socket, which overflows
// the stock 208 KiB at a few hundred calls.
const benchUDPBuffer = 8 << 20

// raiseUDPBuffers raises net.core.rmem_default and rmem_max to
// benchUDPBuffer for the run when it may (root) and returns the function
// restoring the old values. What it did, or why not, goes to the log.
func raiseUDPBuffers(b *testing.B) (restore func()) {
	var undo []func()
	for _, key := range []string{"rmem_max", "rmem_default"} {
		path := "/proc/sys/net/core/" + key
		raw, err := os.ReadFile(path)
		if err != nil {
			b.Logf("net.core.%s: cannot read: %v", key, err)
			continue
		}
		old, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || old >= benchUDPBuffer {
			continue
		}
		if err := os.WriteFile(path, []byte(strconv.Itoa(benchUDPBuffer)), 0o644); err != nil {
			b.Logf("net.core.%s stays %d (cannot raise it: %v); SIPp's echo socket may overflow", key, old, err)
			continue
		}
		b.Logf("raised net.core.%s from %d to %d for the run", key, old, benchUDPBuffer)
		undo = append(undo, func() {
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				b.Logf("net.core.%s: could not restore %d: %v", key, old, err)
				return
			}
			b.Logf("restored net.core.%s to %d", key, old)
		})
	}
	return func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
}

// udpRcvbufErrors is the host's Udp RcvbufErrors counter from
// /proc/net/snmp (datagrams dropped because a socket buffer was full), 0
// when unreadable.
func udpRcvbufErrors() int64 {
	raw, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(fields) {
				v, _ := strconv.ParseInt(fields[i], 10, 64)
				return v
			}
		}
		return 0
	}
	return 0
}

// rssKiB is this process's resident set size.
func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return 0
}
