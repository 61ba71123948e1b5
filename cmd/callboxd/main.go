// Command callboxd is the callbox daemon: it dials contacts over the box's
// SIP trunks, speaks and listens through the speech hooks, records calls and
// keeps its state in Raft. It stops through signals only: SIGTERM drains
// (no new calls; active calls may finish within calls.drain_timeout), SIGINT
// stops now (active calls are hung up). A second signal of either kind
// stops at once. SIGHUP reloads the configuration file: trunks, call
// limits and the inbound prompt change live without dropping a call; keys
// that need a restart are logged and keep their running values; an
// invalid file is refused with one log line and the running configuration
// stays.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"callbox/daemon"
	"callbox/daemon/config"
)

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("callboxd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/callbox/callboxd.yaml", "configuration `file` (YAML)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "callboxd", version)
		return 0
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *check {
		fmt.Fprintf(stderr, "%s: configuration is valid (%d trunks)\n", *cfgPath, len(cfg.Trunks))
		return 0
	}
	log := newLogger(cfg, stderr)
	daemon.TuneRuntime(log)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	drain := make(chan struct{})
	reload := make(chan struct{}, 1) // SIGHUPs arriving during a reload coalesce into one more
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		draining := false
		for s := range sigs {
			switch {
			case s == syscall.SIGHUP:
				log.Info("SIGHUP: reloading configuration", "file", *cfgPath)
				select {
				case reload <- struct{}{}:
				default:
				}
			case s == syscall.SIGTERM && !draining:
				draining = true
				log.Info("SIGTERM: draining")
				close(drain)
			default:
				log.Info("stopping now", "signal", s.String())
				stop()
			}
		}
	}()

	if err := daemon.Run(ctx, cfg, daemon.Options{Logger: log, Drain: drain, Reload: reload}); err != nil {
		log.Error("callboxd failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.Log.Level)))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("box", cfg.Box.ID)
}
