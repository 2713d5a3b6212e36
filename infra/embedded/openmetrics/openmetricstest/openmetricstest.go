// Package openmetricstest checks OpenMetrics text with an independent
// parser: the Python prometheus_client's strict OpenMetrics parser,
// installed (pinned) by scripts/setup-tools in the module's .venv. Tests
// fail, never skip, when it is missing.
package openmetricstest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed parse.py
var parser string

// Sample is one sample as the parser read it.
type Sample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
}

// Family is one metric family as the parser read it.
type Family struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Unit    string   `json:"unit"`
	Samples []Sample `json:"samples"`
}

// Parse parses text and returns its families by name; it fails t when the
// parser refuses the text.
func Parse(t *testing.T, text []byte) map[string]Family {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "env", "GOMOD").Output()
	require.NoError(t, err)
	python := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s is missing: run scripts/setup-tools (it installs prometheus-client, whose parser checks the output)", python)
	}
	cmd := exec.CommandContext(t.Context(), python, "-c", parser)
	cmd.Stdin = bytes.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	js, err := cmd.Output()
	require.NoError(t, err, "the OpenMetrics parser refused the text: %s\n%s", stderr.String(), text)
	var fams []Family
	require.NoError(t, json.Unmarshal(js, &fams))
	byName := map[string]Family{}
	for _, f := range fams {
		byName[f.Name] = f
	}
	return byName
}

// Find returns the value of the sample name of f with exactly labels.
func Find(t *testing.T, f Family, name string, labels map[string]string) float64 {
	t.Helper()
	for _, s := range f.Samples {
		if s.Name == name && fmt.Sprint(s.Labels) == fmt.Sprint(labels) {
			return s.Value
		}
	}
	t.Fatalf("no sample %s%v in family %q: %+v", name, labels, f.Name, f.Samples)
	return 0
}
