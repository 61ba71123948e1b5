package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// CommandType is the first byte of every encoded command. Values are part of
// the on-disk log format: never renumber, only append.
type CommandType byte

// Command types.
const (
	TypePutCallRecord    CommandType = 1
	TypeCreateCampaign   CommandType = 2
	TypeSetCampaignState CommandType = 3
	TypeImportContacts   CommandType = 4
	TypeImportChunk      CommandType = 5
	TypeCommitImport     CommandType = 6
	TypeAbortImport      CommandType = 7
	TypeAddDNC           CommandType = 8
	TypeRemoveDNC        CommandType = 9
	TypeClaimAttempt     CommandType = 10
	TypeFinishAttempt    CommandType = 11
	TypeMarkInterrupted  CommandType = 12
	TypeRenewLease       CommandType = 13
	TypeExpireLeases     CommandType = 14
	TypeRemoveBox        CommandType = 15
	TypeMarkAnswered     CommandType = 16
	TypeStageContacts    CommandType = 17
	// Flows (flows.go) and accounts (users.go).
	TypePutFlowVersion CommandType = 24
	TypeArchiveFlow    CommandType = 25
	TypePutUser        CommandType = 26
	TypeDeleteUser     CommandType = 27
	TypePutToken       CommandType = 28
	TypeRevokeToken    CommandType = 29
	// work sharing (cluster/assign.go)
	TypeReleaseAttempt CommandType = 20
	TypeClaimBatch     CommandType = 21
)

// MaxCommandSize bounds one encoded command (one raft entry).
const MaxCommandSize = 4 << 20

// Command is one change to shared state. Implementations are plain structs;
// Validate checks them without reading the clock, disk or network, so the
// FSM can run it deterministically on every member.
type Command interface {
	Type() CommandType
	Validate() error
}

func (t CommandType) String() string {
	switch t {
	case TypePutCallRecord:
		return "PutCallRecord"
	case TypeCreateCampaign:
		return "CreateCampaign"
	case TypeSetCampaignState:
		return "SetCampaignState"
	case TypeImportContacts:
		return "ImportContacts"
	case TypeImportChunk:
		return "ImportChunk"
	case TypeCommitImport:
		return "CommitImport"
	case TypeAbortImport:
		return "AbortImport"
	case TypeAddDNC:
		return "AddDNC"
	case TypeRemoveDNC:
		return "RemoveDNC"
	case TypeClaimAttempt:
		return "ClaimAttempt"
	case TypeFinishAttempt:
		return "FinishAttempt"
	case TypeMarkInterrupted:
		return "MarkInterrupted"
	case TypeRenewLease:
		return "RenewLease"
	case TypeExpireLeases:
		return "ExpireLeases"
	case TypeRemoveBox:
		return "RemoveBox"
	case TypeMarkAnswered:
		return "MarkAnswered"
	case TypeStageContacts:
		return "StageContacts"
	case TypePutFlowVersion:
		return "PutFlowVersion"
	case TypeArchiveFlow:
		return "ArchiveFlow"
	case TypePutUser:
		return "PutUser"
	case TypeDeleteUser:
		return "DeleteUser"
	case TypePutToken:
		return "PutToken"
	case TypeRevokeToken:
		return "RevokeToken"
	case TypeReleaseAttempt:
		return "ReleaseAttempt"
	case TypeClaimBatch:
		return "ClaimBatch"
	}
	return fmt.Sprintf("CommandType(%d)", byte(t))
}

// Encode returns the type byte followed by the command's JSON body. It fails
// on values JSON cannot carry (NaN, ±Inf) and on commands over MaxCommandSize.
func Encode(cmd Command) ([]byte, error) {
	if cmd == nil {
		return nil, fmt.Errorf("%w: nil command", ErrInvalidCommand)
	}
	var buf bytes.Buffer
	buf.WriteByte(byte(cmd.Type()))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cmd); err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", ErrInvalidCommand, cmd.Type(), err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d (split imports into smaller chunks)",
			ErrCommandTooLarge, cmd.Type(), len(b), MaxCommandSize)
	}
	return b, nil
}

// newCommand returns a zero command for a type byte, or nil if unknown.
func newCommand(t CommandType) Command {
	switch t {
	case TypePutCallRecord:
		return &PutCallRecord{}
	case TypeCreateCampaign:
		return &CreateCampaign{}
	case TypeSetCampaignState:
		return &SetCampaignState{}
	case TypeImportContacts:
		return &ImportContacts{}
	case TypeImportChunk:
		return &ImportChunk{}
	case TypeCommitImport:
		return &CommitImport{}
	case TypeAbortImport:
		return &AbortImport{}
	case TypeAddDNC:
		return &AddDNC{}
	case TypeRemoveDNC:
		return &RemoveDNC{}
	case TypeClaimAttempt:
		return &ClaimAttempt{}
	case TypeFinishAttempt:
		return &FinishAttempt{}
	case TypeMarkInterrupted:
		return &MarkInterrupted{}
	case TypeRenewLease:
		return &RenewLease{}
	case TypeExpireLeases:
		return &ExpireLeases{}
	case TypeRemoveBox:
		return &RemoveBox{}
	case TypeMarkAnswered:
		return &MarkAnswered{}
	case TypeStageContacts:
		return &StageContacts{}
	case TypePutFlowVersion:
		return &PutFlowVersion{}
	case TypeArchiveFlow:
		return &ArchiveFlow{}
	case TypePutUser:
		return &PutUser{}
	case TypeDeleteUser:
		return &DeleteUser{}
	case TypePutToken:
		return &PutToken{}
	case TypeRevokeToken:
		return &RevokeToken{}
	case TypeReleaseAttempt:
		return &ReleaseAttempt{}
	case TypeClaimBatch:
		return &ClaimBatch{}
	}
	return nil
}

// Decode parses an encoded command. Unknown fields, trailing data and
// unknown type bytes are errors (ErrUnknownCommand / ErrInvalidCommand).
// The result is a pointer to the command struct (e.g. *PutCallRecord).
func Decode(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrInvalidCommand)
	}
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, len(b), MaxCommandSize)
	}
	t := CommandType(b[0])
	cmd := newCommand(t)
	if cmd == nil {
		return nil, fmt.Errorf("%w: type byte %d", ErrUnknownCommand, b[0])
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cmd); err != nil {
		return nil, fmt.Errorf("%w: decode %s body: %v", ErrInvalidCommand, t, err)
	}
	if rest := b[1+dec.InputOffset():]; len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: decode %s body: trailing data", ErrInvalidCommand, t)
	}
	return cmd, nil
}
