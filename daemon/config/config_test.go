package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestExampleAndDemoConfigsLoad(t *testing.T) {
	for _, f := range []string{"../../configs/callboxd.example.yaml", "../../cmd/callboxctl/demo/callboxd.yaml"} {
		cfg, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(cfg.Trunks) == 0 {
			t.Fatalf("%s: no trunks", f)
		}
	}
}

func TestDefaultsApply(t *testing.T) {
	cfg, err := Parse("mini.yaml", []byte("trunks:\n  - name: a\n    host: 127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Trunks[0]
	if tr.Port != 5060 || tr.Transport != "udp" || tr.Auth != "ip" || tr.MaxCalls != 100 || tr.OptionsInterval != 30*time.Second {
		t.Fatalf("trunk defaults not applied: %+v", tr)
	}
	if cfg.Calls.RingTimeout != 30*time.Second || cfg.API.Listen != "127.0.0.1:8080" {
		t.Fatalf("defaults not applied: %+v", cfg.Calls)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	if _, err := Parse("empty.yaml", nil); err != nil {
		t.Fatal(err)
	}
}

// TestBadConfigsGolden checks that every bad file in testdata/bad fails with
// exactly the error in its .golden file: file, line, key and problem.
func TestBadConfigsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 5 {
		t.Fatalf("expected bad config fixtures, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			if err == nil {
				t.Fatal("bad config loaded without error")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if got != string(want) {
				t.Fatalf("error mismatch\ngot:  %s\nwant: %s", got, want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../cmd/callboxctl/demo/callboxd.yaml", "../../configs/callboxd.example.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("trunks: [{name: a}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
	})
}
