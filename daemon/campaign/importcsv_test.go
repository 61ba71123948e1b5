package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"callbox/cluster"
)

func doImport(t testing.TB, st Store, body []byte, mode, enc string) (ImportReport, error) {
	t.Helper()
	return Import(context.Background(), bytes.NewReader(body), st, ImportOptions{CampaignID: "c1", ImportID: "imp",
		Region: "CN", Mode: mode, Encoding: enc, At: t0})
}

func TestImportUTF8AndGBKMapHeaders(t *testing.T) {
	csvText := "手机号,姓名,客户等级,value\n13800138000,张三,VIP,5\n+86 139 0013 9000,李四,普通,\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(csvText))
	if err != nil {
		t.Fatal(err)
	}
	bom := append([]byte{0xEF, 0xBB, 0xBF}, csvText...)
	for name, body := range map[string][]byte{"utf8": []byte(csvText), "bom": bom, "gbk": gbk} {
		st := newMemStore()
		rep, err := doImport(t, st, body, ModeRejectAll, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.Imported != 2 || rep.Valid != 2 || rep.Invalid != 0 {
			t.Fatalf("%s: report %+v", name, rep)
		}
		wantEnc := "utf-8"
		if name == "gbk" {
			wantEnc = "gbk"
		}
		if rep.Encoding != wantEnc {
			t.Errorf("%s: encoding %s", name, rep.Encoding)
		}
		chunk, err := st.cmds[0].(cluster.StageContacts).Contacts()
		if err != nil {
			t.Fatal(err)
		}
		c := chunk[0]
		if c.Phone != "+8613800138000" || c.Name != "张三" || c.Profile["客户等级"] != "VIP" || c.Value != 5 || c.Timezone != "Asia/Shanghai" {
			t.Fatalf("%s: contact %+v", name, c)
		}
	}
}

func TestImportReportsEveryRowProblem(t *testing.T) {
	body := "phone,name,timezone,value\n" +
		"13800138000,A,,\n" + // ok
		"12345,B,,\n" + // bad number
		"138 0013 8000,C,,\n" + // duplicate in file
		",D,,\n" + // missing
		"13900139000,E,Mars/Base,\n" + // bad tz
		"13700137000,F,,lots\n" + // bad value
		"13600136000,G\n" + // field count
		"13500135000,H,,\n" + // DNC
		"13400134000,I,,\n" // already in campaign
	st := newMemStore()
	st.dnc["+8613500135000"] = true
	st.existing[ContactID("+8613400134000")] = true
	rep, err := doImport(t, st, []byte(body), ModeRejectAll, "")
	if !errors.Is(err, ErrRejected) || rep.Imported != 0 || !rep.Rejected {
		t.Fatalf("reject-all: err %v rep %+v", err, rep)
	}
	if st.visible != 0 || len(st.staged) != 0 {
		t.Fatalf("reject-all left %d visible, %v staged", st.visible, st.staged)
	}
	want := []struct {
		line   int
		reason string
	}{{3, ReasonBadNumber}, {4, ReasonDupFile}, {5, ReasonMissingField}, {6, ReasonBadTimezone}, {7, ReasonBadValue},
		{8, ReasonFieldCount}, {9, ReasonDNC}, {10, ReasonDupCampaign}}
	if len(rep.Problems) != len(want) {
		t.Fatalf("problems %+v", rep.Problems)
	}
	for i, w := range want {
		if p := rep.Problems[i]; p.Line != w.line || p.Reason != w.reason {
			t.Errorf("problem %d = %+v, want line %d %s", i, p, w.line, w.reason)
		}
	}
	st2 := newMemStore()
	st2.dnc["+8613500135000"] = true
	st2.existing[ContactID("+8613400134000")] = true
	rep, err = doImport(t, st2, []byte(body), ModeValidRows, "")
	if err != nil || rep.Imported != 1 || rep.Invalid != 8 || st2.visible != 1 {
		t.Fatalf("valid-rows: err %v rep %+v visible %d", err, rep, st2.visible)
	}
}

func TestImportBadFilesFailClearly(t *testing.T) {
	gbk, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("电话,姓名\n13800138000,王五\n"))
	cases := []struct {
		name, enc, want string
		body            []byte
	}{
		{"gbk read as utf-8", "utf-8", "not valid utf-8", gbk},
		{"unknown encoding", "latin9", "encoding", []byte("phone\n13800138000\n")},
		{"utf-16", "", "UTF-16", []byte{0xFF, 0xFE, 'p', 0}},
		{"missing header", "", "add a header row", []byte("13800138000,A\n13900139000,B\n")},
		{"no phone column", "", "no phone column", []byte("name,city\nA,B\n")},
		{"empty", "", "empty", nil},
		{"header only", "", "no rows", []byte("phone\n")},
		{"broken quotes", "", "line 3", []byte("phone,name\n13800138000,\"A\n13900139000,B\"x\n")},
		{"bare quote", "", "quote", []byte("phone,name\n13800138000,A\"B\n")},
		{"10 MB field", "", "longer than", append([]byte("phone,name\n13800138000,"), bytes.Repeat([]byte("x"), 10<<20)...)},
	}
	for _, c := range cases {
		st := newMemStore()
		start := time.Now()
		_, err := doImport(t, st, c.body, ModeValidRows, c.enc)
		if !errors.Is(err, ErrBadCSV) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrBadCSV containing %q", c.name, err, c.want)
		}
		if st.visible != 0 || len(st.staged) != 0 {
			t.Errorf("%s: left %d visible, %v staged", c.name, st.visible, st.staged)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %s", c.name, d)
		}
	}
}

// csvGen streams n generated rows without holding the file in memory.
type csvGen struct {
	n, i int
	buf  []byte
}

func (g *csvGen) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i <= g.n {
		if g.i == 0 {
			g.buf = append(g.buf, "phone,name,segment\n"...)
		} else {
			g.buf = fmt.Appendf(g.buf, "1%02d%08d,Customer %d,s%d\n", 30+g.i%10, g.i, g.i, g.i%7)
		}
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func TestImportMillionRowsIsOneImport(t *testing.T) {
	rows := 200_000 // the full million runs with CALLBOX_SOAK=1 and in BenchmarkImportMillion
	if os.Getenv("CALLBOX_SOAK") == "1" {
		rows = 1_000_000
	}
	st := newMemStore()
	rep, err := Import(context.Background(), &csvGen{n: rows}, st, ImportOptions{CampaignID: "c1", ImportID: "big", Mode: ModeValidRows, At: t0})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != rows || rep.Imported+rep.Invalid != rows || len(rep.Imports) != 1 {
		t.Fatalf("rows %d imported %d invalid %d imports %d", rep.Rows, rep.Imported, rep.Invalid, len(rep.Imports))
	}
	// a row over the cap is refused, nothing committed
	st = newMemStore()
	_, err = Import(context.Background(), &csvGen{n: 1001}, st, ImportOptions{CampaignID: "c1", ImportID: "cap", Mode: ModeValidRows, At: t0, MaxRows: 1000})
	if !errors.Is(err, ErrBadCSV) || st.visible != 0 || len(st.staged) != 0 {
		t.Fatalf("over the row cap: %v, visible %d", err, st.visible)
	}
}

// TestImportAtomicOnRealCluster: a reject-all import with one bad row at
// the very end stages chunks first, then leaves no contact visible.
func TestImportAtomicOnRealCluster(t *testing.T) {
	n := openNode(t)
	apply(t, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
	var b strings.Builder
	b.WriteString("phone\n")
	for i := 0; i < 4500; i++ {
		fmt.Fprintf(&b, "138%08d\n", i)
	}
	b.WriteString("999\n")
	_, err := doImport(t, n, []byte(b.String()), ModeRejectAll, "")
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("err %v", err)
	}
	if k, _, _ := n.Campaign("c1"); k.Counters.Contacts != 0 {
		t.Fatalf("%d contacts visible after a rejected import", k.Counters.Contacts)
	}
	if s, _ := n.StagedImports(); len(s) != 0 {
		t.Fatalf("staged imports left: %v", s)
	}
	rep, err := doImport(t, n, []byte(b.String()), ModeValidRows, "")
	if err != nil || rep.Imported != 4500 {
		t.Fatalf("valid-rows: %v %+v", err, rep.Imported)
	}
	// the same file again: every row is a duplicate in the campaign
	rep, err = Import(context.Background(), strings.NewReader(b.String()), n, ImportOptions{CampaignID: "c1", ImportID: "imp2",
		Region: "CN", Mode: ModeValidRows, At: t0})
	if err != nil || rep.Imported != 0 || rep.Invalid != 4501 {
		t.Fatalf("re-import: %v imported %d invalid %d", err, rep.Imported, rep.Invalid)
	}
}

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte("phone,name\n13800138000,A\n"), "")
	f.Add([]byte("手机,姓名\n+8613800138000,\"张\"\"三\"\n"), "utf-8")
	f.Add([]byte{0xca, 0xd6, 0xbb, 0xfa, '\n', '1', '3', '8'}, "gbk")
	f.Add([]byte("phone,tz,value\n13800138000,Asia/Shanghai,1e3\n\"1\n"), "")
	f.Fuzz(func(t *testing.T, body []byte, enc string) {
		st := newMemStore()
		rep, err := Import(context.Background(), bytes.NewReader(body), st, ImportOptions{CampaignID: "c1", ImportID: "fz",
			Mode: ModeValidRows, Encoding: enc, At: t0, MaxRows: 1000})
		if err != nil {
			if !errors.Is(err, ErrBadCSV) && !errors.Is(err, ErrRejected) {
				t.Fatalf("unclassified error: %v", err)
			}
			if st.visible != 0 || len(st.staged) != 0 {
				t.Fatalf("failed import left %d visible", st.visible)
			}
			return
		}
		if rep.Imported != st.visible || rep.Valid+rep.Invalid != rep.Rows {
			t.Fatalf("report %+v, visible %d", rep, st.visible)
		}
	})
}

// BenchmarkImportMillion imports a generated 1,000,000-row CSV end to end
// into a one-node cluster on disk (CALLBOX_IMPORT_ROWS overrides the row
// count for quicker profiling). It reports wall time and the process's CPU
// time (user+system, which depends less on what else the box is doing).
func BenchmarkImportMillion(b *testing.B) {
	rows := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("CALLBOX_IMPORT_ROWS")); err == nil && v > 0 {
		rows = v
	}
	for i := 0; i < b.N; i++ {
		n := openNode(b)
		apply(b, n, cluster.CreateCampaign{Campaign: testCampaign("c1"), At: t0})
		cpu0 := cpuTime()
		start := time.Now()
		rep, err := Import(context.Background(), &csvGen{n: rows}, n, ImportOptions{CampaignID: "c1", ImportID: "big", Mode: ModeValidRows, At: t0})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		if rep.Imported != rows || len(rep.Imports) != 1 {
			b.Fatalf("imported %d of %d in %d imports", rep.Imported, rows, len(rep.Imports))
		}
		b.ReportMetric(el.Seconds(), "s/import")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s/import")
		b.ReportMetric(float64(rep.Imported)/el.Seconds(), "contacts/s")
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestNormalizePhoneShapesAgreeWithPhonenumbers(t *testing.T) {
	cases := map[string]string{"13800138000": "+8613800138000", "+86 138-0013-8001": "+8613800138001", "008613800138002": "+8613800138002",
		"010 6552 9988": "+861065529988", "(010) 6552-9989": "+861065529989", "+1 212 555 0100": "+12125550100"}
	for pass := 0; pass < 2; pass++ { // the second pass hits the shape cache
		for in, want := range cases {
			if got, err := NormalizePhone(in, "CN"); err != nil || got != want {
				t.Errorf("pass %d: %q -> %q, %v; want %s", pass, in, got, err, want)
			}
		}
	}
	for _, bad := range []string{"12345", "abc", "", "+999 1234 5678", "1380013800012345"} {
		if _, err := NormalizePhone(bad, "CN"); !errors.Is(err, ErrBadNumber) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}
