package sipua

import "strings"

// MaskNumber hides all but the last four characters of a phone number for
// logs: "+8613812345678" becomes "**********5678". Numbers of four
// characters or fewer are fully masked.
func MaskNumber(n string) string {
	r := []rune(n)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}
