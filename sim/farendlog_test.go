package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFarEndLogNamesCallerAndSource sends two INVITEs from SIPp (a real
// peer) and checks the far-end log: one fsynced JSON line per INVITE with
// the Call-ID, the dialled number, From/To users and the source address
// the INVITE came from (the chaos checker tells boxes apart by it).
func TestFarEndLogNamesCallerAndSource(t *testing.T) {
	needBinary(t, "sipp")
	t.Parallel()
	logPath := filepath.Join(t.TempDir(), "far-end.jsonl")
	cfg := sippCfg()
	cfg.LogFile, cfg.LogSync = logPath, true
	s := startSim(t, cfg)
	for _, number := range []string{"2001", "2002"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := runSIPp(ctx, t, "uac_busy.xml", s.Addr(), number, map[string]string{"rtpport": itoa(freeUDPPort(t))})
		cancel()
		if err != nil {
			t.Fatalf("sipp: %v\n%s", err, out)
		}
	}
	waitCalls(t, s, 2)
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []CallLog
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l CallLog
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per INVITE: %+v", len(lines), lines)
	}
	seen := map[string]bool{}
	for i, l := range lines {
		want := []string{"2001", "2002"}[i]
		host, port, err := net.SplitHostPort(l.Source)
		if l.Number != want || l.To != want || l.From != "box" || err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("line %d: number %q to %q from %q source %q: want %s/%s from box at 127.0.0.1:port", i, l.Number, l.To, l.From, l.Source, want, want)
		}
		if l.CallID == "" || seen[l.CallID] || l.Status != 486 || l.HungUpBy != ByCallee || l.EndedAt.Before(l.ReceivedAt) {
			t.Errorf("line %d: %+v", i, l)
		}
		seen[l.CallID] = true
	}
}
