package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// tlsCluster starts n nodes over real TCP loopback with mutual TLS: node0
// runs cluster init, the others join with one-time tokens.
func tlsCluster(t *testing.T, n int) ([]*Node, []string) { return tlsClusterB(t, n) }

func tlsClusterB(t testing.TB, n int) ([]*Node, []string) {
	t.Helper()
	base := t.TempDir()
	var nodes []*Node
	var dirs []string
	ctx := ctxT(t, 60*time.Second)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("box%d", i)
		dir := filepath.Join(base, id)
		tlsDir := filepath.Join(dir, "tls")
		if i == 0 {
			if _, err := InitCA(tlsDir, id, time.Now()); err != nil {
				t.Fatal(err)
			}
		} else {
			tok, err := nodes[0].CreateJoinToken(time.Minute, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := Join(ctx, tok.String(), id, tlsDir, true); err != nil {
				t.Fatal(err)
			}
			// one-time: a second use is refused
			if err := Join(ctx, tok.String(), id+"x", filepath.Join(dir, "tls2"), true); !errors.Is(err, ErrJoinRefused) {
				t.Fatalf("token reuse: %v", err)
			}
		}
		mat, err := LoadTLS(tlsDir)
		if err != nil {
			t.Fatal(err)
		}
		node, err := Open(Config{Dir: dir, NodeID: id, BindAddr: "127.0.0.1:0", TLS: mat, Bootstrap: i == 0, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		if i == 0 {
			if err := node.WaitLeader(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			ji, ok, err := ReadJoinInfo(tlsDir)
			if err != nil || !ok {
				t.Fatalf("join info: %v %v", ok, err)
			}
			if err := node.RequestAdd(ctx, ji.Via, ji.Voter); err != nil {
				t.Fatal(err)
			}
			if err := node.WaitLeader(ctx); err != nil {
				t.Fatal(err)
			}
		}
		nodes = append(nodes, node)
		dirs = append(dirs, dir)
	}
	return nodes, dirs
}

func TestTLSClusterForwardsWrites(t *testing.T) {
	nodes, _ := tlsCluster(t, 3)
	ctx := ctxT(t, 30*time.Second)
	// Every box accepts writes; followers forward them and read their own.
	for i, n := range nodes {
		if _, err := n.Apply(ctx, rec(fmt.Sprintf("r%d", i), t0, "")); err != nil {
			t.Fatalf("apply on box%d: %v", i, err)
		}
		if _, ok, _ := n.CallRecord(fmt.Sprintf("r%d", i)); !ok {
			t.Fatalf("box%d does not read its own write", i)
		}
	}
	// Typed responses and sentinel errors survive forwarding.
	var follower *Node
	for _, n := range nodes {
		if !n.IsLeader() {
			follower = n
		}
	}
	c, err := follower.Apply(ctx, &CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	if err != nil {
		t.Fatal(err)
	}
	if camp, ok := c.(Campaign); !ok || camp.ID != "camp" {
		t.Fatalf("forwarded response %T %+v", c, c)
	}
	if _, err := follower.Apply(ctx, &CreateCampaign{Campaign: testCampaign("camp"), At: t0}); !errors.Is(err, ErrExists) {
		t.Fatalf("forwarded rejection = %v", err)
	}
	st, err := follower.Status()
	if err != nil || len(st.Members) != 3 || st.LeaderID == "" {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := follower.VerifyLeader(ctx); err != nil {
		t.Fatal(err)
	}
	// A box leaves; the rest keep committing.
	if err := follower.RemoveMember(ctx, follower.ID(), time.Minute); err != nil {
		t.Fatal(err)
	}
	follower.Close()
	for _, n := range nodes {
		if n != follower {
			if _, err := n.Apply(ctx, rec("after-leave-"+n.ID(), t0, "")); err != nil {
				t.Fatal(err)
			}
			if st, _ := n.Status(); len(st.Members) != 2 {
				t.Fatalf("members after leave: %+v", st.Members)
			}
		}
	}
}

func TestTLSRefusesUncertifiedPeers(t *testing.T) {
	nodes, dirs := tlsCluster(t, 1)
	addr := nodes[0].Addr()
	// A box of another cluster (its own CA) is refused at the handshake.
	other, err := InitCA(filepath.Join(t.TempDir(), "tls"), "intruder", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mat, err := LoadTLS(filepath.Join(dirs[0], "tls"))
	if err != nil {
		t.Fatal(err)
	}
	// No client certificate (the handshake passes: join streams need that)
	// or a certificate from another CA (refused at the handshake): raft and
	// forward streams get no answer.
	noCert := mat.ClientConfig()
	noCert.Certificates = nil
	foreign := mat.ClientConfig()
	foreign.Certificates = []tls.Certificate{other.Cert}
	for _, cfg := range []*tls.Config{noCert, foreign} {
		for _, kind := range []byte{streamRaft, streamForward} {
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				continue // refused outright
			}
			c.Write([]byte{kind})
			writeFrame(c, &fwdReq{Op: opVerify})
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var resp fwdResp
			if err := readFrame(c, &resp); err == nil {
				t.Fatalf("stream %q answered an uncertified client: %+v", kind, resp)
			}
			c.Close()
		}
	}
	// Control: the box's own certificate gets an answer on the same path.
	c, err := tls.Dial("tcp", addr, mat.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{streamForward})
	writeFrame(c, &fwdReq{Op: opVerify})
	var resp fwdResp
	if err := readFrame(c, &resp); err != nil || resp.Err != nil {
		t.Fatalf("certified client: %v %+v", err, resp.Err)
	}
	c.Close()
	// A plaintext client gets nothing.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d tlsPlainProbe
	if d.answered(ctx, addr) {
		t.Fatal("plaintext raft connection answered")
	}
	// A join with a token for a different CA fingerprint is refused by the joiner.
	tok, _ := nodes[0].CreateJoinToken(time.Minute, time.Now())
	tok.CAFingerprint = other.CAFingerprint()
	if err := Join(ctx, tok.String(), "x", filepath.Join(t.TempDir(), "tls"), false); err == nil {
		t.Fatal("join accepted a member whose CA does not match the token")
	}
}

func TestJoinTokenParse(t *testing.T) {
	good := JoinToken{Addr: "10.0.0.1:7000", CAFingerprint: fmt.Sprintf("%064x", 1), Secret: fmt.Sprintf("%064x", 2), Expires: t0}
	got, err := ParseJoinToken(good.String())
	if err != nil || got != good {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"", "cbxjoin1.", "nope", "cbxjoin1.!!!", good.String()[:20],
		JoinToken{Addr: "nohost", CAFingerprint: good.CAFingerprint, Secret: good.Secret, Expires: t0}.String(),
		JoinToken{Addr: good.Addr, CAFingerprint: "zz", Secret: good.Secret, Expires: t0}.String(),
		JoinToken{Addr: good.Addr, CAFingerprint: good.CAFingerprint, Secret: "01", Expires: t0}.String(),
		JoinToken{Addr: good.Addr, CAFingerprint: good.CAFingerprint, Secret: good.Secret}.String(),
	} {
		if _, err := ParseJoinToken(bad); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func FuzzParseJoinToken(f *testing.F) {
	f.Add(JoinToken{Addr: "10.0.0.1:7000", CAFingerprint: fmt.Sprintf("%064x", 1), Secret: fmt.Sprintf("%064x", 2), Expires: t0}.String())
	f.Add("cbxjoin1.e30")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseJoinToken(s)
		if err != nil {
			return
		}
		again, err := ParseJoinToken(tok.String())
		if err != nil || again.Addr != tok.Addr || again.Secret != tok.Secret {
			t.Fatalf("re-parse: %+v %v", again, err)
		}
	})
}

// tlsPlainProbe speaks plaintext to a TLS port.
type tlsPlainProbe struct{}

func (tlsPlainProbe) answered(ctx context.Context, addr string) bool {
	var d netDialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	c.Write([]byte("R\x00\x00\x00\x10plaintext-append"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	// a TLS alert (0x15) is not an answer
	return n > 0 && buf[0] != 0x15
}

type netDialer = net.Dialer
