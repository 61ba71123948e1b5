package speech

import (
	"math"

	"callbox/media"
)

// resample is the speech front end's sample-rate converter: engine output
// to 8 kHz, call audio to the recognizers' rates. It uses
// media.ShortFilter, the filter pocketsphinx's accuracy was measured with.
// Rates are validated by the callers (WAV headers, options); a bad pair
// returns nil.
func resample(pcm []int16, from, to int) []int16 {
	return media.ResampleWith(pcm, from, to, media.ShortFilter)
}

func clamp16(v float64) int16 {
	v = math.Round(v)
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}
