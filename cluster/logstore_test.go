package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestLogStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := s.FirstIndex(); f != 0 {
		t.Fatalf("empty first = %d", f)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte{byte(i)}, Extensions: []byte("x"), AppendedAt: time.Unix(100, 5)})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(7, &got); err != nil || got.Index != 7 || got.Term != 2 || got.Data[0] != 7 || string(got.Extensions) != "x" || !got.AppendedAt.Equal(time.Unix(100, 5)) {
		t.Fatalf("GetLog(7) = %+v, %v", got, err)
	}
	if err := s.GetLog(21, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(21) err = %v", err)
	}
	if err := s.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(18, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(5, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("deleted log still there: %v", err)
	}
	if _, err := s.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing stable key err = %v", err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 9); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}

	s, err = OpenLogStore(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f, _ := s.FirstIndex(); f != 6 {
		t.Fatalf("first after reopen = %d, want 6", f)
	}
	if l, _ := s.LastIndex(); l != 17 {
		t.Fatalf("last after reopen = %d, want 17", l)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 9 {
		t.Fatalf("term = %d, %v", v, err)
	}
	if v, err := s.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("k = %q, %v", v, err)
	}
	if err := s.DeleteRange(0, 100); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.FirstIndex(); f != 0 {
		t.Fatalf("first after delete all = %d", f)
	}
	if l, _ := s.LastIndex(); l != 0 {
		t.Fatalf("last after delete all = %d", l)
	}
}

func TestDecodeLogRejectsGarbage(t *testing.T) {
	var l raft.Log
	good := encodeLog(&raft.Log{Index: 1, Term: 1, Data: []byte("abc")})
	if err := decodeLog(good, &l); err != nil || string(l.Data) != "abc" {
		t.Fatalf("decode good: %v", err)
	}
	for _, b := range [][]byte{nil, good[:10], good[:len(good)-1], append(append([]byte(nil), good...), 0)} {
		if err := decodeLog(b, &l); err == nil {
			t.Fatalf("decodeLog(%x) accepted", b)
		}
	}
}
