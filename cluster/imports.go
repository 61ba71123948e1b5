package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// ImportContacts adds contacts to a campaign in one entry, all or nothing.
// For more than MaxChunkContacts use ImportChunk + CommitImport.
type ImportContacts struct {
	CampaignID string
	ImportID   string
	Contacts   []Contact
	At         time.Time
}

// ImportChunk stages part of an import under ImportID. Chunks are numbered
// from 0 without gaps; resending an identical chunk is a no-op. Staged
// contacts are invisible until CommitImport.
type ImportChunk struct {
	ImportID   string
	CampaignID string
	Seq        int
	Contacts   []Contact
}

// CommitImport makes all staged chunks of an import visible at once.
// Chunks is the number of chunks the client sent; a mismatch (a lost
// chunk) rejects the commit. Committing an already committed import again
// is a no-op that returns the same count.
type CommitImport struct {
	ImportID string
	Chunks   int
	At       time.Time
}

// AbortImport drops a staged import.
type AbortImport struct{ ImportID string }

// Type implements Command.
func (ImportContacts) Type() CommandType { return TypeImportContacts }

// Type implements Command.
func (ImportChunk) Type() CommandType { return TypeImportChunk }

// Type implements Command.
func (CommitImport) Type() CommandType { return TypeCommitImport }

// Type implements Command.
func (AbortImport) Type() CommandType { return TypeAbortImport }

func validateContactList(cs []Contact) error {
	if len(cs) == 0 {
		return invalid("Contacts is empty")
	}
	if len(cs) > MaxChunkContacts {
		return invalid("Contacts has %d entries, limit %d per command", len(cs), MaxChunkContacts)
	}
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		if err := validateNewContact(fmt.Sprintf("Contacts[%d]", i), &cs[i]); err != nil {
			return err
		}
		if seen[cs[i].ID] {
			return invalid("Contacts[%d].ID %q is duplicated", i, cs[i].ID)
		}
		seen[cs[i].ID] = true
	}
	return nil
}

// Validate implements Command.
func (c ImportContacts) Validate() error {
	if err := checkID("CampaignID", c.CampaignID); err != nil {
		return err
	}
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if err := checkReqTime("At", c.At); err != nil {
		return err
	}
	return validateContactList(c.Contacts)
}

// Validate implements Command.
func (c ImportChunk) Validate() error {
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if err := checkID("CampaignID", c.CampaignID); err != nil {
		return err
	}
	if c.Seq < 0 || c.Seq >= MaxImportContacts {
		return invalid("Seq %d out of range", c.Seq)
	}
	return validateContactList(c.Contacts)
}

// Validate implements Command.
func (c CommitImport) Validate() error {
	if err := checkID("ImportID", c.ImportID); err != nil {
		return err
	}
	if c.Chunks < 1 {
		return invalid("Chunks %d: want at least 1", c.Chunks)
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c AbortImport) Validate() error { return checkID("ImportID", c.ImportID) }

// importHeader is the staging header of an import in progress.
type importHeader struct {
	CampaignID string
	Chunks     int
	Contacts   int
}

// importDone records a committed import (for idempotent re-commits).
type importDone struct {
	CampaignID string
	Contacts   int
	At         time.Time
}

func importKey(id string) []byte     { return key("i/", id) }
func importDoneKey(id string) []byte { return key("id/", id) }
func importChunkKey(id string, seq int) []byte {
	return key("ic/", id, sep, string(u32(uint32(seq))))
}

func campaignAcceptsContacts(k *Campaign) error {
	switch k.State {
	case CampaignStopped, CampaignArchived:
		return fmt.Errorf("%w: campaign %q is %s", ErrCampaignNotActive, k.ID, k.State)
	}
	return nil
}

func applyImportChunk(t *tx, c *ImportChunk) (any, error) {
	if ok, err := t.has(importDoneKey(c.ImportID)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is already committed", ErrExists, c.ImportID), nil
	}
	k, err := loadCampaign(t, c.CampaignID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, c.CampaignID), nil
	}
	if err := campaignAcceptsContacts(k); err != nil {
		return err, nil
	}
	var h importHeader
	if _, err := t.getJSON(importKey(c.ImportID), &h); err != nil {
		return nil, err
	}
	if h.Chunks > 0 && h.CampaignID != c.CampaignID {
		return fmt.Errorf("%w: import %q is for campaign %q, chunk says %q", ErrImportConflict, c.ImportID, h.CampaignID, c.CampaignID), nil
	}
	body, err := json.Marshal(c.Contacts)
	if err != nil {
		return nil, storeErr(err)
	}
	if c.Seq < h.Chunks {
		var prev json.RawMessage
		if _, err := t.getJSON(importChunkKey(c.ImportID, c.Seq), &prev); err != nil {
			return nil, err
		}
		if bytes.Equal(prev, body) {
			return nil, nil // identical resend
		}
		return fmt.Errorf("%w: import %q chunk %d was already staged with different contacts", ErrImportConflict, c.ImportID, c.Seq), nil
	}
	if c.Seq != h.Chunks {
		return fmt.Errorf("%w: import %q expects chunk %d, got %d", ErrImportConflict, c.ImportID, h.Chunks, c.Seq), nil
	}
	if h.Contacts+len(c.Contacts) > MaxImportContacts {
		return fmt.Errorf("%w: import %q would exceed %d contacts; commit it and start another import", ErrCommandTooLarge, c.ImportID, MaxImportContacts), nil
	}
	h.CampaignID = c.CampaignID
	h.Chunks++
	h.Contacts += len(c.Contacts)
	if err := t.putRaw(importChunkKey(c.ImportID, c.Seq), body); err != nil {
		return nil, err
	}
	return nil, t.putJSON(importKey(c.ImportID), &h)
}

func applyCommitImport(t *tx, c *CommitImport) (any, error) {
	var done importDone
	if ok, err := t.getJSON(importDoneKey(c.ImportID), &done); err != nil {
		return nil, err
	} else if ok {
		return done.Contacts, nil
	}
	var h importHeader
	ok, err := t.getJSON(importKey(c.ImportID), &h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return fmt.Errorf("%w: import %q has no staged chunks", ErrNotFound, c.ImportID), nil
	}
	if h.Chunks != c.Chunks {
		return fmt.Errorf("%w: import %q has %d staged chunks, commit says %d", ErrImportConflict, c.ImportID, h.Chunks, c.Chunks), nil
	}
	var all []Contact
	for seq := 0; seq < h.Chunks; seq++ {
		var cs []Contact
		if ok, err := t.getJSON(importChunkKey(c.ImportID, seq), &cs); err != nil {
			return nil, err
		} else if !ok {
			return fmt.Errorf("%w: import %q chunk %d is missing", ErrImportConflict, c.ImportID, seq), nil
		}
		all = append(all, cs...)
	}
	resp, err := commitContacts(t, h.CampaignID, c.ImportID, all, c.At)
	if err != nil {
		return nil, err
	}
	if _, rejected := resp.(error); rejected {
		return resp, nil
	}
	for seq := 0; seq < h.Chunks; seq++ {
		if err := t.del(importChunkKey(c.ImportID, seq)); err != nil {
			return nil, err
		}
	}
	return resp, t.del(importKey(c.ImportID))
}

func applyImportContacts(t *tx, c *ImportContacts) (any, error) {
	var done importDone
	if ok, err := t.getJSON(importDoneKey(c.ImportID), &done); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is already committed", ErrExists, c.ImportID), nil
	}
	if ok, err := t.has(importKey(c.ImportID)); err != nil {
		return nil, err
	} else if ok {
		return fmt.Errorf("%w: import %q is being staged in chunks", ErrImportConflict, c.ImportID), nil
	}
	return commitContacts(t, c.CampaignID, c.ImportID, c.Contacts, c.At)
}

// commitContacts validates the whole list against current state, then
// writes every contact. It returns the count, or a rejection before any write.
func commitContacts(t *tx, campID, importID string, cs []Contact, at time.Time) (any, error) {
	k, err := loadCampaign(t, campID)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return fmt.Errorf("%w: campaign %q", ErrNotFound, campID), nil
	}
	if err := campaignAcceptsContacts(k); err != nil {
		return err, nil
	}
	if len(cs) > MaxImportContacts {
		return fmt.Errorf("%w: import %q has %d contacts, limit %d", ErrCommandTooLarge, importID, len(cs), MaxImportContacts), nil
	}
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		id := cs[i].ID
		if seen[id] {
			return fmt.Errorf("%w: import %q lists contact %q twice", ErrImportConflict, importID, id), nil
		}
		seen[id] = true
		if ok, err := t.has(contactKey(campID, id)); err != nil {
			return nil, err
		} else if ok {
			return fmt.Errorf("%w: import %q: contact %q already exists in campaign %q", ErrImportConflict, importID, id, campID), nil
		}
	}
	for i := range cs {
		c := cs[i]
		c.CampaignID = campID
		c.ImportID = importID
		c.NextAttemptAt = utc(c.NextAttemptAt)
		c.State = ContactPending
		dnc, err := isDNC(t, c.Phone, campID)
		if err != nil {
			return nil, err
		}
		if dnc {
			c.State = ContactDNC
		}
		if err := saveContact(t, k, nil, &c); err != nil {
			return nil, err
		}
	}
	k.UpdatedAt = utc(at)
	if err := saveCampaign(t, k); err != nil {
		return nil, err
	}
	if err := t.putJSON(importDoneKey(importID), &importDone{CampaignID: campID, Contacts: len(cs), At: utc(at)}); err != nil {
		return nil, err
	}
	return len(cs), nil
}

func applyAbortImport(t *tx, c *AbortImport) (any, error) {
	var h importHeader
	ok, err := t.getJSON(importKey(c.ImportID), &h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return fmt.Errorf("%w: import %q has no staged chunks", ErrNotFound, c.ImportID), nil
	}
	for seq := 0; seq < h.Chunks; seq++ {
		if err := t.del(importChunkKey(c.ImportID, seq)); err != nil {
			return nil, err
		}
	}
	return nil, t.del(importKey(c.ImportID))
}

// StagedImports lists import IDs with staged, uncommitted chunks.
func (f *FSM) StagedImports() ([]string, error) {
	var out []string
	err := f.view(func(t *tx) error {
		return t.scan(key("i/"), nil, false, func(k, _ []byte) (bool, error) {
			out = append(out, string(k[2:]))
			return true, nil
		})
	})
	return out, err
}
