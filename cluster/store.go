package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// FSM DB key layout. Meta keys live outside any generation; all state keys
// are prefixed with "d" + generation (uint32 BE) so Restore can build a new
// generation beside the old one and switch with a single key write.
//
//	m/applied                 last applied raft index (uint64 BE)
//	m/gen                     current generation (uint32 BE)
//	d<gen>r/<id>              CallRecord
//	d<gen>rt/<t8><id>         call records by InviteAt
//	d<gen>rc/<camp>\0<t8><id> call records by campaign and InviteAt
//	d<gen>c/<camp>            Campaign
//	d<gen>k/<camp>\0<id>      Contact
//	d<gen>kd/<camp>\0<cb1><val8><t8><id>  due index of pending contacts
//	d<gen>kp/<phone>\0<camp>\0<id>        contacts by phone
//	d<gen>n/<scope>\0<phone>  DNCEntry
//	d<gen>a/<id>              Attempt
//	d<gen>ac/<camp>\0<t8><id> attempts by campaign and claim time
//	d<gen>ab/<box>\0<id>      open (claimed) attempts by box
//	d<gen>b/<box>             Box (registry entry with lease)
//	d<gen>i/<import>          staged import header
//	d<gen>ic/<import>\0<seq4> staged import chunk
//	d<gen>id/<import>         committed import marker
var (
	keyApplied = []byte("m/applied")
	keyGen     = []byte("m/gen")
)

const sep = "\x00"

// key concatenates parts into a new slice.
func key(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// timeKey encodes a time so byte order is time order; zero time sorts first.
func timeKey(t time.Time) string {
	var b [8]byte
	if !t.IsZero() {
		binary.BigEndian.PutUint64(b[:], uint64(t.UnixNano())^(1<<63))
	}
	return string(b[:])
}

// descFloatKey encodes f so byte order is descending numeric order.
func descFloatKey(f float64) string {
	u := math.Float64bits(f)
	if u&(1<<63) != 0 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^u)
	return string(b[:])
}

func genPrefix(gen uint32) []byte {
	b := make([]byte, 5)
	b[0] = 'd'
	binary.BigEndian.PutUint32(b[1:], gen)
	return b
}

// tx is a Badger transaction scoped to one state generation. Keys passed to
// its methods omit the generation prefix. It counts writes so the FSM can
// tell whether a rejected command left changes behind.
type tx struct {
	txn    *badger.Txn
	prefix []byte
	writes int
}

// storageError marks errors from Badger (as opposed to command rejections).
type storageError struct{ err error }

func (e *storageError) Error() string { return "cluster: state storage: " + e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var se *storageError
	if errors.As(err, &se) {
		return err
	}
	return &storageError{err: err}
}

func (t *tx) full(k []byte) []byte {
	b := make([]byte, 0, len(t.prefix)+len(k))
	return append(append(b, t.prefix...), k...)
}

// getJSON loads k into v; false when absent.
func (t *tx) getJSON(k []byte, v any) (bool, error) {
	item, err := t.txn.Get(t.full(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err)
	}
	err = item.Value(func(b []byte) error { return json.Unmarshal(b, v) })
	if err != nil {
		return false, storeErr(fmt.Errorf("decode %q: %w", k, err))
	}
	return true, nil
}

func (t *tx) has(k []byte) (bool, error) {
	_, err := t.txn.Get(t.full(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, storeErr(err)
}

func (t *tx) putJSON(k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return storeErr(fmt.Errorf("encode %q: %w", k, err))
	}
	return t.putRaw(k, b)
}

func (t *tx) putRaw(k, v []byte) error {
	t.writes++
	return storeErr(t.txn.Set(t.full(k), v))
}

func (t *tx) del(k []byte) error {
	t.writes++
	return storeErr(t.txn.Delete(t.full(k)))
}

// scan calls fn for each key under prefix (key without the generation
// prefix; value valid only during the call), ascending or descending, until
// fn returns false. seek, if non-nil, is where to start (for reverse scans:
// the greatest key to consider).
func (t *tx) scan(prefix, seek []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = t.full(prefix)
	opts.Reverse = reverse
	opts.PrefetchValues = false
	it := t.txn.NewIterator(opts)
	defer it.Close()
	start := opts.Prefix
	if seek != nil {
		start = t.full(seek)
	} else if reverse {
		start = append(append([]byte(nil), opts.Prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	for it.Seek(start); it.ValidForPrefix(opts.Prefix); it.Next() {
		item := it.Item()
		k := item.Key()[len(t.prefix):]
		var cont bool
		err := item.Value(func(v []byte) error {
			var err error
			cont, err = fn(k, v)
			return err
		})
		if err != nil {
			return err
		}
		if !cont {
			return nil
		}
	}
	return nil
}

// collectKeys returns copies of all keys under prefix (without generation).
func (t *tx) collectKeys(prefix []byte) ([][]byte, error) {
	var out [][]byte
	err := t.scan(prefix, nil, false, func(k, _ []byte) (bool, error) {
		out = append(out, append([]byte(nil), k...))
		return true, nil
	})
	return out, storeErr(err)
}

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return storeErr(fmt.Errorf("decode: %w", err))
	}
	return nil
}
