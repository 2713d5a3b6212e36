// Package motoserver runs a local AWS API, the moto server, on a loopback
// port: what the AWS adapter tests (through infra/aws/awstest), the local
// AWS of `make aws-local` and scripts/invoke talk to instead of AWS.
//
// moto_server is installed, pinned, by scripts/setup-tools into the
// module's virtualenv (.venv/bin/moto_server next to go.mod); the
// environment variable MOTO_SERVER may name another executable. Every
// resource lives in account 123456789012, region us-east-1.
//
//	srv, err := motoserver.Start()
//	...
//	defer srv.Close()
//	client := sqs.NewFromConfig(srv.Config())
package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

const (
	// Region is the region of Config.
	Region = "us-east-1"
	// AccountID is the account moto puts every resource in.
	AccountID = "123456789012"
	// AccessKey and SecretKey are the static credentials of Config.
	AccessKey = "test"
	SecretKey = "test"

	startTimeout = 60 * time.Second
	stopTimeout  = 5 * time.Second
	logLimit     = 64 << 10
)

// Server is a running moto server on a loopback port. Its methods are safe
// for concurrent use.
type Server struct {
	// URL is the endpoint, e.g. "http://127.0.0.1:43123", for every service.
	URL string
	// Port is the moto process's own port, behind the front at URL (for
	// finding the process; clients use URL).
	Port int

	cmd    *exec.Cmd
	front  *http.Server  // serializes DynamoDB requests in front of moto
	exited chan struct{} // closed when the process has been reaped
	log    *tail
	once   sync.Once
	err    error
}

// Start starts a server on a free loopback port and waits until it answers.
// The caller must Close it. The error says to run scripts/setup-tools when
// moto_server is missing.
func Start() (*Server, error) {
	bin, err := Executable()
	if err != nil {
		return nil, err
	}
	var errs []error
	// A free port can be taken between probing it and moto binding it; try
	// a few.
	for range 3 {
		s, err := start(bin)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("start moto server: %w", errors.Join(errs...))
}

// Executable returns the path of moto_server: $MOTO_SERVER if set, else
// .venv/bin/moto_server in the module root (the first directory holding
// go.mod at or above the working directory).
func Executable() (string, error) {
	const hint = "run scripts/setup-tools to install the pinned test tools"
	if p := os.Getenv("MOTO_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("find moto_server from MOTO_SERVER: %w (%s)", err, hint)
		}
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("find moto_server: %w", err)
	}
	p := filepath.Join(root, ".venv", "bin", "moto_server")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("find moto_server: %w (%s)", err, hint)
	}
	return p, nil
}

// ModuleRoot returns the first directory at or above the working directory
// that holds a go.mod file.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

func start(bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:    "http://127.0.0.1:" + strconv.Itoa(port),
		Port:   port,
		exited: make(chan struct{}),
		log:    &tail{},
	}
	s.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	ownGroup(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.wait(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%w; output:\n%s", err, s.log.String())
	}
	if err := s.serve(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// serve puts a loopback front in front of moto and makes URL point at it.
// DynamoDB transactions are serializable and all-or-nothing; moto applies
// the items of concurrent TransactWriteItems one by one, so a transaction
// that fails its condition can leave items of itself behind when another
// one runs at the same time. The front lets one DynamoDB request at a time
// through, which restores what DynamoDB guarantees; every other service
// (SQS long polls included) passes through concurrently.
func (s *Server) serve() error {
	target, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("parse moto URL: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the moto front: %w", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // a client that hangs up (a cancelled long poll) is not news
	var dynamo sync.Mutex
	s.front = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_") {
				dynamo.Lock()
				defer dynamo.Unlock()
			}
			proxy.ServeHTTP(w, r)
		}),
	}
	go func() { _ = s.front.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String()
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// wait polls until the server answers HTTP, exits or times out.
func (s *Server) wait() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("moto server on %s exited early", s.URL)
		default:
		}
		resp, err := client.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("moto server on %s did not answer within %s", s.URL, startTimeout)
}

// Config returns an AWS SDK v2 configuration for every service client of
// the server: region us-east-1, static credentials test/test and
// BaseEndpoint = URL. It reads nothing from the environment or ~/.aws.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// Reset drops every resource of every service (POST /moto-api/reset). Tests
// running in parallel on the same server lose their resources too.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("reset moto: status %s", resp.Status)
	}
	return nil
}

// Log returns the tail of the server's output (its request log), useful in
// failure messages.
func (s *Server) Log() string { return s.log.String() }

// Close stops the server (SIGTERM to its process group, SIGKILL after 5s)
// and waits for it. Closing twice is fine.
func (s *Server) Close() error {
	s.once.Do(func() {
		if s.front != nil {
			_ = s.front.Close()
		}
		select {
		case <-s.exited:
			return
		default:
		}
		terminate(s.cmd)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			kill(s.cmd)
			select {
			case <-s.exited:
			case <-time.After(stopTimeout):
				s.err = fmt.Errorf("stop moto server %s: still running", s.URL)
			}
		}
	})
	return s.err
}

// tail keeps the last logLimit bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if extra := t.buf.Len() - logLimit; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
