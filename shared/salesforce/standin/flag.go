package standin

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The Avro types a --topic field may name, as Salesforce maps field types.
var fieldTypes = map[string]string{"string": "string", "double": "double", "long": "long", "int": "int", "boolean": "boolean"}

var (
	eventName  = regexp.MustCompile(`^/event/[A-Za-z][A-Za-z0-9_]*__e$`)
	changeName = regexp.MustCompile(`^/data/[A-Za-z][A-Za-z0-9_]*ChangeEvent$`)
	fieldName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// ParseTopic reads a topic declaration of `dev:salesforce --topic`:
//
//	/event/Order__e                      a platform event (CreatedDate, CreatedById)
//	/event/Order__e:Amount__c=double,Note__c   with nullable fields (string by default;
//	                                     double, long, int, boolean)
//	/data/ContactChangeEvent:Name,Email  a change event (ChangeEventHeader first)
//	/event/Order__e=@schema.avsc         the Avro schema of a file
func ParseTopic(decl string) (TopicSpec, error) {
	if name, file, ok := strings.Cut(decl, "=@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return TopicSpec{}, fmt.Errorf("topic %s: %w", name, err)
		}
		return TopicSpec{Name: name, Schema: b}, nil
	}
	name, list, _ := strings.Cut(decl, ":")
	cdc := changeName.MatchString(name)
	if !cdc && !eventName.MatchString(name) {
		return TopicSpec{}, fmt.Errorf("topic %q: must be /event/Name__e or /data/NameChangeEvent", name)
	}
	type field struct {
		Name    string `json:"name"`
		Type    any    `json:"type"`
		Doc     string `json:"doc,omitempty"`
		Default any    `json:"default"`
	}
	var fields []any
	record := name[strings.LastIndex(name, "/")+1:]
	if cdc {
		var header json.RawMessage
		var account struct {
			Fields []json.RawMessage `json:"fields"`
		}
		if err := json.Unmarshal([]byte(accountChangeSchema), &account); err != nil {
			return TopicSpec{}, fmt.Errorf("topic %s: %w", name, err)
		}
		header = account.Fields[0] // the ChangeEventHeader, as every change event has it
		fields = append(fields, header)
	} else {
		fields = append(fields,
			map[string]string{"name": "CreatedDate", "type": "long", "doc": "CreatedDate:DateTime"},
			map[string]string{"name": "CreatedById", "type": "string", "doc": "CreatedBy:EntityId"})
	}
	seen := map[string]bool{"CreatedDate": !cdc, "CreatedById": !cdc, "ChangeEventHeader": true}
	if list != "" {
		for f := range strings.SplitSeq(list, ",") {
			n, typ, ok := strings.Cut(strings.TrimSpace(f), "=")
			if !ok {
				typ = "string"
			}
			avro, known := fieldTypes[typ]
			switch {
			case !fieldName.MatchString(n):
				return TopicSpec{}, fmt.Errorf("topic %s: field %q: not a field name", name, n)
			case !known:
				return TopicSpec{}, fmt.Errorf("topic %s: field %s: type %q is not string, double, long, int or boolean", name, n, typ)
			case seen[n]:
				return TopicSpec{}, fmt.Errorf("topic %s: field %s is declared twice", name, n)
			}
			seen[n] = true
			fields = append(fields, field{Name: n, Type: []string{"null", avro}, Doc: "Data:" + typ, Default: nil})
		}
	}
	schema, err := json.Marshal(map[string]any{"type": "record", "name": record, "namespace": "com.sforce.eventbus", "fields": fields})
	if err != nil {
		return TopicSpec{}, fmt.Errorf("topic %s: %w", name, err)
	}
	return TopicSpec{Name: name, Schema: schema}, nil
}

// ParseDataCloudObject reads a Data Cloud Ingestion API object of
// `dev:salesforce --datacloud-object`: CONNECTOR/OBJECT:field,field…
// (every record must carry every field).
func ParseDataCloudObject(decl string) (connector, object string, fields []string, err error) {
	path, list, _ := strings.Cut(decl, ":")
	connector, object, ok := strings.Cut(path, "/")
	if !ok || !fieldName.MatchString(connector) || !fieldName.MatchString(object) {
		return "", "", nil, fmt.Errorf("data cloud object %q: must be CONNECTOR/OBJECT:field,field", decl)
	}
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if !fieldName.MatchString(f) {
			return "", "", nil, fmt.Errorf("data cloud object %s/%s: field %q: not a field name", connector, object, f)
		}
		fields = append(fields, f)
	}
	return connector, object, fields, nil
}
