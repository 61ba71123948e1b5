package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// writeLog makes a log of n entries and returns its path.
func writeLog(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	clock := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	l, err := Open(path, testKey, func() time.Time { clock = clock.Add(time.Second); return clock })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := l.Append(Entry{Actor: "alice", Role: "admin", Action: "POST /v1/calls", Target: "call/" + string(rune('a'+i)), Status: 202,
			Detail: map[string]string{"n": strings.Repeat("x", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(t testing.TB, path string) [][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data, []byte("\n"))[:bytes.Count(data, []byte("\n"))]
}

func put(t testing.TB, path string, ls [][]byte) {
	if err := os.WriteFile(path, bytes.Join(ls, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyIntact(t *testing.T) {
	path := writeLog(t, 5)
	rep, err := VerifyFile(path, testKey)
	if err != nil || rep.Entries != 5 || rep.LastSeq != 5 || !rep.MACs || !rep.Head {
		t.Fatalf("%+v %v", rep, err)
	}
	// Reopening continues the chain.
	l, err := Open(path, testKey, nil)
	if err != nil || l.Problem() != nil {
		t.Fatal(err, l.Problem())
	}
	e, err := l.Append(Entry{Actor: "bob", Action: "recording.listen", Target: "c1"})
	if err != nil || e.Seq != 6 {
		t.Fatalf("%+v %v", e, err)
	}
	l.Close()
	if _, err := l.Append(Entry{}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	if rep, err := VerifyFile(path, testKey); err != nil || rep.Entries != 6 {
		t.Fatal(rep, err)
	}
	es, _ := l.Entries(4, 10)
	if len(es) != 2 || es[0].Seq != 5 {
		t.Errorf("Entries(4) = %v", es)
	}
}

// wantBad checks that verification names line (1-based).
func wantBad(t *testing.T, path string, key []byte, line int, problem string) {
	t.Helper()
	_, err := VerifyFile(path, key)
	var te *TamperError
	if !errors.As(err, &te) || !errors.Is(err, ErrTampered) {
		t.Fatalf("want a TamperError, got %v", err)
	}
	if te.Line != line || !strings.Contains(te.Problem, problem) {
		t.Fatalf("got line %d %q; want line %d containing %q", te.Line, te.Problem, line, problem)
	}
}

func TestTamperEditByte(t *testing.T) {
	path := writeLog(t, 6)
	ls := lines(t, path)
	i := bytes.Index(ls[2], []byte(`"call/c"`))
	ls[2][i+6] = 'z' // call/c -> call/z
	put(t, path, ls)
	wantBad(t, path, testKey, 3, "hash does not match")
	wantBad(t, path, nil, 3, "hash does not match") // without the key too
}

func TestTamperWhitespace(t *testing.T) {
	path := writeLog(t, 3)
	ls := lines(t, path)
	ls[1] = bytes.Replace(ls[1], []byte(`"seq":2,`), []byte(`"seq": 2,`), 1)
	put(t, path, ls)
	wantBad(t, path, testKey, 2, "canonical")
}

func TestTamperDelete(t *testing.T) {
	path := writeLog(t, 6)
	ls := lines(t, path)
	put(t, path, append(ls[:3:3], ls[4:]...)) // drop seq 4
	wantBad(t, path, testKey, 4, "sequence number is 5, expected 4")
}

func TestTamperSwap(t *testing.T) {
	path := writeLog(t, 6)
	ls := lines(t, path)
	ls[1], ls[2] = ls[2], ls[1]
	put(t, path, ls)
	wantBad(t, path, testKey, 2, "sequence number is 3, expected 2")
}

func TestTamperCutTail(t *testing.T) {
	path := writeLog(t, 6)
	ls := lines(t, path)
	put(t, path, ls[:4])
	wantBad(t, path, testKey, 5, "entries 5-6 were cut off")
}

// Rewriting an entry and recomputing every hash after it defeats a bare
// chain; the MAC catches it when the key is at hand.
func TestTamperRechainedNeedsKey(t *testing.T) {
	path := writeLog(t, 4)
	es, _ := ReadEntries(bytes.NewReader(bytes.Join(lines(t, path), nil)), 0, 0)
	es[1].Target = "call/forged"
	var out [][]byte
	prev := ZeroHash
	for _, e := range es {
		e.Prev = prev
		line, err := e.seal(bytes.Repeat([]byte{9}, 32)) // the forger's key
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append(line, '\n'))
		prev = e.Hash
	}
	put(t, path, out)
	os.Remove(path + ".head")
	if _, err := VerifyFile(path, nil); err != nil {
		t.Fatalf("chain alone should pass a full rewrite: %v", err)
	}
	wantBad(t, path, testKey, 1, "MAC does not match")
}

func TestCrashPartialLineRecovered(t *testing.T) {
	path := writeLog(t, 3)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":4,"time":"2026-11`)
	f.Close()
	wantBad(t, path, testKey, 4, "incomplete")
	l, err := Open(path, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Problem() != nil {
		t.Fatalf("after recovery: %v", l.Problem())
	}
	es, _ := l.Entries(3, 0)
	if len(es) != 1 || es[0].Action != "audit.recovered" || es[0].Detail["bytes"] != "24" {
		t.Fatalf("recovery entry: %+v", es)
	}
}

func TestOpenTamperedStillAppends(t *testing.T) {
	path := writeLog(t, 3)
	ls := lines(t, path)
	ls[0] = bytes.Replace(ls[0], []byte("alice"), []byte("mallo"), 1)
	put(t, path, ls)
	l, err := Open(path, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !errors.Is(l.Problem(), ErrTampered) {
		t.Fatalf("Problem = %v", l.Problem())
	}
	if e, err := l.Append(Entry{Action: "x"}); err != nil || e.Seq != 4 {
		t.Fatal(e, err)
	}
	wantBad(t, path, testKey, 1, "hash")
}

func FuzzParseEntry(f *testing.F) {
	path := writeLog(f, 2)
	for _, l := range lines(f, path) {
		f.Add(bytes.TrimSuffix(l, []byte("\n")))
	}
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := ParseEntry(raw)
		if err == nil {
			// Anything that parses cleanly re-encodes to the same bytes.
			c, _ := e.canonical()
			if !bytes.Equal(c, raw) {
				t.Fatalf("canonical mismatch")
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	path := writeLog(f, 3)
	data, _ := os.ReadFile(path)
	f.Add(data)
	f.Add(data[:len(data)-5])
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data), testKey)
		if err == nil && len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatal("verified data ending in a partial line")
		}
		if err != nil && !errors.Is(err, ErrTampered) {
			t.Fatalf("non-tamper error from a reader that cannot fail: %v", err)
		}
		if err == nil && rep.Entries != bytes.Count(data, []byte("\n")) {
			t.Fatalf("verified %d entries in %d lines", rep.Entries, bytes.Count(data, []byte("\n")))
		}
	})
}

func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 25; i++ {
				if _, err := l.Append(Entry{Actor: "w", Action: "x"}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	l.Close()
	if rep, err := VerifyFile(path, testKey); err != nil || rep.Entries != 200 {
		t.Fatalf("%+v %v", rep, err)
	}
}
