package cluster

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func putFlow(name, content string, at time.Time) *PutFlowVersion {
	return &PutFlowVersion{Name: name, Content: []byte(content), SHA256: FlowSHA256([]byte(content)), Author: "alice", At: at}
}

func TestFlowVersionsNumberedByFSM(t *testing.T) {
	h := newFSM(t)
	r1 := h.ok(putFlow("remind", "v: 1\n", t0)).(FlowPutResult)
	r2 := h.ok(putFlow("remind", "v: 2\n", t0.Add(time.Minute))).(FlowPutResult)
	if r1.Version != 1 || r2.Version != 2 || r2.Unchanged {
		t.Fatalf("versions %+v %+v", r1, r2)
	}
	// identical to the latest: no new version, the answer names it
	same := h.ok(putFlow("remind", "v: 2\n", t0.Add(2*time.Minute))).(FlowPutResult)
	if !same.Unchanged || same.Version != 2 {
		t.Fatalf("identical upload = %+v", same)
	}
	// identical to an older version: a new version (the script changed back)
	r3 := h.ok(putFlow("remind", "v: 1\n", t0.Add(3*time.Minute))).(FlowPutResult)
	if r3.Version != 3 || r3.Unchanged {
		t.Fatalf("revert = %+v", r3)
	}
	vs, err := h.f.FlowVersions("remind")
	if err != nil || len(vs) != 3 || vs[0].Version != 3 || vs[2].Version != 1 || vs[0].Content != nil {
		t.Fatalf("versions = %+v, %v", vs, err)
	}
	v2, ok, err := h.f.FlowVersion("remind", 2)
	if err != nil || !ok || string(v2.Content) != "v: 2\n" || v2.Author != "alice" {
		t.Fatalf("version 2 = %+v %v %v", v2, ok, err)
	}
	latest, ok, _ := h.f.FlowVersion("remind", 0)
	if !ok || latest.Version != 3 {
		t.Fatalf("latest = %+v", latest)
	}
	if _, ok, _ := h.f.FlowVersion("remind", 9); ok {
		t.Fatal("found version 9")
	}
	// a name that is a prefix of another does not see its versions
	h.ok(putFlow("remind2", "x: 1\n", t0))
	if vs, _ := h.f.FlowVersions("remind"); len(vs) != 3 {
		t.Fatalf("remind has %d versions after remind2 was added", len(vs))
	}
}

func TestFlowValidationNamesField(t *testing.T) {
	cases := map[string]Command{
		"flow name":   putFlow("../etc", "a", t0),
		"Content":     putFlow("ok", "", t0),
		"SHA256":      &PutFlowVersion{Name: "ok", Content: []byte("a"), SHA256: FlowSHA256([]byte("b")), Author: "a", At: t0},
		"Author":      &PutFlowVersion{Name: "ok", Content: []byte("a"), SHA256: FlowSHA256([]byte("a")), At: t0},
		"At":          &PutFlowVersion{Name: "ok", Content: []byte("a"), SHA256: FlowSHA256([]byte("a")), Author: "a"},
		"By":          &ArchiveFlow{Name: "ok", At: t0},
		"Mode":        &PutUser{Mode: "upsert", At: t0},
		"Seed is":     &PutUser{Mode: UserSeed, At: t0},
		"User.Role":   &PutUser{Mode: UserCreate, User: Account{Name: "a", Role: "root", PasswordHash: "h", Created: t0}, At: t0},
		"SecretHash":  &PutToken{Token: APIToken{ID: "1", Name: "n", User: "u", Role: "viewer", SecretHash: "x", Created: t0}, At: t0},
		"SeedTokens":  &PutUser{Mode: UserSeed, Seed: []Account{acct("a", "admin")}, SeedTokens: []APIToken{tok("t1", "b")}, At: t0},
		"Seed[1].Nam": &PutUser{Mode: UserSeed, Seed: []Account{acct("a", "admin"), acct("a", "viewer")}, At: t0},
	}
	big := bytes.Repeat([]byte("a"), MaxFlowSize+1)
	cases["limit"] = &PutFlowVersion{Name: "ok", Content: big, SHA256: FlowSHA256(big), Author: "a", At: t0}
	for want, c := range cases {
		err := c.Validate()
		if !errors.Is(err, ErrInvalidCommand) || !strings.Contains(err.Error(), want) {
			t.Errorf("%T %q: err = %v", c, want, err)
		}
	}
}

func TestParseFlowRef(t *testing.T) {
	for in, want := range map[string]string{"store:a": "store:a", "store:a.b-c_1@12": "store:a.b-c_1@12"} {
		r, ok, err := ParseFlowRef(in)
		if !ok || err != nil || r.String() != want {
			t.Errorf("%q: %+v %v %v", in, r, ok, err)
		}
	}
	if _, ok, err := ParseFlowRef("flows/remind.yaml"); ok || err != nil {
		t.Errorf("a path is not a reference: %v %v", ok, err)
	}
	for _, bad := range []string{"store:", "store:a@0", "store:a@", "store:a@01", "store:a@x", "store:../x", "store:a b"} {
		if _, ok, err := ParseFlowRef(bad); !ok || !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%q accepted: %v %v", bad, ok, err)
		}
	}
}

func TestArchiveFlowRefusedWhileCampaignRuns(t *testing.T) {
	h := newFSM(t)
	h.ok(putFlow("remind", "v: 1\n", t0))
	k := testCampaign("camp")
	k.FlowID = "store:remind@3"
	h.reject(&CreateCampaign{Campaign: k, At: t0}, ErrNotFound) // no version 3
	k.FlowID = "store:nope"
	h.reject(&CreateCampaign{Campaign: k, At: t0}, ErrNotFound)
	k.FlowID = "store:remind@1"
	h.ok(&CreateCampaign{Campaign: k, At: t0})
	k2 := testCampaign("camp2")
	k2.FlowID, k2.Variants = "flow-1", []Variant{{Name: "b", Weight: 1, FlowID: "store:remind"}}
	h.ok(&CreateCampaign{Campaign: k2, At: t0})

	h.ok(&SetCampaignState{ID: "camp", State: CampaignRunning, At: t0})
	h.reject(&ArchiveFlow{Name: "remind", By: "alice", At: t0}, ErrFlowInUse)
	h.ok(&SetCampaignState{ID: "camp", State: CampaignStopped, At: t0})
	h.ok(&SetCampaignState{ID: "camp2", State: CampaignRunning, At: t0})
	h.reject(&ArchiveFlow{Name: "remind", By: "alice", At: t0}, ErrFlowInUse) // the variant uses it
	h.ok(&SetCampaignState{ID: "camp2", State: CampaignStopped, At: t0})
	h.ok(&ArchiveFlow{Name: "remind", By: "alice", At: t0.Add(time.Hour)})
	h.reject(&ArchiveFlow{Name: "nope", By: "alice", At: t0}, ErrNotFound)

	if hs, _ := h.f.FlowHeads(false); len(hs) != 0 {
		t.Fatalf("archived flow listed: %+v", hs)
	}
	hs, _ := h.f.FlowHeads(true)
	if len(hs) != 1 || !hs[0].Archived || hs[0].ArchivedBy != "alice" {
		t.Fatalf("heads = %+v", hs)
	}
	if _, ok, _ := h.f.FlowVersion("remind", 1); !ok {
		t.Fatal("an archived flow's version is no longer readable")
	}
	k3 := testCampaign("camp3")
	k3.FlowID = "store:remind"
	h.reject(&CreateCampaign{Campaign: k3, At: t0}, ErrNotFound) // archived
	// uploading again revives it and keeps counting
	r := h.ok(putFlow("remind", "v: 1\n", t0.Add(2*time.Hour))).(FlowPutResult)
	if r.Version != 2 || r.Unchanged {
		t.Fatalf("revived = %+v", r)
	}
}

func acct(name, role string) Account {
	return Account{Name: name, Role: role, PasswordHash: "pbkdf2-sha256$1$c2FsdA$aGFzaA", Created: t0, PasswordSet: t0}
}

func tok(id, user string) APIToken {
	return APIToken{ID: id, Name: "ci", User: user, Role: "viewer", SecretHash: strings.Repeat("ab", 32), Created: t0}
}

func TestAccounts(t *testing.T) {
	h := newFSM(t)
	if ok, _ := h.f.HasAccounts(); ok {
		t.Fatal("fresh state has accounts")
	}
	h.ok(&PutUser{Mode: UserFirst, User: acct("root", "admin"), At: t0})
	// the first user exists once per cluster: a second box's setup loses
	h.reject(&PutUser{Mode: UserFirst, User: acct("other", "admin"), At: t0}, ErrExists)
	h.reject(&PutUser{Mode: UserSeed, Seed: []Account{acct("old", "admin")}, At: t0}, ErrExists)
	h.ok(&PutUser{Mode: UserCreate, User: acct("bob", "operator"), At: t0})
	h.reject(&PutUser{Mode: UserCreate, User: acct("bob", "viewer"), At: t0}, ErrExists)
	up := acct("bob", "viewer")
	up.Created, up.PasswordHash = t0.Add(time.Hour), "new-hash"
	h.ok(&PutUser{Mode: UserUpdate, User: up, At: t0})
	bob, ok, _ := h.f.Account("bob")
	if !ok || bob.Role != "viewer" || bob.PasswordHash != "new-hash" || !bob.Created.Equal(t0) {
		t.Fatalf("bob = %+v", bob)
	}
	h.reject(&PutUser{Mode: UserUpdate, User: acct("carol", "viewer"), At: t0}, ErrNotFound)
	h.ok(&PutToken{Token: tok("t1", "bob"), At: t0})
	h.ok(&PutToken{Token: tok("t2", "bob"), At: t0})
	h.ok(&PutToken{Token: tok("t3", "root"), At: t0})
	h.reject(&PutToken{Token: tok("t1", "bob"), At: t0}, ErrExists)
	h.reject(&PutToken{Token: tok("t9", "nobody"), At: t0}, ErrNotFound)
	if got := h.ok(&RevokeToken{ID: "t2", At: t0}).(APIToken); got.User != "bob" {
		t.Fatalf("revoked %+v", got)
	}
	h.reject(&RevokeToken{ID: "t2", At: t0}, ErrNotFound)
	h.ok(&DeleteUser{Name: "bob", At: t0})
	h.reject(&DeleteUser{Name: "bob", At: t0}, ErrNotFound)
	toks, _ := h.f.APITokens()
	if len(toks) != 1 || toks[0].ID != "t3" {
		t.Fatalf("tokens after deleting bob = %+v", toks)
	}
	users, _ := h.f.Accounts()
	if len(users) != 1 || users[0].Name != "root" {
		t.Fatalf("users = %+v", users)
	}
}

func TestSeedAccountsOnlyIntoEmptyState(t *testing.T) {
	h := newFSM(t)
	seed := &PutUser{Mode: UserSeed, Seed: []Account{acct("a", "admin"), acct("b", "auditor")}, SeedTokens: []APIToken{tok("t1", "b")}, At: t0}
	h.ok(seed)
	if u, _ := h.f.Accounts(); len(u) != 2 {
		t.Fatalf("seeded %d users", len(u))
	}
	if k, ok, _ := h.f.APIToken("t1"); !ok || k.User != "b" {
		t.Fatalf("seeded token %+v", k)
	}
	h.reject(seed, ErrExists)
}

// TestFlowsAndAccountsSurviveSnapshot: the new key prefixes round-trip
// through Snapshot/Restore and a restored state keeps numbering versions.
func TestFlowsAndAccountsSurviveSnapshot(t *testing.T) {
	a := newFSM(t)
	buildState(t, a)
	a.ok(putFlow("remind", "v: 1\n", t0))
	a.ok(putFlow("remind", "v: 2\n", t0))
	a.ok(&PutUser{Mode: UserFirst, User: acct("root", "admin"), At: t0})
	a.ok(&PutToken{Token: tok("t1", "root"), At: t0})
	snap := snapshotBytes(t, a.f)
	b := newFSM(t)
	if err := b.f.Restore(nopCloser(snap)); err != nil {
		t.Fatal(err)
	}
	if da, db := dump(t, a.f), dump(t, b.f); da != db {
		t.Fatal("dumps differ after restore")
	}
	b.idx = b.f.AppliedIndex()
	if r := b.ok(putFlow("remind", "v: 3\n", t0)).(FlowPutResult); r.Version != 3 {
		t.Fatalf("version after restore = %d", r.Version)
	}
	if k, ok, _ := b.f.APIToken("t1"); !ok || k.User != "root" {
		t.Fatal("token lost in the snapshot")
	}
	if !strings.Contains(dump(t, b.f), `fl/remind`) {
		t.Fatal("dump has no flow head")
	}
}

// FuzzDecodeFlowAndAccountCommands: the flow and account commands decode,
// validate and re-encode stably whatever the bytes.
func FuzzDecodeFlowAndAccountCommands(f *testing.F) {
	for _, c := range []Command{
		putFlow("remind", "version: 1\n", t0),
		&ArchiveFlow{Name: "remind", By: "a", At: t0},
		&PutUser{Mode: UserCreate, User: acct("a", "admin"), At: t0},
		&PutUser{Mode: UserSeed, Seed: []Account{acct("a", "admin")}, SeedTokens: []APIToken{tok("t", "a")}, At: t0},
		&DeleteUser{Name: "a", At: t0},
		&PutToken{Token: tok("t", "a"), At: t0},
		&RevokeToken{ID: "t", At: t0},
	} {
		b, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := Decode(b)
		if err != nil {
			return
		}
		_ = cmd.Validate()
		enc, err := Encode(cmd)
		if err != nil {
			return
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", enc, err)
		}
		if enc2, _ := Encode(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%q\n%q", enc, enc2)
		}
	})
}

// FuzzParseFlowRef: never panics; an accepted reference prints back to
// itself.
func FuzzParseFlowRef(f *testing.F) {
	for _, s := range []string{"store:a", "store:a@3", "store:", "store:a@0", "x.yaml", "store:a@99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok, err := ParseFlowRef(s)
		if ok && err == nil && r.String() != s {
			t.Fatalf("%q parsed to %q", s, r.String())
		}
	})
}
