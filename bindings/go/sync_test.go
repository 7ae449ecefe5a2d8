package xproc_test

import (
	"context"
	"errors"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

func TestLockOwnershipAndAbandon(t *testing.T) {
	sock := startBroker(t)
	holder := connect(t, sock)
	l1, err := holder.Lock("device")
	must(t, err)
	l2, err := connect(t, sock).Lock("device")
	must(t, err)
	must(t, l1.Acquire(within(t, time.Second)))
	if ok, err := l2.TryAcquire(); err != nil || ok {
		t.Fatalf("TryAcquire of a held lock = %v, %v", ok, err)
	}
	if err := l2.Acquire(within(t, 150*time.Millisecond)); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Acquire of a held lock past the deadline = %v, want ErrTimeout", err)
	}
	if err := l2.Release(); !errors.Is(err, xproc.ErrNotOwner) {
		t.Fatalf("Release by a non-owner = %v, want ErrNotOwner", err)
	}
	// The holder's connection ends while holding the lock: the broker releases it and the
	// next acquirer is told by whom it was abandoned.
	got := make(chan error, 1)
	go func() { got <- l2.Acquire(within(t, 5*time.Second)) }()
	time.Sleep(100 * time.Millisecond)
	l1.Close()
	holder.Close()
	must(t, <-got)
	pid, abandoned := l2.AbandonedBy()
	if !abandoned || pid != uint32(os.Getpid()) {
		t.Fatalf("AbandonedBy = %d, %v; want this process", pid, abandoned)
	}
	must(t, l2.Release())
}

func TestRLockIsReentrant(t *testing.T) {
	sock := startBroker(t)
	r, err := connect(t, sock).RLock("r")
	must(t, err)
	must(t, r.Acquire(context.Background()))
	must(t, r.Acquire(context.Background()))
	other, err := connect(t, sock).RLock("r")
	must(t, err)
	must(t, r.Release())
	if ok, _ := other.TryAcquire(); ok {
		t.Fatal("an RLock acquired twice was free after one release")
	}
	must(t, r.Release())
	if ok, err := other.TryAcquire(); err != nil || !ok {
		t.Fatalf("TryAcquire after both releases = %v, %v", ok, err)
	}
}

func TestSemaphore(t *testing.T) {
	sock := startBroker(t)
	s, err := connect(t, sock).BoundedSemaphore("slots", 2)
	must(t, err)
	must(t, s.Acquire(context.Background()))
	must(t, s.Acquire(context.Background()))
	if err := s.Acquire(within(t, 150*time.Millisecond)); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Acquire with no permit left = %v, want ErrTimeout", err)
	}
	must(t, s.Release(2))
	if err := s.Release(1); !errors.Is(err, xproc.ErrInvalidArgument) {
		t.Fatalf("releasing a bounded semaphore too far = %v, want ErrInvalidArgument", err)
	}
}

func TestEvent(t *testing.T) {
	sock := startBroker(t)
	e, err := connect(t, sock).Event("ready")
	must(t, err)
	setter, err := connect(t, sock).Event("ready")
	must(t, err)
	if err := e.Wait(within(t, 150*time.Millisecond)); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("Wait on a clear event = %v, want ErrTimeout", err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = setter.Set()
	}()
	must(t, e.Wait(within(t, 5*time.Second)))
	if set, err := e.IsSet(); err != nil || !set {
		t.Fatalf("IsSet = %v, %v", set, err)
	}
	must(t, e.Clear())
	if set, _ := e.IsSet(); set {
		t.Fatal("the event is still set after Clear")
	}
}

func TestConditionWaitFor(t *testing.T) {
	sock := startBroker(t)
	state, err := connect(t, sock).Dict("state")
	must(t, err)
	waiterC := connect(t, sock)
	cv, err := waiterC.Condition("cv")
	must(t, err)
	notifier, err := connect(t, sock).Condition("cv")
	must(t, err)
	go func() {
		for i := 1; i <= 3; i++ {
			time.Sleep(50 * time.Millisecond)
			_ = notifier.Acquire(context.Background())
			_ = state.Set("n", i)
			_, _ = notifier.NotifyAll()
			_ = notifier.Release()
		}
	}()
	must(t, cv.Acquire(context.Background()))
	ready := func() bool { v, _ := state.Get("n"); return v == int64(3) }
	// A cancellable context: WaitFor must survive Wait's bounded wakeups.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	must(t, cv.WaitFor(ctx, ready))
	must(t, cv.Release())
	must(t, cv.Acquire(context.Background()))
	if err := cv.WaitFor(within(t, 200*time.Millisecond), func() bool { return false }); !errors.Is(err, xproc.ErrTimeout) {
		t.Fatalf("WaitFor a false predicate = %v, want ErrTimeout", err)
	}
	// Wait reacquired the lock before returning, even on timeout.
	must(t, cv.Release())
}

func TestBarrier(t *testing.T) {
	sock := startBroker(t)
	const parties = 3
	var wg sync.WaitGroup
	indexes := make([]int, parties)
	errs := make([]error, parties)
	for i := 0; i < parties; i++ {
		b, err := connect(t, sock).Barrier("start", parties)
		must(t, err)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			idx, err := b.Wait(within(t, 5*time.Second))
			indexes[i], errs[i] = int(idx), err
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	sort.Ints(indexes)
	for i, idx := range indexes {
		if idx != i {
			t.Fatalf("indexes = %v, want 0..%d", indexes, parties-1)
		}
	}
}

// Cancelling a barrier wait aborts the barrier: the other waiter fails too, as on timeout.
func TestBarrierCancelBreaksIt(t *testing.T) {
	sock := startBroker(t)
	b1, err := connect(t, sock).Barrier("b", 3)
	must(t, err)
	b2, err := connect(t, sock).Barrier("b", 3)
	must(t, err)
	other := make(chan error, 1)
	go func() {
		_, err := b2.Wait(context.Background())
		other <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(150 * time.Millisecond)
		cancel()
	}()
	_, err = b1.Wait(ctx)
	if !errors.Is(err, xproc.ErrBrokenBarrier) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled barrier wait = %v, want ErrBrokenBarrier and Canceled", err)
	}
	select {
	case err := <-other:
		if !errors.Is(err, xproc.ErrBrokenBarrier) {
			t.Fatalf("the other waiter got %v, want ErrBrokenBarrier", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other waiter was not released")
	}
	st, err := b1.State()
	must(t, err)
	if !st.Broken || st.Parties != 3 {
		t.Fatalf("State = %+v", st)
	}
	must(t, b1.Reset())
}
