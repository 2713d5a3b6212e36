package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// Param is a string parameter of a publication that an update may change:
// Field names it in the create and the update bodies, Of points at where the
// publication keeps it.
type Param struct {
	Field string
	Of    func(*config.Params) *string
}

// UpdateAsCreate returns a Target.Update for a platform whose changeable
// parameters are strings checked as at create. The update body may carry
// the UpdateFields and params, nothing else (httpjson.Decode). When it sets
// one of params, the create body {"name": current's name, each of params:
// its new value, else its current one} goes through validate and the
// params of the publication it returns replace current's; otherwise current
// is returned as it is.
func UpdateAsCreate(validate func(ctx context.Context, d Deps, tenant string, body []byte) (config.Publication, map[string]any, error), params ...Param) func(ctx context.Context, d Deps, tenant string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
	// The update body's struct: UpdateFields embedded, then a *string a
	// param, so that Decode accepts and reports exactly as with a written
	// struct.
	fields := []reflect.StructField{{Name: "UpdateFields", Type: reflect.TypeFor[UpdateFields](), Anonymous: true}}
	for i, p := range params {
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("P%d", i),
			Type: reflect.TypeFor[*string](),
			Tag:  reflect.StructTag(fmt.Sprintf(`json:%q`, p.Field)),
		})
	}
	reqType := reflect.StructOf(fields)
	return func(ctx context.Context, d Deps, tenant string, current config.Publication, body []byte) (config.Publication, map[string]any, error) {
		req := reflect.New(reqType)
		if err := httpjson.Decode(body, req.Interface()); err != nil {
			return config.Publication{}, nil, err
		}
		create := map[string]string{"name": current.Name}
		changed := false
		for i, p := range params {
			create[p.Field] = *p.Of(&current.Params)
			if v := req.Elem().Field(i + 1).Interface().(*string); v != nil {
				create[p.Field], changed = *v, true
			}
		}
		if !changed {
			return current, nil, nil
		}
		b, err := json.Marshal(create)
		if err != nil {
			return config.Publication{}, nil, fmt.Errorf("encode update: %w", err)
		}
		checked, _, err := validate(ctx, d, tenant, b)
		if err != nil {
			return config.Publication{}, nil, err
		}
		pub := current
		for _, p := range params {
			*p.Of(&pub.Params) = *p.Of(&checked.Params)
		}
		return pub, nil, nil
	}
}
