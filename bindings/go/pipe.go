package xproc

/*
#include "wrap.h"
*/
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// PipeOptions are a pipe's creation options (fixed when the pipe is created).
type PipeOptions struct {
	// OneWay makes a pipe where end 'a' only sends and end 'b' only receives; false: not
	// given (duplex on creation, an existing pipe's setting accepted).
	OneWay bool
	// Capacity is how many messages each end's inbox holds before a Send waits; 0: not
	// given (1024 on creation).
	Capacity int64
}

// Pipe is one end ('a' or 'b') of a pipe, held by this connection until Close. Messages
// sent on one end arrive at the other in order; once the other end is closed, Recv drains
// what is left and then fails with an error matching ErrClosed and io.EOF.
type Pipe struct {
	h *handle
}

// Pipe opens the pipe called name, creating it if the name is free, and claims its end
// ('a' or 'b'); ErrBusy if another connection holds that end.
func (c *Client) Pipe(name string, end byte, o PipeOptions) (*Pipe, error) {
	duplex := C.int(-1)
	if o.OneWay {
		duplex = 0
	}
	capacity := int64(-1)
	if o.Capacity > 0 {
		capacity = o.Capacity
	}
	var pp *C.xproc_pipe_t
	err := c.h.do("open", func(p unsafe.Pointer) error {
		cn, nl := cstr(name)
		var msg *C.char
		st := C.xg_pipe_open(c.ptr(p), cn, nl, C.char(end), duplex, C.int64_t(capacity), &pp, &msg)
		runtime.KeepAlive(name)
		return check("pipe.open", name, st, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Pipe{h: newHandle(unsafe.Pointer(pp),
		func(p unsafe.Pointer) { C.xproc_pipe_free((*C.xproc_pipe_t)(p)) }, "pipe", name)}, nil
}

func pp(p unsafe.Pointer) *C.xproc_pipe_t { return (*C.xproc_pipe_t)(p) }

// Name is the pipe's name.
func (c *Pipe) Name() string { return c.h.name }

// Close closes this end: the other end receives what is left, then end of file. The handle
// is freed too; closing twice is harmless.
func (c *Pipe) Close() error {
	err := c.h.do("close", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("pipe.close", c.h.name, C.xg_pipe_close(pp(p), &msg), msg)
	})
	c.h.close()
	if e, ok := err.(*Error); ok && e.Message == "this handle was closed" {
		return nil
	}
	return err
}

// Send sends v to the other end, waiting while its inbox is full (until ctx's deadline or
// cancel). ErrClosed if either end is closed.
func (c *Pipe) Send(ctx context.Context, v any) error {
	data, err := Encode(v)
	if err != nil {
		return err
	}
	return c.h.do("send", func(p unsafe.Pointer) error {
		d, n := cbytes(data)
		return block(ctx, "pipe.send", c.h.name, func(ms int64) (bool, error) {
			var msg *C.char
			err := check("pipe.send", c.h.name, C.xg_pipe_send(pp(p), d, n, C.int64_t(ms), &msg), msg)
			if isWait(err) && ms >= 0 {
				return false, nil
			}
			return err == nil, err
		})
	})
}

// Recv receives the next message, waiting for one until ctx's deadline (ErrTimeout) or
// cancel. At end of file the error matches ErrClosed and io.EOF.
func (c *Pipe) Recv(ctx context.Context) (any, error) {
	var v any
	err := c.h.do("recv", func(p unsafe.Pointer) error {
		return block(ctx, "pipe.recv", c.h.name, func(ms int64) (bool, error) {
			var out *C.uint8_t
			var n C.size_t
			var msg *C.char
			err := check("pipe.recv", c.h.name, C.xg_pipe_recv(pp(p), C.int64_t(ms), &out, &n, &msg), msg)
			if isWait(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			v, err = takeValue("pipe.recv", c.h.name, out, n)
			return err == nil, err
		})
	})
	return v, err
}

// Poll reports whether a message (or end of file) is ready to receive, waiting for one
// until ctx ends; a ctx already done, or one that ends first, gives false and no error.
// Use context.Background() with a timeout to wait a while, or PollNow not to wait.
func (c *Pipe) Poll(ctx context.Context) (bool, error) {
	var ready C.bool
	err := c.h.do("poll", func(p unsafe.Pointer) error {
		return block(ctx, "pipe.poll", c.h.name, func(ms int64) (bool, error) {
			var msg *C.char
			err := check("pipe.poll", c.h.name, C.xg_pipe_poll(pp(p), C.int64_t(ms), &ready, &msg), msg)
			return bool(ready), err
		})
	})
	if e, ok := err.(*Error); ok && e.cause != nil {
		return false, nil
	}
	return bool(ready), err
}

// PollNow reports whether a message (or end of file) is ready to receive, without waiting.
func (c *Pipe) PollNow() (bool, error) {
	var ready C.bool
	err := c.h.do("poll", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("pipe.poll", c.h.name, C.xg_pipe_poll(pp(p), 0, &ready, &msg), msg)
	})
	return bool(ready), err
}
