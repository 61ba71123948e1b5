package media

import (
	"testing"
	"time"
)

func TestDeviationHistogram(t *testing.T) {
	var h DeviationHistogram
	if h.Quantile(0.5) != 0 {
		t.Fatal("empty histogram quantile not 0")
	}
	for range 98 {
		h.Add(200 * time.Microsecond) // bucket <= 250us
	}
	h.Add(-4 * time.Millisecond) // absolute value, bucket <= 5ms
	h.Add(300 * time.Millisecond)
	if h.Total != 100 {
		t.Fatalf("Total = %d", h.Total)
	}
	if got := h.Quantile(0.5); got != 250*time.Microsecond {
		t.Errorf("p50 = %v, want 250us", got)
	}
	if got := h.Quantile(0.99); got != 5*time.Millisecond {
		t.Errorf("p99 = %v, want 5ms", got)
	}
	if got := h.Quantile(1); got != 300*time.Millisecond || h.Max != 300*time.Millisecond {
		t.Errorf("p100 = %v max %v, want 300ms", got, h.Max)
	}
	var m DeviationHistogram
	m.Merge(h)
	m.Merge(h)
	if m.Total != 200 || m.Quantile(0.5) != 250*time.Microsecond || m.Max != h.Max {
		t.Errorf("merge wrong: %+v", m)
	}
}
