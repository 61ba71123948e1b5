package flow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadFlows checks the diagnostics for every file in testdata/bad
// against its .golden file. Files named warn-* must load (with warnings);
// all others must fail with ErrInvalidFlow.
func TestBadFlows(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d bad flow files", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(name, data)
			var got string
			if strings.HasPrefix(name, "warn-") {
				if err != nil {
					t.Fatalf("want success with warnings, got %v", err)
				}
				if len(f.Warnings) == 0 {
					t.Fatal("want warnings")
				}
				got = ErrorList(f.Warnings).Error() + "\n"
			} else {
				if !errors.Is(err, ErrInvalidFlow) {
					t.Fatalf("want ErrInvalidFlow, got %v", err)
				}
				var list ErrorList
				if !errors.As(err, &list) || len(list) == 0 {
					t.Fatalf("want a non-empty ErrorList, got %T", err)
				}
				for _, d := range list {
					if d.File != name || (d.Line == 0 && !strings.Contains(d.Msg, "empty")) {
						t.Errorf("diagnostic without file/line: %+v", d)
					}
				}
				got = err.Error() + "\n"
			}
			checkGolden(t, strings.TrimSuffix(path, ".yaml")+".golden", got)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want ErrNotExist, got %v", err)
	}
}

func TestParseDefaults(t *testing.T) {
	src := `version: 1
name: d
language: zh
org: 示例银行
start: a
nodes:
  a:
    type: ask
    prompt: 好吗？
    on: {yes: b, no: b}
  b: {type: hangup}
`
	f, err := Parse("d.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxFailedTurns != DefaultMaxFailedTurns || f.OnMaxFailed != ActionEnd || f.EmotionEnabled {
		t.Errorf("defaults: %+v", f)
	}
	a := f.Nodes["a"]
	if a.Retries != DefaultRetries || a.Timeout != DefaultTimeout || a.EndSilence != DefaultEndSilence {
		t.Errorf("ask defaults: %+v", a)
	}
	if strings.Join(a.Expect, ",") != "no,yes" {
		t.Errorf("expect from on: %v", a.Expect)
	}
	if f.Disclosure.Src != defaultTexts[LangZH]["disclosure"] {
		t.Errorf("disclosure default: %q", f.Disclosure.Src)
	}
}
