// Package sqlitefile names an SQLite database file for the modernc.org/sqlite
// driver, so that every embedded store opens its file the same way.
package sqlitefile

import "net/url"

// DSN is the driver's URI for the file at path with the query parameters q
// (e.g. _pragma=journal_mode(WAL)). The path is escaped: a data dir whose
// name holds '#', '?' or '%' opens that file, not another one.
func DSN(path string, q url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	return u.String()
}
