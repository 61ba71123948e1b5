package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// FSM is the deterministic state machine. raft calls ApplyBatch, Snapshot
// and Restore from one goroutine; the read methods may be called from any
// goroutine and read the state DB directly.
type FSM struct {
	db  *badger.DB
	log *slog.Logger

	// viewMu lets reads and snapshot persists (RLock) exclude the
	// generation switch at the end of Restore (Lock).
	viewMu sync.RWMutex

	// gen is the current state generation; written only by the raft FSM
	// goroutine (Restore) under viewMu.Lock, read by it without a lock.
	gen     uint32
	applied atomic.Uint64 // last applied raft index, as stored in m/applied

	applies atomic.Uint64 // entries applied since open (commands and config)
	skipped atomic.Uint64 // entries skipped as already applied since open
	failed  atomic.Bool   // set when the state DB failed to commit

	unknownLogged sync.Map // CommandType -> struct{}: log each unknown type once

	closeOnce sync.Once
}

var _ raft.BatchingFSM = (*FSM)(nil)

// OpenFSM opens (creating if needed) the state DB in dir. The DB is written
// with SyncWrites=false: it is rebuilt from the raft log after a crash (see
// the package doc).
func OpenFSM(dir string, logger *slog.Logger) (*FSM, error) {
	return openFSM(dir, logger, 64<<20)
}

// openFSM lets tests pick a small memtable (and so a small transaction limit).
func openFSM(dir string, logger *slog.Logger, memTable int64) (*FSM, error) {
	if logger == nil {
		logger = slog.Default()
	}
	opts := badger.DefaultOptions(dir).
		WithSyncWrites(false).
		WithLogger(badgerLogger{l: logger, db: "state"}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(memTable).
		WithBlockCacheSize(32 << 20).
		WithDetectConflicts(false)
	if memTable < 16<<20 {
		opts = opts.WithValueThreshold(memTable / 20)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: open state db %s: %w", dir, err)
	}
	f := &FSM{db: db, log: logger}
	if err := f.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return f, nil
}

func (f *FSM) load() error {
	err := f.db.View(func(txn *badger.Txn) error {
		var err error
		if f.gen, err = readGen(txn); err != nil {
			return err
		}
		a, err := readUint64(txn, keyApplied)
		f.applied.Store(a)
		return err
	})
	if err != nil {
		return fmt.Errorf("cluster: load state meta: %w", err)
	}
	return f.dropStaleGenerations()
}

// dropStaleGenerations removes state generations other than the current
// one (left behind by a Restore interrupted by a crash).
func (f *FSM) dropStaleGenerations() error {
	var stale [][]byte
	err := f.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte("d")
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek([]byte("d")); it.ValidForPrefix([]byte("d")); {
			k := it.Item().Key()
			if len(k) < 5 {
				it.Next()
				continue
			}
			g := binary.BigEndian.Uint32(k[1:5])
			if g != f.gen {
				stale = append(stale, genPrefix(g))
			}
			if g == ^uint32(0) {
				break
			}
			it.Seek(genPrefix(g + 1))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		f.log.Warn("dropping stale state generations", "count", len(stale))
		return f.db.DropPrefix(stale...)
	}
	return nil
}

func readUint64(txn *badger.Txn, k []byte) (uint64, error) {
	item, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("meta key %q holds %d bytes", k, len(b))
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err
}

func readGen(txn *badger.Txn) (uint32, error) {
	item, err := txn.Get(keyGen)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var g uint32
	err = item.Value(func(b []byte) error {
		if len(b) != 4 {
			return fmt.Errorf("meta key m/gen holds %d bytes", len(b))
		}
		g = binary.BigEndian.Uint32(b)
		return nil
	})
	return g, err
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func u32(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

// Close closes the state DB. It is idempotent.
func (f *FSM) Close() error {
	var err error
	f.closeOnce.Do(func() { err = f.db.Close() })
	return err
}

// AppliedIndex is the last raft index whose effects are in the state DB.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// ApplyCount is the number of entries applied (not skipped) since open.
func (f *FSM) ApplyCount() uint64 { return f.applies.Load() }

// SkipCount is the number of replayed entries skipped since open because
// the state already contained them.
func (f *FSM) SkipCount() uint64 { return f.skipped.Load() }

// Failed reports whether the state DB failed and the FSM stopped applying.
func (f *FSM) Failed() bool { return f.failed.Load() }

// Apply applies one entry (raft.FSM).
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies committed entries in as few Badger transactions as
// possible (normally one), storing the last applied index in the same
// transaction. Entries at or below the stored applied index are skipped.
// A command that is rejected, or that does not fit in one transaction,
// leaves no change: the batch is re-run without it.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	resps := make([]any, len(logs))
	for start := 0; start < len(logs); {
		if f.failed.Load() {
			for i := start; i < len(logs); i++ {
				resps[i] = ErrFSMFailed
			}
			break
		}
		start += f.applyRun(logs[start:], resps[start:])
	}
	return resps
}

// applyRun applies a prefix of logs in one transaction and returns how many
// entries it consumed (at least one).
func (f *FSM) applyRun(logs []*raft.Log, resps []any) int {
	limit := len(logs)
	for {
		t := &tx{txn: f.db.NewTransaction(true), prefix: genPrefix(f.gen)}
		n, done, skips, isolate, err := f.applyInto(t, logs[:limit], resps)
		if err != nil {
			t.txn.Discard()
			f.fail(err)
			return len(logs)
		}
		if isolate >= 0 {
			t.txn.Discard()
			if isolate > 0 {
				limit = isolate // re-run the entries before the offender
				continue
			}
			// The first entry is rejected with writes or too big: record
			// only that it was applied.
			if err := f.commitApplied(logs[0].Index); err != nil {
				f.fail(err)
				return len(logs)
			}
			f.applies.Add(1)
			return 1
		}
		last := logs[n-1].Index
		if prev := f.applied.Load(); last <= prev {
			last = prev // everything was already applied
		} else {
			err = t.txn.Set(keyApplied, u64(last))
		}
		if err == nil {
			err = t.txn.Commit()
		} else {
			t.txn.Discard()
		}
		if errors.Is(err, badger.ErrTxnTooBig) && n > 1 {
			limit = n - 1
			continue
		}
		if err != nil {
			f.fail(err)
			return len(logs)
		}
		f.applied.Store(last)
		f.applies.Add(uint64(done))
		f.skipped.Add(uint64(skips))
		return n
	}
}

// applyInto runs entries into t. It returns how many it applied, or the
// index of an entry that must be isolated (rejected after writing, or too
// big), or a fatal storage error. On isolation resps[isolate] is set.
func (f *FSM) applyInto(t *tx, logs []*raft.Log, resps []any) (n, done, skips, isolate int, err error) {
	applied := f.applied.Load()
	for i, l := range logs {
		if l.Index <= applied {
			resps[i] = nil
			skips++
			continue
		}
		before := t.writes
		resp, err := f.applyOne(t, l)
		if err != nil {
			if errors.Is(err, badger.ErrTxnTooBig) {
				resps[i] = fmt.Errorf("%w: the state change of entry %d does not fit in one transaction", ErrCommandTooLarge, l.Index)
				return 0, 0, 0, i, nil
			}
			return 0, 0, 0, -1, err
		}
		if _, rejected := resp.(error); rejected && t.writes > before {
			resps[i] = resp
			return 0, 0, 0, i, nil
		}
		resps[i] = resp
		done++
	}
	return len(logs), done, skips, -1, nil
}

func (f *FSM) commitApplied(idx uint64) error {
	err := f.db.Update(func(txn *badger.Txn) error { return txn.Set(keyApplied, u64(idx)) })
	if err == nil {
		f.applied.Store(idx)
	}
	return err
}

func (f *FSM) fail(err error) {
	if f.failed.CompareAndSwap(false, true) {
		f.log.Error("state machine failed; stopped applying until restart",
			"applied_index", f.applied.Load(), "error", err)
	}
}

// applyOne applies one entry; a returned error is a storage failure, a
// rejection is returned as the response value.
func (f *FSM) applyOne(t *tx, l *raft.Log) (any, error) {
	if l.Type != raft.LogCommand {
		return nil, nil // configuration entries only advance the index
	}
	cmd, err := Decode(l.Data)
	if err != nil {
		if errors.Is(err, ErrUnknownCommand) {
			if _, seen := f.unknownLogged.LoadOrStore(l.Data[0], struct{}{}); !seen {
				f.log.Error("unknown command type in raft log; entry ignored",
					"type", l.Data[0], "index", l.Index)
			}
		}
		return err, nil
	}
	if err := cmd.Validate(); err != nil {
		return err, nil
	}
	return f.dispatch(t, cmd)
}

// dispatch routes a decoded command by its type byte.
func (f *FSM) dispatch(t *tx, cmd Command) (any, error) {
	switch cmd.Type() {
	case TypePutCallRecord:
		return applyPutCallRecord(t, cmd.(*PutCallRecord))
	case TypeCreateCampaign:
		return applyCreateCampaign(t, cmd.(*CreateCampaign))
	case TypeSetCampaignState:
		return applySetCampaignState(t, cmd.(*SetCampaignState))
	case TypeImportContacts:
		return applyImportContacts(t, cmd.(*ImportContacts))
	case TypeImportChunk:
		return applyImportChunk(t, cmd.(*ImportChunk))
	case TypeCommitImport:
		return applyCommitImport(t, cmd.(*CommitImport))
	case TypeAbortImport:
		return applyAbortImport(t, cmd.(*AbortImport))
	case TypeAddDNC:
		return applyAddDNC(t, cmd.(*AddDNC))
	case TypeRemoveDNC:
		return applyRemoveDNC(t, cmd.(*RemoveDNC))
	case TypeClaimAttempt:
		return applyClaimAttempt(t, cmd.(*ClaimAttempt))
	case TypeFinishAttempt:
		return applyFinishAttempt(t, cmd.(*FinishAttempt))
	case TypeMarkInterrupted:
		return applyMarkInterrupted(t, cmd.(*MarkInterrupted))
	case TypeRenewLease:
		return applyRenewLease(t, cmd.(*RenewLease))
	case TypeExpireLeases:
		return applyExpireLeases(t, cmd.(*ExpireLeases))
	case TypeRemoveBox:
		return applyRemoveBox(t, cmd.(*RemoveBox))
	case TypeMarkAnswered:
		return applyMarkAnswered(t, cmd.(*MarkAnswered))
	case TypeStageContacts:
		return applyStageContacts(t, cmd.(*StageContacts))
	case TypePutFlowVersion:
		return applyPutFlowVersion(t, cmd.(*PutFlowVersion))
	case TypeArchiveFlow:
		return applyArchiveFlow(t, cmd.(*ArchiveFlow))
	case TypePutUser:
		return applyPutUser(t, cmd.(*PutUser))
	case TypeDeleteUser:
		return applyDeleteUser(t, cmd.(*DeleteUser))
	case TypePutToken:
		return applyPutToken(t, cmd.(*PutToken))
	case TypeRevokeToken:
		return applyRevokeToken(t, cmd.(*RevokeToken))
	case TypeReleaseAttempt:
		return applyReleaseAttempt(t, cmd.(*ReleaseAttempt))
	case TypeClaimBatch:
		return applyClaimBatch(t, cmd.(*ClaimBatch))
	}
	return fmt.Errorf("%w: type byte %d", ErrUnknownCommand, byte(cmd.Type())), nil
}

// view runs fn in a read transaction on the current generation.
// viewOne reads one item with load in a read transaction: found is false
// when load returns nil.
func viewOne[T any](f *FSM, load func(t *tx) (*T, error)) (T, bool, error) {
	var item *T
	err := f.view(func(t *tx) error {
		var err error
		item, err = load(t)
		return err
	})
	if err != nil || item == nil {
		var zero T
		return zero, false, err
	}
	return *item, true, nil
}

func (f *FSM) view(fn func(t *tx) error) error {
	f.viewMu.RLock()
	defer f.viewMu.RUnlock()
	return f.db.View(func(txn *badger.Txn) error {
		gen, err := readGen(txn)
		if err != nil {
			return storeErr(err)
		}
		return fn(&tx{txn: txn, prefix: genPrefix(gen)})
	})
}

// Dump writes a canonical, human-readable dump of all state (every key in
// order with its value, no meta keys) to w. Identical state gives
// identical dumps on every member.
func (f *FSM) Dump(w io.Writer) error {
	return f.view(func(t *tx) error {
		return t.scan(nil, nil, false, func(k, v []byte) (bool, error) {
			_, err := fmt.Fprintf(w, "%q=%s\n", k, v)
			return err == nil, err
		})
	})
}
