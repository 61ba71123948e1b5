package flow

import (
	"context"
	"strings"
	"testing"
)

const resumeFlow = menuFlow + `resume: {enabled: true}
`

// TestResumeSettings: the resume block parses with language defaults and
// custom text; without it a flow is not resumable.
func TestResumeSettings(t *testing.T) {
	if f := mustParse(t, menuFlow); f.Resumable || f.ResumeText != nil {
		t.Fatalf("flow without resume: resumable %v text %v", f.Resumable, f.ResumeText)
	}
	f := mustParse(t, resumeFlow)
	if !f.Resumable || f.ResumeText == nil || !strings.Contains(f.ResumeText.Src, "中断") {
		t.Fatalf("zh resume: %v %+v", f.Resumable, f.ResumeText)
	}
	en := strings.Replace(strings.Replace(resumeFlow, "language: zh", "language: en", 1), "resume: {enabled: true}",
		"resume:\n  text: \"Sorry {{name}}, the line dropped. Where were we?\"", 1)
	f = mustParse(t, en)
	if !f.Resumable || f.ResumeText.Src != "Sorry {{name}}, the line dropped. Where were we?" {
		t.Fatalf("en custom resume: %v %+v", f.Resumable, f.ResumeText)
	}
	if f := mustParse(t, strings.Replace(resumeFlow, "enabled: true", "enabled: false", 1)); f.Resumable {
		t.Fatal("enabled: false is resumable")
	}
	en = strings.Replace(resumeFlow, "language: zh", "language: en", 1)
	if f := mustParse(t, en); !strings.Contains(f.ResumeText.Src, "cut off") {
		t.Fatalf("en default resume text %q", f.ResumeText.Src)
	}
}

// TestRunResumesAtNode: a callback of a resumable flow says the
// disclosure, the resume line, then continues at ResumeAt; OnProgress
// reports each say/ask/menu node reached; a flow that is not resumable,
// or a resume point that is not a say/ask/menu node, starts over.
func TestRunResumesAtNode(t *testing.T) {
	f := mustParse(t, resumeFlow)
	io := &recIO{scriptIO: scriptIO{inputs: []string{"我想查余额"}}}
	var seen []string
	out, err := f.Run(context.Background(), io, map[string]string{"name": "张三"},
		RunOptions{Logger: discardLogger(), Resume: true, ResumeAt: "q", OnProgress: func(n string) { seen = append(seen, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(io.says) < 3 || !strings.Contains(io.says[0], "示例银行") || !strings.Contains(io.says[1], "中断") || io.says[2] != "请说您的问题" {
		t.Fatalf("says %q", io.says)
	}
	if out.Tags["resumed_at"] != "q" || strings.Join(seen, ",") != "q" {
		t.Fatalf("tags %v progress %v", out.Tags, seen)
	}
	// cut off before any node: the apology, then the start
	io = &recIO{scriptIO: scriptIO{inputs: []string{"二"}}}
	out, err = f.Run(context.Background(), io, map[string]string{"name": "张三"}, RunOptions{Logger: discardLogger(), Resume: true})
	if err != nil || len(io.says) < 3 || !strings.Contains(io.says[1], "中断") || out.Tags["resumed_at"] != "m" {
		t.Fatalf("resume from the start: %v says %q tags %v", err, io.says, out.Tags)
	}
	for _, c := range []struct {
		name, src, at string
	}{
		{"not resumable", menuFlow, "q"},
		{"unknown node", resumeFlow, "nope"},
		{"hangup node", resumeFlow, "h"},
	} {
		f := mustParse(t, c.src)
		io := &recIO{scriptIO: scriptIO{inputs: []string{"二"}}}
		seen = nil
		out, err := f.Run(context.Background(), io, map[string]string{"name": "张三"},
			RunOptions{Logger: discardLogger(), Resume: true, ResumeAt: c.at, OnProgress: func(n string) { seen = append(seen, n) }})
		if err != nil {
			t.Fatal(c.name, err)
		}
		if len(io.says) < 2 || strings.Contains(io.says[1], "中断") || out.Tags["resumed_at"] != "" || len(seen) == 0 || seen[0] != "m" {
			t.Errorf("%s: says %q tags %v progress %v", c.name, io.says, out.Tags, seen)
		}
	}
}
