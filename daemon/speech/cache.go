package speech

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Cache is an on-disk TTS cache in front of another Synthesizer. Entries are
// 8 kHz mono WAV files named by sha256(engine id, text, voice name, rate), so
// a repeated prompt costs one file read and no synthesis.
//
//   - Concurrent requests for the same key synthesize once; the others wait
//     for that result (or their own context).
//   - Files are written to a temporary name, fsynced and renamed, so a crash
//     never leaves a half-written entry under a real name.
//   - Each file carries a checksum chunk ("cbck": sha256 of key and samples);
//     a truncated, altered or foreign file counts as corrupt, is removed and
//     re-synthesized.
//
// A Cache is safe for concurrent use.
type Cache struct {
	dir    string
	next   Synthesizer
	engine string
	log    *slog.Logger

	mu       sync.Mutex
	inflight map[string]*flight // guarded by mu

	hits, misses, corrupt, errs atomic.Uint64
}

// CacheStats counts cache outcomes since NewCache.
type CacheStats struct {
	Hits    uint64 // served from disk
	Misses  uint64 // synthesized by the wrapped engine
	Corrupt uint64 // files found damaged, removed and re-synthesized
	Errors  uint64 // cache files that could not be written (synthesis still succeeded)
}

// flight is one in-progress synthesis other callers can wait for.
type flight struct {
	done chan struct{} // closed when pcm/err are set
	pcm  []int16
	err  error
}

const (
	cacheExt       = ".wav"
	cacheTmpPrefix = ".tts-"
	cacheTmpSuffix = ".tmp"
	cacheSumChunk  = "cbck"
	cacheKeyDomain = "callbox-tts-cache-v1"
	staleTmpAge    = time.Hour
)

// NewCache returns a cache storing files in dir (created 0750 if missing)
// in front of next. Leftover temporary files older than an hour (from a
// crash) are removed.
func NewCache(dir string, next Synthesizer) (*Cache, error) {
	if next == nil {
		return nil, fmt.Errorf("%w: tts cache: no synthesizer to wrap", ErrBadOptions)
	}
	if strings.TrimSpace(dir) == "" {
		return nil, fmt.Errorf("%w: tts cache: empty directory", ErrBadOptions)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("tts cache directory %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, cacheTmpPrefix+"probe-*"+cacheTmpSuffix)
	if err != nil {
		return nil, fmt.Errorf("tts cache directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	engine := fmt.Sprintf("%T", next)
	if id, ok := next.(EngineIdentifier); ok {
		engine = id.EngineID()
	}
	c := &Cache{
		dir:      dir,
		next:     next,
		engine:   engine,
		log:      slog.Default().With("component", "tts-cache"),
		inflight: map[string]*flight{},
	}
	c.removeStaleTemps(time.Now())
	return c, nil
}

// EngineID implements EngineIdentifier: the wrapped engine's id.
func (c *Cache) EngineID() string { return c.engine }

// Stats returns counters since NewCache.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Corrupt: c.corrupt.Load(), Errors: c.errs.Load()}
}

// Synthesize implements Synthesizer: the cached audio if present, else the
// wrapped engine's, which is then stored. Every caller gets its own slice.
func (c *Cache) Synthesize(ctx context.Context, text string, v Voice) ([]int16, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	key := c.key(text, v)
	for {
		if pcm, ok := c.load(key); ok {
			c.hits.Add(1)
			return pcm, nil
		}
		c.mu.Lock()
		if f, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err == nil {
				return append([]int16(nil), f.pcm...), nil
			}
			if isContextErr(f.err) && ctx.Err() == nil {
				continue // the leader gave up, we still want it: try again
			}
			return nil, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[key] = f
		c.mu.Unlock()
		return c.lead(ctx, key, text, v, f)
	}
}

// lead synthesizes for key on behalf of every waiter on f.
func (c *Cache) lead(ctx context.Context, key, text string, v Voice, f *flight) (pcm []int16, err error) {
	defer func() {
		if err == nil {
			f.pcm = append([]int16(nil), pcm...)
		}
		f.err = err
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(f.done)
	}()
	// A previous leader may have stored the file between our miss and our
	// registration.
	if pcm, ok := c.load(key); ok {
		c.hits.Add(1)
		return pcm, nil
	}
	c.misses.Add(1)
	pcm, err = c.next.Synthesize(ctx, text, v)
	if err != nil {
		return nil, err
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("%w: engine %s returned no audio", ErrBadAudio, c.engine)
	}
	if werr := c.store(key, pcm); werr != nil {
		c.errs.Add(1)
		c.log.Warn("tts cache write failed", "key", key[:16], "err", werr)
	}
	return pcm, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// key is the hex sha256 of the length-prefixed engine id, text, voice and rate.
func (c *Cache) key(text string, v Voice) string {
	h := sha256.New()
	for _, f := range []string{cacheKeyDomain, c.engine, text, v.Name} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var r [8]byte
	binary.BigEndian.PutUint64(r[:], uint64(int64(v.Rate)))
	h.Write(r[:])
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key+cacheExt) }

// checksum binds the samples to their key, so a file copied under another
// name is as corrupt as a damaged one.
func checksum(key string, data []byte) []byte {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write(data)
	return h.Sum(nil)
}

// load reads the entry for key. A missing file is a miss; a damaged one is
// removed, counted and reported as a miss.
func (c *Cache) load(key string) ([]int16, bool) {
	p := c.path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("tts cache read failed", "path", p, "err", err)
		}
		return nil, false
	}
	pcm, err := decodeCacheFile(key, b)
	if err != nil {
		c.corrupt.Add(1)
		c.log.Warn("tts cache file corrupt, re-synthesizing", "path", p, "err", err)
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			c.log.Warn("tts cache: cannot remove corrupt file", "path", p, "err", rerr)
		}
		return nil, false
	}
	return pcm, true
}

func decodeCacheFile(key string, b []byte) ([]int16, error) {
	w, err := parseWAV(b)
	if err != nil {
		return nil, err
	}
	switch {
	case w.truncated:
		return nil, fmt.Errorf("%w: data chunk truncated", ErrBadAudio)
	case w.rate != SampleRate || w.channels != 1:
		return nil, fmt.Errorf("%w: %d Hz %d channels, want %d Hz mono", ErrBadAudio, w.rate, w.channels, SampleRate)
	case len(w.data) == 0 || len(w.data)%2 != 0:
		return nil, fmt.Errorf("%w: data chunk of %d bytes", ErrBadAudio, len(w.data))
	case !bytes.Equal(w.extra[cacheSumChunk], checksum(key, w.data)):
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadAudio)
	}
	return decodePCM(w.data), nil
}

// store writes the entry atomically: temp file, fsync, rename, fsync dir.
func (c *Cache) store(key string, pcm []int16) error {
	data := appendPCM(make([]byte, 0, 2*len(pcm)), pcm)
	file := encodeWAV(pcm, SampleRate, chunk{id: cacheSumChunk, body: checksum(key, data)})
	tmp, err := os.CreateTemp(c.dir, cacheTmpPrefix+"*"+cacheTmpSuffix)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(file); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.path(key)); err != nil {
		return err
	}
	if d, err := os.Open(c.dir); err == nil {
		d.Sync() // best effort: make the rename durable
		d.Close()
	}
	return nil
}

// removeStaleTemps deletes temporary files left by a crash.
func (c *Cache) removeStaleTemps(now time.Time) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, cacheTmpPrefix) || !strings.HasSuffix(name, cacheTmpSuffix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < staleTmpAge {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, name)); err == nil {
			c.log.Info("tts cache: removed stale temporary file", "name", name)
		}
	}
}
