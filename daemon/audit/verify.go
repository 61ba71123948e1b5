package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// maxLine bounds one entry's line.
const maxLine = 1 << 20

// Report is the result of a verification.
type Report struct {
	Entries  int    `json:"entries"`
	LastSeq  uint64 `json:"last_seq"`
	LastHash string `json:"last_hash"`
	MACs     bool   `json:"macs_checked"` // false when verified without the key
	Head     bool   `json:"head_checked"` // the head file was present and checked
}

// Verify reads a log and checks the whole chain. key may be nil, in which
// case MACs are not checked (Report.MACs false). It returns a *TamperError
// (errors.Is ErrTampered) naming the first bad entry, or an I/O error.
// Entries before the bad one are counted in the report.
func Verify(r io.Reader, key []byte) (Report, error) {
	rep := Report{LastHash: ZeroHash, MACs: key != nil}
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		raw, err := readLine(br)
		if err == io.EOF {
			return rep, nil
		}
		if errors.Is(err, errPartial) {
			return rep, &TamperError{Line: line, Problem: "last line is incomplete (no newline): a crash during a write, or a cut file"}
		}
		if errors.Is(err, errLong) {
			return rep, &TamperError{Line: line, Problem: fmt.Sprintf("line is longer than %d bytes", maxLine)}
		}
		if err != nil {
			return rep, err
		}
		e, perr := checkEntry(raw, rep.LastSeq+1, rep.LastHash, key)
		if perr != nil {
			perr.Line = line
			return rep, perr
		}
		rep.Entries++
		rep.LastSeq, rep.LastHash = e.Seq, e.Hash
	}
}

var (
	errPartial = errors.New("partial line")
	errLong    = errors.New("line too long")
)

// readLine returns one line without "\n"; errPartial when the input ends
// without one.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > maxLine {
			return nil, errLong
		}
		switch {
		case err == nil:
			return out[:len(out)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(out) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return out, errPartial
		default:
			return nil, err
		}
	}
}

// ParseEntry decodes one line strictly: it must be the canonical encoding
// of an Entry.
func ParseEntry(raw []byte) (Entry, error) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("not a valid entry: %v", err)
	}
	if dec.More() {
		return Entry{}, errors.New("not a valid entry: trailing data")
	}
	canon, err := e.canonical()
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(canon, raw) {
		return e, errors.New("entry is not in canonical form (bytes were edited)")
	}
	return e, nil
}

// checkEntry checks one line against the chain so far.
func checkEntry(raw []byte, wantSeq uint64, prev string, key []byte) (Entry, *TamperError) {
	e, err := ParseEntry(raw)
	if err != nil {
		return e, &TamperError{Seq: e.Seq, Problem: err.Error()}
	}
	if e.Seq != wantSeq {
		return e, &TamperError{Seq: e.Seq, Problem: fmt.Sprintf("sequence number is %d, expected %d (an entry was deleted, inserted or moved)", e.Seq, wantSeq)}
	}
	if e.Prev != prev {
		return e, &TamperError{Seq: e.Seq, Problem: "prev does not match the previous entry's hash (an entry before it was changed, deleted or moved)"}
	}
	gotHash, gotMAC := e.Hash, e.MAC
	c := e
	c.Hash, c.MAC = "", ""
	body, _ := c.canonical()
	sum := sha256.Sum256(body)
	if want := hex.EncodeToString(sum[:]); want != gotHash {
		return e, &TamperError{Seq: e.Seq, Problem: "hash does not match the entry's content (the entry was edited)"}
	}
	if key != nil {
		if gotMAC == "" {
			return e, &TamperError{Seq: e.Seq, Problem: "entry has no MAC"}
		}
		if !hmac.Equal([]byte(mac(key, gotHash)), []byte(gotMAC)) {
			return e, &TamperError{Seq: e.Seq, Problem: "MAC does not match (the entry was rewritten without the box's audit key)"}
		}
	}
	return e, nil
}

// Head is the last entry's position, kept next to the log to detect
// entries cut off its end.
type Head struct {
	Seq  uint64
	Hash string
	MAC  string
}

func (h Head) String() string { return fmt.Sprintf("%d %s %s\n", h.Seq, h.Hash, h.MAC) }

func parseHead(data []byte) (Head, error) {
	f := strings.Fields(string(data))
	if len(f) < 2 || len(f) > 3 {
		return Head{}, errors.New("head file is malformed")
	}
	seq, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return Head{}, errors.New("head file is malformed")
	}
	h := Head{Seq: seq, Hash: f[1]}
	if len(f) == 3 {
		h.MAC = f[2]
	}
	return h, nil
}

func headMAC(key []byte, seq uint64, hash string) string {
	return mac(key, "head "+strconv.FormatUint(seq, 10)+" "+hash)
}

// VerifyFile verifies the log at path and, when path+".head" exists, that
// no entries were cut off the end. key may be nil.
func VerifyFile(path string, key []byte) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{}, err
	}
	defer f.Close()
	rep, err := Verify(f, key)
	if err != nil {
		return rep, err
	}
	data, err := os.ReadFile(path + ".head")
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	rep.Head = true
	h, err := parseHead(data)
	if err != nil {
		return rep, &TamperError{Line: rep.Entries, Seq: rep.LastSeq, Problem: err.Error()}
	}
	if key != nil && !hmac.Equal([]byte(h.MAC), []byte(headMAC(key, h.Seq, h.Hash))) {
		return rep, &TamperError{Line: rep.Entries, Seq: rep.LastSeq, Problem: "head file MAC does not match"}
	}
	switch {
	case h.Seq > rep.LastSeq:
		return rep, &TamperError{Line: rep.Entries + 1, Seq: rep.LastSeq + 1, Problem: fmt.Sprintf("entries %d-%d were cut off the end of the log", rep.LastSeq+1, h.Seq)}
	case h.Seq == rep.LastSeq && h.Hash != rep.LastHash:
		return rep, &TamperError{Line: rep.Entries, Seq: rep.LastSeq, Problem: "last entry differs from the one recorded in the head file"}
	}
	// h.Seq < LastSeq: a crash between appending and writing the head; the
	// chain itself is intact.
	return rep, nil
}
