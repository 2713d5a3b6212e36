package awslocal

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// ErrUnsupported is wrapped by errors about template constructs the
// harness cannot evaluate (an intrinsic function or resource type it does
// not know): a template change that needs harness work fails loudly.
var ErrUnsupported = errors.New("not supported by awslocal")

// Pseudo parameters of every stack.
const (
	partition = "aws"
	urlSuffix = "amazonaws.com"
)

// conditions returns the Conditions section of the template in the long
// form of shared/stack (!Not → {"Fn::Not": ...}). shared/stack does not read
// Conditions, so the section is wrapped as a resource and parsed by it.
func conditions(template []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse template: not a mapping")
	}
	top := doc.Content[0]
	var conds *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "Conditions" {
			conds = top.Content[i+1]
		}
	}
	if conds == nil {
		return map[string]any{}, nil
	}
	wrap := map[string]any{"Resources": map[string]any{"Conditions": map[string]any{"Type": "Conditions", "Properties": conds}}}
	b, err := yaml.Marshal(wrap)
	if err != nil {
		return nil, fmt.Errorf("read Conditions: %w", err)
	}
	t, err := samtemplate.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("read Conditions: %w", err)
	}
	return t.Resources["Conditions"].Properties, nil
}

// resolver evaluates CloudFormation intrinsic functions against the
// physical resources of a stack.
type resolver struct {
	params     map[string]string
	conditions map[string]any
	// refs and attrs are the physical values: Ref X, GetAtt X.Attr.
	refs  map[string]string
	attrs map[string]map[string]string
}

// pseudo returns the value of a pseudo parameter (AWS::Region...).
func (r *resolver) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::Region":
		return region, true
	case "AWS::AccountId":
		return account, true
	case "AWS::Partition":
		return partition, true
	case "AWS::URLSuffix":
		return urlSuffix, true
	case "AWS::StackName":
		return r.refs["AWS::StackName"], true
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/0", region, account, r.refs["AWS::StackName"]), true
	}
	return "", false
}

func (r *resolver) ref(name string) (string, error) {
	if v, ok := r.pseudo(name); ok {
		return v, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if v, ok := r.refs[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("evaluate Ref %s: no such parameter or created resource", name)
}

func (r *resolver) getAtt(res, attr string) (string, error) {
	if v, ok := r.attrs[res][attr]; ok {
		return v, nil
	}
	return "", fmt.Errorf("evaluate GetAtt %s.%s: %w", res, attr, ErrUnsupported)
}

// str evaluates v to a string.
func (r *resolver) str(v any) (string, error) {
	x, err := r.eval(v)
	if err != nil {
		return "", err
	}
	switch y := x.(type) {
	case string:
		return y, nil
	case int, int64, float64, bool:
		return fmt.Sprint(y), nil
	}
	return "", fmt.Errorf("%v is not a string", x)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// eval evaluates the intrinsic functions in v.
func (r *resolver) eval(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			ev, err := r.eval(e)
			if err != nil {
				return nil, err
			}
			if ev != noValue {
				out = append(out, ev)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") || k == "Condition" {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			ev, err := r.eval(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if ev != noValue {
				out[k] = ev
			}
		}
		return out, nil
	}
	return v, nil
}

// noValue is what AWS::NoValue evaluates to: the property is dropped.
var noValue = &struct{ noValue bool }{true}

func (r *resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "AWS::NoValue" {
			return noValue, nil
		}
		return r.ref(name)
	case "Fn::GetAtt":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, fmt.Errorf("evaluate GetAtt %v: want [resource, attribute]", arg)
		}
		res, _ := parts[0].(string)
		attr, err := r.str(parts[1])
		if err != nil {
			return nil, err
		}
		return r.getAtt(res, attr)
	case "Fn::Sub":
		var tpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tpl = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("evaluate Sub %v: want [template, variables]", arg)
			}
			tpl, _ = a[0].(string)
			vars, _ = a[1].(map[string]any)
		}
		var firstErr error
		out := subVar.ReplaceAllStringFunc(tpl, func(m string) string {
			name := m[2 : len(m)-1]
			var val string
			var err error
			if v, ok := vars[name]; ok {
				val, err = r.str(v)
			} else if res, attr, ok := strings.Cut(name, "."); ok {
				val, err = r.getAtt(res, attr)
			} else {
				val, err = r.ref(name)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return val
		})
		if firstErr != nil {
			return nil, fmt.Errorf("evaluate Sub %q: %w", tpl, firstErr)
		}
		return strings.ReplaceAll(out, "${!", "${"), nil
	case "Fn::Join":
		a, _ := arg.([]any)
		if len(a) != 2 {
			return nil, fmt.Errorf("evaluate Join %v: want [separator, list]", arg)
		}
		sep, _ := a[0].(string)
		list, err := r.eval(a[1])
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, err := r.str(it)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, sep), nil
	case "Fn::If":
		a, _ := arg.([]any)
		if len(a) != 3 {
			return nil, fmt.Errorf("evaluate If %v: want [condition, then, else]", arg)
		}
		name, _ := a[0].(string)
		ok, err := r.condition(name)
		if err != nil {
			return nil, err
		}
		if ok {
			return r.eval(a[1])
		}
		return r.eval(a[2])
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition":
		return r.boolean(map[string]any{fn: arg})
	}
	return nil, fmt.Errorf("%s: %w", fn, ErrUnsupported)
}

func (r *resolver) condition(name string) (bool, error) {
	c, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s: not in template", name)
	}
	return r.boolean(c)
}

// boolean evaluates a condition expression.
func (r *resolver) boolean(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		for k, arg := range x {
			list, _ := arg.([]any)
			switch k {
			case "Condition":
				name, _ := arg.(string)
				return r.condition(name)
			case "Fn::Equals":
				if len(list) != 2 {
					return false, fmt.Errorf("evaluate Equals %v: want two values", arg)
				}
				a, err := r.str(list[0])
				if err != nil {
					return false, err
				}
				b, err := r.str(list[1])
				return a == b, err
			case "Fn::Not":
				if len(list) != 1 {
					return false, fmt.Errorf("evaluate Not %v: want one condition", arg)
				}
				b, err := r.boolean(list[0])
				return !b, err
			case "Fn::And", "Fn::Or":
				and := k == "Fn::And"
				for _, c := range list {
					b, err := r.boolean(c)
					if err != nil {
						return false, err
					}
					if b != and {
						return b, nil
					}
				}
				return and, nil
			}
		}
	}
	return false, fmt.Errorf("condition %v: %w", v, ErrUnsupported)
}

// env resolves the environment variables of function id: Globals.Function
// merged with the function's own.
func (r *resolver) env(t *samtemplate.Template, id string) (map[string]string, error) {
	global, _ := t.Globals["Function"].(map[string]any)
	out := map[string]string{}
	for _, scope := range []map[string]any{global, t.Resources[id].Properties} {
		env, _ := scope["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(vars)) {
			ev, err := r.eval(vars[name])
			if err != nil {
				return nil, fmt.Errorf("function %s: variable %s: %w", id, name, err)
			}
			if ev == noValue {
				delete(out, name)
				continue
			}
			v, err := r.str(ev)
			if err != nil {
				return nil, fmt.Errorf("function %s: variable %s: %w", id, name, err)
			}
			out[name] = v
		}
	}
	return out, nil
}
