package auth

import (
	"fmt"
	"slices"
)

// Role is what a user or token may do, as a bundle of permissions.
type Role string

// The four roles, most powerful first.
const (
	Admin    Role = "admin"
	Operator Role = "operator"
	Auditor  Role = "auditor"
	Viewer   Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{Admin, Operator, Auditor, Viewer}

// Permission is one thing a route may require.
type Permission string

// Permissions; see the package documentation for the matrix.
const (
	PermRead             Permission = "read"
	PermNumbersUnmasked  Permission = "numbers.unmasked"
	PermOperate          Permission = "operate"
	PermRecordingsListen Permission = "recordings.listen"
	PermTranscriptsRead  Permission = "transcripts.read"
	PermAuditRead        Permission = "audit.read"
	PermUsersManage      Permission = "users.manage"
	PermMetrics          Permission = "metrics"
	PermClusterManage    Permission = "cluster.manage"
	PermFlowsRead        Permission = "flows.read"  // stored flows and their versions
	PermFlowsWrite       Permission = "flows.write" // upload and archive stored flows
	// PermSelf is held by every authenticated principal: logout, whoami,
	// changing one's own password.
	PermSelf Permission = "self"
)

// matrix is the permission matrix documented in the package comment.
var matrix = map[Permission][]Role{
	PermRead:             {Admin, Operator, Auditor, Viewer},
	PermNumbersUnmasked:  {Admin, Operator, Auditor},
	PermOperate:          {Admin, Operator},
	PermRecordingsListen: {Admin, Operator, Auditor},
	PermTranscriptsRead:  {Admin, Operator, Auditor},
	PermAuditRead:        {Admin, Auditor},
	PermUsersManage:      {Admin},
	PermMetrics:          {Admin, Operator, Auditor, Viewer},
	PermClusterManage:    {Admin},
	PermFlowsRead:        {Admin, Operator, Auditor, Viewer},
	PermFlowsWrite:       {Admin, Operator},
	PermSelf:             {Admin, Operator, Auditor, Viewer},
}

// Allowed reports whether role holds perm. Unknown roles and permissions
// hold nothing.
func Allowed(role Role, perm Permission) bool {
	return slices.Contains(matrix[perm], role)
}

// Permissions lists every permission in the matrix.
func Permissions() []Permission {
	out := make([]Permission, 0, len(matrix))
	for p := range matrix {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("%w: role %q is not one of admin, operator, auditor, viewer", ErrInvalid, s)
}

// covers reports whether every permission of b is also held by a, so a
// user with role a may hand out a token with role b.
func covers(a, b Role) bool {
	for _, roles := range matrix {
		if slices.Contains(roles, b) && !slices.Contains(roles, a) {
			return false
		}
	}
	return true
}
