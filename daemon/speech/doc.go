// Package speech owns the box's speech hooks: text-to-speech behind the
// Synthesizer interface and speech recognition behind the Recognizer
// interface, with adapters to local and on-prem engines.
//
// TTS adapters: Espeak (espeak-ng, the offline default, Mandarin through the
// "cmn-latn-pinyin" voice), OpenAITTS (an on-prem server speaking the OpenAI
// /v1/audio/speech protocol) and Cache, an on-disk cache that wraps any
// Synthesizer so a repeated prompt costs no synthesis.
//
// ASR adapters: Pocketsphinx (pocketsphinx_continuous, the offline default,
// grammar-constrained when expected phrases are given), Vosk (Vosk server
// WebSocket protocol), FunASR (FunASR runtime WebSocket protocol) and
// OpenAIASR (/v1/audio/transcriptions).
//
// All audio crossing this package's API is 8 kHz, 16-bit signed mono PCM
// ([]int16), the media plane's format (see callbox/media). Conversions to and
// from engine formats (22.05 kHz espeak-ng WAV, 24 kHz OpenAI PCM, 16 kHz
// recognizer input) happen inside the adapters.
package speech
