package sipua

import (
	"net"
	"strconv"
	"sync"
	"time"

	"callbox/media"
)

// Registration states reported in TrunkStatus.RegState.
const (
	RegUnregistered = "unregistered"
	RegRegistering  = "registering"
	RegRegistered   = "registered"
	RegFailed       = "failed"
)

// TrunkStatus is a snapshot of one trunk.
type TrunkStatus struct {
	Name          string
	Auth          string
	Registered    bool
	RegState      string
	LastError     string
	NextRefresh   time.Time
	Up            bool // OPTIONS keepalive verdict (always true without keepalive)
	LastOptionsAt time.Time
	ActiveCalls   int
	MaxCalls      int
}

// trunk is the runtime state of one configured trunk.
type trunk struct {
	cfg     TrunkConfig
	codecs  []media.Codec
	allowed []*net.IPNet // from AllowedSources or the resolved Host

	mu            sync.Mutex
	regState      string    // guarded by mu
	lastErr       string    // guarded by mu
	nextRefresh   time.Time // guarded by mu
	up            bool      // guarded by mu
	optFailures   int       // guarded by mu
	lastOptionsAt time.Time // guarded by mu
	active        int       // guarded by mu
	regCSeq       uint32    // guarded by mu
	regCallID     string    // guarded by mu
	regTag        string    // guarded by mu
}

func (t *trunk) hostPort() string {
	return net.JoinHostPort(t.cfg.Host, strconv.Itoa(t.cfg.Port))
}

// acquire reserves a call slot; false when the cap is reached.
func (t *trunk) acquire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.active >= t.cfg.MaxCalls {
		return false
	}
	t.active++
	return true
}

func (t *trunk) release() {
	t.mu.Lock()
	if t.active > 0 {
		t.active--
	}
	t.mu.Unlock()
}

func (t *trunk) isUp() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.up
}

func (t *trunk) allows(ip net.IP) bool {
	for _, n := range t.allowed {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (t *trunk) status() TrunkStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrunkStatus{
		Name: t.cfg.Name, Auth: t.cfg.Auth,
		Registered: t.regState == RegRegistered, RegState: t.regState,
		LastError: t.lastErr, NextRefresh: t.nextRefresh,
		Up: t.up, LastOptionsAt: t.lastOptionsAt,
		ActiveCalls: t.active, MaxCalls: t.cfg.MaxCalls,
	}
}
