package speech

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeWhisper implements POST /v1/audio/transcriptions: multipart with a
// WAV "file", "model", optional "language" and "prompt"; answers
// {"text": ...}. It "recognizes" by duration: the transcript says how many
// whole seconds of audio it got, which lets the test check the WAV.
func fakeWhisper(t *testing.T, reply func(w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reply != nil && reply(w, r) {
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
			http.NotFound(w, r)
			return
		}
		if err := r.ParseMultipartForm(8 << 20); err != nil {
			http.Error(w, `{"error":{"message":"bad multipart"}}`, http.StatusBadRequest)
			return
		}
		f, hdr, err := r.FormFile("file")
		if err != nil || r.FormValue("model") == "" {
			http.Error(w, `{"error":{"message":"file and model are required"}}`, http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		pcm, rate, err := decodeWAVMono(b)
		if err != nil || !strings.HasSuffix(hdr.Filename, ".wav") {
			http.Error(w, `{"error":{"message":"unreadable audio"}}`, http.StatusBadRequest)
			return
		}
		text := r.FormValue("language") + ":" + r.FormValue("prompt") + ":" + r.FormValue("model") + ":" +
			time.Duration(int64(len(pcm))*int64(time.Second)/int64(rate)).String()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"text": "`+text+`"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOpenAIASR(t *testing.T) {
	srv := fakeWhisper(t, nil)
	rec := &OpenAIASR{BaseURL: srv.URL + "/"}
	rs, err := listen(t, rec, context.Background(), ListenOptions{Lang: "zh-CN", Phrases: []string{"是", "不是"}}, make([]int16, 12000))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !rs[0].Final || rs[0].Text != "zh:是, 不是:whisper-1:1.5s" {
		t.Fatalf("results %+v", rs)
	}
	// 16 kHz input is resampled to 8 kHz before upload.
	rs, err = listen(t, &OpenAIASR{BaseURL: srv.URL, Model: "large-v3"}, context.Background(), ListenOptions{SampleRate: 16000}, make([]int16, 16000))
	if err != nil || len(rs) != 1 || rs[0].Text != "::large-v3:1s" {
		t.Fatalf("16 kHz: %+v %v", rs, err)
	}
}

func TestOpenAIASRFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(w http.ResponseWriter, r *http.Request) bool
		want  error
	}{
		{"http error", func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"model loading"}}`)
			return true
		}, ErrEngineFailed},
		{"garbage", func(w http.ResponseWriter, r *http.Request) bool { io.WriteString(w, "<html>"); return true }, ErrBadResponse},
		{"no text", func(w http.ResponseWriter, r *http.Request) bool { io.WriteString(w, `{"txt": "x"}`); return true }, ErrBadResponse},
		{"stall", stall, ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeWhisper(t, tc.reply)
			start := time.Now()
			_, err := listen(t, &OpenAIASR{BaseURL: srv.URL, Timeout: 300 * time.Millisecond}, context.Background(), ListenOptions{}, make([]int16, 800))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			if tc.name == "http error" && !strings.Contains(err.Error(), "model loading") {
				t.Fatalf("server message lost: %v", err)
			}
		})
	}
	if _, err := (&OpenAIASR{}).Start(context.Background(), ListenOptions{}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("no BaseURL: %v", err)
	}
	// The stream's context bounds the request too.
	srv := fakeWhisper(t, stall)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := listen(t, &OpenAIASR{BaseURL: srv.URL}, ctx, ListenOptions{}, make([]int16, 800))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx deadline: %v", err)
	}
}

// stall reads the request and never answers. (net/http notices the client
// going away only once the body has been read.)
func stall(w http.ResponseWriter, r *http.Request) bool {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
	return true
}
