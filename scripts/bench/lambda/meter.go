package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
)

// meter is a reverse proxy in front of moto that counts the DynamoDB write
// request units the functions spend, by table: each written item costs one
// unit per started KB of its size (DynamoDB's item size: attribute names
// plus values), once for the table and once for each global secondary
// index whose keys it has; a transactional write costs twice that. An
// UpdateItem of unknown resulting size counts one unit.
type meter struct {
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	units   map[string]float64  // table name → write units
	indexes map[string][]string // table name → the hash key of each GSI
	names   map[string]string   // table name → logical id
}

func newMeter(target string) (*meter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	return &meter{proxy: httputil.NewSingleHostReverseProxy(u), units: map[string]float64{}}, nil
}

// tables reads the stack's tables and their indexes from the template.
func (m *meter) tables(st *awslocal.Stack) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.indexes, m.names = map[string][]string{}, map[string]string{}
	for id, r := range st.Template.Resources {
		if r.Type != "AWS::DynamoDB::Table" {
			continue
		}
		name := st.Ref(id)
		m.names[name] = id
		gsis, _ := r.Properties["GlobalSecondaryIndexes"].([]any)
		for _, g := range gsis {
			keys, _ := g.(map[string]any)["KeySchema"].([]any)
			for _, k := range keys {
				if km, _ := k.(map[string]any); km["KeyType"] == "HASH" {
					attr, _ := km["AttributeName"].(string)
					m.indexes[name] = append(m.indexes[name], attr)
				}
			}
		}
	}
}

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810."); ok && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			m.count(op, body)
		}
	}
	m.proxy.ServeHTTP(w, r)
}

type item = map[string]json.RawMessage

func (m *meter) count(op string, body []byte) {
	var in struct {
		TableName    string
		Item         item
		RequestItems map[string][]struct {
			PutRequest    *struct{ Item item }
			DeleteRequest *struct{ Key item }
		}
		TransactItems []map[string]struct {
			TableName string
			Item      item
			Key       item
		}
	}
	if json.Unmarshal(body, &in) != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch op {
	case "PutItem":
		m.add(in.TableName, in.Item, 1)
	case "UpdateItem", "DeleteItem":
		m.add(in.TableName, nil, 1)
	case "BatchWriteItem":
		for table, reqs := range in.RequestItems {
			for _, req := range reqs {
				if req.PutRequest != nil {
					m.add(table, req.PutRequest.Item, 1)
				} else {
					m.add(table, nil, 1)
				}
			}
		}
	case "TransactWriteItems":
		for _, ti := range in.TransactItems {
			for kind, x := range ti {
				if kind != "ConditionCheck" {
					m.add(x.TableName, x.Item, 2)
				}
			}
		}
	}
}

// add counts one written item (nil: of unknown size, one unit).
func (m *meter) add(table string, it item, factor float64) {
	units := 1.0
	if it != nil {
		size := 0
		for name, v := range it {
			size += len(name) + valueSize(v)
		}
		units = float64((size + 1023) / 1024)
		if units == 0 {
			units = 1
		}
	}
	copies := 1.0
	for _, key := range m.indexes[table] {
		if _, ok := it[key]; ok || it == nil {
			copies++
		}
	}
	name := table
	if id, ok := m.names[table]; ok {
		name = id
	}
	m.units[name] += units * copies * factor
}

// valueSize approximates DynamoDB's size of an attribute value in its JSON
// form: strings and binaries by their bytes, numbers by their digits,
// containers by their contents plus a few bytes.
func valueSize(raw json.RawMessage) int {
	var v map[string]json.RawMessage
	if json.Unmarshal(raw, &v) != nil {
		return len(raw)
	}
	size := 0
	for typ, x := range v {
		switch typ {
		case "S", "N":
			var str string
			_ = json.Unmarshal(x, &str)
			size += len(str)
		case "B":
			var str string
			_ = json.Unmarshal(x, &str)
			b, _ := base64.StdEncoding.DecodeString(str)
			size += len(b)
		case "M":
			var mm map[string]json.RawMessage
			_ = json.Unmarshal(x, &mm)
			size += 3
			for k, e := range mm {
				size += len(k) + valueSize(e) + 1
			}
		case "L":
			var l []json.RawMessage
			_ = json.Unmarshal(x, &l)
			size += 3
			for _, e := range l {
				size += valueSize(e) + 1
			}
		default:
			size += len(x)
		}
	}
	return size
}

func (m *meter) snapshot() map[string]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.units)
}

// since returns the units counted since snapshot before.
func (m *meter) since(before map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for t, u := range m.snapshot() {
		if d := u - before[t]; d > 0 {
			out[t] = d
		}
	}
	return out
}
