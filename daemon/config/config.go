// Package config owns callboxd's YAML configuration: its schema, the
// defaults every key falls back to, and validation whose errors name the
// file, the key (with its line) and the problem.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole callboxd configuration. Every field has a default
// (see Default) so a minimal file names only its trunks.
type Config struct {
	Box      Box      `yaml:"box"`
	Log      Log      `yaml:"log"`
	API      API      `yaml:"api"`
	SIP      SIP      `yaml:"sip"`
	Media    Media    `yaml:"media"`
	Cluster  Cluster  `yaml:"cluster"`
	Calls    Calls    `yaml:"calls"`
	TTS      TTS      `yaml:"tts"`
	ASR      ASR      `yaml:"asr"`
	Flows    Flows    `yaml:"flows"`
	Inbound  Inbound  `yaml:"inbound"`
	Trunks   []Trunk  `yaml:"trunks"`
	Watchdog Watchdog `yaml:"watchdog"`
	Metrics  Metrics  `yaml:"metrics"`
	Audio    Audio    `yaml:"audio"`

	// Path is the file the configuration was loaded from ("" for defaults).
	Path string `yaml:"-"`
}

// Box identifies this box and where it keeps its data.
type Box struct {
	ID      string `yaml:"id"`
	DataDir string `yaml:"data_dir"`
}

// Log selects the slog handler.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// API is the HTTP API listener.
type API struct {
	Listen string `yaml:"listen"`
	// Token, when set, is the bootstrap admin token: "Authorization:
	// Bearer TOKEN" authenticates as the built-in admin "bootstrap". Use it
	// to create users and tokens, then remove it. /healthz stays open.
	Token string `yaml:"token"`
	TLS   TLS    `yaml:"tls"`
}

// TLS is the API's HTTPS. Mode auto (the default) serves HTTPS unless the
// listen address is a loopback address and no certificate is configured
// (a loopback listener is reachable from this machine only); on always
// serves HTTPS; off always serves plain HTTP. Without cert and key, a
// self-signed certificate is created under data_dir/tls at first start.
type TLS struct {
	Mode string `yaml:"mode"` // auto, on, off
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Metrics is the Prometheus /metrics endpoint.
type Metrics struct {
	Enabled bool `yaml:"enabled"`
	// RequireAuth makes /metrics need a token or session like /v1.
	RequireAuth bool `yaml:"require_auth"`
}

// SIP is the box's SIP listener.
type SIP struct {
	ListenIP   string   `yaml:"listen_ip"`
	ListenPort int      `yaml:"listen_port"`
	Transports []string `yaml:"transports"`
	ExternalIP string   `yaml:"external_ip"`
	UserAgent  string   `yaml:"user_agent"`
}

// Media is the RTP plane.
type Media struct {
	IP           string `yaml:"ip"`
	RTPPortMin   int    `yaml:"rtp_port_min"`
	RTPPortMax   int    `yaml:"rtp_port_max"`
	Record       bool   `yaml:"record"`
	ClockWorkers int    `yaml:"clock_workers"`
}

// Cluster is the Raft node. A single box is a one-node cluster.
type Cluster struct {
	NodeID    string `yaml:"node_id"`
	Bind      string `yaml:"bind"`
	Bootstrap bool   `yaml:"bootstrap"`
	// Advertise is the address other boxes dial (default: bind).
	Advertise string `yaml:"advertise"`
	// TLSDir holds the cluster CA and this box's certificate (default
	// <data_dir>/cluster/tls). When it holds a certificate, raft and
	// box-to-box traffic use mutual TLS only.
	TLSDir string `yaml:"tls_dir"`
	// LeaseTTL is how long one lease renewal lets the box dial; it renews
	// every LeaseTTL/3. LeaseGrace is added by the leader before it expires
	// a lease and hands the box's work to others.
	LeaseTTL   time.Duration `yaml:"lease_ttl"`
	LeaseGrace time.Duration `yaml:"lease_grace"`
	// CallbackWithin bounds when an answered call cut off by a box failure
	// is called back by another box.
	CallbackWithin time.Duration `yaml:"callback_within"`
	// JoinTimeout bounds the first start of a joined box asking to be added.
	JoinTimeout time.Duration `yaml:"join_timeout"`
	// Raft timing (failover speed against false elections on busy boxes).
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	ElectionTimeout  time.Duration `yaml:"election_timeout"`
}

func defaultCluster() Cluster {
	return Cluster{Bind: "127.0.0.1:7000", Bootstrap: true, LeaseTTL: 3 * time.Second, LeaseGrace: time.Second,
		CallbackWithin: 2 * time.Minute, JoinTimeout: 2 * time.Minute,
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond}
}

// Calls are limits for every call.
type Calls struct {
	RingTimeout  time.Duration `yaml:"ring_timeout"`
	MaxDuration  time.Duration `yaml:"max_duration"`
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	DTMFTimeout  time.Duration `yaml:"dtmf_timeout"`
	MaxActive    int           `yaml:"max_active"`
}

// TTS selects the speech synthesis engine.
type TTS struct {
	Engine   string `yaml:"engine"` // espeak or openai
	Voice    string `yaml:"voice"`
	Rate     int    `yaml:"rate"`
	CacheDir string `yaml:"cache_dir"`
	URL      string `yaml:"url"`
	APIKey   string `yaml:"api_key"`
	Model    string `yaml:"model"`
}

// ASR selects the speech recognition engine used by flows.
type ASR struct {
	Engine  string        `yaml:"engine"` // pocketsphinx (default), vosk, funasr or openai
	URL     string        `yaml:"url"`    // ws:// for vosk and funasr, http(s):// for openai
	APIKey  string        `yaml:"api_key"`
	Model   string        `yaml:"model"`
	Binary  string        `yaml:"binary"`  // pocketsphinx: the pocketsphinx_continuous path
	Timeout time.Duration `yaml:"timeout"` // wait for a final result after the caller stops; then no-input
	// MandarinPhrases (pocketsphinx only, experimental) recognises Mandarin
	// answers among a node's expected phrases with the en-us model; off,
	// Mandarin turns take DTMF only. Accuracy: docs/PERFORMANCE.md.
	MandarinPhrases bool `yaml:"mandarin_phrases"`
}

// Flows configures dialogue flows run on calls.
type Flows struct {
	// Dir is where "flow": "name" in a call request is looked up
	// (name, name.yaml or name.yml).
	Dir string `yaml:"dir"`
	// BargeInMinSpeech is how long a caller must speak to stop an
	// interruptible prompt.
	BargeInMinSpeech time.Duration `yaml:"barge_in_min_speech"`
	// EndSilence ends a caller turn when the flow node sets none.
	EndSilence time.Duration `yaml:"end_silence"`
	// Queues maps transfer targets "queue:NAME" to a number dialled on the
	// call's trunk or to a SIP URI.
	Queues map[string]string `yaml:"queues"`
}

// Inbound is what the box does with a call arriving from a trunk.
type Inbound struct {
	Prompt      string        `yaml:"prompt"`
	Voice       string        `yaml:"voice"`
	MaxDigits   int           `yaml:"max_digits"`
	DTMFTimeout time.Duration `yaml:"dtmf_timeout"`
}

// Trunk is one SIP trunk.
type Trunk struct {
	Name            string        `yaml:"name"`
	Host            string        `yaml:"host"`
	Port            int           `yaml:"port"`
	Transport       string        `yaml:"transport"` // udp or tcp
	Auth            string        `yaml:"auth"`      // ip or register
	Username        string        `yaml:"username"`
	Password        string        `yaml:"password"`
	Realm           string        `yaml:"realm"`
	RegisterExpiry  time.Duration `yaml:"register_expiry"`
	FromUser        string        `yaml:"from_user"`
	FromDomain      string        `yaml:"from_domain"`
	MaxCalls        int           `yaml:"max_calls"`
	OptionsInterval time.Duration `yaml:"options_interval"`
	OptionsFailures int           `yaml:"options_failures"`
	AllowedSources  []string      `yaml:"allowed_sources"`
	Codecs          []string      `yaml:"codecs"`
}

// Watchdog is the hardware watchdog device.
type Watchdog struct {
	Device   string        `yaml:"device"` // "" disables
	Interval time.Duration `yaml:"interval"`
}

// Audio is the supervisor's headset at the box (local audio through
// PortAudio). A build without the portaudio tag, or a device that does not
// open, logs one clear error at start-up and the box runs without the
// headset; the console API then says why. Changing it needs a restart.
type Audio struct {
	Enabled bool   `yaml:"enabled"`
	Input   string `yaml:"input"`  // microphone device name ("" default, "none" for no microphone)
	Output  string `yaml:"output"` // earpiece device name ("" default, "none" for no earpiece)
}

// Default returns the configuration every file is layered over.
func Default() Config {
	return Config{
		Box:      Box{ID: hostname(), DataDir: "/var/lib/callbox"},
		Log:      Log{Level: "info", Format: "text"},
		API:      API{Listen: "127.0.0.1:8080", TLS: TLS{Mode: "auto"}},
		Metrics:  Metrics{Enabled: true},
		SIP:      SIP{ListenIP: "0.0.0.0", ListenPort: 5060, Transports: []string{"udp", "tcp"}, UserAgent: "callbox"},
		Media:    Media{IP: "0.0.0.0", RTPPortMin: 20000, RTPPortMax: 30000, Record: true},
		Cluster:  defaultCluster(),
		Calls:    Calls{RingTimeout: 30 * time.Second, MaxDuration: 10 * time.Minute, DrainTimeout: 60 * time.Second, DTMFTimeout: 8 * time.Second, MaxActive: 2000},
		TTS:      TTS{Engine: "espeak", Voice: "en-us"},
		ASR:      ASR{Engine: "pocketsphinx", Timeout: 4 * time.Second},
		Flows:    Flows{Dir: "/etc/callbox/flows", BargeInMinSpeech: 200 * time.Millisecond, EndSilence: 500 * time.Millisecond},
		Inbound:  Inbound{Prompt: "Thank you for calling back. Please enter your four digit reference, then the hash key.", MaxDigits: 4, DTMFTimeout: 10 * time.Second},
		Watchdog: Watchdog{Interval: 5 * time.Second},
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "box"
	}
	return h
}

// Error is a configuration problem: which file, which key (and its line
// where known), and what is wrong with it.
type Error struct {
	File    string
	Key     string
	Line    int
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads, decodes and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Problem: err.Error()}
	}
	return Parse(path, data)
}

// Parse decodes and validates configuration bytes; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Default()
	cfg.Path = name
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err, nil)
	}
	lines := map[string]int{}
	if len(root.Content) > 0 {
		indexLines(root.Content[0], "", lines)
		strict := yaml.NewDecoder(bytes.NewReader(data))
		strict.KnownFields(true)
		if err := strict.Decode(&cfg); err != nil {
			return nil, yamlError(name, err, lines)
		}
	}
	cfg.Path = name
	if errs := cfg.validate(func(key string) bool { _, ok := lines[key]; return ok }); len(errs) > 0 {
		for _, e := range errs {
			e.File = name
			e.Line = lookupLine(lines, e.Key)
		}
		return nil, errs
	}
	return &cfg, nil
}

// yamlError turns yaml.v3's messages ("line 4: field x not found in type
// config.Trunk") into Errors that name the file, line and key.
func yamlError(name string, err error, lines map[string]int) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out := make(Errors, 0, len(te.Errors))
		for _, m := range te.Errors {
			line := 0
			if _, err := fmt.Sscanf(m, "line %d:", &line); err == nil {
				if i := strings.Index(m, ": "); i >= 0 {
					m = m[i+2:]
				}
			}
			out = append(out, &Error{File: name, Line: line, Key: keyAtLine(lines, line), Problem: typeProblem(m)})
		}
		return out
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return &Error{File: name, Line: line, Problem: "invalid YAML: " + msg}
}

// typeProblem rewrites a yaml.v3 decoding message for a site engineer.
func typeProblem(m string) string {
	var field, typ string
	if _, err := fmt.Sscanf(m, "field %s not found in type config.%s", &field, &typ); err == nil {
		return "unknown key " + strconv.Quote(field) + " (check its spelling against configs/callboxd.example.yaml)"
	}
	if i := strings.Index(m, "cannot unmarshal "); i >= 0 {
		rest := m[i+len("cannot unmarshal "):]
		if j := strings.Index(rest, " into "); j >= 0 {
			val, into := rest[:j], rest[j+len(" into "):]
			if k := strings.IndexByte(val, ' '); k >= 0 {
				val = val[k+1:]
			}
			switch into {
			case "time.Duration":
				return val + " is not a duration (write it like 30s, 2m or 1h)"
			case "int", "uint64", "float64":
				return val + " is not a number"
			case "bool":
				return val + " is not true or false"
			case "[]string":
				return val + " must be a list"
			}
			return val + " has the wrong type (" + strings.TrimPrefix(into, "config.") + " expected)"
		}
	}
	return m
}

// keyAtLine finds the deepest key path declared on line.
func keyAtLine(lines map[string]int, line int) string {
	best := ""
	for k, l := range lines {
		if l == line && (len(k) > len(best) || (len(k) == len(best) && k < best)) {
			best = k
		}
	}
	return best
}

// indexLines records the line of every key path ("trunks[0].host").
func indexLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			indexLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

// lookupLine finds the line of key, or of its nearest present parent.
func lookupLine(lines map[string]int, key string) int {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// validate checks every key and fills the defaults that depend on other
// keys; present reports whether a key path was written in the file.
func (c *Config) validate(present func(key string) bool) Errors {
	var errs Errors
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	if c.Box.ID == "" {
		bad("box.id", "must not be empty")
	}
	if c.Box.DataDir == "" {
		bad("box.data_dir", "must not be empty")
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
		bad("api.listen", "%q is not host:port", c.API.Listen)
	}
	switch c.API.TLS.Mode {
	case "auto", "on", "off":
	default:
		bad("api.tls.mode", "%q is not one of auto, on, off", c.API.TLS.Mode)
	}
	if (c.API.TLS.Cert == "") != (c.API.TLS.Key == "") {
		bad("api.tls.cert", "api.tls.cert and api.tls.key must be set together")
	}
	if c.API.TLS.Cert != "" && c.API.TLS.Mode == "off" {
		bad("api.tls.mode", "is off but api.tls.cert is set; remove one of them")
	}
	if net.ParseIP(c.SIP.ListenIP) == nil {
		bad("sip.listen_ip", "%q is not an IP address", c.SIP.ListenIP)
	}
	if c.SIP.ListenPort <= 0 || c.SIP.ListenPort > 65535 {
		bad("sip.listen_port", "%d is not a port (1-65535)", c.SIP.ListenPort)
	}
	if len(c.SIP.Transports) == 0 {
		bad("sip.transports", "needs at least one of udp, tcp")
	}
	for i, t := range c.SIP.Transports {
		if t != "udp" && t != "tcp" {
			bad(fmt.Sprintf("sip.transports[%d]", i), "%q is not udp or tcp", t)
		}
	}
	if c.SIP.ExternalIP != "" && net.ParseIP(c.SIP.ExternalIP) == nil {
		bad("sip.external_ip", "%q is not an IP address", c.SIP.ExternalIP)
	}
	if net.ParseIP(c.Media.IP) == nil {
		bad("media.ip", "%q is not an IP address", c.Media.IP)
	}
	if c.Media.RTPPortMin < 1024 || c.Media.RTPPortMax > 65535 || c.Media.RTPPortMin+2 > c.Media.RTPPortMax {
		bad("media.rtp_port_min", "RTP range %d-%d must lie in 1024-65535 and hold at least one port pair", c.Media.RTPPortMin, c.Media.RTPPortMax)
	}
	if _, _, err := net.SplitHostPort(c.Cluster.Bind); err != nil {
		bad("cluster.bind", "%q is not host:port", c.Cluster.Bind)
	}
	if c.Cluster.Advertise != "" {
		if h, _, err := net.SplitHostPort(c.Cluster.Advertise); err != nil {
			bad("cluster.advertise", "%q is not host:port", c.Cluster.Advertise)
		} else if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			bad("cluster.advertise", "%q is an unspecified address; give one other boxes can reach", c.Cluster.Advertise)
		}
	}
	if c.Cluster.LeaseTTL < 500*time.Millisecond || c.Cluster.LeaseTTL > 5*time.Minute {
		bad("cluster.lease_ttl", "%v: want 500ms..5m", c.Cluster.LeaseTTL)
	}
	if c.Cluster.LeaseGrace < 0 || c.Cluster.LeaseGrace > 5*time.Minute {
		bad("cluster.lease_grace", "%v: want 0..5m", c.Cluster.LeaseGrace)
	}
	if c.Cluster.CallbackWithin < 0 || c.Cluster.CallbackWithin > 24*time.Hour {
		bad("cluster.callback_within", "%v: want 0..24h", c.Cluster.CallbackWithin)
	}
	if c.Cluster.JoinTimeout <= 0 {
		bad("cluster.join_timeout", "must be a positive duration, got %v", c.Cluster.JoinTimeout)
	}
	if c.Cluster.HeartbeatTimeout < 50*time.Millisecond || c.Cluster.ElectionTimeout < c.Cluster.HeartbeatTimeout {
		bad("cluster.heartbeat_timeout", "heartbeat %v must be >= 50ms and <= election_timeout %v", c.Cluster.HeartbeatTimeout, c.Cluster.ElectionTimeout)
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration such as 30s, got %v", d)
		}
	}
	positive("calls.ring_timeout", c.Calls.RingTimeout)
	positive("calls.max_duration", c.Calls.MaxDuration)
	positive("calls.drain_timeout", c.Calls.DrainTimeout)
	positive("calls.dtmf_timeout", c.Calls.DTMFTimeout)
	if c.Calls.MaxActive <= 0 {
		bad("calls.max_active", "must be positive, got %d", c.Calls.MaxActive)
	}
	switch c.TTS.Engine {
	case "espeak":
	case "openai":
		if c.TTS.URL == "" {
			bad("tts.url", "is required when tts.engine is openai")
		}
	default:
		bad("tts.engine", "%q is not one of espeak, openai", c.TTS.Engine)
	}
	switch c.ASR.Engine {
	case "pocketsphinx":
	case "vosk", "funasr":
		if !strings.HasPrefix(c.ASR.URL, "ws://") && !strings.HasPrefix(c.ASR.URL, "wss://") {
			bad("asr.url", "must be a ws:// or wss:// URL when asr.engine is %s", c.ASR.Engine)
		}
	case "openai":
		if !strings.HasPrefix(c.ASR.URL, "http://") && !strings.HasPrefix(c.ASR.URL, "https://") {
			bad("asr.url", "must be an http:// or https:// URL when asr.engine is openai")
		}
	default:
		bad("asr.engine", "%q is not one of pocketsphinx, vosk, funasr, openai", c.ASR.Engine)
	}
	if c.ASR.MandarinPhrases && c.ASR.Engine != "pocketsphinx" {
		bad("asr.mandarin_phrases", "applies to asr.engine pocketsphinx only (%s recognises Mandarin with its own model)", c.ASR.Engine)
	}
	positive("asr.timeout", c.ASR.Timeout)
	if d := c.Flows.BargeInMinSpeech; d < 60*time.Millisecond || d > 2*time.Second {
		bad("flows.barge_in_min_speech", "must be 60ms-2s, got %v", d)
	}
	if d := c.Flows.EndSilence; d < 100*time.Millisecond || d > 10*time.Second {
		bad("flows.end_silence", "must be 100ms-10s, got %v", d)
	}
	for name, target := range c.Flows.Queues {
		if name == "" || strings.TrimSpace(target) == "" {
			bad("flows.queues", "queue %q needs a number or SIP URI", name)
		}
	}
	if c.Inbound.MaxDigits < 0 || c.Inbound.MaxDigits > 64 {
		bad("inbound.max_digits", "must be 0-64, got %d", c.Inbound.MaxDigits)
	}
	names := map[string]bool{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		key := fmt.Sprintf("trunks[%d]", i)
		if t.Name == "" {
			bad(key+".name", "is required")
		} else if names[t.Name] {
			bad(key+".name", "duplicate trunk name %q", t.Name)
		}
		names[t.Name] = true
		if t.Host == "" {
			bad(key+".host", "is required")
		}
		if t.Port == 0 {
			t.Port = 5060
		}
		if t.Port < 0 || t.Port > 65535 {
			bad(key+".port", "%d is not a port (1-65535)", t.Port)
		}
		if t.Transport == "" {
			t.Transport = "udp"
		}
		if t.Transport != "udp" && t.Transport != "tcp" {
			bad(key+".transport", "%q is not udp or tcp", t.Transport)
		}
		if t.Auth == "" {
			t.Auth = "ip"
		}
		switch t.Auth {
		case "ip":
		case "register":
			if t.Username == "" {
				bad(key+".username", "is required when auth is register")
			}
			if t.Password == "" {
				bad(key+".password", "is required when auth is register")
			}
			if t.RegisterExpiry == 0 {
				t.RegisterExpiry = time.Hour
			}
		default:
			bad(key+".auth", "%q is not ip or register", t.Auth)
		}
		if t.MaxCalls == 0 {
			t.MaxCalls = 100
		}
		if t.MaxCalls < 0 {
			bad(key+".max_calls", "must be positive, got %d", t.MaxCalls)
		}
		if t.OptionsInterval == 0 && !present(key+".options_interval") {
			t.OptionsInterval = 30 * time.Second // an explicit 0s turns the keepalive off
		}
		if t.OptionsInterval < 0 {
			bad(key+".options_interval", "must be positive")
		}
		if t.OptionsFailures == 0 {
			t.OptionsFailures = 3
		}
		for j, s := range t.AllowedSources {
			if net.ParseIP(s) == nil {
				if _, _, err := net.ParseCIDR(s); err != nil {
					bad(fmt.Sprintf("%s.allowed_sources[%d]", key, j), "%q is neither an IP address nor a CIDR", s)
				}
			}
		}
		for j, cd := range t.Codecs {
			if cd != "PCMU" && cd != "PCMA" {
				bad(fmt.Sprintf("%s.codecs[%d]", key, j), "%q is not PCMU or PCMA", cd)
			}
		}
	}
	if c.Watchdog.Device != "" && c.Watchdog.Interval <= 0 {
		bad("watchdog.interval", "must be positive when watchdog.device is set")
	}
	return errs
}

// Trunk returns the trunk named name.
func (c *Config) Trunk(name string) (Trunk, bool) {
	for _, t := range c.Trunks {
		if t.Name == name {
			return t, true
		}
	}
	return Trunk{}, false
}
