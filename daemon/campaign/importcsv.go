package campaign

// This file holds the streamed CSV contact import: encoding detection
// (UTF-8 with or without BOM, else GBK), header mapping, a validation
// report per row, and the staged, atomic commit through cluster commands.
//
// Atomicity: valid rows are staged with ImportChunk (invisible) while the
// file streams in, and made visible with CommitImport only after the whole
// file was read. One CommitImport holds at most cluster.MaxImportContacts
// contacts (it is one state transaction), so a larger file is committed as
// several imports "<id>-p0", "<id>-p1", ... one after another. A crash
// before the first commit leaves nothing visible (the staged chunks are
// aborted when the daemon starts again); a crash between two commits leaves
// the earlier parts visible. Contact IDs are derived from the number, so
// uploading the same file again in valid-rows mode imports exactly the
// missing rows and reports the others as duplicates in the campaign.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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

// Store is what an import needs from the cluster (a *cluster.Node).
type Store interface {
	Apply(ctx context.Context, cmd cluster.Command) (any, error)
	Contact(campaignID, id string) (cluster.Contact, bool, error)
	IsDNC(phone, campaignID string) (bool, error)
}

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
	im := &importer{ctx: ctx, st: st, opt: opt, seen: map[string]int{}}
	im.rep.Mode = opt.Mode
	im.rep.Problems = []Problem{}
	err := im.run(r)
	if err == nil && opt.Mode == ModeRejectAll && im.rep.Invalid > 0 {
		im.rep.Rejected = true
		err = fmt.Errorf("%w: %d of %d rows are invalid (first: line %d, %s)", ErrRejected, im.rep.Invalid, im.rep.Rows,
			im.rep.Problems[0].Line, im.rep.Problems[0].Reason)
	}
	if err == nil && im.rep.Valid == 0 {
		err = nil // nothing to commit; not an error in valid-rows mode
	}
	if err != nil {
		im.abortAll()
		im.rep.Imported = 0
		im.rep.Imports = nil
		return im.rep, err
	}
	if err := im.commitAll(); err != nil {
		return im.rep, err
	}
	return im.rep, nil
}

type importer struct {
	ctx  context.Context
	st   Store
	opt  ImportOptions
	rep  ImportReport
	seen map[string]int // E.164 -> first line

	parts   []stagedPart
	chunk   []cluster.Contact
	partN   int // contacts staged in the current part
	partSeq int // chunks staged in the current part
}

type stagedPart struct {
	id     string
	chunks int
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

func (im *importer) problem(line int, col, reason, detail string) {
	im.rep.Invalid++
	if len(im.rep.Problems) < im.opt.MaxProblems {
		im.rep.Problems = append(im.rep.Problems, Problem{Line: line, Column: col, Reason: reason, Detail: detail})
	} else {
		im.rep.Truncated = true
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
	if _, exists, err := im.st.Contact(im.opt.CampaignID, ct.ID); err != nil {
		return err
	} else if exists {
		im.problem(line, c.names[c.phone], ReasonDupCampaign, "the number is already in the campaign")
		return nil
	}
	if dnc, err := im.st.IsDNC(phone, im.opt.CampaignID); err != nil {
		return err
	} else if dnc {
		im.problem(line, c.names[c.phone], ReasonDNC, "the number is on the do-not-call list")
		return nil
	}
	im.rep.Valid++
	if im.opt.Mode == ModeRejectAll && im.rep.Invalid > 0 {
		return nil // the file is rejected anyway: stop staging
	}
	im.chunk = append(im.chunk, ct)
	return im.flush(false)
}

// flush stages the pending chunk when full (or at the end).
func (im *importer) flush(final bool) error {
	if len(im.chunk) == 0 || (!final && len(im.chunk) < cluster.MaxChunkContacts) {
		return nil
	}
	if len(im.parts) == 0 || im.partN+len(im.chunk) > cluster.MaxImportContacts {
		im.parts = append(im.parts, stagedPart{id: fmt.Sprintf("%s-p%d", im.opt.ImportID, len(im.parts))})
		im.partN, im.partSeq = 0, 0
	}
	p := &im.parts[len(im.parts)-1]
	_, err := im.st.Apply(im.ctx, cluster.ImportChunk{ImportID: p.id, CampaignID: im.opt.CampaignID, Seq: im.partSeq, Contacts: im.chunk})
	if err != nil {
		return fmt.Errorf("stage import %s chunk %d: %w", p.id, im.partSeq, err)
	}
	im.partSeq++
	p.chunks = im.partSeq
	im.partN += len(im.chunk)
	im.chunk = make([]cluster.Contact, 0, cluster.MaxChunkContacts)
	return nil
}

func (im *importer) commitAll() error {
	at := im.opt.At
	for _, p := range im.parts {
		res, err := im.st.Apply(context.WithoutCancel(im.ctx), cluster.CommitImport{ImportID: p.id, Chunks: p.chunks, At: at})
		if err != nil {
			return fmt.Errorf("commit import %s (%d imported before it): %w", p.id, im.rep.Imported, err)
		}
		if n, ok := res.(int); ok {
			im.rep.Imported += n
		}
		im.rep.Imports = append(im.rep.Imports, p.id)
	}
	return nil
}

func (im *importer) abortAll() {
	for _, p := range im.parts {
		_, _ = im.st.Apply(context.WithoutCancel(im.ctx), cluster.AbortImport{ImportID: p.id})
	}
}
