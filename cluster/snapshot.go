package cluster

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Snapshot stream format (all integers big-endian or uvarint):
//
//	"CBXSNAP1"  magic, 8 bytes
//	applied     uint64: last raft index whose effects the snapshot holds
//	'K' uvarint(len key) key uvarint(len value) value    repeated, keys ascending
//	'E' uint64(record count) sha256(all preceding bytes)
//
// Restore reads the whole stream into a new state generation and switches
// to it only after the trailer checks out, so a truncated or corrupted
// stream leaves the current state untouched.
const snapMagic = "CBXSNAP1"

const (
	maxSnapKey   = 64 << 10
	maxSnapValue = 64 << 20
)

type fsmSnapshot struct {
	f       *FSM
	txn     *badger.Txn
	prefix  []byte
	applied uint64
	release func()
}

// Snapshot captures a Badger read-only view at the current version. It is
// cheap; Persist does the IO.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if f.failed.Load() {
		return nil, ErrFSMFailed
	}
	f.viewMu.RLock()
	s := &fsmSnapshot{
		f:       f,
		txn:     f.db.NewTransaction(false),
		prefix:  genPrefix(f.gen),
		applied: f.applied.Load(),
	}
	var once bool
	s.release = func() {
		if !once {
			once = true
			s.txn.Discard()
			f.viewMu.RUnlock()
		}
	}
	return s, nil
}

// Persist syncs the state DB (so raft may truncate the log below this
// point) and streams the snapshot into sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := s.f.db.Sync()
	if err == nil {
		err = s.writeTo(sink)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cluster: persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) writeTo(w io.Writer) error {
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	bw.WriteString(snapMagic)
	bw.Write(u64(s.applied))
	var count uint64
	opts := badger.DefaultIteratorOptions
	opts.Prefix = s.prefix
	it := s.txn.NewIterator(opts)
	defer it.Close()
	var lenBuf [binary.MaxVarintLen64]byte
	for it.Seek(s.prefix); it.ValidForPrefix(s.prefix); it.Next() {
		item := it.Item()
		k := item.Key()[len(s.prefix):]
		err := item.Value(func(v []byte) error {
			bw.WriteByte('K')
			bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(k)))])
			bw.Write(k)
			bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(v)))])
			_, err := bw.Write(v)
			return err
		})
		if err != nil {
			return err
		}
		count++
	}
	bw.WriteByte('E')
	if _, err := bw.Write(u64(count)); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(h.Sum(nil))
	return err
}

// Release ends the snapshot's read view.
func (s *fsmSnapshot) Release() { s.release() }

// snapReader reads the framed stream, hashing everything it consumes.
type snapReader struct {
	r *bufio.Reader
	h hash.Hash
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSnapshotCorrupt}, a...)...)
}

func (s *snapReader) full(b []byte) error {
	if _, err := io.ReadFull(s.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return corrupt("stream ends early")
		}
		return err
	}
	s.h.Write(b)
	return nil
}

func (s *snapReader) byte() (byte, error) {
	var b [1]byte
	err := s.full(b[:])
	return b[0], err
}

func (s *snapReader) uvarint(limit uint64, what string) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			if v > limit {
				return 0, corrupt("%s length %d over limit %d", what, v, limit)
			}
			return v, nil
		}
	}
	return 0, corrupt("bad %s length", what)
}

// readSnapshot parses a stream, calling fn for each record in order, and
// verifies the trailer. It returns the applied index from the header.
// fn's slices are freshly allocated and may be retained.
func readSnapshot(r io.Reader, fn func(k, v []byte) error) (uint64, error) {
	s := &snapReader{r: bufio.NewReaderSize(r, 256<<10), h: sha256.New()}
	head := make([]byte, len(snapMagic)+8)
	if err := s.full(head); err != nil {
		return 0, err
	}
	if string(head[:len(snapMagic)]) != snapMagic {
		return 0, corrupt("bad magic")
	}
	applied := binary.BigEndian.Uint64(head[len(snapMagic):])
	var count uint64
	var prev []byte
	for {
		tag, err := s.byte()
		if err != nil {
			return 0, err
		}
		if tag == 'E' {
			break
		}
		if tag != 'K' {
			return 0, corrupt("bad record tag %#x", tag)
		}
		kl, err := s.uvarint(maxSnapKey, "key")
		if err != nil {
			return 0, err
		}
		if kl == 0 {
			return 0, corrupt("empty key")
		}
		k := make([]byte, kl)
		if err := s.full(k); err != nil {
			return 0, err
		}
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return 0, corrupt("keys out of order")
		}
		vl, err := s.uvarint(maxSnapValue, "value")
		if err != nil {
			return 0, err
		}
		v := make([]byte, vl)
		if err := s.full(v); err != nil {
			return 0, err
		}
		if err := fn(k, v); err != nil {
			return 0, err
		}
		prev = k
		count++
	}
	var cb [8]byte
	if err := s.full(cb[:]); err != nil {
		return 0, err
	}
	sum := s.h.Sum(nil)
	var got [sha256.Size]byte
	if _, err := io.ReadFull(s.r, got[:]); err != nil {
		return 0, corrupt("stream ends before checksum")
	}
	if !bytes.Equal(sum, got[:]) {
		return 0, corrupt("checksum mismatch")
	}
	if binary.BigEndian.Uint64(cb[:]) != count {
		return 0, corrupt("record count mismatch")
	}
	if _, err := s.r.ReadByte(); err != io.EOF {
		return 0, corrupt("data after trailer")
	}
	return applied, nil
}

// Restore replaces all state with the snapshot in rc, atomically: records
// go into a new generation, and the switch to it (with the applied index)
// is a single transaction made only after the stream checks out. On any
// error the current state is unchanged.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	newGen := f.gen + 1
	prefix := genPrefix(newGen)
	if err := f.db.DropPrefix(prefix); err != nil {
		return fmt.Errorf("cluster: restore: clear staging: %w", err)
	}
	wb := f.db.NewWriteBatch()
	applied, err := readSnapshot(rc, func(k, v []byte) error {
		return wb.Set(append(append(make([]byte, 0, len(prefix)+len(k)), prefix...), k...), v)
	})
	if err == nil {
		err = wb.Flush()
	} else {
		wb.Cancel()
	}
	if err != nil {
		if derr := f.db.DropPrefix(prefix); derr != nil {
			f.log.Error("restore: dropping staged generation failed", "error", derr)
		}
		f.log.Error("snapshot restore refused; state unchanged", "error", err)
		return fmt.Errorf("cluster: restore: %w", err)
	}
	oldGen := f.gen
	f.viewMu.Lock()
	err = f.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(keyGen, u32(newGen)); err != nil {
			return err
		}
		return txn.Set(keyApplied, u64(applied))
	})
	if err == nil {
		f.gen = newGen
		f.applied.Store(applied)
	}
	f.viewMu.Unlock()
	if err != nil {
		_ = f.db.DropPrefix(prefix)
		return fmt.Errorf("cluster: restore: switch generation: %w", err)
	}
	if err := f.db.DropPrefix(genPrefix(oldGen)); err != nil {
		f.log.Warn("restore: dropping old generation failed; retried on next open", "error", err)
	}
	if err := f.db.Sync(); err != nil {
		return fmt.Errorf("cluster: restore: sync: %w", err)
	}
	f.log.Info("restored state from snapshot", "applied_index", applied)
	return nil
}

// snapshotAppliedIndex reads just the header of a snapshot stream.
func snapshotAppliedIndex(r io.Reader) (uint64, error) {
	head := make([]byte, len(snapMagic)+8)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, corrupt("header: %v", err)
	}
	if string(head[:len(snapMagic)]) != snapMagic {
		return 0, corrupt("bad magic")
	}
	return binary.BigEndian.Uint64(head[len(snapMagic):]), nil
}
