package xproc

/*
#include "wrap.h"
*/
import "C"

import (
	"context"
	"time"
	"unsafe"
)

// QueueOptions are a queue's creation options. Zero values mean "not given": a new queue
// gets the defaults, an existing one keeps its own; a given value that differs from an
// existing queue's is ErrOptionMismatch.
type QueueOptions struct {
	// MaxSize bounds the queue (a Put waits while it is full); 0: not given (unbounded on
	// creation). Use Unbounded to insist on an unbounded queue.
	MaxSize int64
	// MaxAttempts is how many leased deliveries an item gets before it goes to the
	// dead-letter queue NAME.dead; 0: not given (the broker's default).
	MaxAttempts int64
}

// Unbounded is a MaxSize that asks for an unbounded queue explicitly.
const Unbounded = -2

// Queue is a FIFO queue handle (multiprocessing.Queue); JoinableQueue adds TaskDone/Join.
type Queue struct {
	h *handle
}

// JoinableQueue is a Queue whose items are marked done (multiprocessing.JoinableQueue).
type JoinableQueue struct {
	Queue
}

func openQueue(c *Client, name string, joinable bool, o QueueOptions) (*Queue, error) {
	maxsize, attempts := int64(-1), int64(-1)
	if o.MaxSize > 0 {
		maxsize = o.MaxSize
	} else if o.MaxSize == Unbounded {
		maxsize = 0
	}
	if o.MaxAttempts > 0 {
		attempts = o.MaxAttempts
	}
	var q *C.xproc_queue_t
	kind := "queue"
	if joinable {
		kind = "joinable_queue"
	}
	err := c.h.do("open", func(p unsafe.Pointer) error {
		cn, nl := cstr(name)
		j := C.int(0)
		if joinable {
			j = 1
		}
		var msg *C.char
		st := C.xg_queue_open(c.ptr(p), cn, nl, j, C.int64_t(maxsize), C.int64_t(attempts), &q, &msg)
		return check(kind+".open", name, st, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Queue{h: newHandle(unsafe.Pointer(q),
		func(p unsafe.Pointer) { C.xproc_queue_free((*C.xproc_queue_t)(p)) }, "queue", name)}, nil
}

// Queue opens the queue called name, creating it if the name is free.
func (c *Client) Queue(name string, o QueueOptions) (*Queue, error) {
	return openQueue(c, name, false, o)
}

// JoinableQueue opens the joinable queue called name, creating it if the name is free.
func (c *Client) JoinableQueue(name string, o QueueOptions) (*JoinableQueue, error) {
	q, err := openQueue(c, name, true, o)
	if err != nil {
		return nil, err
	}
	return &JoinableQueue{*q}, nil
}

// Name is the queue's name.
func (q *Queue) Name() string { return q.h.name }

// Close frees this handle; the queue and its items stay in the broker.
func (q *Queue) Close() error {
	q.h.close()
	return nil
}

func qp(p unsafe.Pointer) *C.xproc_queue_t { return (*C.xproc_queue_t)(p) }

func (q *Queue) put(ctx context.Context, data []byte) error {
	return q.h.do("put", func(p unsafe.Pointer) error {
		d, n := cbytes(data)
		return block(ctx, "queue.put", q.h.name, func(ms int64) (bool, error) {
			var msg *C.char
			err := check("queue.put", q.h.name, C.xg_queue_put(qp(p), d, n, C.int64_t(ms), &msg), msg)
			if isWait(err) && ms >= 0 {
				return false, nil
			}
			return err == nil, err
		})
	})
}

// Put appends v, waiting while a bounded queue is full: until ctx's deadline (then an error
// matching ErrTimeout) or its cancel.
func (q *Queue) Put(ctx context.Context, v any) error {
	data, err := Encode(v)
	if err != nil {
		return err
	}
	return q.put(ctx, data)
}

// PutNowait appends v if there is room at once, else fails with ErrFull.
func (q *Queue) PutNowait(v any) error {
	data, err := Encode(v)
	if err != nil {
		return err
	}
	return q.h.do("put", func(p unsafe.Pointer) error {
		d, n := cbytes(data)
		var msg *C.char
		return check("queue.put", q.h.name, C.xg_queue_put(qp(p), d, n, 0, &msg), msg)
	})
}

func (q *Queue) get(ms int64) (any, error) {
	var v any
	err := q.h.do("get", func(p unsafe.Pointer) error {
		var out *C.uint8_t
		var n C.size_t
		var msg *C.char
		if err := check("queue.get", q.h.name, C.xg_queue_get(qp(p), C.int64_t(ms), &out, &n, &msg), msg); err != nil {
			return err
		}
		var err error
		v, err = takeValue("queue.get", q.h.name, out, n)
		return err
	})
	return v, err
}

// Get removes and returns the item at the head, waiting for one until ctx's deadline
// (ErrTimeout) or its cancel. A cancelled or timed-out Get took nothing.
func (q *Queue) Get(ctx context.Context) (any, error) {
	var v any
	err := block(ctx, "queue.get", q.h.name, func(ms int64) (bool, error) {
		got, err := q.get(ms)
		if isWait(err) {
			return false, nil
		}
		v = got
		return err == nil, err
	})
	return v, err
}

// GetNowait removes and returns the item at the head if there is one, else fails with
// ErrEmpty.
func (q *Queue) GetNowait() (any, error) { return q.get(0) }

// QueueSize is a queue's counts, read in one round trip.
type QueueSize struct {
	Len        uint64 // items in the queue now (exact)
	MaxSize    uint64 // the bound; 0 = unbounded
	Unfinished uint64 // items put and not yet marked done (joinable queues)
}

// Size returns the queue's counts (one round trip).
func (q *Queue) Size() (QueueSize, error) {
	var s C.xproc_queue_size_t
	err := q.h.do("size", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("queue.size", q.h.name, C.xg_queue_size(qp(p), &s, &msg), msg)
	})
	return QueueSize{uint64(s.len), uint64(s.maxsize), uint64(s.unfinished)}, err
}

// Len returns how many items the queue holds (Python's qsize; one round trip).
func (q *Queue) Len() (int, error) {
	s, err := q.Size()
	return int(s.Len), err
}

// TaskDone marks one item taken from the queue as processed; more than were put is
// ErrInvalidArgument.
func (q *JoinableQueue) TaskDone() error {
	return q.h.do("task_done", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("queue.task_done", q.h.name, C.xg_queue_task_done(qp(p), &msg), msg)
	})
}

// Join waits until every item put has been marked done, until ctx's deadline (ErrTimeout)
// or its cancel.
func (q *JoinableQueue) Join(ctx context.Context) error {
	return q.h.do("join", func(p unsafe.Pointer) error {
		return block(ctx, "queue.join", q.h.name, func(ms int64) (bool, error) {
			var msg *C.char
			err := check("queue.join", q.h.name, C.xg_queue_join(qp(p), C.int64_t(ms), &msg), msg)
			if isWait(err) && ms >= 0 {
				return false, nil
			}
			return err == nil, err
		})
	})
}

// Delivery is an item handed out under a lease by GetLeased: Ack it when processed, or
// Nack it to give it back. If the lease runs out first, or the connection ends, the item
// goes back to the head of the queue (after MaxAttempts deliveries: to NAME.dead).
type Delivery struct {
	Value   any
	ID      uint64 // the broker's delivery id
	Attempt uint32 // 1 on the first delivery of this item
	queue   *Queue
}

// GetLeased takes the item at the head under a lease of the given length (0: the broker's
// default), waiting for one like Get.
func (q *Queue) GetLeased(ctx context.Context, lease time.Duration) (*Delivery, error) {
	leaseMS := int64(-1)
	if lease > 0 {
		leaseMS = max(1, lease.Milliseconds())
	}
	var d *Delivery
	err := block(ctx, "queue.get_leased", q.h.name, func(ms int64) (bool, error) {
		err := q.h.do("get_leased", func(p unsafe.Pointer) error {
			var out *C.uint8_t
			var n C.size_t
			var id C.uint64_t
			var attempt C.uint32_t
			var msg *C.char
			st := C.xg_queue_get_leased(qp(p), C.int64_t(ms), C.int64_t(leaseMS), &out, &n, &id, &attempt, &msg)
			if err := check("queue.get_leased", q.h.name, st, msg); err != nil {
				return err
			}
			v, err := takeValue("queue.get_leased", q.h.name, out, n)
			d = &Delivery{Value: v, ID: uint64(id), Attempt: uint32(attempt), queue: q}
			return err
		})
		if isWait(err) {
			return false, nil
		}
		return err == nil, err
	})
	return d, err
}

// Ack settles the delivery: the item is done. ErrUnknownDelivery if it was already settled
// or its lease ran out.
func (d *Delivery) Ack() error {
	return d.queue.h.do("ack", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("queue.ack", d.queue.h.name, C.xg_queue_ack(qp(p), C.uint64_t(d.ID), &msg), msg)
	})
}

// Nack gives the item back: to the head of the queue, after delay (0: at once).
func (d *Delivery) Nack(delay time.Duration) error {
	return d.queue.h.do("nack", func(p unsafe.Pointer) error {
		var msg *C.char
		st := C.xg_queue_nack(qp(p), C.uint64_t(d.ID), C.int64_t(delay.Milliseconds()), &msg)
		return check("queue.nack", d.queue.h.name, st, msg)
	})
}
