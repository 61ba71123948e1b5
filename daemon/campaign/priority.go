package campaign

// This file holds the order in which due contacts are dialled and the A/B
// variant each contact gets.

import (
	"hash/fnv"
	"sort"
	"time"

	"callbox/cluster"
)

// Order sorts due contacts: callbacks first, then value score (plus the
// golden-hours boost for contacts whose local time is inside one of the
// campaign's golden windows now), then the longest-waiting, then ID.
// zones resolves a contact's zones (see Zones).
func Order(k *cluster.Campaign, golden *Calendar, cs []cluster.Contact, now time.Time, zones func(*cluster.Contact) []*time.Location) {
	score := make(map[string]float64, len(cs))
	for i := range cs {
		s := cs[i].Value
		if golden != nil && k.Priority.ValueBoost != 0 && golden.OpenAll(now, zones(&cs[i])) {
			s += k.Priority.ValueBoost
		}
		score[cs[i].ID] = s
	}
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := &cs[i], &cs[j]
		if a.Callback != b.Callback {
			return a.Callback
		}
		if sa, sb := score[a.ID], score[b.ID]; sa != sb {
			return sa > sb
		}
		if !a.NextAttemptAt.Equal(b.NextAttemptAt) {
			return a.NextAttemptAt.Before(b.NextAttemptAt)
		}
		return a.ID < b.ID
	})
}

// GoldenCalendar builds the golden-hours calendar, nil if none.
func GoldenCalendar(k *cluster.Campaign) *Calendar {
	if len(k.Priority.GoldenHours) == 0 {
		return nil
	}
	c, err := NewCalendar(k.Priority.GoldenHours, nil)
	if err != nil {
		return nil
	}
	return c
}

// PickVariant chooses a contact's A/B variant by weight, deterministically
// from the contact ID (the same contact always gets the same script, on any
// box, after any restart). Empty when the campaign has no variants.
func PickVariant(k *cluster.Campaign, contactID string) (cluster.Variant, bool) {
	total := 0
	for _, v := range k.Variants {
		total += v.Weight
	}
	if total <= 0 {
		return cluster.Variant{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(k.ID))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(contactID))
	x := int(h.Sum64() % uint64(total))
	for _, v := range k.Variants {
		if x < v.Weight {
			return v, true
		}
		x -= v.Weight
	}
	return cluster.Variant{}, false
}

// Zones resolves where a contact lives: its own zone (time-zone policy
// "contact"), else the campaign's zone, else the zones of its number.
func Zones(k *cluster.Campaign, c *cluster.Contact) []*time.Location {
	if k.TimezonePolicy == "campaign" {
		if l, err := LoadZone(k.Timezone); err == nil {
			return []*time.Location{l}
		}
		return nil
	}
	if c.Timezone != "" {
		if l, err := LoadZone(c.Timezone); err == nil {
			return []*time.Location{l}
		}
	}
	var out []*time.Location
	for _, z := range ZonesForNumber(c.Phone) {
		if l, err := LoadZone(z); err == nil {
			out = append(out, l)
		}
	}
	if len(out) == 0 && k.Timezone != "" {
		if l, err := LoadZone(k.Timezone); err == nil {
			out = append(out, l)
		}
	}
	return out
}
