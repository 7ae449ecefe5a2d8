package xproc_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

func TestQueueFIFOAcrossClients(t *testing.T) {
	sock := startBroker(t)
	a, b := connect(t, sock), connect(t, sock)
	qa, err := a.Queue("jobs", xproc.QueueOptions{MaxSize: 10})
	must(t, err)
	qb, err := b.Queue("jobs", xproc.QueueOptions{})
	must(t, err)
	ctx := within(t, 5*time.Second)
	items := []any{int64(1), "two", xproc.Map{{"n", int64(3)}}, []byte{4}, nil}
	for _, v := range items {
		must(t, qa.Put(ctx, v))
	}
	if n, err := qb.Len(); err != nil || n != len(items) {
		t.Fatalf("Len = %d, %v; want %d", n, err, len(items))
	}
	for _, want := range items {
		got, err := qb.Get(ctx)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Get = %#v, %v; want %#v", got, err, want)
		}
	}
	if _, err := qb.GetNowait(); !errors.Is(err, xproc.ErrEmpty) {
		t.Fatalf("GetNowait on an empty queue = %v, want ErrEmpty", err)
	}
	s, err := qa.Size()
	must(t, err)
	if s.MaxSize != 10 || s.Len != 0 {
		t.Fatalf("Size = %+v", s)
	}
	if _, err := a.Queue("jobs", xproc.QueueOptions{MaxSize: 3}); !errors.Is(err, xproc.ErrOptionMismatch) {
		t.Fatalf("reopening with another maxsize = %v, want ErrOptionMismatch", err)
	}
	if _, err := a.Dict("jobs"); !errors.Is(err, xproc.ErrTypeMismatch) {
		t.Fatalf("opening a queue as a dict = %v, want ErrTypeMismatch", err)
	}
}

func TestQueueDeadlineIsTimeout(t *testing.T) {
	sock := startBroker(t)
	q, err := connect(t, sock).Queue("empty", xproc.QueueOptions{})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = q.Get(ctx)
	if !errors.Is(err, xproc.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past the deadline = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("Get returned after %v, before its deadline", took)
	}
	var xe *xproc.Error
	if !errors.As(err, &xe) || xe.Op != "queue.get" || xe.Name != "empty" {
		t.Fatalf("error %#v does not name the op and the queue", err)
	}
	full, err := connect(t, sock).Queue("full", xproc.QueueOptions{MaxSize: 1})
	must(t, err)
	must(t, full.PutNowait(1))
	if err := full.PutNowait(2); !errors.Is(err, xproc.ErrFull) {
		t.Fatalf("PutNowait on a full queue = %v, want ErrFull", err)
	}
	if err := full.Put(within(t, 200*time.Millisecond), 2); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Put on a full queue past the deadline = %v, want ErrTimeout", err)
	}
}

// A cancelled Get returns soon, and took nothing: the item put afterwards goes to the next
// consumer, not to the cancelled request.
func TestQueueCancelTakesNothing(t *testing.T) {
	sock := startBroker(t)
	c := connect(t, sock)
	q, err := c.Queue("cancel", xproc.QueueOptions{})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := q.Get(ctx)
		errc <- err
	}()
	time.Sleep(150 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, xproc.ErrInterrupted) {
			t.Fatalf("cancelled Get = %v, want context.Canceled and ErrInterrupted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Get did not return within 5 s")
	}
	must(t, q.Put(context.Background(), "after"))
	got, err := connect(t, sock).Queue("cancel", xproc.QueueOptions{})
	must(t, err)
	v, err := got.Get(within(t, 2*time.Second))
	if err != nil || v != "after" {
		t.Fatalf("the next consumer got %#v, %v; want the item", v, err)
	}
	// An already cancelled context does not even ask.
	if _, err := q.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context = %v", err)
	}
}

// A Get with no deadline and no cancel waits in one request and returns the item.
func TestQueueGetWaitsForPut(t *testing.T) {
	sock := startBroker(t)
	q, err := connect(t, sock).Queue("wait", xproc.QueueOptions{})
	must(t, err)
	p, err := connect(t, sock).Queue("wait", xproc.QueueOptions{})
	must(t, err)
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = p.Put(context.Background(), int64(42))
	}()
	v, err := q.Get(context.Background())
	if err != nil || v != int64(42) {
		t.Fatalf("Get = %#v, %v", v, err)
	}
}

func TestJoinableQueue(t *testing.T) {
	sock := startBroker(t)
	c := connect(t, sock)
	q, err := c.JoinableQueue("work", xproc.QueueOptions{})
	must(t, err)
	must(t, q.Put(context.Background(), 1))
	must(t, q.Put(context.Background(), 2))
	if err := q.Join(within(t, 200*time.Millisecond)); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Join with unfinished items = %v, want ErrTimeout", err)
	}
	done := make(chan error, 1)
	go func() { done <- q.Join(context.Background()) }()
	for i := 0; i < 2; i++ {
		_, err := q.Get(within(t, time.Second))
		must(t, err)
		must(t, q.TaskDone())
	}
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Join did not return once every item was done")
	}
	if err := q.TaskDone(); !errors.Is(err, xproc.ErrInvalidArgument) {
		t.Fatalf("TaskDone too often = %v, want ErrInvalidArgument", err)
	}
}

func TestLeases(t *testing.T) {
	sock := startBroker(t)
	c := connect(t, sock)
	q, err := c.Queue("leased", xproc.QueueOptions{MaxAttempts: 2})
	must(t, err)
	must(t, q.Put(context.Background(), "task"))
	d, err := q.GetLeased(within(t, time.Second), 10*time.Second)
	must(t, err)
	if d.Value != "task" || d.Attempt != 1 {
		t.Fatalf("first delivery = %+v", d)
	}
	must(t, d.Nack(0))
	d, err = q.GetLeased(within(t, time.Second), 100*time.Millisecond)
	must(t, err)
	if d.Attempt != 2 {
		t.Fatalf("second delivery attempt = %d, want 2", d.Attempt)
	}
	// Let the lease run out: after MaxAttempts deliveries the item goes to NAME.dead.
	time.Sleep(400 * time.Millisecond)
	if err := d.Ack(); !errors.Is(err, xproc.ErrUnknownDelivery) {
		t.Fatalf("Ack after the lease ran out = %v, want ErrUnknownDelivery", err)
	}
	dead, err := c.Queue("leased.dead", xproc.QueueOptions{})
	must(t, err)
	v, err := dead.Get(within(t, 2*time.Second))
	if err != nil || v != "task" {
		t.Fatalf("dead-letter queue gave %#v, %v", v, err)
	}
	must(t, q.Put(context.Background(), "ok"))
	d, err = q.GetLeased(within(t, time.Second), 0)
	must(t, err)
	must(t, d.Ack())
	if n, _ := q.Len(); n != 0 {
		t.Fatalf("queue holds %d items after an ack", n)
	}
}

func TestClosedHandleAndClient(t *testing.T) {
	sock := startBroker(t)
	c := connect(t, sock)
	q, err := c.Queue("q", xproc.QueueOptions{})
	must(t, err)
	must(t, c.Ping())
	if id, err := c.ConnID(); err != nil || id == 0 {
		t.Fatalf("ConnID = %d, %v", id, err)
	}
	c.Close()
	// The queue handle keeps the connection alive.
	must(t, q.Put(context.Background(), 1))
	q.Close()
	if err := q.Put(context.Background(), 1); !errors.Is(err, xproc.ErrInvalidArgument) {
		t.Fatalf("Put on a closed handle = %v", err)
	}
	if _, err := xproc.Connect(context.Background(), sock+".nothing"); !errors.Is(err, xproc.ErrNoBroker) {
		t.Fatalf("Connect to nothing = %v, want ErrNoBroker", err)
	}
}
