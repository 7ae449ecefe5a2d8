package xproc_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

func TestPipe(t *testing.T) {
	sock := startBroker(t)
	a, err := connect(t, sock).Pipe("chan", 'a', xproc.PipeOptions{})
	must(t, err)
	b, err := connect(t, sock).Pipe("chan", 'b', xproc.PipeOptions{})
	must(t, err)
	if _, err := connect(t, sock).Pipe("chan", 'b', xproc.PipeOptions{}); !errors.Is(err, xproc.ErrBusy) {
		t.Fatalf("claiming a held end = %v, want ErrBusy", err)
	}
	ctx := within(t, 5*time.Second)
	if ready, err := b.PollNow(); err != nil || ready {
		t.Fatalf("PollNow on an empty inbox = %v, %v", ready, err)
	}
	must(t, a.Send(ctx, []any{int64(1), int64(2)}))
	must(t, b.Send(ctx, "back"))
	if ready, err := b.Poll(ctx); err != nil || !ready {
		t.Fatalf("Poll = %v, %v", ready, err)
	}
	if v, err := b.Recv(ctx); err != nil || len(v.([]any)) != 2 {
		t.Fatalf("Recv = %#v, %v", v, err)
	}
	if v, err := a.Recv(ctx); err != nil || v != "back" {
		t.Fatalf("Recv at a = %#v, %v", v, err)
	}
	short, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if ready, err := b.Poll(short); err != nil || ready {
		t.Fatalf("Poll until a deadline with nothing sent = %v, %v", ready, err)
	}
	if _, err := b.Recv(within(t, 150*time.Millisecond)); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Recv past the deadline = %v, want ErrTimeout", err)
	}
	must(t, a.Send(ctx, "last"))
	must(t, a.Close())
	if v, err := b.Recv(ctx); err != nil || v != "last" {
		t.Fatalf("Recv after the other end closed = %#v, %v; want what was left", v, err)
	}
	_, err = b.Recv(ctx)
	if !errors.Is(err, xproc.ErrClosed) || !errors.Is(err, io.EOF) {
		t.Fatalf("Recv at end of file = %v, want ErrClosed and io.EOF", err)
	}
	must(t, a.Close()) // twice is harmless
}

func TestOneWayPipe(t *testing.T) {
	sock := startBroker(t)
	c := connect(t, sock)
	a, err := c.Pipe("oneway", 'a', xproc.PipeOptions{OneWay: true, Capacity: 1})
	must(t, err)
	b, err := connect(t, sock).Pipe("oneway", 'b', xproc.PipeOptions{})
	must(t, err)
	if err := b.Send(context.Background(), 1); err == nil {
		t.Fatal("end b of a one-way pipe could send")
	}
	must(t, a.Send(context.Background(), 1))
	if err := a.Send(within(t, 150*time.Millisecond), 2); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Send to a full inbox past the deadline = %v, want ErrTimeout", err)
	}
}
