package campaign

// This file holds calling windows: when a callee may be called, evaluated
// in the callee's local wall-clock time (DST-correct through time.Location),
// never outside the legal default 08:00-21:00, never on a holiday.

import (
	"fmt"
	"sort"
	"time"

	"callbox/cluster"
)

// The outer bound every window is clipped to (local time, minutes of day).
const (
	LegalStart = 8 * 60  // 08:00
	LegalEnd   = 21 * 60 // 21:00
)

// maxSearchDays bounds NextOpen's search.
const maxSearchDays = 400

type dayWindow struct {
	days       uint8 // bit per time.Weekday
	start, end int   // minutes of day, [start, end)
}

// Calendar decides whether a moment is inside a campaign's calling windows.
// It is immutable and safe for concurrent use.
type Calendar struct {
	windows  []dayWindow // sorted by start
	holidays map[string]bool
}

var dayBits = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func parseHHMM(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// NewCalendar builds a calendar from a campaign's windows and holidays
// ("YYYY-MM-DD", the callee's local date). No windows means the legal
// default every day. Windows are clipped to LegalStart..LegalEnd: a
// campaign may be stricter than the default, never looser.
func NewCalendar(windows []cluster.Window, holidays []string) (*Calendar, error) {
	c := &Calendar{holidays: map[string]bool{}}
	if len(windows) == 0 {
		c.windows = []dayWindow{{days: 0x7f, start: LegalStart, end: LegalEnd}}
	}
	for i, w := range windows {
		s, err := parseHHMM(w.Start)
		if err != nil {
			return nil, fmt.Errorf("%w: windows[%d].start %v", ErrBadSpec, i, err)
		}
		e, err := parseHHMM(w.End)
		if err != nil {
			return nil, fmt.Errorf("%w: windows[%d].end %v", ErrBadSpec, i, err)
		}
		if s >= e {
			return nil, fmt.Errorf("%w: windows[%d]: start %s is not before end %s", ErrBadSpec, i, w.Start, w.End)
		}
		dw := dayWindow{start: max(s, LegalStart), end: min(e, LegalEnd)}
		if len(w.Days) == 0 {
			dw.days = 0x7f
		}
		for _, d := range w.Days {
			wd, ok := dayBits[d]
			if !ok {
				return nil, fmt.Errorf("%w: windows[%d]: day %q: want mon..sun", ErrBadSpec, i, d)
			}
			dw.days |= 1 << wd
		}
		if dw.start < dw.end {
			c.windows = append(c.windows, dw)
		}
	}
	if len(c.windows) == 0 {
		return nil, fmt.Errorf("%w: no window overlaps the legal calling hours 08:00-21:00", ErrBadSpec)
	}
	sort.Slice(c.windows, func(i, j int) bool { return c.windows[i].start < c.windows[j].start })
	for i, h := range holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			return nil, fmt.Errorf("%w: holidays[%d] %q: want YYYY-MM-DD", ErrBadSpec, i, h)
		}
		c.holidays[h] = true
	}
	return c, nil
}

// Open reports whether at is inside a window in loc.
func (c *Calendar) Open(at time.Time, loc *time.Location) bool {
	lt := at.In(loc)
	if c.holidays[lt.Format("2006-01-02")] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	bit := uint8(1) << lt.Weekday()
	for _, w := range c.windows {
		if w.days&bit != 0 && m >= w.start && m < w.end {
			return true
		}
	}
	return false
}

// OpenAll reports whether at is inside a window in every zone of locs (a
// number whose zone is ambiguous is called only when all its zones allow).
func (c *Calendar) OpenAll(at time.Time, locs []*time.Location) bool {
	if len(locs) == 0 {
		return false
	}
	for _, l := range locs {
		if !c.Open(at, l) {
			return false
		}
	}
	return true
}

// NextOpen returns the earliest moment not before at that is open in
// every zone of locs, and false if none comes within about a year.
func (c *Calendar) NextOpen(at time.Time, locs []*time.Location) (time.Time, bool) {
	if len(locs) == 0 {
		return time.Time{}, false
	}
	t := at
	// Each round moves t to the next window start of the zone that is
	// closed; candidates only increase, and every zone's candidate set is
	// finite per day, so this ends.
	for round := 0; round < 4*maxSearchDays*len(locs); round++ {
		moved := false
		for _, l := range locs {
			if c.Open(t, l) {
				continue
			}
			nt, ok := c.nextOpenIn(t, l)
			if !ok {
				return time.Time{}, false
			}
			t, moved = nt, true
		}
		if !moved {
			return t, true
		}
	}
	return time.Time{}, false
}

// nextOpenIn is NextOpen for one zone.
func (c *Calendar) nextOpenIn(at time.Time, loc *time.Location) (time.Time, bool) {
	if c.Open(at, loc) {
		return at, true
	}
	lt := at.In(loc)
	y, mo, d := lt.Date()
	for day := 0; day < maxSearchDays; day++ {
		date := time.Date(y, mo, d+day, 12, 0, 0, 0, loc)
		if c.holidays[date.Format("2006-01-02")] {
			continue
		}
		bit := uint8(1) << date.Weekday()
		for _, w := range c.windows {
			if w.days&bit == 0 {
				continue
			}
			dy, dm, dd := date.Date()
			start := time.Date(dy, dm, dd, w.start/60, w.start%60, 0, 0, loc)
			if start.Before(at) {
				start = at.Truncate(time.Minute).Add(time.Minute)
			}
			// walk minute-precise candidates only at window starts, or the
			// next whole minute when at is inside the window's day span
			if c.Open(start, loc) && !start.Before(at) {
				return start, true
			}
		}
	}
	return time.Time{}, false
}
