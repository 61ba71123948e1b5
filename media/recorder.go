package media

// This file holds the stereo call recorder: a WAV file (left = callee,
// right = box) written by one goroutine per recording, fed from the media
// clock without ever blocking it.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// RecorderBufferFrames is how many 20 ms stereo frames a recorder can hold
// while its writer is behind (5 s). Beyond that, frames are dropped and
// counted.
const RecorderBufferFrames = 250

// recMaxDataBytes keeps the data chunk inside the 32-bit WAV size fields.
const recMaxDataBytes = 0xFFFFFFFF - 36 - 1

// Sentinel errors of the recorder.
var (
	// ErrRecorderClosed: WriteStereo after Close.
	ErrRecorderClosed = errors.New("media: recorder closed")
	// ErrRecordingExists: the target file (or its .part) already exists;
	// recordings are never overwritten.
	ErrRecordingExists = errors.New("media: recording file already exists")
	// ErrRecorderWrite: the writer goroutine failed to write to disk; the
	// recording stopped growing (the error wraps the cause).
	ErrRecorderWrite = errors.New("media: recording write failed")
)

// RecorderStats counts what happened to the frames fed to a recorder.
type RecorderStats struct {
	FramesWritten uint64 // stereo frames on disk (or in the write buffer)
	FramesDropped uint64 // frames dropped because the writer was behind or failed
	Bytes         uint64 // audio bytes written (excluding the header)
}

// recBuf holds one frame of interleaved little-endian stereo samples.
type recBuf struct {
	b      [recBatchFrames * FrameSamples * 2 * 2]byte
	n      int // bytes used
	frames int // frames held
}

// recBatchFrames is how many frames travel to the writer together: the
// writer goroutine wakes (and writes) every 200 ms per call instead of every
// 20 ms, which at hundreds of calls saves tens of thousands of wake-ups and
// write system calls a second. A crash loses at most one batch.
const recBatchFrames = 10

// recFile is what the recorder writes to: *os.File, or a test double.
type recFile interface {
	io.Writer
	io.WriterAt
	Sync() error
	Close() error
}

// Recorder writes a stereo 8 kHz 16-bit WAV: left channel the callee, right
// channel the box. It writes to path+".part" and renames it to path on
// Close, after fixing the header sizes; until then the header says "size
// unknown" so a crash leaves a readable file. WriteStereo never blocks on
// disk: frames are copied into preallocated buffers and written by the
// recorder's own goroutine.
type Recorder struct {
	path, part string
	f          recFile
	stream     bool // f is a CreateRecorderWith stream: no header fix, no rename
	log        *slog.Logger

	mu     sync.Mutex
	closed bool         // guarded by mu
	work   chan *recBuf // guarded by mu for sends and close
	free   chan *recBuf
	cur    *recBuf // guarded by mu: the batch being filled on the media clock

	wg       sync.WaitGroup
	once     sync.Once
	closeErr error // written inside once; read after it

	written, dropped, bytes atomic.Uint64
	failed                  atomic.Bool
	werr                    error // written by the writer goroutine only; read after wg.Wait
}

// CreateRecorder starts a recording that will end up at path. It fails
// with ErrRecordingExists if path or path+".part" exists.
func CreateRecorder(path string) (*Recorder, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrRecordingExists, path)
	}
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrRecordingExists, part)
		}
		return nil, fmt.Errorf("media: creating recording: %w", err)
	}
	r, err := newRecorder(f, path, part, RecorderBufferFrames)
	if err != nil {
		f.Close()
		os.Remove(part)
		return nil, err
	}
	return r, nil
}

// RecorderOptions adjust CreateRecorderWith.
type RecorderOptions struct {
	// Create, when set, opens the recording's byte stream instead of a
	// plain file at path+".part" (for example an encrypting writer). The
	// stream owns naming and durability: the recorder writes the WAV
	// header, with its sizes left "unknown" because a stream cannot be
	// rewritten, then the audio, and Closes it. Readers fix the sizes
	// from the data length.
	Create func(path string) (io.WriteCloser, error)
}

// CreateRecorderWith starts a recording through opt; with a zero opt it
// is CreateRecorder.
func CreateRecorderWith(path string, opt RecorderOptions) (*Recorder, error) {
	if opt.Create == nil {
		return CreateRecorder(path)
	}
	w, err := opt.Create(path)
	if err != nil {
		return nil, fmt.Errorf("media: creating recording: %w", err)
	}
	r, err := newRecorder(streamFile{w}, path, "", RecorderBufferFrames)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.stream = true
	return r, nil
}

// streamFile adapts a plain io.WriteCloser to recFile; the recorder never
// calls WriteAt or Sync on a stream.
type streamFile struct{ io.WriteCloser }

func (streamFile) WriteAt([]byte, int64) (int, error) {
	return 0, errors.New("media: recording stream cannot seek")
}
func (streamFile) Sync() error { return nil }

// newRecorder writes the provisional header and starts the writer.
func newRecorder(f recFile, path, part string, frames int) (*Recorder, error) {
	var hdr [wavHeaderSize]byte
	putWAVHeader(hdr[:], SampleRate, 2, wavUnknownSize)
	if _, err := f.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header of %s: %v", ErrRecorderWrite, part, err)
	}
	batches := max(1, (frames+recBatchFrames-1)/recBatchFrames)
	r := &Recorder{
		path: path, part: part, f: f,
		log:  slog.Default().With("recording", path),
		work: make(chan *recBuf, batches),
		free: make(chan *recBuf, batches),
	}
	bufs := make([]recBuf, batches)
	for i := range bufs {
		r.free <- &bufs[i]
	}
	r.wg.Add(1)
	go r.writer()
	return r, nil
}

// writer owns the file until Close: it drains work into a buffered writer.
func (r *Recorder) writer() {
	defer r.wg.Done()
	bw := bufio.NewWriterSize(r.f, 64<<10)
	var total uint64
	for b := range r.work {
		if r.werr == nil && total+uint64(b.n) > recMaxDataBytes {
			r.werr = fmt.Errorf("%w: recording reached the 4 GiB WAV limit", ErrRecorderWrite)
			r.failed.Store(true)
		}
		if r.werr == nil {
			if _, err := bw.Write(b.b[:b.n]); err != nil {
				r.werr = fmt.Errorf("%w: %v", ErrRecorderWrite, err)
				r.failed.Store(true)
				r.log.Error("recording write failed; further audio is dropped", "err", err)
			}
		}
		if r.werr == nil {
			total += uint64(b.n)
			r.written.Add(uint64(b.frames))
			r.bytes.Add(uint64(b.n))
		} else {
			r.dropped.Add(uint64(b.frames))
		}
		r.free <- b
		if len(r.work) == 0 && r.werr == nil {
			// Idle: push buffered audio to the kernel so a crash loses little.
			if err := bw.Flush(); err != nil {
				r.werr = fmt.Errorf("%w: %v", ErrRecorderWrite, err)
				r.failed.Store(true)
			}
		}
	}
	if r.werr == nil {
		if err := bw.Flush(); err != nil {
			r.werr = fmt.Errorf("%w: %v", ErrRecorderWrite, err)
		}
	}
}

// WriteStereo queues one frame of each side (the shorter one is padded with
// silence; frames longer than FrameSamples are split). It never blocks on
// disk: if the writer is behind, the frame is dropped and counted. It
// returns ErrRecorderClosed after Close, and an error wrapping
// ErrRecorderWrite once writing has failed.
func (r *Recorder) WriteStereo(callee, box []int16) error {
	if r.failed.Load() {
		r.dropped.Add(1)
		return fmt.Errorf("%w: %s", ErrRecorderWrite, r.part)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRecorderClosed
	}
	n := max(len(callee), len(box))
	for off := 0; off < n; off += FrameSamples {
		b := r.cur
		if b == nil {
			select {
			case b = <-r.free:
				b.n, b.frames = 0, 0
				r.cur = b
			default:
				r.dropped.Add(1)
				continue
			}
		}
		m := min(FrameSamples, n-off)
		p := b.b[b.n:]
		for i := range m {
			var left, right int16
			if off+i < len(callee) {
				left = callee[off+i]
			}
			if off+i < len(box) {
				right = box[off+i]
			}
			p[4*i] = byte(left)
			p[4*i+1] = byte(uint16(left) >> 8)
			p[4*i+2] = byte(right)
			p[4*i+3] = byte(uint16(right) >> 8)
		}
		b.n += 4 * m
		b.frames++
		if b.frames == recBatchFrames {
			r.work <- b // cannot block: there are never more buffers than slots
			r.cur = nil
		}
	}
	return nil
}

// Stats returns the counters so far.
func (r *Recorder) Stats() RecorderStats {
	return RecorderStats{
		FramesWritten: r.written.Load(),
		FramesDropped: r.dropped.Load(),
		Bytes:         r.bytes.Load(),
	}
}

// Path returns the final path of the recording.
func (r *Recorder) Path() string { return r.path }

// Close stops accepting frames, waits for the writer to write everything
// queued, fixes the header sizes, syncs and renames path+".part" to path.
// If writing failed, the .part file is kept (with whatever audio reached
// it) and the error is returned. Close is idempotent: later calls return
// the first call's result.
func (r *Recorder) Close() error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		if r.cur != nil && r.cur.frames > 0 {
			r.work <- r.cur // the last, partial batch
		}
		r.cur = nil
		close(r.work)
		r.mu.Unlock()
		r.wg.Wait()
		r.closeErr = r.finish()
		if r.closeErr != nil {
			r.log.Error("recording not finalised", "part", r.part, "err", r.closeErr)
		}
	})
	return r.closeErr
}

func (r *Recorder) finish() error {
	werr := r.werr
	if werr == nil && !r.stream {
		var hdr [wavHeaderSize]byte
		putWAVHeader(hdr[:], SampleRate, 2, uint32(r.bytes.Load()))
		if _, err := r.f.WriteAt(hdr[:], 0); err != nil {
			werr = fmt.Errorf("%w: fixing header: %v", ErrRecorderWrite, err)
		} else if err := r.f.Sync(); err != nil {
			werr = fmt.Errorf("%w: sync: %v", ErrRecorderWrite, err)
		}
	}
	if err := r.f.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("%w: close: %v", ErrRecorderWrite, err)
	}
	if werr != nil && r.stream {
		return fmt.Errorf("%s: %w", r.path, werr)
	}
	if werr != nil {
		return fmt.Errorf("%s kept as %s: %w", r.path, r.part, werr)
	}
	if r.part == "" { // test double without a file on disk
		return nil
	}
	if _, err := os.Lstat(r.path); err == nil {
		return fmt.Errorf("%w: %s appeared while recording; audio kept in %s", ErrRecordingExists, r.path, r.part)
	}
	if err := os.Rename(r.part, r.path); err != nil {
		return fmt.Errorf("media: finalising recording: %w", err)
	}
	if d, err := os.Open(filepath.Dir(r.path)); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return nil
}
