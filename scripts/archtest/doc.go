// Package archtest holds no code: its test enforces the import rules of the
// design (shared/DESIGN.md §4) on every package of the module, from
// `go list -json ./...`.
//
//	go test ./scripts/archtest
//
// The dependency budget of each Lambda function is held by
// scripts/bench/deps.
package archtest
