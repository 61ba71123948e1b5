// Package flow owns the text level of a call's dialogue: the versioned YAML
// flow file format and its validation (errors name file, line and problem),
// templates over the contact profile, speaking numbers, money, dates and
// times in Mandarin and English, intent matching (with built-in opt-out,
// human, yes and no intents and an optional external NLU hook), a text
// emotion score, branch expressions, and the interpreter that walks a flow
// for one answered call.
//
// Audio is reached only through the IO interface, which the daemon
// implements on top of TTS, ASR, DTMF and VAD; this package never imports
// media or sipua.
package flow
