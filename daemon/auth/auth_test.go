package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injected clock for windows and lockouts.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestStore(t *testing.T, now func() time.Time) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "auth", "users.json"), now)
	if err != nil {
		t.Fatal(err)
	}
	s.Iterations = 1000
	return s
}

func TestMatrix(t *testing.T) {
	// The documented matrix, written out independently of the map.
	want := map[Permission]string{ // roles in order admin operator auditor viewer
		PermRead: "xxxx", PermNumbersUnmasked: "xxx.", PermOperate: "xx..", PermRecordingsListen: "xxx.",
		PermTranscriptsRead: "xxx.", PermAuditRead: "x.x.", PermUsersManage: "x...", PermMetrics: "xxxx",
		PermSelf: "xxxx", PermClusterManage: "x...", PermFlowsRead: "xxxx", PermFlowsWrite: "xx..",
	}
	if len(want) != len(Permissions()) {
		t.Fatalf("matrix has %d permissions, test knows %d", len(Permissions()), len(want))
	}
	for perm, row := range want {
		for i, role := range Roles {
			if got := Allowed(role, perm); got != (row[i] == 'x') {
				t.Errorf("Allowed(%s, %s) = %v", role, perm, got)
			}
		}
	}
	if Allowed("root", PermRead) || Allowed(Admin, "nonsense") {
		t.Error("unknown role or permission allowed")
	}
	if !covers(Admin, Viewer) || covers(Viewer, Admin) || covers(Operator, Auditor) {
		t.Error("covers is wrong")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "pbkdf2-sha256$1000$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	if !checkPassword(h, "correct horse battery") || checkPassword(h, "correct horse batterz") {
		t.Fatal("check wrong")
	}
	for _, bad := range []string{"", "plain", "pbkdf2-sha256$x$a$b", "pbkdf2-sha256$0$AAAA$AAAA", "md5$1$a$b"} {
		if checkPassword(bad, "") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
}

func TestStoreUsersAndTokens(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	s := newTestStore(t, clk.now)
	if _, err := s.AddUser("Alice", Admin, "long enough pw"); !errors.Is(err, ErrInvalid) {
		t.Errorf("upper-case name: %v", err)
	}
	if _, err := s.AddUser("alice", "root", "long enough pw"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad role: %v", err)
	}
	if _, err := s.AddUser("alice", Admin, "short"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "at least 10") {
		t.Errorf("short password: %v", err)
	}
	if _, err := s.AddUser("alice", Operator, "long enough pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser("alice", Operator, "long enough pw"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := s.CheckPassword("alice", "wrong password"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := s.CheckPassword("nobody", "long enough pw"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("unknown user: %v", err)
	}
	if u, err := s.CheckPassword("alice", "long enough pw"); err != nil || u.Role != Operator {
		t.Fatalf("login: %v %v", u, err)
	}
	// A token may not exceed its user's role.
	if _, _, err := s.CreateToken("alice", "ci", Admin, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("escalating token: %v", err)
	}
	ti, secret, err := s.CreateToken("alice", "ci", Viewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.CheckToken(secret)
	if err != nil || p.Role != Viewer || p.User != "alice" || p.TokenID != ti.ID {
		t.Fatalf("CheckToken = %+v, %v", p, err)
	}
	// Change the last character to a different one: appending a fixed "0"
	// left the secret unchanged whenever it already ended in "0".
	last := "0"
	if strings.HasSuffix(secret, "0") {
		last = "1"
	}
	if _, err := s.CheckToken(secret[:len(secret)-1] + last); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("altered secret: %v", err)
	}
	// Stored hashed: reopening finds the token but the file holds no secret.
	s2, err := OpenStore(s.backend.(*FileBackend).path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.CheckToken(secret); err != nil {
		t.Errorf("after reopen: %v", err)
	}
	raw := readFile(t, s.backend.(*FileBackend).path)
	if strings.Contains(raw, secret[len("cbx_")+13:]) || strings.Contains(raw, "long enough pw") {
		t.Error("users file holds a secret or password in the clear")
	}
	clk.add(time.Hour)
	if _, err := s.CheckToken(secret); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
	if _, err := s.RevokeToken(ti.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeToken(ti.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	if err := s.DeleteUser("alice"); err != nil || !s.Empty() {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLockoutWithInjectedClock(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	s := newTestStore(t, clk.now)
	if _, err := s.AddUser("bob", Operator, "bobs password"); err != nil {
		t.Fatal(err)
	}
	a := NewAuthenticator(s, "", clk.now)
	// Three free failures.
	for i := 0; i < 3; i++ {
		if _, err := a.Login("bob", "nope nope nope", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Now slowed: even the right password waits 1 s.
	_, err := a.Login("bob", "bobs password", "10.0.0.1")
	var we *WaitError
	if !errors.Is(err, ErrSlowDown) || !errors.As(err, &we) || we.Wait != time.Second {
		t.Fatalf("after 3 failures: %v", err)
	}
	// Delays double: 1 2 4 8 16 32 s after failures 3..8.
	for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second} {
		clk.add(d)
		if _, err := a.Login("bob", "wrong again!", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// 9 failures; the 10th locks for 15 minutes.
	clk.add(time.Minute)
	if _, err := a.Login("bob", "wrong again!", "10.0.0.1"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	if _, err := a.Login("bob", "bobs password", "10.0.0.1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if HTTPStatus(ErrLocked) != http.StatusTooManyRequests {
		t.Error("lock status")
	}
	// Another user from another address is unaffected.
	if _, err := s.AddUser("carol", Viewer, "carols password"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login("carol", "carols password", "10.0.0.2"); err != nil {
		t.Fatalf("carol: %v", err)
	}
	clk.add(13 * time.Minute)
	if _, err := a.Login("bob", "bobs password", "10.0.0.1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("still locked: %v", err)
	}
	clk.add(time.Minute)
	if _, err := a.Login("bob", "bobs password", "10.0.0.1"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if a.byUser.Failures("user:bob") != 0 {
		t.Error("success did not reset")
	}
}

func TestAddressLockoutSpraysNames(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	a := NewAuthenticator(newTestStore(t, clk.now), "", clk.now)
	for i := 0; i < AddrPolicy.LockAfter; i++ {
		clk.add(time.Minute)
		a.Login("user"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "whatever pw", "10.9.9.9")
	}
	if _, err := a.Login("fresh", "whatever pw", "10.9.9.9"); !errors.Is(err, ErrLocked) {
		t.Fatalf("address not locked: %v", err)
	}
}

func TestSessionsAndCSRF(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	s := newTestStore(t, clk.now)
	s.AddUser("dora", Operator, "doras password")
	a := NewAuthenticator(s, "boot-token", clk.now)
	res, err := a.Login("dora", "doras password", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c := res.Cookie
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Name != CookieName {
		t.Errorf("cookie %+v", c)
	}
	req := func(method string, csrf string) *http.Request {
		r := httptest.NewRequest(method, "/v1/calls", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: c.Value})
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
		return r
	}
	if p, err := a.Authenticate(req("GET", "")); err != nil || p.User != "dora" || p.Via != ViaSession {
		t.Fatalf("GET with cookie: %+v %v", p, err)
	}
	if _, err := a.Authenticate(req("POST", "")); !errors.Is(err, ErrCSRF) {
		t.Errorf("POST without CSRF: %v", err)
	}
	if _, err := a.Authenticate(req("DELETE", "wrong")); !errors.Is(err, ErrCSRF) {
		t.Errorf("DELETE with wrong CSRF: %v", err)
	}
	if _, err := a.Authenticate(req("POST", res.Session.CSRF)); err != nil {
		t.Errorf("POST with CSRF: %v", err)
	}
	// Bearer requests need no CSRF token.
	r := httptest.NewRequest("POST", "/v1/calls", nil)
	r.Header.Set("Authorization", "Bearer boot-token")
	if p, err := a.Authenticate(r); err != nil || p.Role != Admin || p.Via != ViaBootstrap {
		t.Errorf("bootstrap: %+v %v", p, err)
	}
	r.Header.Set("Authorization", "Bearer boot-tokem")
	if _, err := a.Authenticate(r); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("wrong bootstrap: %v", err)
	}
	// Idle expiry.
	clk.add(SessionIdle)
	if _, err := a.Authenticate(req("GET", "")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("idle session still valid: %v", err)
	}
	// Logout ends a session.
	res, _ = a.Login("dora", "doras password", "127.0.0.1")
	c = res.Cookie
	a.Logout(req("POST", ""))
	if _, err := a.Authenticate(req("GET", "")); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after logout: %v", err)
	}
}

func TestSetupMode(t *testing.T) {
	s := newTestStore(t, nil)
	a := NewAuthenticator(s, "", nil)
	r := httptest.NewRequest("POST", "/v1/users", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	if p, err := a.Authenticate(r); err != nil || p.Via != ViaLocal || p.Role != Admin {
		t.Fatalf("loopback in setup mode: %+v %v", p, err)
	}
	r.Header.Set("Origin", "http://evil.example")
	if _, err := a.Authenticate(r); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("browser request in setup mode: %v", err)
	}
	r2 := httptest.NewRequest("GET", "/v1/calls", nil)
	r2.RemoteAddr = "192.0.2.7:5555"
	if _, err := a.Authenticate(r2); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("remote in setup mode: %v", err)
	}
	s.AddUser("eve", Admin, "eves password")
	r.Header.Del("Origin")
	if _, err := a.Authenticate(r); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("setup mode did not end with the first user: %v", err)
	}
}

func BenchmarkPasswordHash(b *testing.B) {
	for b.Loop() {
		hashPassword("benchmark password", DefaultIterations)
	}
}
