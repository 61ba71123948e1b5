package sipua

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"callbox/media"
)

// Trunk authentication modes.
const (
	AuthIP       = "ip"       // the trunk trusts our source address
	AuthRegister = "register" // we REGISTER with digest credentials
)

// Defaults applied by New.
const (
	DefaultRegisterExpiry  = 300 * time.Second
	DefaultOptionsFailures = 3
	DefaultUserAgent       = "callbox"
	DefaultPort            = 5060
)

// TrunkConfig configures one SIP trunk.
type TrunkConfig struct {
	Name      string
	Host      string // IP address or host name of the trunk
	Port      int    // default 5060
	Transport string // "udp" or "tcp"

	Auth           string // "ip" or "register"
	Username       string
	Password       string
	Realm          string // expected digest realm; empty accepts any
	RegisterExpiry time.Duration

	FromUser   string // caller identity default; DialRequest.CallerID overrides it
	FromDomain string // default: Host

	MaxCalls int // concurrent call cap, required > 0

	OptionsInterval time.Duration // 0 disables the keepalive (trunk always up)
	OptionsFailures int           // unanswered OPTIONS before the trunk is down, default 3

	AllowedSources []string // IPs/CIDRs allowed to send us requests; default the resolved Host
	Codecs         []string // preference order; default PCMU, PCMA
}

// Config configures the user agent.
type Config struct {
	ListenIP   string   // IP to bind; required
	ListenPort int      // 0 picks a free port (tests)
	Transports []string // "udp" and/or "tcp", bound on the same port; default udp
	UserAgent  string
	ExternalIP string // advertised in Contact, Via and SDP c= when set
	Trunks     []TrunkConfig
}

// Deps are the collaborators the daemon injects.
type Deps struct {
	Logger *slog.Logger
	// NewMedia builds the media session for a call (the daemon attaches the
	// recorder etc.). Required.
	NewMedia func(info CallInfo) (*media.Session, error)
	// OnInbound runs in its own goroutine once an inbound call is
	// answered and ACKed. When nil, inbound calls are answered and hung up.
	OnInbound func(c *Call)
	// Now is the wall clock for timestamps; default time.Now.
	Now func() time.Time
	// Rand returns a number in [0,1) for backoff jitter; default math/rand.
	Rand func() float64
	// After waits like time.After; tests may inject a fast clock.
	After func(d time.Duration) <-chan time.Time
}

// ConfigError names the trunk (if any) and field that are wrong.
type ConfigError struct {
	Trunk string // empty for UA-level fields
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Trunk != "" {
		return fmt.Sprintf("sipua config: trunk %q: %s: %s", e.Trunk, e.Field, e.Msg)
	}
	return fmt.Sprintf("sipua config: %s: %s", e.Field, e.Msg)
}

func codecByName(name string) (media.Codec, bool) {
	switch strings.ToUpper(name) {
	case "PCMU":
		return media.PCMU, true
	case "PCMA":
		return media.PCMA, true
	}
	return media.Codec{}, false
}

// validate checks and defaults the configuration. It returns all problems joined.
func (c *Config) validate() error {
	var errs []error
	bad := func(trunk, field, format string, a ...any) {
		errs = append(errs, &ConfigError{Trunk: trunk, Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	ip := net.ParseIP(c.ListenIP)
	switch {
	case c.ListenIP == "":
		bad("", "ListenIP", "required")
	case ip == nil:
		bad("", "ListenIP", "%q is not an IP address", c.ListenIP)
	case ip.IsUnspecified() && c.ExternalIP == "":
		bad("", "ExternalIP", "required when ListenIP is %s", c.ListenIP)
	}
	if c.ExternalIP != "" && net.ParseIP(c.ExternalIP) == nil {
		bad("", "ExternalIP", "%q is not an IP address", c.ExternalIP)
	}
	if c.ListenPort < 0 || c.ListenPort > 65535 {
		bad("", "ListenPort", "%d out of range 0-65535", c.ListenPort)
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{"udp"}
	}
	bound := map[string]bool{}
	for i, t := range c.Transports {
		t = strings.ToLower(t)
		c.Transports[i] = t
		if t != "udp" && t != "tcp" {
			bad("", "Transports", "%q is not udp or tcp", t)
		}
		if bound[t] {
			bad("", "Transports", "%q listed twice", t)
		}
		bound[t] = true
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if len(c.Trunks) == 0 {
		bad("", "Trunks", "at least one trunk is required")
	}
	names := map[string]bool{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		name := t.Name
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
			bad(name, "Name", "required")
		} else if names[name] {
			bad(name, "Name", "duplicate trunk name")
		}
		names[name] = true
		if t.Host == "" {
			bad(name, "Host", "required")
		} else if strings.ContainsAny(t.Host, " \t\r\n;<>@:") && net.ParseIP(t.Host) == nil {
			bad(name, "Host", "%q is not a host name or IP address", t.Host)
		}
		if t.Port == 0 {
			t.Port = DefaultPort
		}
		if t.Port < 1 || t.Port > 65535 {
			bad(name, "Port", "%d out of range 1-65535", t.Port)
		}
		t.Transport = strings.ToLower(t.Transport)
		if t.Transport == "" {
			t.Transport = "udp"
		}
		if t.Transport != "udp" && t.Transport != "tcp" {
			bad(name, "Transport", "%q is not udp or tcp", t.Transport)
		} else if !bound[t.Transport] {
			bad(name, "Transport", "%q is not in Transports %v", t.Transport, c.Transports)
		}
		switch t.Auth {
		case "":
			t.Auth = AuthIP
		case AuthIP:
		case AuthRegister:
			if t.Username == "" {
				bad(name, "Username", "required for auth %q", AuthRegister)
			}
			if t.Password == "" {
				bad(name, "Password", "required for auth %q", AuthRegister)
			}
			if t.RegisterExpiry == 0 {
				t.RegisterExpiry = DefaultRegisterExpiry
			}
			if t.RegisterExpiry < time.Second {
				bad(name, "RegisterExpiry", "%v is shorter than 1s", t.RegisterExpiry)
			}
		default:
			bad(name, "Auth", "%q is not %q or %q", t.Auth, AuthIP, AuthRegister)
		}
		if t.FromUser == "" {
			t.FromUser = t.Username
		}
		if t.FromUser == "" {
			t.FromUser = "callbox"
		}
		if !validUser(t.FromUser) {
			bad(name, "FromUser", "%q has characters not allowed in a SIP user part", t.FromUser)
		}
		if t.FromDomain == "" {
			t.FromDomain = t.Host
		}
		if t.MaxCalls <= 0 {
			bad(name, "MaxCalls", "must be > 0, got %d", t.MaxCalls)
		}
		if t.OptionsInterval < 0 {
			bad(name, "OptionsInterval", "negative %v", t.OptionsInterval)
		}
		if t.OptionsFailures == 0 {
			t.OptionsFailures = DefaultOptionsFailures
		}
		if t.OptionsFailures < 0 {
			bad(name, "OptionsFailures", "negative %d", t.OptionsFailures)
		}
		for _, s := range t.AllowedSources {
			if _, err := parseSource(s); err != nil {
				bad(name, "AllowedSources", "%v", err)
			}
		}
		if len(t.Codecs) == 0 {
			t.Codecs = []string{"PCMU", "PCMA"}
		}
		for _, cn := range t.Codecs {
			if _, ok := codecByName(cn); !ok {
				bad(name, "Codecs", "unsupported codec %q (supported: PCMU, PCMA)", cn)
			}
		}
	}
	return errors.Join(errs...)
}

func parseSource(s string) (*net.IPNet, error) {
	if strings.Contains(s, "/") {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP or CIDR", s)
		}
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is not an IP or CIDR", s)
	}
	bits := 32
	if ip.To4() == nil {
		bits = 128
	} else {
		ip = ip.To4()
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}

// validUser reports whether s is usable as a SIP URI user part
// (digits, letters and a few safe punctuation characters).
func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case strings.ContainsRune("+-_.!~*'()", r):
		default:
			return false
		}
	}
	return true
}

// validNumber reports whether s is a dialable number: optional leading '+',
// then 1-32 digits or '*'.
func validNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '*' {
			return false
		}
	}
	return true
}
