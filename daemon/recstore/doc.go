// Package recstore owns recordings at rest: every recording is encrypted
// with AES-256-GCM under its own random key, that key wrapped by the box
// key, in a chunked authenticated stream so a recording is written as the
// call goes and no plaintext audio ever reaches the disk.
//
// # File format (.cbrec)
//
//	header (76 bytes)
//	  magic "CBREC\x00", version 1, 0          8 bytes
//	  box key id (SHA-256 of the key, first 8)  8 bytes
//	  wrap nonce                                12 bytes
//	  file key sealed by the box key            48 bytes (AES-256-GCM, AAD = the first 16 header bytes)
//	chunks, each:
//	  length                                    4 bytes big-endian; top bit set on the final chunk
//	  ciphertext + tag                          length bytes (plaintext up to 1 MiB)
//
// Chunk i is sealed with the file key, nonce = i as 8 bytes big-endian
// followed by 4 zero bytes (the key is used for one file only), and AAD =
// the 76-byte header, i, and the final flag. Any flipped bit, swapped,
// dropped or repeated chunk, or changed header fails authentication
// (ErrCorrupt), and a file without its final chunk — a crash mid-call —
// reads as everything up to its last whole chunk followed by ErrTruncated.
// A writer seals a chunk every ChunkSize bytes (about a second of stereo
// 8 kHz audio), so a crash loses at most that much.
//
// # Keys and rotation
//
// The box key lives in <data_dir>/keys/box.key (64 hex digits, mode 0600),
// created at first start. To rotate: stop callboxd, rename box.key to
// box-<date>.key in the same directory, start callboxd. A new box.key is
// created and wraps every new recording; every box*.key file is loaded for
// reading, so old recordings stay readable as long as their key file is
// kept. Losing a key file loses the recordings it wrapped: back the keys
// directory up separately from the recordings.
package recstore
