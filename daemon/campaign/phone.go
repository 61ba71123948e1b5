package campaign

// This file holds phone-number normalisation and time zones derived from
// numbers.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // offline boxes without /usr/share/zoneinfo still know every zone

	"github.com/nyaruka/phonenumbers"
)

// DefaultRegion is used when neither the row nor the campaign names one.
const DefaultRegion = "CN"

// NormalizePhone parses raw (national or international form) with region
// as the default country and returns it in E.164. Numbers that are not
// valid for their country are errors wrapping ErrBadNumber.
func NormalizePhone(raw, region string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrBadNumber)
	}
	if len(raw) > 40 {
		return "", fmt.Errorf("%w: %d characters, limit 40", ErrBadNumber, len(raw))
	}
	if region == "" {
		region = DefaultRegion
	}
	// "00" international prefix as Chinese spreadsheets often write it.
	if strings.HasPrefix(raw, "00") {
		raw = "+" + raw[2:]
	}
	digits, plain := plainDigits(raw)
	var key string
	if plain && len(digits) >= 8 {
		key = region + "|" + digits[:8] + "|" + strconv.Itoa(len(digits))
		if v, ok := shapeCache.Load(key); ok {
			sh := v.(numberShape)
			return "+" + sh.cc + digits[sh.strip:], nil
		}
	}
	n, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadNumber, maskRaw(raw), err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: %q is not a valid number for region %s", ErrBadNumber, maskRaw(raw),
			phonenumbers.GetRegionCodeForNumber(n))
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if key != "" {
		// remember how this shape of number maps to E.164 (country code
		// added, trunk prefix dropped), for the next numbers of the shape
		k0 := 0
		if digits[0] == '+' {
			k0 = 1
		}
		for k := k0; k < len(digits) && k < k0+4; k++ {
			if rest := digits[k:]; len(rest) < len(e164) && strings.HasSuffix(e164, rest) {
				shapeCache.Store(key, numberShape{cc: e164[1 : len(e164)-len(rest)], strip: k})
				break
			}
		}
	}
	return e164, nil
}

// numberShape is how valid numbers sharing their first eight characters and
// their length turn into E.164. The numbering plans validate numbers by
// their leading digits and length, so phonenumbers' (slow, regex-based)
// verdict on one number holds for the others of its shape; a million-row
// import then parses each shape once.
type numberShape struct {
	cc    string // "+"-less prefix to put in front
	strip int    // leading characters of the digits to drop
}

var shapeCache sync.Map // region|first 8|length -> numberShape (valid numbers only)

// plainDigits returns raw with spaces, dashes, dots and parentheses
// removed, and whether nothing else but digits and a leading '+' remains.
func plainDigits(raw string) (string, bool) {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == '+' && len(b) == 0:
			b = append(b, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	return string(b), true
}

func maskRaw(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// ContactID is the contact's ID in a campaign: a hash of its E.164 number,
// so a number appears once per campaign, re-importing a file after a crash
// finds the rows already imported, and IDs in logs reveal no number.
func ContactID(e164 string) string {
	h := sha256.Sum256([]byte(e164))
	return "k" + hex.EncodeToString(h[:10])
}

var tzCache sync.Map // E.164 prefix (country code + 4 digits) -> []string

// ZonesForNumber returns the IANA zones the numbering plan assigns to an
// E.164 number (several for countries spanning zones when the prefix does
// not pin one down); nil if unknown.
func ZonesForNumber(e164 string) []string {
	key := e164
	if len(key) > 9 {
		key = key[:9]
	}
	if v, ok := tzCache.Load(key); ok {
		return v.([]string)
	}
	n, err := phonenumbers.Parse(e164, "")
	var out []string
	if err == nil {
		zs, err := phonenumbers.GetTimezonesForNumber(n)
		if err == nil {
			for _, z := range zs {
				if z == "" || z == "Etc/Unknown" {
					continue
				}
				if _, err := LoadZone(z); err == nil {
					out = append(out, z)
				}
			}
		}
	}
	tzCache.Store(key, out)
	return out
}

var zoneCache sync.Map // name -> *time.Location

// LoadZone loads an IANA zone (embedded tzdata backs it up), cached.
func LoadZone(name string) (*time.Location, error) {
	if v, ok := zoneCache.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%w: %q (name an IANA zone such as Asia/Shanghai)", ErrTimezone, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrTimezone, name)
	}
	zoneCache.Store(name, loc)
	return loc, nil
}
