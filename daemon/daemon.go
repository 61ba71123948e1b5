package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
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
	node, err := cluster.Open(cluster.Config{
		Dir: filepath.Join(cfg.Box.DataDir, "cluster"), NodeID: nodeID,
		BindAddr: cfg.Cluster.Bind, Bootstrap: cfg.Cluster.Bootstrap, Logger: log.With("component", "raft"),
	})
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
	ports, err := media.NewPortRange(net.ParseIP(cfg.Media.IP), cfg.Media.RTPPortMin, cfg.Media.RTPPortMax)
	if err != nil {
		return fmt.Errorf("media.rtp_port_min: %w", err)
	}

	tts, err := newSynthesizer(cfg)
	if err != nil {
		return err
	}
	calls := newCallManager(cfg, log.With("component", "calls"), node, tts, clock, ports)
	defer calls.Close()

	// The inbound prompt is rendered once, before any caller can hear it.
	inVoice := cfg.Inbound.Voice
	if inVoice == "" {
		inVoice = cfg.TTS.Voice
	}
	inboundPrompt, err := tts.Synthesize(ctx, cfg.Inbound.Prompt, speech.Voice{Name: inVoice, Rate: cfg.TTS.Rate})
	if err != nil {
		return fmt.Errorf("inbound.prompt: synthesis failed: %w", err)
	}

	ua, err := sipua.New(sipConfig(cfg), sipua.Deps{
		Logger:    log.With("component", "sip"),
		NewMedia:  calls.newMedia,
		OnInbound: func(c *sipua.Call) { calls.onInbound(c, inboundPrompt) },
	})
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	calls.ua = ua
	if err := ua.Start(ctx); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	defer ua.Close()

	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", cfg.API.Listen, err)
	}
	api := &apiServer{cfg: cfg, calls: calls, node: node, ua: ua, clock: clock, log: log.With("component", "api")}
	srv := &http.Server{Handler: api.routes(), ReadHeaderTimeout: 10 * time.Second}
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

	healthy := func() bool { return api.healthy() == nil }
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

	select {
	case <-ctx.Done():
		log.Info("stopping now: hanging up active calls", "active", calls.activeCount())
		notify.Stopping()
	case <-opts.Drain:
		log.Info("draining: no new calls; waiting for active calls", "active", calls.activeCount(), "bound", cfg.Calls.DrainTimeout)
		notify.Stopping()
		notify.Status("draining")
		ua.SetDraining(true)
		calls.drain(ctx, cfg.Calls.DrainTimeout)
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
