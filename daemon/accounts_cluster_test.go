package daemon

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/config"
)

// clusterBoxConfig is a loopback box of a two-box cluster (raft over TCP
// loopback with mutual TLS).
func clusterBoxConfig(t *testing.T, id string, bootstrap bool) *config.Config {
	t.Helper()
	sipPort := freePort(t)
	rtp := 40000 + (sipPort%200)*40
	y := fmt.Sprintf(`
box: {id: %s, data_dir: %q}
log: {level: info}
api: {listen: "127.0.0.1:0", token: accounts-bootstrap-token}
sip: {listen_ip: 127.0.0.1, listen_port: %d, transports: [udp]}
media: {ip: 127.0.0.1, rtp_port_min: %d, rtp_port_max: %d}
cluster: {bind: "127.0.0.1:%d", bootstrap: %v, heartbeat_timeout: 300ms, election_timeout: 300ms}
tts: {cache_dir: %q}
trunks:
  - {name: t1, host: 127.0.0.1, port: %d, transport: udp, options_interval: 0s}
`, id, t.TempDir(), sipPort, rtp, rtp+38, freePort(t), bootstrap, ttsCacheDir(t), freePort(t))
	cfg, err := config.Parse(id+".yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestAccountsReplicateAcrossBoxes: a user created on one box logs in on
// the other; a token revoked on one box is refused on both.
func TestAccountsReplicateAcrossBoxes(t *testing.T) {
	cfg0 := clusterBoxConfig(t, "box0", true)
	if _, err := cluster.InitCA(filepath.Join(cfg0.Box.DataDir, "cluster", "tls"), "box0", time.Now()); err != nil {
		t.Fatal(err)
	}
	log0 := &testLogWriter{t: t}
	b0 := launchBox(t, cfg0, log0, Options{}, log0.close)
	boot0 := &apiClient{t: t, base: "http://" + b0.api, token: "accounts-bootstrap-token"}
	var jt struct {
		Token string `json:"token"`
	}
	boot0.must("POST", "/v1/cluster/tokens", map[string]string{"ttl": "5m"}, 200, &jt)

	cfg1 := clusterBoxConfig(t, "box1", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cluster.Join(ctx, jt.Token, "box1", filepath.Join(cfg1.Box.DataDir, "cluster", "tls"), true); err != nil {
		t.Fatal(err)
	}
	log1 := &testLogWriter{t: t}
	b1 := launchBox(t, cfg1, log1, Options{}, log1.close)
	boot1 := &apiClient{t: t, base: "http://" + b1.api, token: "accounts-bootstrap-token"}

	// created on box0 ...
	boot0.must("POST", "/v1/users", apiv1.NewUser{Name: "alice", Role: "operator", Password: "alice password!"}, 201, nil)
	var tok apiv1.CreatedToken
	boot0.must("POST", "/v1/tokens", apiv1.NewToken{Name: "scripts", User: "alice"}, 201, &tok)
	// ... logs in on box1
	eventually(t, "alice's login on box1", func() bool {
		code, _ := (&apiClient{t: t, base: boot1.base}).do("POST", "/v1/login", apiv1.Login{Username: "alice", Password: "alice password!"})
		return code == http.StatusOK
	})
	alice1 := &apiClient{t: t, base: boot1.base, token: tok.Secret}
	alice0 := &apiClient{t: t, base: boot0.base, token: tok.Secret}
	eventually(t, "alice's token on box1", func() bool {
		code, _ := alice1.do("GET", "/v1/whoami", nil)
		return code == http.StatusOK
	})
	var who apiv1.Session
	alice1.must("GET", "/v1/whoami", nil, 200, &who)
	if who.User != "alice" || who.Role != "operator" {
		t.Fatalf("whoami on box1 = %+v", who)
	}
	// the same name cannot be created twice from the other box
	if code, raw := boot1.do("POST", "/v1/users", apiv1.NewUser{Name: "alice", Role: "viewer", Password: "other password"}); code != http.StatusConflict {
		t.Fatalf("duplicate user from box1: %d %s", code, raw)
	}
	// a wrong password on box1 is still refused
	if code, _ := (&apiClient{t: t, base: boot1.base}).do("POST", "/v1/login", apiv1.Login{Username: "alice", Password: "wrong password!"}); code != http.StatusUnauthorized {
		t.Fatalf("wrong password on box1: %d", code)
	}
	// revoked on box1 (a follower: forwarded to the leader) ...
	boot1.must("DELETE", "/v1/tokens/"+tok.ID, nil, http.StatusNoContent, nil)
	// ... refused on both
	if code, _ := alice1.do("GET", "/v1/whoami", nil); code != http.StatusUnauthorized {
		t.Fatalf("revoked token on box1: %d", code)
	}
	eventually(t, "the revoked token refused on box0", func() bool {
		code, _ := alice0.do("GET", "/v1/whoami", nil)
		return code == http.StatusUnauthorized
	})
	// both boxes list the same users
	var u0, u1 []apiv1.User
	boot0.must("GET", "/v1/users", nil, 200, &u0)
	boot1.must("GET", "/v1/users", nil, 200, &u1)
	if len(u0) != 1 || len(u1) != 1 || u0[0].Name != "alice" || u1[0].Name != "alice" {
		t.Fatalf("users box0 %+v box1 %+v", u0, u1)
	}
}
