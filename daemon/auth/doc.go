// Package auth owns who may do what on callboxd's API: users with hashed
// passwords, API tokens stored hashed, the four roles and their permission
// matrix, login sessions (cookie + CSRF token) for the dashboard, and the
// failed-login slowdown and lockout.
//
// # Roles and permissions
//
//	permission          admin  operator  auditor  viewer   what it covers
//	read                  x       x         x        x     call records (numbers masked for viewer), trunks, stats, campaigns
//	numbers.unmasked      x       x         x              full phone numbers and prompts in API answers
//	operate               x       x                        place calls, create and control campaigns, imports, DNC, flows
//	recordings.listen     x       x         x              GET /v1/calls/{id}/recording (audited)
//	transcripts.read      x       x         x              transcripts (card and ID numbers always redacted; audited)
//	audit.read            x                 x              the audit log and its verification
//	users.manage          x                                users and API tokens
//	metrics               x       x         x        x     /metrics when metrics.require_auth is set
//	cluster.manage        x                                join tokens, removing boxes
//	flows.read            x       x         x        x     stored flows, their versions and contents
//	flows.write           x       x                        validate, upload (a new version) and archive stored flows
//
// Every authenticated principal may log out, see itself (GET /v1/whoami)
// and change its own password.
//
// # Credentials
//
// An API client sends "Authorization: Bearer TOKEN". Tokens look like
// "cbx_<id>_<secret>"; only SHA-256 of the secret is stored, so a stolen
// users file does not hand out tokens. The configured api.token, when set,
// is a bootstrap admin token (compare in constant time, never stored): use
// it to create the first users, then remove it from the configuration.
//
// Setup mode: while the box has no users and api.token is unset, requests
// from a loopback address without an Origin header (so not from a web
// page) act as the built-in admin "local", so a site engineer on the box
// can run "callboxctl users add". Creating the first user ends setup mode.
//
// The dashboard logs in with POST /v1/login and gets an HttpOnly,
// SameSite=Strict session cookie plus a CSRF token in the JSON answer.
// Every request authenticated by the cookie that is not GET or HEAD must
// carry the CSRF token in the X-CSRF-Token header. Bearer-token requests
// need no CSRF token (a browser never adds that header on its own).
//
// # Storage
//
// Users and tokens (hashes only) are replicated state of the cluster
// (ClusterBackend): every box of a site accepts the same accounts, and a
// revoked token is refused everywhere once the revocation is committed.
// Setup mode therefore ends on every box with the cluster's first user,
// which is created with a command the cluster applies only while it has
// no users. A users file of an older version (data_dir/auth/users.json)
// is imported once at start (StartMigration) if the cluster has no users
// yet, then renamed users.json.migrated. Failed-login counters and
// lockouts stay per box (see ClusterBackend for why).
//
// Passwords are hashed with PBKDF2-HMAC-SHA256 (600 000 iterations, 16-byte
// random salt). Failed logins are counted per user name and per client
// address: after 3 failures in a row each further attempt must wait (1 s,
// doubling up to 60 s, answered 429 with Retry-After); after 10 the name is
// locked for 15 minutes (per address: 50 and 15 minutes). A successful
// login resets the user's counter.
package auth
