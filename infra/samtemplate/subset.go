package samtemplate

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
)

// errNoSubset: the template's text is not laid out as subset expects.
var errNoSubset = errors.New("template text not split into resources")

// resourcesText splits a template laid out as template.yaml is (top-level
// keys at column 0, resource ids at two spaces under Resources) into its
// Globals section and the text of each resource. Nothing is parsed: it is
// a line scan.
func resourcesText(template []byte) (globals []byte, resources map[string][]byte, err error) {
	resources = map[string][]byte{}
	var section, current string
	seen := map[string]bool{}
	for rest := template; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		if key, ok := mappingKey(line, 0); ok {
			if seen[key] {
				return nil, nil, fmt.Errorf("%w: %s twice", errNoSubset, key)
			}
			seen[key] = true
			section, current = key, ""
			if key == "Globals" {
				globals = append(globals, line...)
			}
			continue
		}
		switch section {
		case "Globals":
			globals = append(globals, line...)
		case "Resources":
			if key, ok := mappingKey(line, 2); ok {
				if _, dup := resources[key]; dup {
					return nil, nil, fmt.Errorf("%w: resource %s twice", errNoSubset, key)
				}
				current = key
			}
			if current != "" {
				resources[current] = append(resources[current], line...)
			}
		}
	}
	if !seen["Resources"] {
		return nil, nil, errNoSubset
	}
	return globals, resources, nil
}

// mappingKey returns k when line is exactly indent spaces, then a plain
// key "k:" and nothing but spaces or a comment after it.
func mappingKey(line []byte, indent int) (string, bool) {
	if len(line) <= indent || !bytes.Equal(line[:indent], bytes.Repeat([]byte{' '}, indent)) {
		return "", false
	}
	line = line[indent:]
	n := 0
	for n < len(line) && (line[n] == '_' || line[n] >= 'a' && line[n] <= 'z' || line[n] >= 'A' && line[n] <= 'Z' || n > 0 && line[n] >= '0' && line[n] <= '9') {
		n++
	}
	if n == 0 || n >= len(line) || line[n] != ':' {
		return "", false
	}
	after := bytes.TrimSpace(line[n+1:])
	if len(after) > 0 && after[0] != '#' {
		return "", false
	}
	return string(line[:n]), true
}

// subsetOf parses only the Globals, the function and its queues: a
// consumer function reads its settings at init, and parsing the whole
// template costs it several milliseconds.
func subsetOf(template []byte, function string) (*Template, error) {
	globals, resources, err := resourcesText(template)
	if err != nil {
		return nil, err
	}
	parse := func(ids ...string) (*Template, error) {
		doc := append(globals[:len(globals):len(globals)], "Resources:\n"...)
		for _, id := range ids {
			text, ok := resources[id]
			if !ok {
				return nil, fmt.Errorf("resource %s: %w", id, ErrNotFound)
			}
			doc = append(doc, text...)
		}
		return Parse(doc)
	}
	t, err := parse(function)
	if err != nil {
		return nil, err
	}
	f, err := t.Function(function)
	if err != nil {
		return nil, err
	}
	queues, err := parse(f.Queues...)
	if err != nil {
		return nil, err
	}
	maps.Copy(t.Resources, queues.Resources)
	return t, nil
}
