package recstore

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Writer encrypts a recording as it is written. It writes path+".part"
// and renames it to path on Close, after sealing the final chunk and
// syncing. It is an io.WriteCloser; it is not safe for concurrent Writes.
type Writer struct {
	path, part string
	f          *os.File
	aead       cipher.AEAD
	hdr        [headerSize]byte

	buf   []byte // plaintext not yet sealed, len < ChunkSize between Writes
	out   []byte // ciphertext scratch
	aad   []byte
	nonce [12]byte
	index uint64
	err   error // sticky

	once     sync.Once
	closeErr error
}

// Create starts an encrypted recording at path (which should end in
// Ext). It fails if path or path+".part" exists: recordings are never
// overwritten.
func Create(path string, kr *Keyring) (*Writer, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("recstore: %s already exists", path)
	}
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("recstore: creating recording: %w", err)
	}
	w, err := newWriter(f, kr)
	if err != nil {
		f.Close()
		os.Remove(part)
		return nil, err
	}
	w.path, w.part = path, part
	return w, nil
}

func newWriter(f *os.File, kr *Keyring) (*Writer, error) {
	hdr, fileKey, err := newHeader(kr)
	if err != nil {
		return nil, fmt.Errorf("recstore: %w", err)
	}
	aead, err := newGCM(fileKey)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("recstore: writing header: %w", err)
	}
	return &Writer{f: f, aead: aead, hdr: hdr, buf: make([]byte, 0, ChunkSize), out: make([]byte, 4, 4+ChunkSize+tagSize)}, nil
}

// Write buffers p and seals every full chunk.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) == ChunkSize {
			if err := w.seal(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// seal encrypts and writes the buffered plaintext as one chunk.
func (w *Writer) seal(final bool) error {
	chunkNonce(&w.nonce, w.index)
	w.aad = chunkAAD(w.aad, w.hdr[:], w.index, final)
	w.out = w.aead.Seal(w.out[:4], w.nonce[:], w.buf, w.aad)
	l := uint32(len(w.out) - 4)
	if final {
		l |= finalFlag
	}
	binary.BigEndian.PutUint32(w.out[0:4], l)
	if _, err := w.f.Write(w.out); err != nil {
		w.err = fmt.Errorf("recstore: writing %s: %w", w.part, err)
		return w.err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Close seals the final chunk, syncs and renames the file into place.
// Idempotent. After a failed write the .part file is kept as it is (it
// reads as truncated).
func (w *Writer) Close() error {
	w.once.Do(func() {
		err := w.err
		if err == nil {
			err = w.seal(true)
		}
		if err == nil {
			err = w.f.Sync()
		}
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
		w.err = ErrClosed
		if err != nil {
			w.closeErr = fmt.Errorf("recstore: %s kept as %s: %w", w.path, w.part, err)
			return
		}
		if _, err := os.Lstat(w.path); err == nil {
			w.closeErr = fmt.Errorf("recstore: %s appeared while recording; audio kept in %s", w.path, w.part)
			return
		}
		if err := os.Rename(w.part, w.path); err != nil {
			w.closeErr = fmt.Errorf("recstore: finalising recording: %w", err)
			return
		}
		if d, err := os.Open(filepath.Dir(w.path)); err == nil {
			d.Sync()
			d.Close()
		}
	})
	return w.closeErr
}

// Path is where the recording ends up.
func (w *Writer) Path() string { return w.path }

// TruncatedExt marks a recording found cut short by a crash.
const TruncatedExt = ".truncated" + Ext

// Recover looks at a leftover path+".part" (a crash while recording): a
// complete one is renamed to path; a truncated one is renamed to the
// name with TruncatedExt (the "marked" recording; its audio up to the
// last whole chunk stays readable). It returns the new name.
func Recover(part string) (string, error) {
	base, ok := strings.CutSuffix(part, ".part")
	if !ok {
		return "", fmt.Errorf("recstore: %s is not a .part file", part)
	}
	info, err := Check(part)
	target := base
	if err != nil || !info.Complete {
		// Cut short (or damaged, or empty): keep every byte, marked.
		target = strings.TrimSuffix(base, Ext) + TruncatedExt
	}
	if _, err := os.Lstat(target); err == nil {
		return "", fmt.Errorf("recstore: cannot recover %s: %s exists", part, target)
	}
	if err := os.Rename(part, target); err != nil {
		return "", fmt.Errorf("recstore: %w", err)
	}
	return target, nil
}

// Sweep recovers every *.cbrec.part under dir (run at start, before any
// recording begins) and returns what it renamed.
func Sweep(dir string) ([]string, error) {
	var out []string
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, Ext+".part") {
			np, rerr := Recover(p)
			if rerr != nil {
				errs = append(errs, rerr) // one bad file does not stop the others
				return nil
			}
			out = append(out, np)
		}
		return nil
	})
	return out, errors.Join(append(errs, err)...)
}

var _ io.WriteCloser = (*Writer)(nil)
