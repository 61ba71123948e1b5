package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"callbox/cluster"
	"callbox/daemon/config"
	"callbox/daemon/sdnotify"
	"callbox/daemon/sipua"
	"callbox/daemon/speech"
	"callbox/hw"
	"callbox/media"
)

// Options are the process-level inputs to Run besides the configuration.
type Options struct {
	Logger *slog.Logger
	// Drain, when closed, makes Run stop taking new calls, let active calls
	// finish within calls.drain_timeout, hang up the rest, and return nil.
	// This is SIGTERM. Cancelling Run's context is SIGINT: stop now.
	Drain <-chan struct{}
	// Ready, if set, is called once with the API address when the box is up
	// (trunks started, Raft leader known, API listening).
	Ready func(apiAddr string)
	// Reload, on each receive, re-reads the configuration file (SIGHUP);
	// see reload.go for what applies live and what needs a restart.
	Reload <-chan struct{}
	// Reloaded, if set, is called after each reload attempt with its
	// result (nil: applied; else wraps ErrReloadRefused).
	Reloaded func(error)
}

// Run runs the box until ctx is cancelled or opts.Drain is closed. It
// returns nil on a requested stop; cancellation is not an error.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	notify := sdnotify.New(log)
	if err := os.MkdirAll(cfg.Box.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory %s: %w", cfg.Box.DataDir, err)
	}

	// Raft state first: every call record goes through it.
	nodeID := cfg.Cluster.NodeID
	if nodeID == "" {
		nodeID = cfg.Box.ID
	}
	node, err := openClusterNode(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("open cluster state: %w", err)
	}
	defer node.Close()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = node.WaitLeader(wctx)
	wcancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("raft has no leader: %w", err)
	}

	clock := media.NewClock(20*time.Millisecond, cfg.Media.ClockWorkers)
	clock.Start()
	defer clock.Close()
	for i := 0; i < 50 && !clock.Healthy(time.Now()); i++ {
		time.Sleep(10 * time.Millisecond) // the first tick, so /healthz is true once ready
	}
	if cs := clock.Stats(); cs.RealtimeError != "" {
		log.Warn("media clock workers run at normal priority", "reason", cs.RealtimeError)
	} else {
		log.Info("media clock started", "workers", cs.Workers, "realtime_workers", cs.Realtime)
	}
	ports, err := media.NewPortRange(net.ParseIP(cfg.Media.IP), cfg.Media.RTPPortMin, cfg.Media.RTPPortMax)
	if err != nil {
		return fmt.Errorf("media.rtp_port_min: %w", err)
	}

	// Users, audit log, recording keys, HTTPS certificate, metrics.
	sec, err := openSecurity(cfg, node, log.With("component", "security"))
	if err != nil {
		return err
	}
	defer sec.Close()
	sec.metrics.WatchRaft(func() string { return node.Raft().State().String() })
	if sec.metrics != nil {
		node.SetApplyObserver(func(_ cluster.CommandType, took time.Duration, _ error) { sec.metrics.RaftApply(took) })
	}

	tts, err := newSynthesizer(cfg)
	if err != nil {
		return err
	}
	if sec.metrics != nil {
		tts = timedSynth{Synthesizer: tts, m: sec.metrics, engine: cfg.TTS.Engine}
	}
	calls := newCallManager(cfg, log.With("component", "calls"), node, tts, clock, ports)
	defer calls.Close()
	calls.sec = sec
	sec.metrics.WatchActive(calls.activeCount)
	calls.asr = newRecognizer(cfg)

	// The inbound prompt is rendered before any caller can hear it (and
	// again by a reload that changes it).
	firstPrompt, err := tts.Synthesize(ctx, cfg.Inbound.Prompt, inboundVoice(cfg))
	if err != nil {
		return fmt.Errorf("inbound.prompt: synthesis failed: %w", err)
	}
	var inboundPrompt atomic.Pointer[[]int16]
	inboundPrompt.Store(&firstPrompt)
	calls.console = openConsole(cfg.Audio, log.With("component", "console"), calls)
	defer calls.console.Close()

	ua, err := sipua.New(sipConfig(cfg), sipua.Deps{
		Logger:    log.With("component", "sip"),
		NewMedia:  calls.newMedia,
		OnInbound: func(c *sipua.Call) { calls.onInbound(c, *inboundPrompt.Load()) },
	})
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	calls.ua = ua
	if err := ua.Start(ctx); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	defer ua.Close()
	defer startDialler(ctx, cfg.Box.ID, log.With("component", "dialler"), node, calls).Close()

	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", cfg.API.Listen, err)
	}
	if sec.tls != nil {
		ln = tls.NewListener(ln, sec.tls) // HTTPS (api.tls; security.go)
	}
	api := &apiServer{cfg: cfg, calls: calls, node: node, ua: ua, clock: clock, log: log.With("component", "api"), sec: sec}
	crt := startClusterRuntime(node, nodeID, cfg.Cluster, log.With("component", "cluster"),
		boxStatus(ua, calls.activeCount, func() int { return calls.limits().Calls.MaxActive }, ln.Addr().String(), node.Addr()))
	defer crt.Close()
	srv := &http.Server{Handler: withCluster(api.routes(), &clusterAPI{api: api, node: node, rt: crt}), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("api server stopped", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
		wg.Wait()
	}()

	// Healthy for the watchdogs: media clock ticking, raft leader known,
	// and the API answering /healthz over its own listener.
	probe := newAPIProbe(ln.Addr())
	healthy := func() bool { return api.healthy() == nil && probe() == nil }
	runCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	wg.Add(1)
	go func() {
		defer wg.Done()
		notify.RunWatchdog(runCtx, healthy)
	}()
	if cfg.Watchdog.Device != "" {
		wd, err := hw.OpenWatchdog(cfg.Watchdog.Device, cfg.Watchdog.Interval)
		if err != nil {
			return fmt.Errorf("watchdog.device: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wd.Run(runCtx, healthy)
			_ = wd.Close()
		}()
	}

	log.Info("callboxd ready", "box", cfg.Box.ID, "api", ln.Addr().String(), "sip_port", cfg.SIP.ListenPort, "trunks", len(cfg.Trunks))
	notify.Ready()
	notify.Status("ready")
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	rl := &reloader{log: log.With("component", "reload"), notify: notify, calls: calls, ua: ua, tts: tts, inbound: &inboundPrompt, cur: cfg}
	for running := true; running; {
		select {
		case <-ctx.Done():
			log.Info("stopping now: hanging up active calls", "active", calls.activeCount())
			notify.Stopping()
			running = false
		case <-opts.Drain:
			bound := calls.limits().Calls.DrainTimeout
			log.Info("draining: no new calls; waiting for active calls", "active", calls.activeCount(), "bound", bound)
			notify.Stopping()
			notify.Status("draining")
			ua.SetDraining(true)
			calls.drain(ctx, bound)
			running = false
		case <-opts.Reload:
			err := rl.reload(ctx)
			if opts.Reloaded != nil {
				opts.Reloaded(err)
			}
		}
	}
	calls.Close()
	log.Info("callboxd stopped")
	return nil
}

// newSynthesizer builds the configured TTS engine behind the on-disk cache.
func newSynthesizer(cfg *config.Config) (speech.Synthesizer, error) {
	var engine speech.Synthesizer
	switch cfg.TTS.Engine {
	case "openai":
		engine = &speech.OpenAITTS{BaseURL: cfg.TTS.URL, APIKey: cfg.TTS.APIKey, Model: cfg.TTS.Model, Voice: cfg.TTS.Voice}
	default:
		engine = &speech.Espeak{}
	}
	dir := cfg.TTS.CacheDir
	if dir == "" {
		dir = filepath.Join(cfg.Box.DataDir, "tts-cache")
	}
	c, err := speech.NewCache(dir, engine)
	if err != nil {
		return nil, fmt.Errorf("tts.cache_dir: %w", err)
	}
	return c, nil
}

// sipConfig maps the YAML configuration onto the user agent's.
func sipConfig(cfg *config.Config) sipua.Config {
	sc := sipua.Config{
		ListenIP: cfg.SIP.ListenIP, ListenPort: cfg.SIP.ListenPort, Transports: cfg.SIP.Transports,
		UserAgent: cfg.SIP.UserAgent, ExternalIP: cfg.SIP.ExternalIP,
	}
	for _, t := range cfg.Trunks {
		sc.Trunks = append(sc.Trunks, sipua.TrunkConfig{
			Name: t.Name, Host: t.Host, Port: t.Port, Transport: t.Transport, Auth: t.Auth,
			Username: t.Username, Password: t.Password, Realm: t.Realm, RegisterExpiry: t.RegisterExpiry,
			FromUser: t.FromUser, FromDomain: t.FromDomain, MaxCalls: t.MaxCalls,
			OptionsInterval: t.OptionsInterval, OptionsFailures: t.OptionsFailures,
			AllowedSources: t.AllowedSources, Codecs: t.Codecs,
		})
	}
	return sc
}

// apiProbeTimeout bounds the watchdog's GET /healthz self-probe.
const apiProbeTimeout = time.Second

// newAPIProbe returns a check that GETs /healthz over the API listener at
// addr (an unspecified address is probed on loopback) and fails unless it
// answers 200 within apiProbeTimeout.
func newAPIProbe(addr net.Addr) func() error {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	url := "http://" + net.JoinHostPort(host, port) + "/healthz"
	client := &http.Client{Timeout: apiProbeTimeout}
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return fmt.Errorf("API self-probe: %w", err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("API self-probe: GET /healthz answered %s", resp.Status)
		}
		return nil
	}
}
