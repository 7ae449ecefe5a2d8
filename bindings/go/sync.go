package xproc

/*
#include "wrap.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Lock is a named lock (multiprocessing.Lock), or with Client.RLock a reentrant one. It
// belongs to the connection that acquired it and is released by the broker when that
// connection ends; the next acquirer is told it was abandoned (AbandonedBy).
type Lock struct {
	h         *handle
	abandoned atomic.Uint32
}

func openNamed(c *Client, kind, name string, open func(p *C.xproc_client_t, n *C.char, nl C.size_t, msg **C.char) C.int) error {
	return c.h.do("open", func(p unsafe.Pointer) error {
		cn, nl := cstr(name)
		var msg *C.char
		st := open(c.ptr(p), cn, nl, &msg)
		runtime.KeepAlive(name)
		return check(kind+".open", name, st, msg)
	})
}

func (c *Client) openLock(name string, reentrant C.int) (*Lock, error) {
	var l *C.xproc_lock_t
	kind := map[C.int]string{0: "lock", 1: "rlock"}[reentrant]
	err := openNamed(c, kind, name, func(p *C.xproc_client_t, n *C.char, nl C.size_t, msg **C.char) C.int {
		return C.xg_lock_open(p, n, nl, reentrant, &l, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Lock{h: newHandle(unsafe.Pointer(l),
		func(p unsafe.Pointer) { C.xproc_lock_free((*C.xproc_lock_t)(p)) }, kind, name)}, nil
}

// Lock opens the lock called name, creating it if the name is free.
func (c *Client) Lock(name string) (*Lock, error) { return c.openLock(name, 0) }

// RLock opens the reentrant lock called name: its owner may acquire it again, and must
// release it as many times.
func (c *Client) RLock(name string) (*Lock, error) { return c.openLock(name, 1) }

func lp(p unsafe.Pointer) *C.xproc_lock_t { return (*C.xproc_lock_t)(p) }

// Name is the lock's name.
func (l *Lock) Name() string { return l.h.name }

// Close frees this handle; it does not release the lock.
func (l *Lock) Close() error {
	l.h.close()
	return nil
}

func (l *Lock) acquire(ms int64) (bool, error) {
	var acquired C.bool
	var by C.uint32_t
	err := l.h.do("acquire", func(p unsafe.Pointer) error {
		var msg *C.char
		return check(l.h.kind+".acquire", l.h.name, C.xg_lock_acquire(lp(p), C.int64_t(ms), &acquired, &by, &msg), msg)
	})
	if acquired {
		l.abandoned.Store(uint32(by))
	}
	return bool(acquired), err
}

// Acquire takes the lock, waiting until ctx's deadline (ErrTimeout) or cancel.
func (l *Lock) Acquire(ctx context.Context) error {
	return block(ctx, l.h.kind+".acquire", l.h.name, l.acquire)
}

// TryAcquire takes the lock if it is free, without waiting.
func (l *Lock) TryAcquire() (bool, error) { return l.acquire(0) }

// Release releases the lock; ErrNotOwner if this connection does not hold it.
func (l *Lock) Release() error {
	return l.h.do("release", func(p unsafe.Pointer) error {
		var msg *C.char
		return check(l.h.kind+".release", l.h.name, C.xg_lock_release(lp(p), &msg), msg)
	})
}

// AbandonedBy reports whether the last acquisition through this handle took a lock whose
// previous owner's connection ended while holding it, and that owner's pid.
func (l *Lock) AbandonedBy() (pid uint32, abandoned bool) {
	pid = l.abandoned.Load()
	return pid, pid != 0
}

// Semaphore is a named counting semaphore (multiprocessing.Semaphore), or with
// Client.BoundedSemaphore one that refuses a release above its initial value. Permits held
// by a connection are returned when it ends.
type Semaphore struct {
	h *handle
}

func (c *Client) openSemaphore(name string, bounded C.int, initial uint64) (*Semaphore, error) {
	var s *C.xproc_semaphore_t
	kind := map[C.int]string{0: "semaphore", 1: "bounded_semaphore"}[bounded]
	err := openNamed(c, kind, name, func(p *C.xproc_client_t, n *C.char, nl C.size_t, msg **C.char) C.int {
		return C.xg_sem_open(p, n, nl, bounded, C.uint64_t(initial), &s, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Semaphore{h: newHandle(unsafe.Pointer(s),
		func(p unsafe.Pointer) { C.xproc_semaphore_free((*C.xproc_semaphore_t)(p)) }, kind, name)}, nil
}

// Semaphore opens the semaphore called name, creating it with initial permits if the name
// is free.
func (c *Client) Semaphore(name string, initial uint64) (*Semaphore, error) {
	return c.openSemaphore(name, 0, initial)
}

// BoundedSemaphore opens the bounded semaphore called name, creating it with initial
// permits (also its bound) if the name is free.
func (c *Client) BoundedSemaphore(name string, initial uint64) (*Semaphore, error) {
	return c.openSemaphore(name, 1, initial)
}

func sp(p unsafe.Pointer) *C.xproc_semaphore_t { return (*C.xproc_semaphore_t)(p) }

// Close frees this handle; it releases no permit.
func (s *Semaphore) Close() error {
	s.h.close()
	return nil
}

func (s *Semaphore) acquire(ms int64) (bool, error) {
	var acquired C.bool
	err := s.h.do("acquire", func(p unsafe.Pointer) error {
		var msg *C.char
		return check(s.h.kind+".acquire", s.h.name, C.xg_sem_acquire(sp(p), C.int64_t(ms), &acquired, &msg), msg)
	})
	return bool(acquired), err
}

// Acquire takes one permit, waiting until ctx's deadline (ErrTimeout) or cancel.
func (s *Semaphore) Acquire(ctx context.Context) error {
	return block(ctx, s.h.kind+".acquire", s.h.name, s.acquire)
}

// TryAcquire takes one permit if one is free, without waiting.
func (s *Semaphore) TryAcquire() (bool, error) { return s.acquire(0) }

// Release returns n permits; a bounded semaphore refuses to go above its initial value
// (ErrInvalidArgument).
func (s *Semaphore) Release(n uint64) error {
	return s.h.do("release", func(p unsafe.Pointer) error {
		var msg *C.char
		return check(s.h.kind+".release", s.h.name, C.xg_sem_release(sp(p), C.uint64_t(n), &msg), msg)
	})
}

// Event is a named event (multiprocessing.Event).
type Event struct {
	h *handle
}

// Event opens the event called name, creating it (clear) if the name is free.
func (c *Client) Event(name string) (*Event, error) {
	var e *C.xproc_event_t
	err := openNamed(c, "event", name, func(p *C.xproc_client_t, n *C.char, nl C.size_t, msg **C.char) C.int {
		return C.xg_event_open(p, n, nl, &e, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Event{h: newHandle(unsafe.Pointer(e),
		func(p unsafe.Pointer) { C.xproc_event_free((*C.xproc_event_t)(p)) }, "event", name)}, nil
}

func ep(p unsafe.Pointer) *C.xproc_event_t { return (*C.xproc_event_t)(p) }

// Close frees this handle.
func (e *Event) Close() error {
	e.h.close()
	return nil
}

// Set sets the event, waking every waiter.
func (e *Event) Set() error {
	return e.h.do("set", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("event.set", e.h.name, C.xg_event_set(ep(p), &msg), msg)
	})
}

// Clear clears the event.
func (e *Event) Clear() error {
	return e.h.do("clear", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("event.clear", e.h.name, C.xg_event_clear(ep(p), &msg), msg)
	})
}

// IsSet reports whether the event is set.
func (e *Event) IsSet() (bool, error) {
	var set C.bool
	err := e.h.do("is_set", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("event.is_set", e.h.name, C.xg_event_is_set(ep(p), &set, &msg), msg)
	})
	return bool(set), err
}

// Wait waits until the event is set: nil once it is, an error matching ErrTimeout at ctx's
// deadline, or its cancel.
func (e *Event) Wait(ctx context.Context) error {
	return block(ctx, "event.wait", e.h.name, func(ms int64) (bool, error) {
		var set C.bool
		err := e.h.do("wait", func(p unsafe.Pointer) error {
			var msg *C.char
			return check("event.wait", e.h.name, C.xg_event_wait(ep(p), C.int64_t(ms), &set, &msg), msg)
		})
		return bool(set), err
	})
}

// Condition is a named condition variable over its own named lock
// (multiprocessing.Condition). Wait and Notify need the lock held by this connection.
type Condition struct {
	h *handle
}

// Condition opens the condition called name, creating it if the name is free.
func (c *Client) Condition(name string) (*Condition, error) {
	var cv *C.xproc_condition_t
	err := openNamed(c, "condition", name, func(p *C.xproc_client_t, n *C.char, nl C.size_t, msg **C.char) C.int {
		return C.xg_cond_open(p, n, nl, &cv, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Condition{h: newHandle(unsafe.Pointer(cv),
		func(p unsafe.Pointer) { C.xproc_condition_free((*C.xproc_condition_t)(p)) }, "condition", name)}, nil
}

func cp(p unsafe.Pointer) *C.xproc_condition_t { return (*C.xproc_condition_t)(p) }

// Close frees this handle.
func (cv *Condition) Close() error {
	cv.h.close()
	return nil
}

// Acquire takes the condition's lock, waiting until ctx's deadline (ErrTimeout) or cancel.
func (cv *Condition) Acquire(ctx context.Context) error {
	return block(ctx, "condition.acquire", cv.h.name, func(ms int64) (bool, error) {
		var acquired C.bool
		var by C.uint32_t
		err := cv.h.do("acquire", func(p unsafe.Pointer) error {
			var msg *C.char
			return check("condition.acquire", cv.h.name, C.xg_cond_acquire(cp(p), C.int64_t(ms), &acquired, &by, &msg), msg)
		})
		return bool(acquired), err
	})
}

// Release releases the condition's lock.
func (cv *Condition) Release() error {
	return cv.h.do("release", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("condition.release", cv.h.name, C.xg_cond_release(cp(p), &msg), msg)
	})
}

// Wait releases the lock, waits for a notify, and takes the lock again before returning
// (also when it fails with ErrTimeout at ctx's deadline, or on cancel). With a context that
// can be cancelled, Wait may also return nil without a notify (every CancelCheckInterval,
// see there): like sync.Cond.Wait, call it in a loop that checks what you wait for, or use
// WaitFor.
func (cv *Condition) Wait(ctx context.Context) error {
	if ctx.Err() != nil {
		return contextError(ctx, "condition.wait", cv.h.name)
	}
	ms := timeoutMS(ctx)
	if ctx.Done() != nil && (ms < 0 || ms > CancelCheckInterval.Milliseconds()) {
		ms = CancelCheckInterval.Milliseconds()
	}
	var notified C.bool
	err := cv.h.do("wait", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("condition.wait", cv.h.name, C.xg_cond_wait(cp(p), C.int64_t(ms), &notified, &msg), msg)
	})
	if err != nil || notified {
		return err
	}
	if ctx.Err() != nil {
		return contextError(ctx, "condition.wait", cv.h.name)
	}
	if deadline, ok := ctx.Deadline(); ok && msUntil(deadline) == 0 {
		<-ctx.Done()
		return contextError(ctx, "condition.wait", cv.h.name)
	}
	return nil // a bounded wait ended without a notify: a spurious wakeup
}

// WaitFor waits until pred() is true, checking it first and after every wakeup, with the
// lock held each time; it fails with ErrTimeout at ctx's deadline, or on cancel.
func (cv *Condition) WaitFor(ctx context.Context, pred func() bool) error {
	for !pred() {
		if err := cv.Wait(ctx); err != nil {
			if pred() {
				return nil
			}
			return err
		}
	}
	return nil
}

// Notify wakes up to n waiters and returns how many it woke.
func (cv *Condition) Notify(n uint64) (uint64, error) {
	var woken C.uint64_t
	err := cv.h.do("notify", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("condition.notify", cv.h.name, C.xg_cond_notify(cp(p), C.uint64_t(n), &woken, &msg), msg)
	})
	return uint64(woken), err
}

// NotifyAll wakes every waiter and returns how many it woke.
func (cv *Condition) NotifyAll() (uint64, error) {
	var woken C.uint64_t
	err := cv.h.do("notify_all", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("condition.notify_all", cv.h.name, C.xg_cond_notify_all(cp(p), &woken, &msg), msg)
	})
	return uint64(woken), err
}

// Barrier is a named barrier (multiprocessing.Barrier) for a fixed number of parties.
type Barrier struct {
	h *handle
}

// Barrier opens the barrier called name, creating it for parties if the name is free.
func (c *Client) Barrier(name string, parties uint64) (*Barrier, error) {
	var b *C.xproc_barrier_t
	err := openNamed(c, "barrier", name, func(p *C.xproc_client_t, n *C.char, nl C.size_t, msg **C.char) C.int {
		return C.xg_barrier_open(p, n, nl, C.uint64_t(parties), &b, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Barrier{h: newHandle(unsafe.Pointer(b),
		func(p unsafe.Pointer) { C.xproc_barrier_free((*C.xproc_barrier_t)(p)) }, "barrier", name)}, nil
}

func bp(p unsafe.Pointer) *C.xproc_barrier_t { return (*C.xproc_barrier_t)(p) }

// Close frees this handle.
func (b *Barrier) Close() error {
	b.h.close()
	return nil
}

// Wait waits until every party has arrived and returns this party's index
// (0..parties-1). ctx's deadline is the wait's timeout, which breaks the barrier (as in
// Python): every waiter fails with ErrBrokenBarrier. A barrier wait is one request (a
// bounded one would break the barrier), so a cancel aborts the barrier, with the same
// outcome for every waiter; the error then matches context.Canceled too.
func (b *Barrier) Wait(ctx context.Context) (uint64, error) {
	if ctx.Err() != nil {
		return 0, contextError(ctx, "barrier.wait", b.h.name)
	}
	stop := context.AfterFunc(ctx, func() {
		if ctx.Err() == context.Canceled {
			_ = b.Abort()
		}
	})
	defer stop()
	var index C.uint64_t
	err := b.h.do("wait", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("barrier.wait", b.h.name, C.xg_barrier_wait(bp(p), C.int64_t(timeoutMS(ctx)), &index, &msg), msg)
	})
	if e, ok := err.(*Error); ok && ctx.Err() != nil {
		e.cause = ctx.Err()
	}
	return uint64(index), err
}

// Abort breaks the barrier: current and later waiters fail with ErrBrokenBarrier until
// Reset.
func (b *Barrier) Abort() error {
	return b.h.do("abort", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("barrier.abort", b.h.name, C.xg_barrier_abort(bp(p), &msg), msg)
	})
}

// Reset returns the barrier to its initial state (waiters fail with ErrBrokenBarrier).
func (b *Barrier) Reset() error {
	return b.h.do("reset", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("barrier.reset", b.h.name, C.xg_barrier_reset(bp(p), &msg), msg)
	})
}

// BarrierState is a barrier's state, read in one round trip.
type BarrierState struct {
	Parties, Waiting uint64
	Broken           bool
}

// State returns the barrier's parties, how many wait now, and whether it is broken.
func (b *Barrier) State() (BarrierState, error) {
	var s C.xproc_barrier_state_t
	err := b.h.do("state", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("barrier.state", b.h.name, C.xg_barrier_state(bp(p), &s, &msg), msg)
	})
	return BarrierState{uint64(s.parties), uint64(s.n_waiting), bool(s.broken)}, err
}
