package speech

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Pocketsphinx recognizes English offline with Debian's pocketsphinx
// (0.8+5prealpha, binary pocketsphinx_continuous, en-us model). It is
// per-utterance: audio is buffered until CloseSend, upsampled to 16 kHz
// with the telephone band extension (upsampleForASR: the wideband model
// needs energy above 4 kHz), written to a WAV file and decoded by one
// bounded process run (with a grammar, against a dictionary of just the
// grammar's words, which loads in a fraction of the full one's time).
//
// When ListenOptions.Phrases are given, a JSGF grammar of exactly those
// phrases constrains the search (far more accurate than dictation, and the
// only sane choice on 8 kHz telephone audio). Words missing from the
// pronunciation dictionary are dropped from the grammar, with a warning; a
// phrase left empty is dropped. The Final result's Text is then the original
// phrase as given in Phrases. Without phrases it runs free dictation with the
// bundled language model. Confidence is not reported (0).
//
// The zero value uses the Debian paths. Use a *Pocketsphinx (it caches the
// dictionary).
type Pocketsphinx struct {
	Binary   string // default "pocketsphinx_continuous"
	ModelDir string // default /usr/share/pocketsphinx/model/en-us
	HMM      string // acoustic model dir; default ModelDir/en-us
	Dict     string // default ModelDir/cmudict-en-us.dict
	LM       string // language model for dictation; default ModelDir/en-us.lm.bin
	// Timeout bounds one decoding run; default 15 s.
	Timeout time.Duration
	// MaxUtterance bounds the audio of one stream; default 30 s.
	MaxUtterance time.Duration
	// BandExtension is the gain of the mirrored upper band added when 8 kHz
	// audio is upsampled for the 16 kHz model (see upsampleForASR): 0 means
	// DefaultBandExtension, a negative value turns it off.
	BandExtension float64
	// Mandarin lets turns in Mandarin ("zh") be recognised among the
	// node's expected phrases, spelled in pinyin and approximated with the
	// en-us model's phones (pinyin.go). Experimental, off by default: the
	// measured accuracy and its confusions are in docs/PERFORMANCE.md
	// ("Mandarin phrases on the en-us model"). Without it a Mandarin turn
	// fails with ErrUnsupportedLang and takes DTMF only.
	Mandarin bool
	// ExtraArgs are appended to the command line (e.g. beam widths); a flag
	// given here replaces the package's default for it (see
	// pocketsphinxDefaults). Never repeat -infile, -hmm, -dict, -logfn,
	// -jsgf or -lm: pocketsphinx rejects duplicate flags.
	ExtraArgs []string
	TempDir   string           // default os.TempDir()
	Now       func() time.Time // default time.Now
	Log       *slog.Logger     // default slog.Default()

	// grammarShape is the grammar's form (the ASR matrix test compares
	// them; see grammarShape).
	grammarShape grammarShape

	mu       sync.Mutex
	dict     map[string]struct{} // guarded by mu
	pron     map[string][]string // word -> its dictionary lines; guarded by mu
	dictPath string              // path dict was loaded from; guarded by mu
}

// pocketsphinxDefaults are decoder flags tuned for 8 kHz telephone audio
// upsampled to the 16 kHz model.
var pocketsphinxDefaults = [][2]string{
	// Spectral noise estimation misfires on band-limited audio and
	// swallows whole words (measured on espeak-ng speech through μ-law).
	{"-remove_noise", "no"},
}

// mandarinBandExtension is the band-extension gain for Mandarin turns:
// 0.3 beat 0.5 and 0.7 for the espeak-ng Mandarin voice (TestASRMatrix).
const mandarinBandExtension = 0.3

// mandarinBeams widen the search for Mandarin phrase grammars: with the
// default beams the English model's poorer fit prunes the right path and
// short answers ("不是") decode as nothing.
var mandarinBeams = [][2]string{{"-beam", "1e-80"}, {"-pbeam", "1e-80"}, {"-wbeam", "1e-60"}}

const (
	defaultPocketsphinxModel = "/usr/share/pocketsphinx/model/en-us"
	defaultUtteranceTimeout  = 15 * time.Second
	defaultMaxUtterance      = 30 * time.Second
	asrRate                  = 16000 // the en-us model's rate
)

func (p *Pocketsphinx) paths() (bin, hmm, dict, lm string) {
	bin = p.Binary
	if bin == "" {
		bin = "pocketsphinx_continuous"
	}
	dir := p.ModelDir
	if dir == "" {
		dir = defaultPocketsphinxModel
	}
	hmm, dict, lm = p.HMM, p.Dict, p.LM
	if hmm == "" {
		hmm = filepath.Join(dir, "en-us")
	}
	if dict == "" {
		dict = filepath.Join(dir, "cmudict-en-us.dict")
	}
	if lm == "" {
		lm = filepath.Join(dir, "en-us.lm.bin")
	}
	return
}

func (p *Pocketsphinx) logger() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// Start implements Recognizer. It fails fast when the binary or model is
// missing, the language is not English, or no phrase survives the
// dictionary check.
func (p *Pocketsphinx) Start(ctx context.Context, opts ListenOptions) (Stream, error) {
	opts, err := checkListen(opts)
	if err != nil {
		return nil, err
	}
	lang := normalizeLang(opts.Lang)
	switch lang {
	case "", "en":
		lang = "en"
	case "zh":
		if !p.Mandarin {
			return nil, fmt.Errorf("%w: pocketsphinx has only the en-us model; Mandarin phrase grammars are off (asr.mandarin_phrases)", ErrUnsupportedLang)
		}
		if len(opts.Phrases) == 0 {
			return nil, fmt.Errorf("%w: pocketsphinx has only the en-us model; Mandarin needs the node's expected phrases (a grammar)", ErrUnsupportedLang)
		}
	default:
		return nil, fmt.Errorf("%w: pocketsphinx has only the en-us model (and Mandarin phrase grammars), asked for %q", ErrUnsupportedLang, opts.Lang)
	}
	bin, hmm, dictPath, lm := p.paths()
	binPath, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v (install the pocketsphinx package)", ErrEngineMissing, bin, err)
	}
	for _, f := range []string{hmm, dictPath} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: pocketsphinx model: %v", ErrEngineMissing, err)
		}
	}
	var grammar, words string
	var phraseOf map[string]string
	if len(opts.Phrases) > 0 {
		dict, err := p.dictionary(dictPath)
		if err != nil {
			return nil, err
		}
		var dropped []string
		var leadWords []string
		grammar, phraseOf, dropped, leadWords = buildJSGFShape(opts.Phrases, lang, dict, p.grammarShape)
		if len(dropped) > 0 && lang == "zh" {
			p.logger().Warn("pocketsphinx: Mandarin phrases with characters that have no pinyin reading dropped from grammar", "characters", dropped)
		} else if len(dropped) > 0 {
			p.logger().Warn("pocketsphinx: words not in the dictionary dropped from grammar", "words", dropped, "dict", dictPath)
		}
		if grammar == "" && lang == "zh" {
			return nil, fmt.Errorf("%w: no phrase of %q can be spelled in pinyin (no reading for %q)", ErrBadOptions, opts.Phrases, dropped)
		} else if grammar == "" {
			return nil, fmt.Errorf("%w: no phrase of %q has a word in the pocketsphinx dictionary %s", ErrBadOptions, opts.Phrases, dictPath)
		}
		words = p.grammarDict(phraseOf, lang, leadWords...)
	} else if _, err := os.Stat(lm); err != nil {
		return nil, fmt.Errorf("%w: pocketsphinx language model: %v", ErrEngineMissing, err)
	}
	maxDur := p.MaxUtterance
	if maxDur <= 0 {
		maxDur = defaultMaxUtterance
	}
	setup := decodeSetup{bin: binPath, hmm: hmm, dict: dictPath, lm: lm, grammar: grammar, words: words,
		flags: pocketsphinxDefaults, gain: p.BandExtension}
	if setup.gain == 0 {
		setup.gain = DefaultBandExtension
	}
	if lang == "zh" {
		setup.flags = append(slices.Clip(setup.flags), mandarinBeams...)
		if p.BandExtension == 0 {
			setup.gain = mandarinBandExtension
		}
	}
	run := func(ctx context.Context, pcm []int16) (Result, error) {
		text, err := p.decode(ctx, setup, pcm)
		if err != nil {
			return Result{}, err
		}
		if orig, ok := phraseOf[text]; ok {
			text = orig
		}
		return Result{Text: text}, nil
	}
	return newUtteranceStream(ctx, opts.SampleRate, maxDur, p.Now, run), nil
}

// decode runs pocketsphinx_continuous over one utterance (8 kHz PCM).
// With a grammar, words is the grammar's own pronunciation dictionary,
// used instead of dict.
// decodeSetup is what every decoding run of one stream shares.
type decodeSetup struct {
	bin, hmm, dict, lm string
	grammar, words     string      // JSGF and its pronunciations; "" for dictation
	flags              [][2]string // decoder flags (ExtraArgs override them)
	gain               float64     // band extension (upsampleForASR)
}

func (p *Pocketsphinx) decode(ctx context.Context, s decodeSetup, pcm []int16) (string, error) {
	bin, hmm, dict, lm, grammar, words := s.bin, s.hmm, s.dict, s.lm, s.grammar, s.words
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultUtteranceTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp(p.TempDir, "callbox-asr-")
	if err != nil {
		return "", fmt.Errorf("pocketsphinx: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	wav := filepath.Join(dir, "utterance.wav")
	if err := os.WriteFile(wav, encodeWAV(upsampleForASR(pcm, SampleRate, s.gain), asrRate), 0o600); err != nil {
		return "", fmt.Errorf("pocketsphinx: %w", err)
	}
	logf := filepath.Join(dir, "decoder.log")
	if grammar != "" && words != "" {
		// Loading the 135,000-word dictionary is most of a run's time
		// (≈ 200 ms of ≈ 220 ms for a short answer); the grammar's words
		// load in ≈ 40 ms with the same pronunciations.
		dict = filepath.Join(dir, "grammar.dict")
		if err := os.WriteFile(dict, []byte(words), 0o600); err != nil {
			return "", fmt.Errorf("pocketsphinx: %w", err)
		}
	}
	args := []string{"-infile", wav, "-hmm", hmm, "-dict", dict, "-logfn", logf}
	for _, d := range s.flags {
		if !slices.Contains(p.ExtraArgs, d[0]) {
			args = append(args, d[0], d[1])
		}
	}
	if grammar != "" {
		g := filepath.Join(dir, "answers.gram")
		if err := os.WriteFile(g, []byte(grammar), 0o600); err != nil {
			return "", fmt.Errorf("pocketsphinx: %w", err)
		}
		args = append(args, "-jsgf", g)
	} else {
		args = append(args, "-lm", lm)
	}
	args = append(args, p.ExtraArgs...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout limitedBuffer
	stdout.limit = 64 << 10
	cmd.Stdout = &stdout
	var stderr limitedBuffer
	stderr.limit = 4 << 10
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case parent.Err() != nil:
		return "", context.Cause(parent)
	case ctx.Err() != nil:
		return "", fmt.Errorf("%w: pocketsphinx took longer than %v", ErrTimeout, timeout)
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: %s: %v", ErrEngineMissing, bin, err)
	case err != nil:
		return "", fmt.Errorf("%w: pocketsphinx: %v: %s", ErrEngineFailed, err, logTail(logf, stderr.String()))
	}
	return parsePocketsphinxOutput(stdout.String()), nil
}

// parsePocketsphinxOutput joins the hypothesis lines pocketsphinx_continuous
// prints, one per speech segment it found in the file.
func parsePocketsphinxOutput(out string) string {
	var words []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "INFO:") || strings.HasPrefix(line, "ERROR:") || strings.HasPrefix(line, "WARN") {
			continue
		}
		words = append(words, strings.Fields(line)...)
	}
	return strings.Join(words, " ")
}

// logTail returns the ERROR lines of the decoder log (or its last line);
// argument errors happen before the log opens and go to stderr.
func logTail(path, stderr string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		b = []byte(stderr)
	}
	var errs []string
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "FATAL") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	if len(errs) == 0 && len(lines) > 0 {
		errs = lines[len(lines)-1:]
	}
	s := strings.Join(errs, "; ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// dictionary loads (once per path) the set of words in a CMU-style
// pronunciation dictionary ("word PH ON EMES", alternates as "word(2)").
func (p *Pocketsphinx) dictionary(path string) (map[string]struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dict != nil && p.dictPath == path {
		return p.dict, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: pocketsphinx dictionary: %v", ErrEngineMissing, err)
	}
	defer f.Close()
	dict := make(map[string]struct{}, 140000)
	pron := make(map[string][]string, 140000)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexAny(line, " \t")
		if i <= 0 {
			continue
		}
		w := line[:i]
		if j := strings.IndexByte(w, '('); j > 0 {
			w = w[:j]
		}
		lw := strings.ToLower(w)
		dict[lw] = struct{}{}
		pron[lw] = append(pron[lw], line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pocketsphinx dictionary %s: %w", path, err)
	}
	if len(dict) == 0 {
		return nil, fmt.Errorf("%w: pocketsphinx dictionary %s is empty", ErrEngineMissing, path)
	}
	p.dict, p.pron, p.dictPath = dict, pron, path
	return dict, nil
}

// grammarDict returns the dictionary lines of every word of the grammar's
// alternatives (the keys of phraseOf), alternates included, sorted.
func (p *Pocketsphinx) grammarDict(phraseOf map[string]string, lang string, extra ...string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var lines []string
	add := func(w string) {
		if seen[w] {
			return
		}
		seen[w] = true
		if lang == "zh" {
			if zh := mandarinDictLines(w); zh != nil {
				lines = append(lines, zh...)
				return
			}
		}
		lines = append(lines, p.pron[w]...)
	}
	for alt := range phraseOf {
		for _, w := range strings.Fields(alt) {
			add(w)
		}
	}
	for _, w := range extra {
		add(w)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}
