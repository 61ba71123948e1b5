package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"callbox/hw"
)

// runAudio implements "callboxctl audio …": offline tools for the box's
// local audio devices (the supervisor's headset). It talks to PortAudio
// directly, not to the daemon. Exit codes: 0 success, 1 failure, 2 usage.
func runAudio(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: callboxctl audio devices [--json]")
		fmt.Fprintln(stderr, "  devices   list local audio devices (index, name, input/output channels, default rate)")
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "devices":
		return runAudioDevices(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return 0
	default:
		fmt.Fprintf(stderr, "callboxctl audio: unknown command %q\n", args[0])
		usage()
		return 2
	}
}

func runAudioDevices(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("callboxctl audio devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the devices as a JSON array")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callboxctl audio devices: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	devs, err := hw.Devices()
	if err != nil {
		if errors.Is(err, hw.ErrNoAudioSupport) {
			fmt.Fprintln(stderr, "callboxctl audio devices: this callboxctl was built without local audio support (build with -tags portaudio)")
			return 1
		}
		fmt.Fprintf(stderr, "callboxctl audio devices: %v\n", err)
		return 1
	}
	if *asJSON {
		if devs == nil {
			devs = []hw.Device{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(devs); err != nil {
			fmt.Fprintf(stderr, "callboxctl audio devices: %v\n", err)
			return 1
		}
		return 0
	}
	if len(devs) == 0 {
		fmt.Fprintln(stdout, "no audio devices found")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tNAME\tIN\tOUT\tRATE\tHOST API")
	for _, d := range devs {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%g\t%s\n", d.Index, d.Name, d.MaxInputChannels, d.MaxOutputChannels, d.DefaultSampleRate, d.HostAPI)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "callboxctl audio devices: %v\n", err)
		return 1
	}
	return 0
}
