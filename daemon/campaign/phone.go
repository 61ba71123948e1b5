package campaign

// This file holds phone-number normalisation and time zones derived from
// numbers.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	n, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadNumber, maskRaw(raw), err)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%w: %q is not a valid number for region %s", ErrBadNumber, maskRaw(raw),
			phonenumbers.GetRegionCodeForNumber(n))
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
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
