// Package hw owns callbox's contact with the box's own hardware: the
// hardware watchdog (/dev/watchdog, see Watchdog) and the local audio
// devices of the supervisor's headset (Devices, Console) reached through
// PortAudio.
//
// PortAudio needs cgo and libportaudio2, so the audio half is built only with
// the build tag "portaudio"; without it (for example CGO_ENABLED=0 builds)
// Devices and OpenConsole return ErrNoAudioSupport and everything else still
// works.
//
// hw is a leaf library: it imports only the standard library and PortAudio,
// never daemon/ or cluster/. Callers pass in what it needs (health checks,
// loggers) as functions and values.
package hw
