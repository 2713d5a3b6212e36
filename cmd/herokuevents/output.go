package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// param is one platform parameter, in the order the API sent it.
type param struct {
	Key   string
	Value string
}

// params are the platform parameters of a resource, rendered for display:
// strings as they are, numbers and booleans as JSON, null and empty values
// dropped, objects and arrays as compact JSON.
type params []param

// UnmarshalJSON keeps the key order of the JSON object.
func (p *params) UnmarshalJSON(b []byte) error {
	*p = nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("params: not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if v := displayValue(raw); v != "" {
			*p = append(*p, param{Key: key, Value: v})
		}
	}
	return nil
}

// displayValue renders a raw JSON value for humans; null is "".
func displayValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// titleKey turns an API key into a label the way the original CLI did:
// the first "_" becomes a space, then every word is capitalised
// ("org_name" → "Org Name").
func titleKey(k string) string {
	words := strings.Split(strings.Replace(k, "_", " ", 1), " ")
	for i, w := range words {
		r, n := utf8.DecodeRuneInString(w)
		if n > 0 {
			words[i] = string(unicode.ToUpper(r)) + w[n:]
		}
	}
	return strings.Join(words, " ")
}

// details renders params as "Key Name: value, …".
func (p params) details() string {
	parts := make([]string, 0, len(p))
	for _, kv := range p {
		parts = append(parts, titleKey(kv.Key)+": "+kv.Value)
	}
	return strings.Join(parts, ", ")
}

// printHeader writes a "=== title" section header.
func printHeader(w io.Writer, title string) {
	fmt.Fprintln(w, "=== "+title)
	fmt.Fprintln(w)
}

// printTable writes rows under headers, columns aligned, with a rule under
// the header line, in the style of the Heroku CLI.
func printTable(w io.Writer, headers []string, rows [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			b.WriteString(" ")
			b.WriteString(c)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(headers)
	rules := make([]string, len(headers))
	for i := range headers {
		rules[i] = strings.Repeat("─", widths[i])
	}
	line(rules)
	for _, r := range rows {
		line(r)
	}
}

// field is one line of an info block; a field with several values prints
// them one per line, aligned.
type field struct {
	Key    string
	Values []string
}

// printFields writes fields sorted by key, "Key: value" with values aligned;
// fields without values are left out.
func printFields(w io.Writer, fields []field) {
	kept := fields[:0:0]
	width := 0
	for _, f := range fields {
		if len(f.Values) == 0 {
			continue
		}
		kept = append(kept, f)
		width = max(width, utf8.RuneCountInString(f.Key))
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Key < kept[j].Key })
	for _, f := range kept {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.Key))
		for i, v := range f.Values {
			if i == 0 {
				fmt.Fprintf(w, "%s:%s %s\n", f.Key, pad, v)
				continue
			}
			fmt.Fprintf(w, "%s  %s\n", strings.Repeat(" ", width), v)
		}
	}
}

// values returns []string{v} or nil when v is empty.
func values(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}

// printJSON writes raw JSON indented by two spaces; an empty or null
// answer prints as [].
func printJSON(w io.Writer, raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("[]")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("decode herokuevents API response: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// action runs fn behind a spinner line on w: "msg... done", or "msg... !"
// when fn fails (the error itself is printed by the root).
func action(w io.Writer, msg string, fn func() error) error {
	fmt.Fprint(w, msg+"... ")
	if err := fn(); err != nil {
		fmt.Fprintln(w, "!")
		return err
	}
	fmt.Fprintln(w, "done")
	return nil
}
