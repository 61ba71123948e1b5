package recstore

import (
	"bufio"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reader decrypts a recording, authenticating every chunk before any of
// its bytes are returned. At the end it returns io.EOF only if the final
// chunk was seen; a file cut short returns ErrTruncated after its last
// whole chunk, and a modified one ErrCorrupt.
type Reader struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	hdr   []byte
	index uint64
	plain []byte // decrypted, not yet returned
	ct    []byte
	aad   []byte
	nonce [12]byte
	done  bool  // final chunk read
	err   error // sticky
	total int64 // plaintext returned so far
}

// NewReader reads the header from r and unwraps the file key.
func NewReader(r io.Reader, kr *Keyring) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr := make([]byte, headerSize)
	if n, err := io.ReadFull(br, hdr); err != nil {
		if n >= 5 && string(hdr[:5]) == "CBREC" {
			return nil, fmt.Errorf("%w: header cut short", ErrTruncated)
		}
		return nil, ErrNotRecording
	}
	fileKey, err := openHeader(hdr, kr)
	if err != nil {
		return nil, err
	}
	aead, err := newGCM(fileKey)
	if err != nil {
		return nil, err
	}
	return &Reader{r: br, aead: aead, hdr: hdr}, nil
}

// Read returns authenticated plaintext.
func (rd *Reader) Read(p []byte) (int, error) {
	for len(rd.plain) == 0 {
		if rd.err != nil {
			return 0, rd.err
		}
		rd.err = rd.next()
	}
	n := copy(p, rd.plain)
	rd.plain = rd.plain[n:]
	rd.total += int64(n)
	return n, nil
}

// next reads, authenticates and decrypts one chunk into plain; it
// returns the error that ends the stream once the stream is over.
func (rd *Reader) next() error {
	var lb [4]byte
	if rd.done {
		if _, err := rd.r.Read(lb[:1]); err != io.EOF {
			return fmt.Errorf("%w: data after the final chunk", ErrCorrupt)
		}
		return io.EOF
	}
	if _, err := io.ReadFull(rd.r, lb[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w after %d bytes of audio (chunk %d missing)", ErrTruncated, rd.total, rd.index)
		}
		return err
	}
	l := binary.BigEndian.Uint32(lb[:])
	final := l&finalFlag != 0
	l &^= finalFlag
	if l < tagSize || l > maxChunk+tagSize {
		return fmt.Errorf("%w: chunk %d has impossible length %d", ErrCorrupt, rd.index, l)
	}
	if cap(rd.ct) < int(l) {
		rd.ct = make([]byte, l)
	}
	rd.ct = rd.ct[:l]
	if _, err := io.ReadFull(rd.r, rd.ct); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w after %d bytes of audio (chunk %d cut short)", ErrTruncated, rd.total, rd.index)
		}
		return err
	}
	chunkNonce(&rd.nonce, rd.index)
	rd.aad = chunkAAD(rd.aad, rd.hdr, rd.index, final)
	pt, err := rd.aead.Open(rd.ct[:0], rd.nonce[:], rd.ct, rd.aad)
	if err != nil {
		return fmt.Errorf("%w: chunk %d", ErrCorrupt, rd.index)
	}
	rd.index++
	rd.plain = pt
	rd.done = final
	if len(pt) == 0 {
		return rd.next()
	}
	return nil
}

// Info describes a recording file.
type Info struct {
	Chunks   int   `json:"chunks"`
	Bytes    int64 `json:"bytes"`    // plaintext bytes that authenticate
	Complete bool  `json:"complete"` // the final chunk is present
}

// Open opens a recording file for reading.
func Open(path string, kr *Keyring) (*Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r, err := NewReader(f, kr)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, f, nil
}

// VerifyFile decrypts and authenticates the whole file without keeping
// the plaintext. A truncated file returns its Info (Complete false) and
// ErrTruncated.
func VerifyFile(path string, kr *Keyring) (Info, error) {
	r, c, err := Open(path, kr)
	if err != nil {
		return Info{}, err
	}
	defer c.Close()
	n, err := io.Copy(io.Discard, r)
	info := Info{Chunks: int(r.index), Bytes: n, Complete: r.done}
	return info, err
}

// Check walks the chunk lengths without decrypting (cheap: no key
// needed) and reports whether the file ends with its final chunk. It
// returns ErrTruncated for a file cut short and ErrNotRecording or
// ErrCorrupt for one that is structurally wrong.
func Check(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(br, hdr); err != nil || [8]byte(hdr[0:8]) != magic {
		if err != nil && len(hdr) >= 5 && string(hdr[:5]) == "CBREC" {
			return Info{}, fmt.Errorf("%w: header cut short", ErrTruncated)
		}
		return Info{}, ErrNotRecording
	}
	var info Info
	for {
		var lb [4]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return info, ErrTruncated
			}
			return info, err
		}
		l := binary.BigEndian.Uint32(lb[:])
		final := l&finalFlag != 0
		l &^= finalFlag
		if l < tagSize || l > maxChunk+tagSize {
			return info, fmt.Errorf("%w: chunk %d has impossible length %d", ErrCorrupt, info.Chunks, l)
		}
		if _, err := br.Discard(int(l)); err != nil {
			return info, ErrTruncated
		}
		info.Chunks++
		info.Bytes += int64(l - tagSize)
		if final {
			if _, err := br.ReadByte(); err != io.EOF {
				return info, fmt.Errorf("%w: data after the final chunk", ErrCorrupt)
			}
			info.Complete = true
			return info, nil
		}
	}
}
