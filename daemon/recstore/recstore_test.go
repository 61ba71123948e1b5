package recstore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	kr, err := LoadKeyring(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// fakeWAV is a plaintext that starts like a recording.
func fakeWAV(n int) []byte {
	b := make([]byte, n)
	copy(b, "RIFF\xff\xff\xff\xffWAVEfmt ")
	for i := 16; i < n; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

func writeRec(t testing.TB, kr *Keyring, data []byte, writes int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "call"+Ext)
	w, err := Create(path, kr)
	if err != nil {
		t.Fatal(err)
	}
	step := max(1, len(data)/max(1, writes))
	for off := 0; off < len(data); off += step {
		if _, err := w.Write(data[off:min(len(data), off+step)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Close() != nil {
		t.Fatal("second Close")
	}
	return path
}

func readAll(t testing.TB, path string, kr *Keyring) ([]byte, error) {
	t.Helper()
	r, c, err := Open(path, kr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	kr := testKeyring(t)
	for _, n := range []int{0, 1, 44, ChunkSize - 1, ChunkSize, ChunkSize + 1, 5*ChunkSize + 123} {
		data := fakeWAV(n)
		path := writeRec(t, kr, data, 7)
		got, err := readAll(t, path, kr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("n=%d: %v (got %d bytes)", n, err, len(got))
		}
		info, err := VerifyFile(path, kr)
		if err != nil || info.Bytes != int64(n) || !info.Complete {
			t.Fatalf("n=%d: VerifyFile %+v %v", n, info, err)
		}
		if ci, err := Check(path); err != nil || !ci.Complete || ci.Bytes != int64(n) {
			t.Fatalf("n=%d: Check %+v %v", n, ci, err)
		}
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	kr := testKeyring(t)
	data := fakeWAV(3 * ChunkSize)
	copy(data[1000:], "the caller said 4111111111111111")
	path := writeRec(t, kr, data, 50)
	raw, _ := os.ReadFile(path)
	for _, needle := range []string{"RIFF", "WAVE", "4111111111111111"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("%q found in the file on disk", needle)
		}
	}
	if _, err := os.Stat(path + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Error(".part left behind")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestFlippedByteRefused(t *testing.T) {
	kr := testKeyring(t)
	data := fakeWAV(2*ChunkSize + 10)
	path := writeRec(t, kr, data, 3)
	orig, _ := os.ReadFile(path)
	// Flip one bit at a spread of positions: header, lengths, ciphertext, tags.
	for _, pos := range []int{0, 9, 20, 40, 75, 76, 78, 80, 500, ChunkSize + 90, len(orig) - 1} {
		mod := bytes.Clone(orig)
		mod[pos] ^= 0x01
		os.WriteFile(path, mod, 0o600)
		got, err := readAll(t, path, kr)
		if err == nil {
			t.Fatalf("flip at %d: read succeeded", pos)
		}
		// Whatever came out before the error is a prefix of the truth.
		if !bytes.HasPrefix(data, got) {
			t.Fatalf("flip at %d: unauthenticated bytes returned", pos)
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotRecording) && !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("flip at %d: %v", pos, err)
		}
	}
}

func TestTruncatedDetectedAndMarked(t *testing.T) {
	kr := testKeyring(t)
	data := fakeWAV(3*ChunkSize + 500)
	dir := t.TempDir()
	path := filepath.Join(dir, "2026", "11", "21", "c1"+Ext)
	os.MkdirAll(filepath.Dir(path), 0o750)
	w, err := Create(path, kr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	// A crash: the process dies without Close. The .part holds 3 sealed chunks.
	w.f.Close()
	got, err := readAll(t, path+".part", kr)
	if !errors.Is(err, ErrTruncated) || !bytes.Equal(got, data[:3*ChunkSize]) {
		t.Fatalf("truncated read: %v, %d bytes", err, len(got))
	}
	if _, err := Check(path + ".part"); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Check: %v", err)
	}
	// Cut mid-chunk too.
	raw, _ := os.ReadFile(path + ".part")
	os.WriteFile(path+".part", raw[:len(raw)-100], 0o600)
	marked, err := Sweep(dir)
	if err != nil || len(marked) != 1 || !strings.HasSuffix(marked[0], "c1"+TruncatedExt) {
		t.Fatalf("Sweep = %v, %v", marked, err)
	}
	got, err = readAll(t, marked[0], kr)
	if !errors.Is(err, ErrTruncated) || !bytes.Equal(got, data[:2*ChunkSize]) {
		t.Fatalf("marked read: %v, %d bytes", err, len(got))
	}
	// Dropping the final chunk of a complete file is caught too.
	full := writeRec(t, kr, data, 1)
	raw, _ = os.ReadFile(full)
	os.WriteFile(full, raw[:len(raw)-(500+tagSize+4)], 0o600)
	if _, err := readAll(t, full, kr); !errors.Is(err, ErrTruncated) {
		t.Fatalf("final chunk dropped: %v", err)
	}
}

func TestSweepCompletesFinishedPart(t *testing.T) {
	kr := testKeyring(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "c2"+Ext)
	w, _ := Create(path, kr)
	w.Write(fakeWAV(100))
	w.seal(true) // sealed, then a crash before the rename
	w.f.Close()
	marked, err := Sweep(dir)
	if err != nil || len(marked) != 1 || marked[0] != path {
		t.Fatalf("Sweep = %v %v", marked, err)
	}
}

func TestKeysWrapAndRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kr1, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "box.key"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("box.key mode %v", st.Mode())
	}
	old := writeRec(t, kr1, fakeWAV(5000), 2)
	// The same file loads to the same key.
	kr1b, _ := LoadKeyring(dir)
	if kr1b.CurrentID() != kr1.CurrentID() {
		t.Fatal("reload changed the key")
	}
	// Rotate: rename box.key; a new one is created; the old one still reads.
	if err := os.Rename(filepath.Join(dir, "box.key"), filepath.Join(dir, "box-2026-11.key")); err != nil {
		t.Fatal(err)
	}
	kr2, err := LoadKeyring(dir)
	if err != nil || kr2.CurrentID() == kr1.CurrentID() {
		t.Fatalf("rotation: %v", err)
	}
	if _, err := readAll(t, old, kr2); err != nil {
		t.Fatalf("old recording after rotation: %v", err)
	}
	newer := writeRec(t, kr2, fakeWAV(5000), 2)
	raw, _ := os.ReadFile(newer)
	if !bytes.Equal(raw[8:16], kr2.current[:]) {
		t.Error("new recording not wrapped by the new key")
	}
	// Wrong key: a keyring without the old key refuses.
	other := testKeyring(t)
	if _, err := readAll(t, old, other); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	// A key with the right id but different bytes cannot unwrap.
	fake := make([]byte, KeySize)
	rand.Read(fake)
	forged := &Keyring{current: kr1.current, keys: map[[8]byte][]byte{kr1.current: fake}}
	if _, err := readAll(t, old, forged); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("forged key: %v", err)
	}
	// Key files others can read are refused.
	os.Chmod(filepath.Join(dir, "box.key"), 0o644)
	if _, err := LoadKeyring(dir); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable key: %v", err)
	}
}

func TestNotARecording(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.wav")
	os.WriteFile(p, fakeWAV(200), 0o600)
	if _, err := readAll(t, p, testKeyring(t)); !errors.Is(err, ErrNotRecording) {
		t.Fatal(err)
	}
}

func FuzzReader(f *testing.F) {
	kr, _ := NewKeyring(bytes.Repeat([]byte{1}, 32))
	var buf bytes.Buffer
	for _, n := range []int{0, 10, 300} {
		path := writeRec(f, kr, fakeWAV(n), 2)
		raw, _ := os.ReadFile(path)
		f.Add(raw)
		buf.Reset()
	}
	f.Add([]byte("CBREC\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), kr)
		if err != nil {
			return
		}
		_, err = io.Copy(io.Discard, r)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

func BenchmarkWrite(b *testing.B) {
	kr := testKeyring(b)
	data := fakeWAV(32000 * 60) // one minute of stereo 8 kHz
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		p := filepath.Join(b.TempDir(), "b"+Ext)
		w, _ := Create(p, kr)
		for off := 0; off < len(data); off += 640 {
			w.Write(data[off:min(off+640, len(data))])
		}
		w.Close()
	}
}

func TestSweepEmptyPart(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"+Ext+".part"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "b"+Ext+".part"), []byte("CBREC\x00\x01"), 0o600)
	marked, err := Sweep(dir)
	if err != nil || len(marked) != 2 {
		t.Fatalf("Sweep = %v, %v", marked, err)
	}
	for _, m := range marked {
		if !strings.HasSuffix(m, TruncatedExt) {
			t.Errorf("%s not marked truncated", m)
		}
	}
}
