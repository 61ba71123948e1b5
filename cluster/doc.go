// Package cluster owns callbox's replicated state: the hashicorp/raft node,
// the Badger-backed raft log and stable store, the deterministic FSM with its
// own Badger state database, FSM snapshots, and the state schema (call
// records, campaigns, contacts, DNC lists, dial attempts).
//
// Every change to shared state is a Command: one type byte followed by a JSON
// body (see Encode and Decode). Commands are committed through raft and
// applied by the FSM in one Badger transaction per raft batch. Apply never
// reads the clock, randomness or the network: every time a command needs
// travels inside it, so every member computes identical state.
//
// Node.Apply returns the FSM's response; rejections come back as errors
// wrapping the sentinels in errors.go. Successful responses:
//
//	PutCallRecord, ImportChunk, AbortImport, AddDNC, RemoveDNC  nil
//	CreateCampaign, SetCampaignState                            Campaign
//	ImportContacts, CommitImport                                int (contacts made visible)
//	ClaimAttempt, FinishAttempt                                 Attempt
//	MarkInterrupted                                             int (attempts interrupted)
//	StageContacts                                               StageResult
//	AbortImport of a StageContacts import                       int (chunks left to remove)
//
// A single box is a one-node cluster bootstrapped on first start (Config.Bootstrap);
// later members join over a pluggable raft.Transport.
//
// # Layout on disk
//
//	<dir>/raft       Badger DB: raft log and stable store (SyncWrites=true)
//	<dir>/state      Badger DB: FSM state and the last applied index (SyncWrites=false)
//	<dir>/snapshots  raft file snapshot store
//
// # Durability
//
// The raft log is written with SyncWrites=true: once raft acknowledges an
// entry it survives process kill and power loss. The FSM database is written
// without fsync per transaction, because it can always be rebuilt from the
// log: the last applied index is stored in the same Badger transaction as the
// state it describes, the node runs raft with NoSnapshotRestoreOnStart, and
// on restart raft replays the retained log while the FSM skips entries it has
// already applied. Before a snapshot is handed to raft (which then may
// truncate the log) the FSM database is synced, so the log is only truncated
// below a point the FSM holds durably. If the FSM is ever behind the newest
// snapshot (for example the state directory was lost), Open restores that
// snapshot before raft starts. See DURABILITY.md.
package cluster
