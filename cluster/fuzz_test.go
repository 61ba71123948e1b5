package cluster

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeCommand: Decode never panics; whatever it accepts re-encodes
// to a command that decodes to the same encoding.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []Command{
		rec("r1", t0, "camp"),
		&CreateCampaign{Campaign: testCampaign("c"), At: t0},
		&ClaimAttempt{AttemptID: "a", CampaignID: "c", ContactID: "k", Box: "b", Token: 1, At: t0},
		&ImportChunk{ImportID: "i", CampaignID: "c", Contacts: contacts(2, "k")},
		&ClaimBatch{Claims: []ClaimAttempt{{AttemptID: "a", CampaignID: "c", ContactID: "k", Box: "b", Token: 1, At: t0}}},
		&ReleaseAttempt{AttemptID: "a", Box: "b", Token: 3, At: t0, Reason: "full"},
	} {
		b, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{99, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := Decode(b)
		if err != nil {
			if cmd != nil {
				t.Fatal("error with non-nil command")
			}
			return
		}
		_ = cmd.Validate()
		enc, err := Encode(cmd)
		if err != nil {
			return // e.g. oversize after escaping
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", enc, err)
		}
		enc2, _ := Encode(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzRestore: Restore never panics, and a refused stream leaves the state
// exactly as it was.
func FuzzRestore(f *testing.F) {
	h := newFSM(f)
	h.ok(&CreateCampaign{Campaign: testCampaign("camp"), At: t0})
	h.ok(&ImportContacts{CampaignID: "camp", ImportID: "i", Contacts: contacts(3, "k"), At: t0})
	h.ok(rec("r1", t0, "camp"))
	good := snapshotBytes(f, h.f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(snapMagic))
	f.Add([]byte{})

	target := newFSM(f)
	target.ok(rec("keep", t0, ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		before := dump(t, target.f)
		err := target.f.Restore(nopCloser(b))
		if err != nil {
			if !errors.Is(err, ErrSnapshotCorrupt) {
				t.Fatalf("Restore error not ErrSnapshotCorrupt: %v", err)
			}
			if after := dump(t, target.f); after != before {
				t.Fatal("refused restore changed state")
			}
			return
		}
		// accepted: restore the known state back for the next input
		_ = b
		if err := target.f.Restore(nopCloser(snapshotOf(t, "keep"))); err != nil {
			t.Fatal(err)
		}
	})
}

var keepSnap []byte

func snapshotOf(t *testing.T, id string) []byte {
	if keepSnap == nil {
		h := newFSM(t)
		h.ok(rec(id, t0, ""))
		keepSnap = snapshotBytes(t, h.f)
	}
	return keepSnap
}
