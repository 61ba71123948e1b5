package cluster

import (
	"errors"
	"fmt"
	"testing"
)

func TestLargestImportFitsOneTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 10000 contacts")
	}
	h := newFSM(t)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	per := MaxImportContacts / MaxChunkContacts
	for seq := 0; seq < per; seq++ {
		cs := contacts(MaxChunkContacts, fmt.Sprintf("c%d-", seq))
		for i := range cs {
			cs[i].Name = "王小明 Wang Xiaoming"
			cs[i].Profile = map[string]string{"branch": "Shanghai Pudong", "product": "credit-card-platinum"}
		}
		h.ok(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: seq, Contacts: cs})
	}
	if n := h.ok(&CommitImport{ImportID: "big", Chunks: per, At: t0}); n != MaxImportContacts {
		t.Fatalf("commit = %v", n)
	}
	if k, _ := h.f.CampaignCounters("camp"); k.Pending != MaxImportContacts {
		t.Fatalf("pending = %d", k.Pending)
	}
}

func TestOversizeCommandIsolatedInBatch(t *testing.T) {
	f, err := openFSM(t.TempDir(), testLogger(t), 2<<20) // ~300 KB transactions
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &fsmHarness{t: t, f: f}
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportChunk{ImportID: "big", CampaignID: "camp", Seq: 0, Contacts: contacts(MaxChunkContacts, "k")})
	before := dump(t, f)

	var cmds []Command
	for i := 0; i < 1000; i++ { // more than one transaction's worth of records
		cmds = append(cmds, rec(fmt.Sprintf("r%04d", i), t0, ""))
	}
	cmds = append(cmds, &CommitImport{ImportID: "big", Chunks: 1, At: t0}, rec("last", t0, ""))
	resps := h.apply(cmds...)
	for i, r := range resps {
		if i == 1000 {
			if err, _ := r.(error); !errors.Is(err, ErrCommandTooLarge) {
				t.Fatalf("oversize commit response = %v", r)
			}
			continue
		}
		if r != nil {
			t.Fatalf("response %d = %v", i, r)
		}
	}
	recs, _ := f.CallRecords(RecordFilter{Limit: 5000})
	if len(recs) != 1001 {
		t.Fatalf("%d records, want 1001", len(recs))
	}
	if cs, _ := f.Contacts("camp"); len(cs) != 0 {
		t.Fatalf("oversize commit left %d contacts", len(cs))
	}
	if st, _ := f.StagedImports(); len(st) != 1 {
		t.Fatal("staged import lost")
	}
	if f.AppliedIndex() != h.idx || f.Failed() {
		t.Fatalf("applied %d want %d failed %v", f.AppliedIndex(), h.idx, f.Failed())
	}
	_ = before
}
