package voice

import "os"

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "callbox-voice-tts-*") }
