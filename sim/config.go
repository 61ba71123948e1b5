package sim

// This file holds the simulator's configuration and its validation.

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"
)

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	ListenIP  string // SIP and RTP address; default 127.0.0.1
	Port      int    // SIP port; default 15070, 0 after Start reads the bound port (use -1 for "any free port")
	Transport string // udp (default) or tcp

	RTPPortMin, RTPPortMax int // RTP port range; default 40000-41000

	Rules    []Rule             // persona by dialled-number prefix (longest wins)
	Default  string             // persona when no rule or scheme matches; default "answer"
	Personas map[string]Persona // nil means DefaultPersonas()

	RecordDir string       // optional: each answered call's stereo WAV (left: box, right: simulator) is written here
	LogFile   string       // optional: each CallLog is appended here as one JSON line (the far-end log)
	LogSync   bool         // fsync LogFile after each line (survives power loss; see logFile)
	Logger    *slog.Logger // nil means slog.Default()

	// OnCall, when set, is called with each call's final log (from the
	// call's goroutine; it must not block for long).
	OnCall func(CallLog)

	// Synth synthesises persona speech; nil means espeak-ng (Espeak).
	Synth SynthFunc
	// Now is the time source for the call log; nil means time.Now.
	Now func() time.Time
	// Seed makes the human-like response gaps reproducible; 0 derives the
	// seed from each call's Call-ID.
	Seed uint64
	// MaxRing bounds how long a noanswer persona rings before answering
	// 480; default 3 minutes.
	MaxRing time.Duration
	// MaxCallDuration bounds an answered call; the simulator then sends
	// BYE. Default 1 hour.
	MaxCallDuration time.Duration
}

// Configuration defaults.
const (
	DefaultListenIP        = "127.0.0.1"
	DefaultPort            = 15070
	DefaultRTPPortMin      = 40000
	DefaultRTPPortMax      = 41000
	DefaultPersona         = "answer"
	DefaultMaxRing         = 3 * time.Minute
	DefaultMaxCallDuration = time.Hour
)

// withDefaults validates cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return cfg, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if cfg.ListenIP == "" {
		cfg.ListenIP = DefaultListenIP
	}
	if ip := net.ParseIP(cfg.ListenIP); ip == nil || ip.IsUnspecified() {
		return bad("listen IP %q must be a concrete IP address (it is advertised in SDP and Contact)", cfg.ListenIP)
	}
	switch {
	case cfg.Port == 0:
		cfg.Port = DefaultPort
	case cfg.Port == -1:
		cfg.Port = 0
	case cfg.Port < 1 || cfg.Port > 65535:
		return bad("SIP port %d must be 1-65535 (or -1 for any free port)", cfg.Port)
	}
	cfg.Transport = strings.ToLower(cfg.Transport)
	if cfg.Transport == "" {
		cfg.Transport = "udp"
	}
	if cfg.Transport != "udp" && cfg.Transport != "tcp" {
		return bad("transport %q must be udp or tcp", cfg.Transport)
	}
	if cfg.RTPPortMin == 0 && cfg.RTPPortMax == 0 {
		cfg.RTPPortMin, cfg.RTPPortMax = DefaultRTPPortMin, DefaultRTPPortMax
	}
	if cfg.RTPPortMin < 1024 || cfg.RTPPortMax > 65535 || cfg.RTPPortMin+1 > cfg.RTPPortMax {
		return bad("RTP port range %d-%d must lie within 1024-65535 and hold at least one even/odd pair", cfg.RTPPortMin, cfg.RTPPortMax)
	}
	if cfg.Personas == nil {
		cfg.Personas = DefaultPersonas()
	} else {
		m := make(map[string]Persona, len(cfg.Personas))
		for k, v := range cfg.Personas {
			m[k] = v
		}
		cfg.Personas = m
	}
	for name, p := range cfg.Personas {
		if p.Name == "" {
			p.Name = name
		}
		if p.Name != name {
			return bad("persona map key %q holds persona named %q", name, p.Name)
		}
		if err := p.Validate(); err != nil {
			return cfg, err
		}
		cfg.Personas[name] = p.withDefaults()
	}
	if cfg.Default == "" {
		cfg.Default = DefaultPersona
	}
	if _, ok := cfg.Personas[cfg.Default]; !ok {
		return cfg, fmt.Errorf("%w: default persona %q does not exist (have %s)", ErrPersona, cfg.Default, strings.Join(PersonaNames(cfg.Personas), ", "))
	}
	cfg.Rules = slices.Clone(cfg.Rules)
	for _, r := range cfg.Rules {
		if err := checkPrefix(r.Prefix); err != nil {
			return cfg, fmt.Errorf("%w: %v", ErrRule, err)
		}
		if _, ok := cfg.Personas[r.Persona]; !ok {
			return cfg, fmt.Errorf("%w: rule %s=%s names persona %q, which does not exist (have %s)",
				ErrPersona, r.Prefix, r.Persona, r.Persona, strings.Join(PersonaNames(cfg.Personas), ", "))
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Synth == nil {
		cfg.Synth = Espeak
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxRing <= 0 {
		cfg.MaxRing = DefaultMaxRing
	}
	if cfg.MaxCallDuration <= 0 {
		cfg.MaxCallDuration = DefaultMaxCallDuration
	}
	return cfg, nil
}

// PersonaNames returns the names of personas, sorted.
func PersonaNames(personas map[string]Persona) []string {
	names := make([]string, 0, len(personas))
	for n := range personas {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
