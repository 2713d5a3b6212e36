// Package awstest runs a local AWS emulator (moto server, see
// infra/aws/motoserver) for the tests of the infra/aws adapters and of
// anything wired to them.
//
// moto_server is installed, pinned, by scripts/setup-tools into the
// module's virtualenv (.venv/bin/moto_server next to go.mod). Tests never
// skip when it is missing: they fail and say to run scripts/setup-tools. The
// environment variable MOTO_SERVER may name another executable.
//
// One server per test (simple, about a second to start):
//
//	func TestQueue(t *testing.T) {
//		srv := awstest.New(t) // stopped by t.Cleanup
//		client := sqs.NewFromConfig(srv.Config())
//		...
//	}
//
// One server per package (cheaper), from TestMain, and a new DynamoDB
// table a test:
//
//	var moto *awstest.Server
//
//	func TestMain(m *testing.M) { awstest.Main(m, &moto) }
//
//	func TestStore(t *testing.T) {
//		client, table := awstest.Table(t, moto, "config", dynamostore.CreateTable)
//		...
//	}
//
// A server is shared state: tests that share one should use unique resource
// names (tables, queues, key aliases), or call Reset between tests that do
// not run in parallel. Every resource lives in account 123456789012, region
// us-east-1.
package awstest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
)

const (
	// Region is the region of Config.
	Region = motoserver.Region
	// AccountID is the account moto puts every resource in.
	AccountID = motoserver.AccountID
	// AccessKey and SecretKey are the static credentials of Config.
	AccessKey = motoserver.AccessKey
	SecretKey = motoserver.SecretKey
)

// Server is a running moto server on a loopback port.
type Server = motoserver.Server

// New starts a server for the test t and stops it when t ends. It fails t
// (never skips) when the server cannot start, e.g. when moto_server is not
// installed.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := motoserver.Start()
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("awstest: %v", err)
		}
	})
	return s
}

// Main runs a test package whose tests share one server: it starts the
// server and sets *srv to it, runs the tests, closes the server and exits
// with the tests' code. A server that cannot start fails the package (it
// never skips). Call it from TestMain.
func Main(m *testing.M, srv **Server) {
	s, err := motoserver.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "awstest:", err)
		os.Exit(1)
	}
	*srv = s
	code := m.Run()
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "awstest:", err)
	}
	os.Exit(code)
}

var tables atomic.Int64

// Table creates a DynamoDB table on srv with create (a package's
// CreateTable), named prefix-N with N unique in the test binary, and returns
// a client of srv and the table's name. It fails t when create fails.
func Table(t testing.TB, srv *Server, prefix string, create func(ctx context.Context, client *dynamodb.Client, table string) error) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamodb.NewFromConfig(srv.Config())
	table := fmt.Sprintf("%s-%d", prefix, tables.Add(1))
	if err := create(t.Context(), client, table); err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return client, table
}

// Start starts a server on a free loopback port and waits until it answers.
// The caller must Close it.
func Start() (*Server, error) { return motoserver.Start() }

// Executable returns the path of moto_server ($MOTO_SERVER, else
// .venv/bin/moto_server in the module root).
func Executable() (string, error) { return motoserver.Executable() }

// ModuleRoot returns the first directory at or above the working directory
// that holds a go.mod file.
func ModuleRoot() (string, error) { return motoserver.ModuleRoot() }
