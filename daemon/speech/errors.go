package speech

import "errors"

// Sentinel errors. Adapters wrap them with detail (engine, text, status), so
// test with errors.Is.
var (
	// ErrEmptyText: Synthesize was called with text that is empty or only
	// white space.
	ErrEmptyText = errors.New("speech: text is empty")
	// ErrBadText: the text is not valid UTF-8.
	ErrBadText = errors.New("speech: bad text")
	// ErrTextTooLong: the text exceeds MaxTextBytes.
	ErrTextTooLong = errors.New("speech: text too long")
	// ErrBadVoice: the Voice has an unusable name or rate.
	ErrBadVoice = errors.New("speech: bad voice")
	// ErrEngineMissing: the engine binary or model is not installed.
	ErrEngineMissing = errors.New("speech: engine not installed")
	// ErrEngineFailed: the engine ran but failed (exit status, HTTP error,
	// protocol error reported by the server).
	ErrEngineFailed = errors.New("speech: engine failed")
	// ErrBadAudio: audio from an engine or a cache file could not be
	// decoded (bad WAV header, wrong format, truncated, no samples).
	ErrBadAudio = errors.New("speech: bad audio")
	// ErrBadResponse: an engine sent a message this package cannot parse.
	ErrBadResponse = errors.New("speech: bad engine response")
	// ErrTimeout: an engine did not answer in time (final result after
	// CloseSend, process run time, HTTP request).
	ErrTimeout = errors.New("speech: engine timed out")
	// ErrStreamClosed: Write or CloseSend on a stream after CloseSend or
	// Close.
	ErrStreamClosed = errors.New("speech: stream closed")
	// ErrUnsupportedLang: the recognizer has no model for the language.
	ErrUnsupportedLang = errors.New("speech: unsupported language")
	// ErrUtteranceTooLong: a per-utterance recognizer was given more audio
	// than its limit.
	ErrUtteranceTooLong = errors.New("speech: utterance too long")
	// ErrBadOptions: ListenOptions or adapter configuration is invalid.
	ErrBadOptions = errors.New("speech: bad options")
)
