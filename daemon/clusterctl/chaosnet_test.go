package clusterctl

// This file holds the chaos harness's network: one network namespace per
// box on a bridge in the test's namespace, so a partition is a kernel
// route change, not a cooperative proxy.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// chaosNet puts each box in its own network namespace (veth pair to a
// bridge in the root namespace, where the test, its API client and the
// simulator live). A partition blackholes, inside the namespaces, the
// routes between the cut box and the other boxes: raft and forwarding
// traffic is silently dropped both ways (existing TCP connections stall
// until their timeouts, as on a real cut cable), while the cut box still
// reaches the simulator, so it can keep dialling if its fencing lets it:
// the adversarial case for duplicates.
//
// Without root (or with CALLBOX_CHAOS_NETNS=0) a nil *chaosNet runs every
// box on 127.0.0.1 and partitions are skipped: a cooperative TCP proxy
// cannot cut one box off, because every box dials a peer's one advertised
// address and a proxy in front of it cannot tell which box is calling.
type chaosNet struct {
	t      testing.TB
	tag    string // unique per test process: cbx<pid%100000>
	subnet string // e.g. "10.213.17"
	n      int

	mu  sync.Mutex
	cut map[int]bool // guarded by mu: boxes currently partitioned
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newChaosNet builds the bridge and n namespaces, or returns nil (and the
// reason) when network namespaces are not available here.
func newChaosNet(t testing.TB, n int) (*chaosNet, string) {
	if os.Getenv("CALLBOX_CHAOS_NETNS") == "0" {
		return nil, "CALLBOX_CHAOS_NETNS=0"
	}
	if os.Geteuid() != 0 {
		return nil, "not root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, "no ip(8)"
	}
	pid := os.Getpid() % 100000
	nw := &chaosNet{t: t, tag: fmt.Sprintf("cbx%d", pid), subnet: fmt.Sprintf("10.213.%d", pid%250+1), n: n, cut: map[int]bool{}}
	nw.cleanup() // a previous run of this process ID killed before its cleanup
	steps := [][]string{
		{"link", "add", nw.bridge(), "type", "bridge"},
		{"addr", "add", nw.HostIP() + "/24", "dev", nw.bridge()},
		{"link", "set", nw.bridge(), "up"},
	}
	for i := 0; i < n; i++ {
		ns, host, peer := nw.ns(i), nw.tag+"h"+fmt.Sprint(i), nw.tag+"p"+fmt.Sprint(i)
		steps = append(steps,
			[]string{"netns", "add", ns},
			[]string{"link", "add", host, "type", "veth", "peer", "name", peer},
			[]string{"link", "set", host, "master", nw.bridge(), "up"},
			[]string{"link", "set", peer, "netns", ns},
			[]string{"-n", ns, "addr", "add", nw.IP(i) + "/24", "dev", peer},
			[]string{"-n", ns, "link", "set", peer, "up"},
			[]string{"-n", ns, "link", "set", "lo", "up"},
		)
	}
	t.Cleanup(nw.cleanup)
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			if len(s) > 1 && s[0] == "link" && s[1] == "add" && s[len(s)-1] == "bridge" {
				return nil, err.Error() // no permission for links: fall back
			}
			t.Fatalf("chaos network: %v", err)
		}
	}
	return nw, ""
}

func (nw *chaosNet) bridge() string  { return nw.tag + "br" }
func (nw *chaosNet) ns(i int) string { return fmt.Sprintf("%sb%d", nw.tag, i) }

// IP is box i's address; HostIP the root namespace's (the simulator's).
func (nw *chaosNet) IP(i int) string { return fmt.Sprintf("%s.%d", nw.subnet, 10+i) }
func (nw *chaosNet) HostIP() string  { return nw.subnet + ".1" }

// Command runs bin inside box i's namespace; ip(8) execs it, so the
// process ID is bin's and signals reach it directly.
func (nw *chaosNet) Command(i int, bin string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nw.ns(i), bin}, args...)...)
}

// Partition cuts box i from every other box, both ways.
func (nw *chaosNet) Partition(i int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for j := 0; j < nw.n; j++ {
		if j == i {
			continue
		}
		if err := ipCmd("-n", nw.ns(i), "route", "add", "blackhole", nw.IP(j)+"/32"); err != nil {
			return err
		}
		if err := ipCmd("-n", nw.ns(j), "route", "add", "blackhole", nw.IP(i)+"/32"); err != nil {
			return err
		}
	}
	nw.cut[i] = true
	return nil
}

// Heal removes box i's partition.
func (nw *chaosNet) Heal(i int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var first error
	for j := 0; j < nw.n; j++ {
		if j == i {
			continue
		}
		for _, r := range [][2]int{{i, j}, {j, i}} {
			if err := ipCmd("-n", nw.ns(r[0]), "route", "del", "blackhole", nw.IP(r[1])+"/32"); err != nil && first == nil {
				first = err
			}
		}
	}
	delete(nw.cut, i)
	return first
}

// cleanup removes the namespaces (their veth ends go with them) and the
// bridge; errors are ignored (they may not exist).
func (nw *chaosNet) cleanup() {
	for i := 0; i < nw.n; i++ {
		_ = exec.Command("ip", "netns", "del", nw.ns(i)).Run()
		_ = exec.Command("ip", "link", "del", nw.tag+"h"+fmt.Sprint(i)).Run()
	}
	_ = exec.Command("ip", "link", "del", nw.bridge()).Run()
}
