package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/herokuevents/herokuevents/shared/platform"
)

// platformCommands renders the create commands the platforms describe:
// subscriptions:<platform>:create and publications:<platform>:create (or
// the platform's own Use, e.g. generate).
func platformCommands(platforms []platform.Platform) []*cobra.Command {
	var out []*cobra.Command
	for _, p := range platforms {
		if p.Subscription != nil {
			out = append(out, newCreateCmd(p.Name, "subscription", p.Subscription.Command))
		}
		if p.Publication != nil {
			out = append(out, newCreateCmd(p.Name, "publication", p.Publication.Command))
		}
	}
	return out
}

// newCreateCmd builds one create command of kind "subscription" or
// "publication" from its description.
func newCreateCmd(name, kind string, d platform.Command) *cobra.Command {
	use := d.Use
	if use == "" {
		use = kind + "s:" + name + ":create NAME"
	}
	what := d.What
	if what == "" {
		what = kind
	}
	values := make([]string, len(d.Flags))
	var asJSON bool
	bools := make([]bool, len(d.Flags))
	var end, filter string
	var pull bool
	var retention string
	var f *appFlags
	var ord *orderFlags
	cmd := &cobra.Command{
		Use:     use,
		Short:   d.Short,
		Long:    d.Long,
		Example: d.Example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := createBody(args[0], kind, d, values, bools, end, filter)
			if err != nil {
				return err
			}
			if pull {
				body["pull"] = true
			}
			if retention != "" {
				body["retention"] = retention
			}
			if ord != nil {
				if err := ord.body(cmd.Flags(), body); err != nil {
					return err
				}
			}
			var raw json.RawMessage
			if err := f.create(cmd, what+" "+args[0], name, kind+"s", body, &raw); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var res struct {
				Extra map[string]any `json:"extra"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return fmt.Errorf("decode herokuevents API response: %w", err)
			}
			for _, s := range d.Shown {
				if v, ok := res.Extra[s.Field].(string); ok && v != "" {
					fmt.Fprint(cmd.OutOrStdout(), strings.ReplaceAll(s.Lines, "{value}", v))
				}
			}
			if d.Next != "" {
				fmt.Fprint(cmd.ErrOrStderr(), strings.ReplaceAll(d.Next, "{name}", args[0]))
			}
			return nil
		},
	}
	f = addAppFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&asJSON, "json", "j", false, "output the created "+kind+" in json format")
	if kind == "subscription" {
		fl.BoolVar(&pull, "pull", false, "also keep the events for the app to GET from $HEROKUEVENTS_SUBSCRIBE_URL/NAME")
		fl.StringVar(&retention, "retention", "", "how long the events are archived for replay (default 168h, from 1h to 720h)")
	}
	if kind == "publication" {
		ord = addOrderFlags(fl, false) // ordered.go
	}
	aliased := map[string]bool{}
	for _, fd := range d.Flags {
		if fd.AliasOf != "" {
			aliased[fd.AliasOf] = true
		}
	}
	for i, fd := range d.Flags {
		if fd.Bool {
			fl.BoolVarP(&bools[i], fd.Name, fd.Shorthand, false, fd.Usage)
			continue
		}
		fl.StringVarP(&values[i], fd.Name, fd.Shorthand, "", fd.Usage)
		if fd.Required && !aliased[fd.Name] {
			_ = cmd.MarkFlagRequired(fd.Name)
		}
	}
	if !d.Link.Off {
		endFlag, endUsage := "target", "publication (name or id) to stream the events to"
		filterUsage := "Bloblang filter of the stream to --target (deleted() drops)"
		if kind == "publication" {
			endFlag, endUsage = "source", "subscription (name or id) to stream from"
			filterUsage = "Bloblang filter of the stream from --source (deleted() drops)"
		}
		fl.StringVarP(&end, endFlag, d.Link.End, "", endUsage)
		fl.StringVarP(&filter, "filter", d.Link.Filter, "", filterUsage)
	}
	return cmd
}

// createBody checks the flag values and builds the request body: name,
// each set flag under its field (true for a given Bool flag), and the link.
func createBody(name, kind string, d platform.Command, values []string, bools []bool, end, filter string) (map[string]any, error) {
	body := map[string]any{"name": name}
	byName := map[string]int{}
	for i, fd := range d.Flags {
		byName[fd.Name] = i
	}
	for i, fd := range d.Flags {
		if fd.Bool {
			if bools[i] {
				body[fd.BodyField()] = true
			}
			continue
		}
		v := values[i]
		if fd.AliasOf != "" {
			if v == "" {
				continue
			}
			if other := values[byName[fd.AliasOf]]; other != "" && other != v {
				return nil, fmt.Errorf("--%s %q and --%s %q differ: give one", fd.AliasOf, other, fd.Name, v)
			}
		}
		if fd.NotEmpty && strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("--%s must not be empty", fd.Name)
		}
		if v == "" {
			continue
		}
		if fd.File {
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", fd.Name, err)
			}
			body[fd.BodyField()] = string(b)
			continue
		}
		if fd.Check != nil {
			if err := fd.Check(v); err != nil {
				return nil, err
			}
		}
		if fd.Int {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("--%s %q: give a whole number", fd.Name, v)
			}
			body[fd.BodyField()] = n
			continue
		}
		body[fd.BodyField()] = v
	}
	for _, fd := range d.Flags {
		if fd.Required && fd.AliasOf == "" && body[fd.BodyField()] == nil {
			return nil, fmt.Errorf("required flag %q not set: %s", fd.Name, strings.TrimSuffix(fd.Usage, " (required)"))
		}
	}
	if filter != "" && end == "" {
		if kind == "publication" {
			return nil, errFilterNeedsSource
		}
		return nil, errFilterNeedsTarget
	}
	if end != "" {
		if kind == "publication" {
			body["source"] = end
		} else {
			body["target"] = end
		}
	}
	if filter != "" {
		body["filter"] = filter
	}
	return body, nil
}
