package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Key prefixes in the raft DB.
var (
	prefixLog    = []byte("l") // l + uint64 BE index -> encoded raft.Log
	prefixStable = []byte("s") // s + key -> value
)

// errStableNotFound matches the "not found" text hashicorp/raft checks for
// when the stable store has no current term yet.
var errStableNotFound = errors.New("not found")

// LogStore is a raft.LogStore and raft.StableStore on its own Badger DB.
// Log indexes are stored as big-endian uint64 so Badger's key order is log
// order. FirstIndex and LastIndex are cached in memory.
type LogStore struct {
	db *badger.DB

	mu    sync.Mutex // serialises writers and guards first/last
	first uint64     // guarded by mu
	last  uint64     // guarded by mu

	closeOnce sync.Once
}

var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

// OpenLogStore opens (creating if needed) the raft log DB in dir with
// SyncWrites=true: a StoreLogs that returned nil survives a power loss.
func OpenLogStore(dir string, logger *slog.Logger) (*LogStore, error) {
	if logger == nil {
		logger = slog.Default()
	}
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{l: logger, db: "raft"}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(32 << 20).
		WithBlockCacheSize(16 << 20).
		WithDetectConflicts(false)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: open raft log %s: %w", dir, err)
	}
	s := &LogStore{db: db}
	if err := s.loadBounds(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func logKey(idx uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixLog[0]
	binary.BigEndian.PutUint64(k[1:], idx)
	return k
}

func (s *LogStore) loadBounds() error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixLog
		it := txn.NewIterator(opts)
		it.Seek(prefixLog)
		if it.ValidForPrefix(prefixLog) {
			s.first = binary.BigEndian.Uint64(it.Item().Key()[1:])
		}
		it.Close()
		opts.Reverse = true
		it = txn.NewIterator(opts)
		defer it.Close()
		it.Seek(logKey(^uint64(0)))
		if it.ValidForPrefix(prefixLog) {
			s.last = binary.BigEndian.Uint64(it.Item().Key()[1:])
		}
		return nil
	})
}

// Close closes the DB. It is idempotent.
func (s *LogStore) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.db.Close() })
	return err
}

// FirstIndex returns the first stored index, 0 when empty.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, nil
}

// LastIndex returns the last stored index, 0 when empty.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

// GetLog reads the entry at index into out; raft.ErrLogNotFound if absent.
func (s *LogStore) GetLog(index uint64, out *raft.Log) error {
	return s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(logKey(index))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return raft.ErrLogNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return decodeLog(v, out) })
	})
}

// StoreLog stores one entry.
func (s *LogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs stores entries in one Badger transaction (split only if it is
// too big for one), synced to disk before returning.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for _, l := range logs {
		k, v := logKey(l.Index), encodeLog(l)
		err := txn.Set(k, v)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return fmt.Errorf("cluster: store logs: %w", err)
			}
			txn = s.db.NewTransaction(true)
			err = txn.Set(k, v)
		}
		if err != nil {
			return fmt.Errorf("cluster: store log %d: %w", l.Index, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("cluster: store logs: %w", err)
	}
	for _, l := range logs {
		if s.first == 0 || l.Index < s.first {
			s.first = l.Index
		}
		if l.Index > s.last {
			s.last = l.Index
		}
	}
	return nil
}

// DeleteRange deletes entries min..max inclusive.
func (s *LogStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	lo, hi := min, max
	if lo < s.first {
		lo = s.first
	}
	if hi > s.last {
		hi = s.last
	}
	for i := lo; i <= hi && s.last != 0; i++ {
		k := logKey(i)
		err := txn.Delete(k)
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return fmt.Errorf("cluster: delete logs: %w", err)
			}
			txn = s.db.NewTransaction(true)
			err = txn.Delete(k)
		}
		if err != nil {
			return fmt.Errorf("cluster: delete log %d: %w", i, err)
		}
		if i == hi {
			break // avoid overflow at MaxUint64
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("cluster: delete logs: %w", err)
	}
	switch {
	case min <= s.first && max >= s.last:
		s.first, s.last = 0, 0
	case min <= s.first:
		s.first = max + 1
	case max >= s.last:
		s.last = min - 1
	}
	return nil
}

// Set stores a stable key.
func (s *LogStore) Set(key, val []byte) error {
	return s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(append(append([]byte(nil), prefixStable...), key...), append([]byte(nil), val...))
	})
}

// Get reads a stable key; the error text is "not found" when absent, as raft expects.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(append(append([]byte(nil), prefixStable...), key...))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return errStableNotFound
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

// SetUint64 stores a stable uint64.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

// GetUint64 reads a stable uint64; 0 and "not found" when absent.
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	b, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("cluster: stable key %q holds %d bytes, want 8", key, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// runValueLogGC reclaims value-log space; called periodically by Node.
func (s *LogStore) runValueLogGC() {
	for s.db.RunValueLogGC(0.5) == nil {
	}
}

// Log entry encoding: index, term (uint64 BE), type (1 byte),
// appendedAt unix nanos (int64 BE, 0 = zero time), data and extensions as
// uvarint length + bytes.
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, 8+8+1+8+2*binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	b = binary.BigEndian.AppendUint64(b, l.Index)
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	b = append(b, l.Extensions...)
	return b
}

var errBadLogEncoding = errors.New("cluster: corrupt raft log entry")

func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < 25 {
		return errBadLogEncoding
	}
	l.Index = binary.BigEndian.Uint64(b)
	l.Term = binary.BigEndian.Uint64(b[8:])
	l.Type = raft.LogType(b[16])
	at := int64(binary.BigEndian.Uint64(b[17:]))
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	rest := b[25:]
	var err error
	if l.Data, rest, err = readBlob(rest); err != nil {
		return err
	}
	if l.Extensions, rest, err = readBlob(rest); err != nil {
		return err
	}
	if len(rest) != 0 {
		return errBadLogEncoding
	}
	return nil
}

func readBlob(b []byte) ([]byte, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, errBadLogEncoding
	}
	b = b[w:]
	if n == 0 {
		return nil, b, nil
	}
	return append([]byte(nil), b[:n]...), b[n:], nil
}
