package cluster

import "errors"

// Sentinel errors. Errors returned by Node.Apply and the read methods wrap
// one of these (test with errors.Is); the wrapping text names the offending
// field or identifier.
var (
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("cluster: node closed")
	// ErrNotLeader is returned by Apply on a node that is not the leader.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrOutcomeUnknown is returned by Apply when ctx ended after the command
	// was handed to raft: it may or may not be committed.
	ErrOutcomeUnknown = errors.New("cluster: command outcome unknown")
	// ErrInvalidCommand means a command failed validation (bad field).
	ErrInvalidCommand = errors.New("cluster: invalid command")
	// ErrUnknownCommand means a command's type byte is not known.
	ErrUnknownCommand = errors.New("cluster: unknown command type")
	// ErrCommandTooLarge means an encoded command, or the state change it
	// causes, exceeds what one raft entry or one Badger transaction can hold.
	ErrCommandTooLarge = errors.New("cluster: command too large")
	// ErrFSMFailed means the state database failed to commit; the node
	// stops applying (state stays at the last good index) and must be
	// restarted, after which it replays the raft log.
	ErrFSMFailed = errors.New("cluster: state machine failed, restart required")
	// ErrSnapshotCorrupt means a snapshot stream is truncated or fails its checksum.
	ErrSnapshotCorrupt = errors.New("cluster: snapshot corrupt or truncated")
	// ErrStateAhead means the state DB has applied entries the raft log and
	// snapshots do not contain (the raft directory was lost or replaced).
	ErrStateAhead = errors.New("cluster: state database is ahead of the raft log")

	// ErrNotFound means a referenced object does not exist.
	ErrNotFound = errors.New("cluster: not found")
	// ErrExists means an object with that ID already exists.
	ErrExists = errors.New("cluster: already exists")
	// ErrBadTransition means a campaign lifecycle transition is not allowed.
	ErrBadTransition = errors.New("cluster: campaign state transition not allowed")
	// ErrCampaignNotActive means the campaign's state forbids the operation.
	ErrCampaignNotActive = errors.New("cluster: campaign not active")
	// ErrDNC means the contact's number is on a do-not-call list.
	ErrDNC = errors.New("cluster: number is on the do-not-call list")
	// ErrNotDue means the contact is not pending or its next attempt is later.
	ErrNotDue = errors.New("cluster: contact not due")
	// ErrAlreadyClaimed means the contact already has an attempt in progress.
	ErrAlreadyClaimed = errors.New("cluster: contact already claimed")
	// ErrMaxAttempts means the contact used all attempts the campaign allows.
	ErrMaxAttempts = errors.New("cluster: max attempts reached")
	// ErrStaleToken means a fencing token is not above the contact's current token.
	ErrStaleToken = errors.New("cluster: stale fencing token")
	// ErrLeaseExpired means the box's lease in the registry is not valid
	// at the command's time: it may not claim work.
	ErrLeaseExpired = errors.New("cluster: box lease expired")
	// ErrFenced means this box may not dial now: it holds no valid local
	// lease, is cut off from the leader, or the attempt is not its own.
	ErrFenced = errors.New("cluster: box fenced")
	// ErrAttemptNotOpen means an attempt was already finished or interrupted.
	ErrAttemptNotOpen = errors.New("cluster: attempt not open")
	// ErrImportConflict means staged import chunks are inconsistent or clash
	// with existing contacts.
	ErrImportConflict = errors.New("cluster: import conflict")
)
