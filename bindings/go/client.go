// Package xproc is the Go client of the xproc broker: queues, pipes, dicts, locks and the
// other multiprocessing-style objects, shared by name with processes in any language. It is
// a thin layer over libxproc (the C ABI, client-c/include/xproc.h), called through cgo.
//
//	c, err := xproc.Connect(ctx, "")            // the default endpoint, or a socket path
//	q, err := c.Queue("tasks", xproc.QueueOptions{})
//	err = q.Put(ctx, xproc.Map{{"n", 7}})
//	v, err := q.Get(ctx)                        // waits; ctx's deadline is the timeout
//	if errors.Is(err, xproc.ErrTimeout) { ... }
//
// Every call that can wait takes a context.Context (see CancelCheckInterval for how a
// cancel reaches the broker); calls that the broker answers at once do not. Errors are
// *Error values that match one sentinel each (ErrTimeout, ErrEmpty, ErrKeyNotFound, ...).
// Values are plain Go values (see Encode). A Client and its handles are safe for use by
// many goroutines; locks, permits and pipe ends belong to the connection, so goroutines
// sharing a Client share them.
package xproc

/*
#include <stdlib.h>
#include "wrap.h"
*/
import "C"

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"
)

// DefaultConnectTimeout is how long Connect waits for the broker's greeting when its
// context has no deadline (XPROC_DEFAULT_CONNECT_TIMEOUT_MS).
const DefaultConnectTimeout = C.XPROC_DEFAULT_CONNECT_TIMEOUT_MS

// handle owns one libxproc handle: calls hold it shared, Close exclusively, so a handle is
// never freed under a call that uses it (Close waits for calls in progress).
type handle struct {
	mu   sync.RWMutex
	ptr  unsafe.Pointer
	free func(unsafe.Pointer)
	kind string // "queue", "dict", ... for errors
	name string
}

func newHandle(ptr unsafe.Pointer, free func(unsafe.Pointer), kind, name string) *handle {
	h := &handle{ptr: ptr, free: free, kind: kind, name: name}
	// A handle dropped without Close is freed by the collector (frees never block).
	runtime.SetFinalizer(h, (*handle).close)
	return h
}

// do runs f with the live pointer, or fails if the handle was closed.
func (h *handle) do(op string, f func(p unsafe.Pointer) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.ptr == nil {
		return &Error{Op: h.kind + "." + op, Name: h.name, Status: StatusInvalidArgument,
			Message: "this handle was closed"}
	}
	return f(h.ptr)
}

func (h *handle) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr != nil {
		h.free(h.ptr)
		h.ptr = nil
	}
}

// Client is one connection to a broker. Close it when done: the broker then releases
// whatever the connection held (locks, permits, pipe ends). Handles opened from it keep
// the connection alive until they are closed too.
type Client struct {
	h *handle
}

// Connect connects to the broker at path ("" for the default endpoint:
// $XPROC_SOCKET, else $XDG_RUNTIME_DIR/xproc.sock, else /tmp/xproc-<uid>/xproc.sock). The
// context's deadline bounds the greeting (DefaultConnectTimeout without one). Errors:
// ErrNoBroker when nothing listens there, ErrDenied, ErrTimeout.
func Connect(ctx context.Context, path string) (*Client, error) {
	if ctx.Err() != nil {
		return nil, contextError(ctx, "connect", path)
	}
	ms := int64(DefaultConnectTimeout)
	if _, ok := ctx.Deadline(); ok {
		ms = timeoutMS(ctx)
	}
	p, pl := cstr(path)
	clientName := filepath.Base(os.Args[0])
	n, nl := cstr(clientName)
	var out *C.xproc_client_t
	var msg *C.char
	st := C.xg_connect(p, pl, n, nl, C.int64_t(ms), &out, &msg)
	runtime.KeepAlive(path)
	runtime.KeepAlive(clientName)
	if err := check("connect", path, st, msg); err != nil {
		return nil, err
	}
	return &Client{h: newHandle(unsafe.Pointer(out),
		func(p unsafe.Pointer) { C.xproc_client_free((*C.xproc_client_t)(p)) }, "client", path)}, nil
}

// Close releases this handle on the connection; the connection ends once no handle opened
// from it is left open. Closing twice is harmless.
func (c *Client) Close() error {
	c.h.close()
	return nil
}

func (c *Client) ptr(p unsafe.Pointer) *C.xproc_client_t { return (*C.xproc_client_t)(p) }

// Ping makes one round trip to the broker.
func (c *Client) Ping() error {
	return c.h.do("ping", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("ping", "", C.xg_ping(c.ptr(p), &msg), msg)
	})
}

// ConnID is the id the broker gave this connection (as `xproc clients` lists it).
func (c *Client) ConnID() (uint64, error) {
	var id C.uint64_t
	err := c.h.do("conn_id", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("conn_id", "", C.xg_conn_id(c.ptr(p), &id, &msg), msg)
	})
	return uint64(id), err
}

// Limits are the broker's limits, as it announced them on connecting.
type Limits struct {
	MaxFrame, MaxClients, MaxObjects, MemoryLimit uint64
}

// Limits returns the broker's limits (no round trip).
func (c *Client) Limits() (Limits, error) {
	var l C.xproc_limits_t
	err := c.h.do("limits", func(p unsafe.Pointer) error {
		var msg *C.char
		return check("limits", "", C.xg_limits(c.ptr(p), &l, &msg), msg)
	})
	return Limits{uint64(l.max_frame), uint64(l.max_clients), uint64(l.max_objects),
		uint64(l.memory_limit)}, err
}

// List returns the broker's objects (as `xproc ls` shows them): one Map per object.
func (c *Client) List() ([]any, error) {
	var v any
	err := c.h.do("list", func(p unsafe.Pointer) error {
		var out *C.uint8_t
		var n C.size_t
		var msg *C.char
		if err := check("list", "", C.xg_list(c.ptr(p), &out, &n, &msg), msg); err != nil {
			return err
		}
		var err error
		v, err = takeValue("list", "", out, n)
		return err
	})
	list, _ := v.([]any)
	return list, err
}

// Stat returns what the broker knows of one object (type, length, waiters, holder...).
func (c *Client) Stat(name string) (Map, error) {
	var v any
	err := c.h.do("stat", func(p unsafe.Pointer) error {
		cn, nl := cstr(name)
		var out *C.uint8_t
		var n C.size_t
		var msg *C.char
		st := C.xg_stat(c.ptr(p), cn, nl, &out, &n, &msg)
		runtime.KeepAlive(name)
		if err := check("stat", name, st, msg); err != nil {
			return err
		}
		var err error
		v, err = takeValue("stat", name, out, n)
		return err
	})
	m, _ := v.(Map)
	return m, err
}

// Delete removes the object called name from the broker; false if there was none.
// Requests blocked on it are answered with ErrNotFound.
func (c *Client) Delete(name string) (bool, error) {
	var deleted C.bool
	err := c.h.do("delete", func(p unsafe.Pointer) error {
		cn, nl := cstr(name)
		var msg *C.char
		st := C.xg_delete(c.ptr(p), cn, nl, &deleted, &msg)
		runtime.KeepAlive(name)
		return check("delete", name, st, msg)
	})
	return bool(deleted), err
}
