package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"callbox/daemon/flow"
)

const flowUsage = `usage:
  callboxctl flow lint FILE...
      validate flow files; prints file:line: problem, exits 1 on errors
  callboxctl flow chat FILE [--profile key=value ...] [--now 2026-11-21T10:00] [--verbose]
      talk to a flow in the terminal: lines you type are speech,
      "#123" or "dtmf 123" are keypad digits, an empty line is silence
`

// runFlow implements "callboxctl flow ...". It returns the process exit
// code: 0 ok, 1 problems found or the conversation failed, 2 bad usage.
func runFlow(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, flowUsage)
		return 2
	}
	switch args[0] {
	case "lint":
		return flowLint(args[1:], stdout, stderr)
	case "chat":
		return flowChat(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, flowUsage+flowRemoteUsage)
		return 0
	}
	fmt.Fprintf(stderr, "callboxctl flow: unknown command %q\n%s", args[0], flowUsage)
	return 2
}

func flowLint(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprint(stderr, "callboxctl flow lint: no files given\n"+flowUsage)
		return 2
	}
	code := 0
	for _, path := range files {
		f, err := flow.Load(path)
		var list flow.ErrorList
		switch {
		case errors.As(err, &list):
			for _, d := range list {
				fmt.Fprintln(stdout, d.String())
			}
			code = 1
		case err != nil:
			fmt.Fprintf(stdout, "%s: %v\n", path, err)
			code = 1
		default:
			for _, w := range f.Warnings {
				fmt.Fprintln(stdout, w.String())
			}
			fmt.Fprintf(stdout, "%s: ok (%d nodes)\n", path, len(f.Nodes))
		}
	}
	return code
}

// profileFlag collects repeated --profile key=value.
type profileFlag map[string]string

func (p profileFlag) String() string { return fmt.Sprint(map[string]string(p)) }
func (p profileFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	p[strings.TrimSpace(k)] = v
	return nil
}

var nowLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02 15:04"}

func parseNow(s string) (time.Time, error) {
	for _, l := range nowLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--now %q: want YYYY-MM-DDTHH:MM", s)
}

func flowChat(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callboxctl flow chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := profileFlag{}
	fs.Var(profile, "profile", "contact profile field key=value (repeatable)")
	nowStr := fs.String("now", "", "pretend the call happens at this local time (YYYY-MM-DDTHH:MM)")
	verbose := fs.Bool("verbose", false, "log flow decisions to stderr")
	// Flags may come before or after FILE.
	var files []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprint(stderr, "callboxctl flow chat: give exactly one flow FILE\n"+flowUsage)
		return 2
	}
	now := time.Now
	if *nowStr != "" {
		t, err := parseNow(*nowStr)
		if err != nil {
			fmt.Fprintln(stderr, "callboxctl flow chat:", err)
			return 2
		}
		start := time.Now()
		now = func() time.Time { return t.Add(time.Since(start)) }
	}
	f, err := flow.Load(files[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := f.CheckProfile(profile); err != nil {
		fmt.Fprintln(stderr, err)
		var names []string
		for _, v := range f.RequiredFields() {
			names = append(names, v.Name)
		}
		fmt.Fprintf(stderr, "this flow needs --profile for: %s\n", strings.Join(slices.Compact(slices.Sorted(slices.Values(names))), ", "))
		return 1
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cio := &chatIO{in: bufio.NewScanner(stdin), out: stdout}
	out, err := f.Run(ctx, cio, profile, flow.RunOptions{Now: now, Logger: logger, CallID: "chat"})
	printOutcome(stdout, out)
	switch {
	case errors.Is(err, io.EOF):
		fmt.Fprintln(stdout, "[caller hung up]")
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "callboxctl flow chat:", err)
		return 1
	}
	return 0
}

// chatIO is flow.IO over a terminal.
type chatIO struct {
	in  *bufio.Scanner
	out io.Writer
}

func (c *chatIO) Say(_ context.Context, text string, _ bool) (bool, error) {
	_, err := fmt.Fprintf(c.out, "bot> %s\n", text)
	return false, err
}

func (c *chatIO) Listen(ctx context.Context, _ flow.ListenOpts) (flow.Input, error) {
	if err := ctx.Err(); err != nil {
		return flow.Input{}, err
	}
	fmt.Fprint(c.out, "you> ")
	if !c.in.Scan() {
		fmt.Fprintln(c.out)
		if err := c.in.Err(); err != nil {
			return flow.Input{}, err
		}
		return flow.Input{}, io.EOF
	}
	line := strings.TrimSpace(c.in.Text())
	var digits string
	switch {
	case strings.HasPrefix(line, "#") && isKeys(line[1:]):
		digits = line[1:]
	case strings.HasPrefix(strings.ToLower(line), "dtmf ") && isKeys(strings.TrimSpace(line[5:])):
		digits = strings.TrimSpace(line[5:])
	}
	if digits != "" {
		return flow.Input{Digits: digits, Confidence: 1}, nil
	}
	if line == "" {
		return flow.Input{NoInput: true}, nil
	}
	return flow.Input{Text: line, Confidence: 1}, nil
}

func isKeys(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789*#", r) {
			return false
		}
	}
	return true
}

func (c *chatIO) Transfer(_ context.Context, mode, target, summary string) error {
	fmt.Fprintf(c.out, "[transfer %s to %s]\n", mode, target)
	if summary != "" {
		fmt.Fprintf(c.out, "[to agent: %s]\n", summary)
	}
	return nil
}

func (c *chatIO) Hangup(context.Context) error {
	fmt.Fprintln(c.out, "[hangup]")
	return nil
}

func printOutcome(w io.Writer, o flow.Outcome) {
	fmt.Fprintln(w, "--- outcome")
	fmt.Fprintf(w, "disposition: %s\n", o.Disposition)
	fmt.Fprintf(w, "intent_level: %s\n", o.IntentLevel)
	fmt.Fprintf(w, "opt_out: %v  transferred: %v  failed_turns: %d\n", o.OptOut, o.Transferred, o.FailedTurns)
	for _, k := range slices.Sorted(maps.Keys(o.Tags)) {
		fmt.Fprintf(w, "tag %s: %s\n", k, o.Tags[k])
	}
	for _, k := range slices.Sorted(maps.Keys(o.Slots)) {
		fmt.Fprintf(w, "slot %s: %s\n", k, o.Slots[k])
	}
	if len(o.EmotionScores) > 0 {
		fmt.Fprintf(w, "emotion: %.2f\n", o.EmotionScores)
	}
	if o.ResumeNode != "" {
		fmt.Fprintf(w, "resume_node: %s\n", o.ResumeNode)
	}
}
