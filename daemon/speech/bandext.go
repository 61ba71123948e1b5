package speech

// This file holds the telephone-band extension applied before the 16 kHz
// pocketsphinx model hears 8 kHz call audio.

// DefaultBandExtension is the gain of the mirrored 4-8 kHz image added to
// telephone audio upsampled for the wideband en-us model (see
// upsampleForASR). Measured with TestASRMatrix (docs/PERFORMANCE.md "ASR
// accuracy on telephone audio").
const DefaultBandExtension = 0.7

// upsampleForASR doubles 8 kHz telephone audio to 16 kHz for a model
// trained on wideband speech, and puts back some energy above 4 kHz.
//
// A clean (sinc) upsampler leaves 4-8 kHz empty. The en-us acoustic model
// was trained on wideband speech whose fricatives and bursts ("s", "t",
// "ch") live largely up there, so on an empty upper band it hears vowels
// only: "stop calling me" decodes as "nah" or nothing. Spectral folding
// (the image an unfiltered zero-stuffing upsampler makes, i.e. the 0-4 kHz
// band mirrored into 4-8 kHz) is the classic cheap bandwidth extension:
// the mirror of a fricative's 2.5-4 kHz energy lands at 4-5.5 kHz where the
// model expects it. gain scales that image (0 = clean upsampling, 1 = plain
// zero stuffing); values outside [0, 1] are clamped. Other rate pairs are
// resampled cleanly.
func upsampleForASR(pcm []int16, from int, gain float64) []int16 {
	base := resample(pcm, from, asrRate)
	if from*2 != asrRate || gain <= 0 {
		return base
	}
	if gain > 1 {
		gain = 1
	}
	out := make([]int16, len(base))
	for i, b := range base {
		var stuffed float64 // zero-stuffed input, scaled to keep the level
		if i%2 == 0 && i/2 < len(pcm) {
			stuffed = 2 * float64(pcm[i/2])
		}
		// stuffed = baseband + image; the sinc filter kept the baseband.
		out[i] = clamp16(float64(b) + gain*(stuffed-float64(b)))
	}
	return out
}
