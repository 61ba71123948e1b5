package campaign

import (
	"math/rand/v2"
	"testing"
	"time"

	"callbox/cluster"
)

// oracle is an independent statement of the window rule.
func oracle(at time.Time, loc *time.Location, days map[time.Weekday]bool, start, end int, holidays map[string]bool) bool {
	lt := at.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	return days[lt.Weekday()] && !holidays[lt.Format("2006-01-02")] && m >= max(start, 8*60) && m < min(end, 21*60)
}

var testZones = []string{"Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Sydney", "America/Los_Angeles", "Asia/Kolkata"}

func TestCalendarAgreesWithOracleAcrossDST(t *testing.T) {
	cal, err := NewCalendar([]cluster.Window{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "20:00"}}, []string{"2026-03-09", "2026-11-02"})
	if err != nil {
		t.Fatal(err)
	}
	days := map[time.Weekday]bool{1: true, 2: true, 3: true, 4: true, 5: true}
	hol := map[string]bool{"2026-03-09": true, "2026-11-02": true}
	rng := rand.New(rand.NewPCG(1, 2))
	// around the 2026 DST changes: US 8 Mar / 1 Nov, EU 29 Mar / 25 Oct, AU 5 Apr / 4 Oct
	spans := []time.Time{time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)}
	for _, z := range testZones {
		loc, err := LoadZone(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range spans {
			for i := 0; i < 3000; i++ {
				at := s.Add(time.Duration(rng.Int64N(int64(6 * 24 * time.Hour))))
				if got, want := cal.Open(at, loc), oracle(at, loc, days, 7*60, 20*60, hol); got != want {
					t.Fatalf("%s %s (local %s): Open=%v, oracle %v", z, at, at.In(loc), got, want)
				}
				next, ok := cal.NextOpen(at, []*time.Location{loc})
				if !ok || next.Before(at) || !oracle(next, loc, days, 7*60, 20*60, hol) {
					t.Fatalf("%s NextOpen(%s) = %s (local %s), ok=%v: not open", z, at, next, next.In(loc), ok)
				}
				// nothing open between at and next (checked per minute near next)
				for p := next.Add(-30 * time.Minute); p.Before(next); p = p.Add(time.Minute) {
					if !p.Before(at) && oracle(p, loc, days, 7*60, 20*60, hol) {
						t.Fatalf("%s NextOpen(%s) = %s but %s is already open", z, at, next, p)
					}
				}
			}
		}
	}
}

func TestCalendarLegalBoundAndErrors(t *testing.T) {
	cal, err := NewCalendar([]cluster.Window{{Start: "06:00", End: "23:00"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := LoadZone("Asia/Shanghai")
	if cal.Open(time.Date(2026, 3, 2, 7, 59, 0, 0, sh), sh) || !cal.Open(time.Date(2026, 3, 2, 8, 0, 0, 0, sh), sh) ||
		cal.Open(time.Date(2026, 3, 2, 21, 0, 0, 0, sh), sh) {
		t.Fatal("a looser window must be clipped to 08:00-21:00")
	}
	for _, bad := range [][]cluster.Window{{{Start: "21:30", End: "23:00"}}, {{Start: "9", End: "10:00"}}, {{Days: []string{"funday"}, Start: "09:00", End: "10:00"}}} {
		if _, err := NewCalendar(bad, nil); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if (&Calendar{}).OpenAll(t0, nil) {
		t.Fatal("a contact without a zone must never be open")
	}
}
