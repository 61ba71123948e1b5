package recstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrNotRecording: the file does not start with the .cbrec magic.
	ErrNotRecording = errors.New("recstore: not an encrypted recording")
	// ErrWrongKey: no key in the keyring opens the file's key.
	ErrWrongKey = errors.New("recstore: recording was encrypted under a box key this box does not hold")
	// ErrCorrupt: authentication failed — the file was changed or damaged.
	ErrCorrupt = errors.New("recstore: recording failed authentication (modified or damaged)")
	// ErrTruncated: the file ends before its final chunk (a crash while
	// recording); the audio before that point is intact.
	ErrTruncated = errors.New("recstore: recording is truncated")
	// ErrKey: the key files could not be read or created.
	ErrKey = errors.New("recstore: box key")
	// ErrClosed: Write after Close.
	ErrClosed = errors.New("recstore: writer closed")
)

// Format constants.
const (
	// ChunkSize is the plaintext per sealed chunk: about one second of
	// 8 kHz 16-bit stereo.
	ChunkSize  = 32 << 10
	maxChunk   = 1 << 20 // largest plaintext a reader accepts per chunk
	headerSize = 76
	tagSize    = 16
	finalFlag  = 1 << 31
	// Ext is the file extension of encrypted recordings.
	Ext = ".cbrec"
)

var magic = [8]byte{'C', 'B', 'R', 'E', 'C', 0, 1, 0}

// newHeader makes a file key and the header that carries it wrapped.
func newHeader(kr *Keyring) (hdr [headerSize]byte, fileKey []byte, err error) {
	fileKey = make([]byte, KeySize)
	if _, err = rand.Read(fileKey); err != nil {
		return hdr, nil, err
	}
	copy(hdr[0:8], magic[:])
	copy(hdr[8:16], kr.current[:])
	nonce := hdr[16:28]
	if _, err = rand.Read(nonce); err != nil {
		return hdr, nil, err
	}
	aead, err := newGCM(kr.keys[kr.current])
	if err != nil {
		return hdr, nil, err
	}
	sealed := aead.Seal(nil, nonce, fileKey, hdr[0:16])
	copy(hdr[28:76], sealed)
	return hdr, fileKey, nil
}

// openHeader unwraps the file key.
func openHeader(hdr []byte, kr *Keyring) ([]byte, error) {
	if len(hdr) < headerSize || [8]byte(hdr[0:8]) != magic {
		if len(hdr) >= 6 && string(hdr[0:5]) == "CBREC" {
			return nil, fmt.Errorf("%w: unsupported version %d", ErrNotRecording, hdr[6])
		}
		return nil, ErrNotRecording
	}
	boxKey, ok := kr.keys[[8]byte(hdr[8:16])]
	if !ok {
		return nil, fmt.Errorf("%w (key id %x)", ErrWrongKey, hdr[8:16])
	}
	aead, err := newGCM(boxKey)
	if err != nil {
		return nil, err
	}
	fileKey, err := aead.Open(nil, hdr[16:28], hdr[28:76], hdr[0:16])
	if err != nil {
		return nil, fmt.Errorf("%w: the file key does not unwrap", ErrCorrupt)
	}
	return fileKey, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// chunkNonce and chunkAAD bind a chunk to its file, index and finality.
func chunkNonce(dst *[12]byte, i uint64) {
	binary.BigEndian.PutUint64(dst[0:8], i)
	dst[8], dst[9], dst[10], dst[11] = 0, 0, 0, 0
}

func chunkAAD(dst []byte, hdr []byte, i uint64, final bool) []byte {
	dst = append(dst[:0], hdr...)
	dst = binary.BigEndian.AppendUint64(dst, i)
	if final {
		return append(dst, 1)
	}
	return append(dst, 0)
}
