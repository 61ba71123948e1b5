package campaign

// This file holds the streamed CSV contact import: encoding detection
// (UTF-8 with or without BOM, else GBK), header mapping, a validation
// report per row, and the staged, atomic commit through cluster commands.
//
// Atomicity: one file is one import, whatever its size. Valid rows are
// staged with StageContacts (invisible; up to three chunks in flight so
// parsing, raft and the state machine overlap) while the file streams in,
// and made visible with one small CommitImport only after the whole file
// was read and every chunk answered. The duplicate-in-campaign and DNC
// checks run inside the state machine, per chunk, and come back as row
// problems. A crash before the commit leaves nothing visible (the staged
// import is aborted when the daemon starts again); the commit is a single
// state transaction. Contact IDs are derived from the number, so uploading
// the same file again in valid-rows mode imports exactly the missing rows
// and reports the others as duplicates in the campaign.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"callbox/cluster"
)

// Import modes.
const (
	ModeRejectAll = "reject-all" // any invalid row rejects the whole file
	ModeValidRows = "valid-rows" // import the valid rows, report the rest
)

// Import limits (defaults of ImportOptions).
const (
	DefaultMaxRows     = 1_000_000
	DefaultMaxProblems = 1000
	MaxLineBytes       = 1 << 20 // one physical line
	MaxFieldBytes      = 4 << 10 // one field
	MaxColumns         = cluster.MaxMapEntries + 4
)

// Row problem reasons.
const (
	ReasonBadNumber    = "bad number"
	ReasonDupFile      = "duplicate in file"
	ReasonDupCampaign  = "duplicate in campaign"
	ReasonDNC          = "on DNC list"
	ReasonMissingField = "missing field"
	ReasonBadValue     = "bad value"
	ReasonBadTimezone  = "bad time zone"
	ReasonFieldCount   = "wrong number of fields"
	ReasonTooLong      = "field too long"
)

// Store is what an import needs from the cluster (a *cluster.Node). Apply
// must be safe for concurrent use: chunks are staged in parallel.
type Store interface {
	Apply(ctx context.Context, cmd cluster.Command) (any, error)
}

// stageWindow is how many StageContacts may be in flight at once: enough
// for raft to batch entries and the FSM to apply while the next chunk is
// parsed, few enough that a batch fits one state transaction.
const stageWindow = 3

// stageChunkBytes bounds the text of one chunk's contacts, so a wide sheet
// (many or long profile columns) is sent in smaller chunks that still fit
// one raft entry (cluster.MaxCommandSize) and one state transaction.
const stageChunkBytes = 1 << 20

// ImportOptions configure Import.
type ImportOptions struct {
	CampaignID string
	ImportID   string // base of the import IDs; required
	Region     string // default region for national numbers ("CN")
	Mode       string // ModeRejectAll (default) or ModeValidRows
	Encoding   string // "", "auto", "utf-8" or "gbk"
	At         time.Time
	MaxRows    int // default DefaultMaxRows
	// MaxProblems bounds the problems listed in the report (all are counted).
	MaxProblems int
}

// Problem is one invalid row.
type Problem struct {
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// ImportReport is the outcome of an import.
type ImportReport struct {
	Encoding  string    `json:"encoding"`
	Mode      string    `json:"mode"`
	Rows      int       `json:"rows"`
	Valid     int       `json:"valid"`
	Invalid   int       `json:"invalid"`
	Imported  int       `json:"imported"`
	Rejected  bool      `json:"rejected"`
	Imports   []string  `json:"imports,omitempty"`
	Problems  []Problem `json:"problems"`
	Truncated bool      `json:"problems_truncated,omitempty"`
	Columns   []string  `json:"columns"`
}

var headerAliases = map[string]string{
	"phone": "phone", "mobile": "phone", "number": "phone", "tel": "phone", "telephone": "phone",
	"phone_number": "phone", "电话": "phone", "手机": "phone", "手机号": "phone", "手机号码": "phone", "号码": "phone", "电话号码": "phone",
	"name": "name", "姓名": "name", "名字": "name", "客户姓名": "name",
	"timezone": "timezone", "tz": "timezone", "time_zone": "timezone", "时区": "timezone",
	"value": "value", "score": "value", "value_score": "value", "价值": "value", "评分": "value",
}

// Import reads a CSV contact file from r and stages, then commits, its
// valid rows into opt.CampaignID. File-level problems (encoding, header,
// quoting, sizes) return an error wrapping ErrBadCSV and import nothing;
// row problems are listed in the report. In reject-all mode any row problem
// returns ErrRejected with the report and imports nothing.
func Import(ctx context.Context, r io.Reader, st Store, opt ImportOptions) (ImportReport, error) {
	if opt.Mode == "" {
		opt.Mode = ModeRejectAll
	}
	if opt.Mode != ModeRejectAll && opt.Mode != ModeValidRows {
		return ImportReport{}, fmt.Errorf("%w: mode %q: want %s or %s", ErrBadCSV, opt.Mode, ModeRejectAll, ModeValidRows)
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = DefaultMaxRows
	}
	if opt.MaxProblems <= 0 {
		opt.MaxProblems = DefaultMaxProblems
	}
	if opt.ImportID == "" || opt.CampaignID == "" {
		return ImportReport{}, fmt.Errorf("%w: campaign and import ID are required", ErrBadCSV)
	}
	im := &importer{ctx: ctx, st: st, opt: opt, seen: map[string]int{}, sem: make(chan struct{}, stageWindow)}
	im.rep.Mode = opt.Mode
	im.rep.Problems = []Problem{}
	err := im.run(r)
	if werr := im.wait(); err == nil {
		err = werr
	}
	im.sortProblems()
	if err == nil && opt.Mode == ModeRejectAll && im.rep.Invalid > 0 {
		im.rep.Rejected = true
		err = fmt.Errorf("%w: %d of %d rows are invalid (first: line %d, %s)", ErrRejected, im.rep.Invalid, im.rep.Rows,
			im.rep.Problems[0].Line, im.rep.Problems[0].Reason)
	}
	if err != nil {
		im.abort()
		im.rep.Imported = 0
		im.rep.Imports = nil
		return im.rep, err
	}
	if err := im.commit(); err != nil {
		// CommitImport is idempotent: when its outcome is unknown (a lost
		// leader, a cancelled wait) asking again tells. If it still fails,
		// abort — a no-op if the commit did go through.
		if err = im.commit(); err != nil {
			im.abort()
			im.rep.Imported, im.rep.Imports = 0, nil
			return im.rep, err
		}
	}
	return im.rep, nil
}

type importer struct {
	ctx  context.Context
	st   Store
	opt  ImportOptions
	rep  ImportReport
	seen map[string]int // E.164 -> first line

	chunk      []cluster.Contact
	chunkBytes int   // text in chunk
	lines      []int // file line of each contact in chunk
	seq        int   // chunks sent
	phoneName  string

	sem chan struct{} // stageWindow slots
	wg  sync.WaitGroup
	mu  sync.Mutex
	out []stageOutcome // guarded by mu
	err error          // first staging failure; guarded by mu
}

// stageOutcome is one answered chunk.
type stageOutcome struct {
	lines []int
	res   cluster.StageResult
}

// lineGuard fails a read once a physical line exceeds MaxLineBytes, so a
// 10 MB field is refused without being buffered, and counts lines.
type lineGuard struct {
	r       io.Reader
	lineLen int
	lines   int
}

var errLineTooLong = errors.New("line too long")

func (g *lineGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] == '\n' {
			g.lines++
			g.lineLen = 0
			continue
		}
		g.lineLen++
		if g.lineLen > MaxLineBytes {
			return i, errLineTooLong
		}
	}
	return n, err
}

// detect chooses the decoder from the first bytes.
func (im *importer) decoder(br *bufio.Reader) (io.Reader, error) {
	head, _ := br.Peek(64 << 10)
	enc := strings.ToLower(strings.ReplaceAll(im.opt.Encoding, "-", ""))
	switch enc {
	case "", "auto":
		switch {
		case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
			enc = "utf8"
		case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
			return nil, fmt.Errorf("%w: the file is UTF-16; save it as UTF-8 or GBK CSV", ErrBadCSV)
		case validUTF8Prefix(head):
			enc = "utf8"
		default:
			enc = "gbk"
		}
	case "utf8", "gbk":
	case "gb2312", "gb18030":
		enc = "gbk"
	default:
		return nil, fmt.Errorf("%w: encoding %q: want utf-8 or gbk", ErrBadCSV, im.opt.Encoding)
	}
	if enc == "utf8" {
		im.rep.Encoding = "utf-8"
		if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
			_, _ = br.Discard(3)
		}
		return br, nil
	}
	im.rep.Encoding = "gbk"
	// GB18030 decodes every GBK byte sequence and more; invalid bytes
	// become U+FFFD, which the row checks refuse.
	return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), nil
}

// validUTF8Prefix is utf8.Valid allowing one cut rune at the end.
func validUTF8Prefix(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for i := 0; i < 3 && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

func (im *importer) run(r io.Reader) error {
	guard := &lineGuard{r: r}
	br := bufio.NewReaderSize(guard, 64<<10)
	dec, err := im.decoder(br)
	if err != nil {
		return err
	}
	cr := csv.NewReader(dec)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return im.readErr(err, guard)
	}
	cols, err := im.mapHeader(header)
	if err != nil {
		return err
	}
	im.phoneName = cols.names[cols.phone]
	for {
		if err := im.ctx.Err(); err != nil {
			return err
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return im.readErr(err, guard)
		}
		line, _ := cr.FieldPos(0)
		im.rep.Rows++
		if im.rep.Rows > im.opt.MaxRows {
			return fmt.Errorf("%w: more than %d rows; split the file", ErrBadCSV, im.opt.MaxRows)
		}
		if err := im.row(line, rec, cols); err != nil {
			return err
		}
	}
	if im.rep.Rows == 0 {
		return fmt.Errorf("%w: the file has a header but no rows", ErrBadCSV)
	}
	return im.flush(true)
}

func (im *importer) readErr(err error, g *lineGuard) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, errLineTooLong):
		return fmt.Errorf("%w: line %d is longer than %d bytes (a field holds a whole file?)", ErrBadCSV, g.lines+1, MaxLineBytes)
	case errors.As(err, &pe):
		return fmt.Errorf("%w: line %d column %d: %v (check the quotes)", ErrBadCSV, pe.Line, pe.Column, pe.Err)
	case err == io.EOF:
		return fmt.Errorf("%w: the file is empty (want a header row with a phone column)", ErrBadCSV)
	}
	return fmt.Errorf("%w: %v", ErrBadCSV, err)
}

type columns struct {
	names                  []string
	phone, name, tz, value int
	profile                []int
}

func (im *importer) mapHeader(h []string) (columns, error) {
	c := columns{phone: -1, name: -1, tz: -1, value: -1}
	if len(h) > MaxColumns {
		return c, fmt.Errorf("%w: header has %d columns, limit %d", ErrBadCSV, len(h), MaxColumns)
	}
	seen := map[string]bool{}
	for i, raw := range h {
		name := strings.TrimSpace(raw)
		if !utf8.ValidString(name) || strings.ContainsRune(name, utf8.RuneError) {
			return c, fmt.Errorf("%w: header column %d is not valid %s text; pass encoding=utf-8 or encoding=gbk", ErrBadCSV, i+1, im.rep.Encoding)
		}
		c.names = append(c.names, name)
		if name == "" {
			return c, fmt.Errorf("%w: header column %d is empty", ErrBadCSV, i+1)
		}
		if seen[strings.ToLower(name)] {
			return c, fmt.Errorf("%w: header column %q appears twice", ErrBadCSV, name)
		}
		seen[strings.ToLower(name)] = true
		switch headerAliases[strings.ToLower(name)] {
		case "phone":
			if c.phone < 0 {
				c.phone = i
				continue
			}
		case "name":
			if c.name < 0 {
				c.name = i
				continue
			}
		case "timezone":
			if c.tz < 0 {
				c.tz = i
				continue
			}
		case "value":
			if c.value < 0 {
				c.value = i
				continue
			}
		}
		c.profile = append(c.profile, i)
	}
	im.rep.Columns = c.names
	if c.phone < 0 {
		hint := ""
		if len(h) > 0 {
			if _, err := NormalizePhone(h[0], im.opt.Region); err == nil {
				hint = " (the first row looks like data: add a header row)"
			}
		}
		return c, fmt.Errorf("%w: header has no phone column (want phone, mobile, number, tel, 电话, 手机 or 号码)%s", ErrBadCSV, hint)
	}
	if len(c.profile) > cluster.MaxMapEntries {
		return c, fmt.Errorf("%w: %d profile columns, limit %d", ErrBadCSV, len(c.profile), cluster.MaxMapEntries)
	}
	return c, nil
}

// problem counts an invalid row and lists it. The list keeps the
// MaxProblems lowest lines (rejections from staging arrive late).
func (im *importer) problem(line int, col, reason, detail string) {
	im.rep.Invalid++
	im.rep.Problems = append(im.rep.Problems, Problem{Line: line, Column: col, Reason: reason, Detail: detail})
	if len(im.rep.Problems) >= 2*im.opt.MaxProblems {
		im.sortProblems()
	}
}

func (im *importer) row(line int, rec []string, c columns) error {
	if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
		im.rep.Rows-- // blank line
		return nil
	}
	if len(rec) != len(c.names) {
		im.problem(line, "", ReasonFieldCount, fmt.Sprintf("%d fields, header has %d", len(rec), len(c.names)))
		return nil
	}
	for i, f := range rec {
		if len(f) > MaxFieldBytes {
			im.problem(line, c.names[i], ReasonTooLong, fmt.Sprintf("%d bytes, limit %d", len(f), MaxFieldBytes))
			return nil
		}
		if !utf8.ValidString(f) || strings.ContainsRune(f, utf8.RuneError) {
			return fmt.Errorf("%w: line %d column %q is not valid %s text; pass encoding=utf-8 or encoding=gbk", ErrBadCSV, line, c.names[i], im.rep.Encoding)
		}
	}
	raw := strings.TrimSpace(rec[c.phone])
	if raw == "" {
		im.problem(line, c.names[c.phone], ReasonMissingField, "phone is empty")
		return nil
	}
	phone, err := NormalizePhone(raw, im.opt.Region)
	if err != nil {
		im.problem(line, c.names[c.phone], ReasonBadNumber, strings.TrimPrefix(err.Error(), ErrBadNumber.Error()+": "))
		return nil
	}
	if first, dup := im.seen[phone]; dup {
		im.problem(line, c.names[c.phone], ReasonDupFile, fmt.Sprintf("same number as line %d", first))
		return nil
	}
	im.seen[phone] = line
	ct := cluster.Contact{ID: ContactID(phone), Phone: phone}
	if c.name >= 0 {
		ct.Name = strings.TrimSpace(rec[c.name])
	}
	if c.value >= 0 {
		if s := strings.TrimSpace(rec[c.value]); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v != v || v > 1e12 || v < -1e12 {
				im.problem(line, c.names[c.value], ReasonBadValue, fmt.Sprintf("%q is not a number", s))
				return nil
			}
			ct.Value = v
		}
	}
	if c.tz >= 0 {
		if s := strings.TrimSpace(rec[c.tz]); s != "" {
			if _, err := LoadZone(s); err != nil || len(s) > 64 {
				im.problem(line, c.names[c.tz], ReasonBadTimezone, fmt.Sprintf("%q is not an IANA zone such as Asia/Shanghai", s))
				return nil
			}
			ct.Timezone = s
		}
	}
	if ct.Timezone == "" {
		if zs := ZonesForNumber(phone); len(zs) == 1 {
			ct.Timezone = zs[0]
		}
	}
	for _, i := range c.profile {
		if v := rec[i]; v != "" {
			if ct.Profile == nil {
				ct.Profile = map[string]string{}
			}
			ct.Profile[c.names[i]] = v
		}
	}
	im.rep.Valid++
	// In reject-all mode the rows are staged even once the file is known
	// to be rejected: the duplicate and DNC checks run in the state
	// machine, and the report lists every problem of the file.
	im.chunk = append(im.chunk, ct)
	im.lines = append(im.lines, line)
	im.chunkBytes += 32 + len(ct.ID) + len(ct.Phone) + len(ct.Name) + len(ct.Timezone)
	for k, v := range ct.Profile {
		im.chunkBytes += 8 + len(k) + len(v)
	}
	return im.flush(false)
}

// flush sends the pending chunk when full (or at the end) to be staged in
// the background, waiting while stageWindow chunks are in flight.
func (im *importer) flush(final bool) error {
	if len(im.chunk) == 0 || (!final && len(im.chunk) < cluster.MaxStageContacts && im.chunkBytes < stageChunkBytes) {
		return nil
	}
	if err := im.failed(); err != nil {
		return err
	}
	select {
	case im.sem <- struct{}{}:
	case <-im.ctx.Done():
		return im.ctx.Err()
	}
	cmd, err := cluster.NewStageContacts(im.opt.ImportID, im.opt.CampaignID, im.seq, im.chunk)
	if err != nil {
		<-im.sem
		return fmt.Errorf("stage import %s chunk %d: %w", im.opt.ImportID, im.seq, err)
	}
	lines := im.lines
	im.seq++
	im.chunk = im.chunk[:0] // encoded into cmd.Rows
	im.chunkBytes = 0
	im.lines = make([]int, 0, cluster.MaxStageContacts)
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		defer func() { <-im.sem }()
		res, err := im.st.Apply(im.ctx, cmd)
		var sr cluster.StageResult
		if err == nil {
			sr, err = stageResult(res)
		}
		im.mu.Lock()
		defer im.mu.Unlock()
		if err != nil {
			if im.err == nil {
				im.err = fmt.Errorf("stage import %s chunk %d: %w", cmd.ImportID, cmd.Seq, err)
			}
			return
		}
		im.out = append(im.out, stageOutcome{lines: lines, res: sr})
	}()
	return nil
}

// stageResult reads StageContacts' response (a StageResult, or its JSON
// when the command was forwarded to the leader).
func stageResult(res any) (cluster.StageResult, error) {
	switch v := res.(type) {
	case cluster.StageResult:
		return v, nil
	case json.RawMessage:
		var sr cluster.StageResult
		err := json.Unmarshal(v, &sr)
		return sr, err
	}
	return cluster.StageResult{}, fmt.Errorf("unexpected StageContacts response %T", res)
}

// failed returns the first staging failure so far, and turns rejections
// answered so far into row problems.
func (im *importer) failed() error {
	im.mu.Lock()
	out, err := im.out, im.err
	im.out = nil
	im.mu.Unlock()
	for _, o := range out {
		for _, rj := range o.res.Rejected {
			if rj.Index < 0 || rj.Index >= len(o.lines) {
				return fmt.Errorf("stage import %s chunk %d: rejection of row %d of %d", im.opt.ImportID, o.res.Seq, rj.Index, len(o.lines))
			}
			im.rep.Valid--
			switch rj.Reason {
			case cluster.RejectDNC:
				im.problem(o.lines[rj.Index], im.phoneName, ReasonDNC, "the number is on the do-not-call list")
			default:
				im.problem(o.lines[rj.Index], im.phoneName, ReasonDupCampaign, "the number is already in the campaign")
			}
		}
	}
	return err
}

// wait waits for the chunks in flight and collects their outcomes.
func (im *importer) wait() error {
	im.wg.Wait()
	return im.failed()
}

// sortProblems orders the listed problems by line (staging rejections
// arrive after later rows' parse problems) and keeps the first MaxProblems.
func (im *importer) sortProblems() {
	sort.SliceStable(im.rep.Problems, func(i, j int) bool { return im.rep.Problems[i].Line < im.rep.Problems[j].Line })
	if len(im.rep.Problems) > im.opt.MaxProblems {
		im.rep.Problems = im.rep.Problems[:im.opt.MaxProblems]
		im.rep.Truncated = true
	}
}

func (im *importer) commit() error {
	if im.seq == 0 {
		return nil // no valid rows: nothing staged
	}
	res, err := im.st.Apply(context.WithoutCancel(im.ctx), cluster.CommitImport{ImportID: im.opt.ImportID, Chunks: im.seq, At: im.opt.At})
	if err != nil {
		return fmt.Errorf("commit import %s (%d chunks): %w", im.opt.ImportID, im.seq, err)
	}
	if n, ok := res.(int); ok {
		im.rep.Imported = n
	}
	im.rep.Imports = []string{im.opt.ImportID}
	return nil
}

// abort removes a staged import, a bounded step per command.
func (im *importer) abort() {
	if im.seq == 0 {
		return
	}
	_ = AbortStaged(context.WithoutCancel(im.ctx), im.st, im.opt.ImportID)
}

// AbortStaged removes a staged, uncommitted import: AbortImport removes a
// bounded number of chunks per command and answers how many remain, so it
// is repeated until none do. Used by the importer on failure and by the
// dialler's start-up sweep for imports a crash left staged.
func AbortStaged(ctx context.Context, st Store, importID string) error {
	for i := 0; i <= cluster.MaxImportChunks/cluster.AbortStepChunks+1; i++ {
		res, err := st.Apply(ctx, cluster.AbortImport{ImportID: importID})
		if err != nil {
			return err
		}
		if n, ok := res.(int); !ok || n == 0 {
			return nil
		}
	}
	return fmt.Errorf("campaign: import %s: still staged after %d abort steps", importID, cluster.MaxImportChunks/cluster.AbortStepChunks+2)
}
