package main

// This file holds `callboxctl sim`: the callee simulator (package sim) as
// a foreground process for demos and multi-process tests.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"callbox/sim"
)

const simUsage = `usage: callboxctl sim [--listen 127.0.0.1:15070] [--transport udp|tcp] [--rtp 40000-41000]
                     [--persona NAME] [--rule PREFIX=PERSONA ...] [--log FILE [--log-fsync]]
                     [--record-dir DIR]
                     [--list-personas]

Runs the callee simulator until SIGINT/SIGTERM and prints one line per call.
--log appends the far-end log: one JSON line per INVITE received (call_id,
number, from, to, source address, times, status, who hung up), written when
the call ends; --log-fsync fsyncs each line (survives power loss).
The persona of a call is the longest --rule prefix matching the dialled
number, else numbers +8613800000NN pick from the built-in order by NN, else
--persona (default "answer").
`

// ruleFlags collects repeated --rule values.
type ruleFlags []sim.Rule

func (r *ruleFlags) String() string { return fmt.Sprint(*r) }

func (r *ruleFlags) Set(s string) error {
	rule, err := sim.ParseRule(s)
	if err != nil {
		return err
	}
	*r = append(*r, rule)
	return nil
}

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, simUsage) }
	listen := fs.String("listen", "127.0.0.1:15070", "SIP listen address ip:port")
	transport := fs.String("transport", "udp", "SIP transport: udp or tcp")
	rtpRange := fs.String("rtp", "40000-41000", "RTP port range MIN-MAX")
	persona := fs.String("persona", sim.DefaultPersona, "persona when no rule matches")
	logFile := fs.String("log", "", "append each call as a JSON line to FILE")
	logSync := fs.Bool("log-fsync", false, "fsync --log after each line")
	recordDir := fs.String("record-dir", "", "write each answered call's stereo WAV into DIR")
	list := fs.Bool("list-personas", false, "print the built-in personas and exit")
	var rules ruleFlags
	fs.Var(&rules, "rule", "PREFIX=PERSONA (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callboxctl sim: unexpected argument %q\n\n%s", fs.Arg(0), simUsage)
		return 2
	}
	if *list {
		personas := sim.DefaultPersonas()
		for _, name := range sim.PersonaNames(personas) {
			p := personas[name]
			fmt.Fprintf(stdout, "%-14s %-9s %s\n", name, p.Kind, describePersona(p))
		}
		return 0
	}
	host, portStr, err := net.SplitHostPort(*listen)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port < 1 || port > 65535 {
		fmt.Fprintf(stderr, "callboxctl sim: --listen %q: want IP:PORT with port 1-65535\n", *listen)
		return 2
	}
	lo, hi, ok := strings.Cut(*rtpRange, "-")
	rtpMin, err1 := strconv.Atoi(lo)
	rtpMax, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil {
		fmt.Fprintf(stderr, "callboxctl sim: --rtp %q: want MIN-MAX, e.g. 40000-41000\n", *rtpRange)
		return 2
	}
	cfg := sim.Config{
		ListenIP: host, Port: port, Transport: *transport, RTPPortMin: rtpMin, RTPPortMax: rtpMax,
		Rules: rules, Default: *persona, LogFile: *logFile, LogSync: *logSync, RecordDir: *recordDir,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnCall: func(c sim.CallLog) {
			fmt.Fprintf(stdout, "%s %s persona=%s status=%d hung_up_by=%s end=%s said=%d digits_in=%q digits_out=%q box_speech=%dms/%d call_id=%s\n",
				c.EndedAt.Format("15:04:05.000"), sim.MaskNumber(c.Number), c.Persona, c.Status, c.HungUpBy, c.EndReason,
				len(c.Said), c.DigitsReceived, c.DigitsSent, c.BoxSpeechMs, c.BoxSpeechSegments, c.CallID)
		},
	}
	s, err := sim.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "callboxctl sim: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "callboxctl sim: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "callee simulator on %s/%s, RTP %d-%d, default persona %s; Ctrl-C to stop\n",
		s.Addr(), cfg.Transport, rtpMin, rtpMax, *persona)
	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "callboxctl sim: closing: %v\n", err)
		return 1
	}
	return 0
}

func describePersona(p sim.Persona) string {
	var parts []string
	if p.Code != 0 {
		parts = append(parts, fmt.Sprintf("code %d", p.Code))
	}
	if p.EarlyMedia {
		parts = append(parts, "early media")
	}
	if p.Silent {
		parts = append(parts, "silent")
	}
	if p.Talkover {
		parts = append(parts, "talks over the prompt")
	}
	if p.Loud {
		parts = append(parts, "loud")
	}
	if p.DTMF != "" {
		parts = append(parts, "keys "+p.DTMF)
	}
	if p.HangupAfter > 0 {
		parts = append(parts, "hangs up after "+p.HangupAfter.String())
	}
	if p.Greeting != "" {
		parts = append(parts, fmt.Sprintf("greeting %q", p.Greeting))
	}
	if len(p.Say) > 0 {
		parts = append(parts, fmt.Sprintf("says %q", p.Say))
	}
	if p.Voice != "" {
		parts = append(parts, "voice "+p.Voice)
	}
	return strings.Join(parts, "; ")
}
