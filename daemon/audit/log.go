package audit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Log is an open audit log. Append is safe for concurrent use; entries are
// written, fsynced and chained one at a time.
type Log struct {
	path string
	key  []byte
	now  func() time.Time

	mu       sync.Mutex
	f        *os.File // guarded by mu; nil after Close
	lastSeq  uint64   // guarded by mu
	lastHash string   // guarded by mu
	problem  error    // the verification result at Open
}

// Open opens (or creates, mode 0600) the log at path. key seals each entry
// (HMAC); now may be nil (time.Now). A line cut short by a crash is moved
// out of the chain into an "audit.recovered" entry that keeps its bytes.
// If the existing chain does not verify, Open still succeeds (appending
// continues after the last readable entry) and Problem reports why.
func Open(path string, key []byte, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{path: path, key: key, now: now, f: f, lastHash: ZeroHash}
	partial, err := l.scan()
	if err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	if partial != nil {
		detail := map[string]string{"bytes": strconv.Itoa(len(partial)), "data_base64": base64.StdEncoding.EncodeToString(partial[:min(len(partial), 64<<10)])}
		if _, err := l.Append(Entry{Actor: "callboxd", Action: "audit.recovered", Detail: detail}); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := VerifyFile(path, key); err != nil {
		l.problem = err
	}
	return l, nil
}

// scan finds the last entry and cuts off an incomplete last line,
// returning its bytes.
func (l *Log) scan() ([]byte, error) {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	br := bufio.NewReaderSize(l.f, 64<<10)
	var off int64
	for {
		raw, err := readLine(br)
		switch {
		case err == io.EOF:
			return nil, nil
		case errors.Is(err, errPartial):
			if terr := l.f.Truncate(off); terr != nil {
				return nil, fmt.Errorf("audit: cutting incomplete last line: %w", terr)
			}
			if serr := l.f.Sync(); serr != nil {
				return nil, fmt.Errorf("audit: %w", serr)
			}
			return raw, nil
		case errors.Is(err, errLong):
			return nil, fmt.Errorf("audit: %s has a line longer than %d bytes", l.path, maxLine)
		case err != nil:
			return nil, fmt.Errorf("audit: reading %s: %w", l.path, err)
		}
		off += int64(len(raw)) + 1
		// Lenient here: a tampered line that still names its seq and hash
		// lets appending continue; Verify reports the damage.
		if e, _ := ParseEntry(raw); e.Seq > l.lastSeq {
			l.lastSeq, l.lastHash = e.Seq, e.Hash
		}
	}
}

// Problem is the verification failure found at Open, or nil.
func (l *Log) Problem() error { return l.problem }

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Append seals e (Seq, Time when zero, Prev, Hash, MAC), writes it and
// fsyncs. It returns the entry as written.
func (l *Log) Append(e Entry) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Entry{}, ErrClosed
	}
	e.Seq, e.Prev = l.lastSeq+1, l.lastHash
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	if e.Actor == "" {
		e.Actor = "-"
	}
	line, err := e.seal(l.key)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrWrite, err)
	}
	line = append(line, '\n')
	if _, err := l.f.Write(line); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrWrite, err)
	}
	if err := l.f.Sync(); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrWrite, err)
	}
	l.lastSeq, l.lastHash = e.Seq, e.Hash
	if err := l.writeHead(); err != nil {
		return e, fmt.Errorf("%w: head file: %v", ErrWrite, err)
	}
	return e, nil
}

// writeHead replaces path.head atomically; the caller holds mu.
func (l *Log) writeHead() error {
	h := Head{Seq: l.lastSeq, Hash: l.lastHash}
	if l.key != nil {
		h.MAC = headMAC(l.key, h.Seq, h.Hash)
	}
	tmp := l.path + ".head.tmp"
	if err := os.WriteFile(tmp, []byte(h.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, l.path+".head")
}

// Entries returns up to limit entries with seq > after, oldest first.
func (l *Log) Entries(after uint64, limit int) ([]Entry, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return ReadEntries(f, after, limit)
}

// ReadEntries parses a log leniently for display: lines that do not parse
// are skipped (Verify is what judges them).
func ReadEntries(r io.Reader, after uint64, limit int) ([]Entry, error) {
	var out []Entry
	br := bufio.NewReaderSize(r, 64<<10)
	for limit <= 0 || len(out) < limit {
		raw, err := readLine(br)
		if err == io.EOF || errors.Is(err, errPartial) {
			break
		}
		if errors.Is(err, errLong) {
			continue
		}
		if err != nil {
			return out, err
		}
		e, perr := ParseEntry(bytes.TrimSpace(raw))
		if perr != nil && e.Seq == 0 {
			continue
		}
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

// Verify checks the log file as it is on disk now.
func (l *Log) Verify() (Report, error) { return VerifyFile(l.path, l.key) }

// Close closes the file; later Appends return ErrClosed. Idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
