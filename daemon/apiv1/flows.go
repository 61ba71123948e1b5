package apiv1

import "time"

// FlowProblem is one problem found in a flow file, as "callboxctl flow
// lint" prints it (Text is "file:line:col: message").
type FlowProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Warning bool   `json:"warning,omitempty"`
	Message string `json:"message"`
	Text    string `json:"text"`
}

// FlowInvalid is the 400 answer of POST /v1/flows/validate and
// PUT /v1/flows/{name}: Error joins every problem, one per line.
type FlowInvalid struct {
	Error    string        `json:"error"`
	Problems []FlowProblem `json:"problems"`
}

// FlowSummary describes a valid flow file.
type FlowSummary struct {
	File     string        `json:"file"`
	Name     string        `json:"name"`
	Language string        `json:"language"`
	Start    string        `json:"start"`
	Nodes    int           `json:"nodes"`
	Warnings []FlowProblem `json:"warnings,omitempty"`
}

// Flow is a stored flow's summary (GET /v1/flows).
type Flow struct {
	Name       string     `json:"name"`
	Latest     int        `json:"latest"`
	SHA256     string     `json:"sha256"`
	Author     string     `json:"author"`
	Created    time.Time  `json:"created"`
	Updated    time.Time  `json:"updated"`
	Archived   bool       `json:"archived,omitempty"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
	ArchivedBy string     `json:"archived_by,omitempty"`
	// Ref is how a campaign or a call names the latest version.
	Ref string `json:"ref"`
}

// FlowVersion is one immutable version; Content (the YAML) only in
// GET /v1/flows/{name}.
type FlowVersion struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	SHA256  string    `json:"sha256"`
	Author  string    `json:"author"`
	Created time.Time `json:"created"`
	Size    int       `json:"size"`
	// Ref pins this version: "store:NAME@N".
	Ref     string `json:"ref"`
	Content string `json:"content,omitempty"`
}

// FlowPut is the answer of PUT /v1/flows/{name}: 201 with a new version,
// 200 with Unchanged when the content equals the latest version.
type FlowPut struct {
	FlowVersion
	Unchanged bool         `json:"unchanged,omitempty"`
	Summary   *FlowSummary `json:"summary,omitempty"`
}
