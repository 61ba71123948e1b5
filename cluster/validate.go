package cluster

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Limits enforced on command fields.
const (
	MaxIDLen       = 128
	MaxTextLen     = 16 << 10
	MaxMapEntries  = 64
	MaxListEntries = 256
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidCommand}, a...)...)
}

// checkID requires a non-empty identifier of printable characters without
// control characters (NUL separates key parts).
func checkID(field, v string) error {
	if v == "" {
		return invalid("%s is empty", field)
	}
	if len(v) > MaxIDLen {
		return invalid("%s is %d bytes, limit %d", field, len(v), MaxIDLen)
	}
	if !utf8.ValidString(v) {
		return invalid("%s is not valid UTF-8", field)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return invalid("%s %q contains a control character", field, v)
		}
	}
	return nil
}

func checkOptID(field, v string) error {
	if v == "" {
		return nil
	}
	return checkID(field, v)
}

func checkText(field, v string) error {
	if len(v) > MaxTextLen {
		return invalid("%s is %d bytes, limit %d", field, len(v), MaxTextLen)
	}
	if !utf8.ValidString(v) {
		return invalid("%s is not valid UTF-8", field)
	}
	return nil
}

func checkMap(field string, m map[string]string) error {
	if len(m) > MaxMapEntries {
		return invalid("%s has %d entries, limit %d", field, len(m), MaxMapEntries)
	}
	for k, v := range m {
		if k == "" {
			return invalid("%s has an empty key", field)
		}
		if err := checkText(field+" key", k); err != nil {
			return err
		}
		if err := checkText(field+"["+k+"]", v); err != nil {
			return err
		}
	}
	return nil
}

// checkE164 requires '+', a non-zero first digit and 7 to 15 digits in all.
func checkE164(field, v string) error {
	if len(v) < 8 || len(v) > 16 || v[0] != '+' || v[1] == '0' {
		return invalid("%s %q is not an E.164 number (+ then 7 to 15 digits)", field, maskPhone(v))
	}
	for i := 1; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return invalid("%s %q is not an E.164 number (+ then 7 to 15 digits)", field, maskPhone(v))
		}
	}
	return nil
}

var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkTime allows the zero time or a time between 1970 and 2200.
func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return invalid("%s %s is outside 1970..2200", field, t.UTC().Format(time.RFC3339))
	}
	return nil
}

func checkReqTime(field string, t time.Time) error {
	if t.IsZero() {
		return invalid("%s is not set", field)
	}
	return checkTime(field, t)
}

func checkFinite(field string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return invalid("%s is not a finite number", field)
	}
	return nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
