// Package audit owns callboxd's tamper-evident audit log: one JSON object
// per line, appended and fsynced for every change made through the API and
// every access to a recording or transcript, each entry chained to the one
// before it by SHA-256 and sealed with an HMAC under the box's audit key.
//
// # Format
//
// Each line is the canonical JSON encoding of an Entry (fields in struct
// order, no spaces) followed by "\n":
//
//	{"seq":1,"time":"2026-11-21T09:00:00.123Z","actor":"alice","role":"admin",...,"prev":"<hex>","hash":"<hex>","mac":"<hex>"}
//
// hash = SHA-256 of the line encoded with hash and mac empty; prev is the
// previous entry's hash (64 zeros for the first); seq counts from 1 with no
// gaps; mac = HMAC-SHA256(audit key, hash). Verify recomputes all of it, so
// editing any byte, deleting an entry, inserting one or swapping two is
// reported at the first entry that no longer fits. Rewriting the whole
// tail with recomputed hashes is caught by the MAC when the key is at hand
// (the key never leaves <data_dir>/keys/audit.key), and cutting entries
// off the end is caught by the head file (<log>.head: the last seq and
// hash, also MAC'd) written after every append.
package audit
