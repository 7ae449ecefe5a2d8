package xproc_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

// xprocd is the broker the tests start: $XPROCD, else the release build of this checkout.
func xprocd(t *testing.T) string {
	if p := os.Getenv("XPROCD"); p != "" {
		return p
	}
	p, err := filepath.Abs("../../target/release/xprocd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no xprocd at %s (cargo build --release -p xproc-broker, or set XPROCD): %v", p, err)
	}
	return p
}

// startBroker starts one xprocd on a socket of its own for this test and stops it (SIGTERM)
// when the test ends; it returns the socket path.
func startBroker(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "xproc-go-test.")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "x.sock")
	cmd := exec.Command(xprocd(t), "--socket", sock, "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting xprocd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("xprocd exited badly on SIGTERM: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("xprocd did not stop within 10 s of SIGTERM")
		}
		os.RemoveAll(dir)
	})
	// The socket file appears only once the broker accepts connections.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("xprocd did not create %s within 10 s", sock)
	return ""
}

// connect opens a client to sock, closed when the test ends.
func connect(t *testing.T, sock string) *xproc.Client {
	t.Helper()
	c, err := xproc.Connect(context.Background(), sock)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// within is a context with a timeout for the test's blocking calls.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
