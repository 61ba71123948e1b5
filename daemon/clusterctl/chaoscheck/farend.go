package chaoscheck

// This file holds the far-end log reader.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"callbox/sim"
)

// MaxLineBytes bounds one far-end log line; longer lines are malformed.
const MaxLineBytes = 1 << 20

// Malformed is a far-end log line that could not be used.
type Malformed struct {
	File   string // set by ReadFarEndFiles
	Line   int    // 1-based line number
	Reason string // what is wrong with it
}

func (m Malformed) String() string {
	if m.File != "" {
		return fmt.Sprintf("%s line %d: %s", m.File, m.Line, m.Reason)
	}
	return fmt.Sprintf("line %d: %s", m.Line, m.Reason)
}

// ReadFarEnd reads a far-end log: JSON lines of sim.CallLog. Lines that
// are not JSON objects, lack the call ID, the number or the time the
// INVITE was received, or exceed MaxLineBytes are returned as Malformed
// (a truncated last line from a killed writer is one) and skipped; blank
// lines are ignored. The error is only the reader's.
func ReadFarEnd(r io.Reader) ([]sim.CallLog, []Malformed, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		calls []sim.CallLog
		bad   []Malformed
		line  []byte
		n     int
		long  bool
	)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLineBytes {
			long, line = true, line[:0]
		} else if !long {
			line = append(line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return calls, bad, fmt.Errorf("chaoscheck: far-end log: %w", err)
		}
		if len(chunk) > 0 || long || len(line) > 0 {
			n++
			switch {
			case long:
				bad = append(bad, Malformed{Line: n, Reason: fmt.Sprintf("longer than %d bytes", MaxLineBytes)})
			default:
				if c, reason := parseLine(line); reason != "" {
					if reason != "blank" {
						bad = append(bad, Malformed{Line: n, Reason: reason})
					}
				} else {
					calls = append(calls, c)
				}
			}
		}
		line, long = line[:0], false
		if err != nil { // io.EOF
			return calls, bad, nil
		}
	}
}

func parseLine(b []byte) (sim.CallLog, string) {
	var c sim.CallLog
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return c, "blank"
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, "not a JSON call log: " + err.Error()
	}
	switch {
	case c.CallID == "":
		return c, "no call_id"
	case c.Number == "":
		return c, "no number"
	case c.ReceivedAt.IsZero():
		return c, "no received_at"
	case !c.EndedAt.IsZero() && c.EndedAt.Before(c.ReceivedAt):
		return c, "ended_at before received_at"
	}
	return c, ""
}

// ReadFarEndFiles reads and merges several far-end logs (one per
// simulator); malformed lines name their file.
func ReadFarEndFiles(paths ...string) ([]sim.CallLog, []Malformed, error) {
	var (
		all []sim.CallLog
		bad []Malformed
	)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("chaoscheck: %w", err)
		}
		calls, m, err := ReadFarEnd(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		for i := range m {
			m[i].File = p
		}
		all, bad = append(all, calls...), append(bad, m...)
	}
	return all, bad, nil
}
