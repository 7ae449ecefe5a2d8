package xproc

/*
#include "wrap.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Dict is a shared dict handle (a multiprocessing manager's dict). Each call is one atomic
// broker operation answered at once, so none takes a context. Keys are any values and
// compare by their encoded bytes (1 and 1.0 are two keys); insertion order is kept.
type Dict struct {
	h *handle
}

// Dict opens the dict called name, creating it if the name is free.
func (c *Client) Dict(name string) (*Dict, error) {
	var d *C.xproc_dict_t
	err := c.h.do("open", func(p unsafe.Pointer) error {
		cn, nl := cstr(name)
		var msg *C.char
		st := C.xg_dict_open(c.ptr(p), cn, nl, &d, &msg)
		runtime.KeepAlive(name)
		return check("dict.open", name, st, msg)
	})
	if err != nil {
		return nil, err
	}
	return &Dict{h: newHandle(unsafe.Pointer(d),
		func(p unsafe.Pointer) { C.xproc_dict_free((*C.xproc_dict_t)(p)) }, "dict", name)}, nil
}

// Name is the dict's name.
func (d *Dict) Name() string { return d.h.name }

// Close frees this handle; the dict stays in the broker.
func (d *Dict) Close() error {
	d.h.close()
	return nil
}

func dp(p unsafe.Pointer) *C.xproc_dict_t { return (*C.xproc_dict_t)(p) }

// call encodes the arguments, then runs f on the live handle with their bytes.
func (d *Dict) call(op string, args []any, f func(p *C.xproc_dict_t, enc [][]byte, msg **C.char) C.int) error {
	enc := make([][]byte, len(args))
	for i, a := range args {
		b, err := Encode(a)
		if err != nil {
			return err
		}
		enc[i] = b
	}
	return d.h.do(op, func(p unsafe.Pointer) error {
		var msg *C.char
		st := f(dp(p), enc, &msg)
		runtime.KeepAlive(enc)
		return check("dict."+op, d.h.name, st, msg)
	})
}

// fetch is call for operations that return one value.
func (d *Dict) fetch(op string, args []any, f func(p *C.xproc_dict_t, enc [][]byte, out **C.uint8_t, n *C.size_t, msg **C.char) C.int) (any, error) {
	var out *C.uint8_t
	var n C.size_t
	err := d.call(op, args, func(p *C.xproc_dict_t, enc [][]byte, msg **C.char) C.int {
		return f(p, enc, &out, &n, msg)
	})
	if err != nil {
		return nil, err
	}
	return takeValue("dict."+op, d.h.name, out, n)
}

// Get returns the value under key; ErrKeyNotFound if there is none.
func (d *Dict) Get(key any) (any, error) {
	return d.fetch("get", []any{key}, func(p *C.xproc_dict_t, e [][]byte, out **C.uint8_t, n *C.size_t, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		return C.xg_dict_get(p, k, kl, out, n, msg)
	})
}

// Lookup returns the value under key and true, or nil and false if there is none.
func (d *Dict) Lookup(key any) (any, bool, error) {
	v, err := d.Get(key)
	if e, ok := err.(*Error); ok && e.Status == StatusKeyNotFound {
		return nil, false, nil
	}
	return v, err == nil, err
}

// Set stores value under key (an existing key keeps its place in the order).
func (d *Dict) Set(key, value any) error {
	return d.call("set", []any{key, value}, func(p *C.xproc_dict_t, e [][]byte, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		v, vl := cbytes(e[1])
		return C.xg_dict_set(p, k, kl, v, vl, msg)
	})
}

// Delete removes key; ErrKeyNotFound if there is none.
func (d *Dict) Delete(key any) error {
	return d.call("delete", []any{key}, func(p *C.xproc_dict_t, e [][]byte, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		return C.xg_dict_delete(p, k, kl, msg)
	})
}

// Contains reports whether key is in the dict.
func (d *Dict) Contains(key any) (bool, error) {
	var in C.bool
	err := d.call("contains", []any{key}, func(p *C.xproc_dict_t, e [][]byte, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		return C.xg_dict_contains(p, k, kl, &in, msg)
	})
	return bool(in), err
}

// Len returns the number of entries.
func (d *Dict) Len() (int, error) {
	var n C.uint64_t
	err := d.call("len", nil, func(p *C.xproc_dict_t, _ [][]byte, msg **C.char) C.int {
		return C.xg_dict_len(p, &n, msg)
	})
	return int(n), err
}

func (d *Dict) snapshot(op string, which C.int) (any, error) {
	return d.fetch(op, nil, func(p *C.xproc_dict_t, _ [][]byte, out **C.uint8_t, n *C.size_t, msg **C.char) C.int {
		return C.xg_dict_items(p, which, out, n, msg)
	})
}

// Keys returns a snapshot of the keys, in insertion order.
func (d *Dict) Keys() ([]any, error) {
	v, err := d.snapshot("keys", 0)
	keys, _ := v.([]any)
	return keys, err
}

// Values returns a snapshot of the values, in insertion order.
func (d *Dict) Values() ([]any, error) {
	v, err := d.snapshot("values", 1)
	values, _ := v.([]any)
	return values, err
}

// Items returns a snapshot of the entries, in insertion order.
func (d *Dict) Items() (Map, error) {
	v, err := d.snapshot("items", 2)
	if err != nil {
		return nil, err
	}
	pairs, _ := v.([]any)
	m := make(Map, 0, len(pairs))
	for _, pair := range pairs {
		kv, ok := pair.([]any)
		if !ok || len(kv) != 2 {
			return nil, &Error{Op: "dict.items", Name: d.h.name, Status: StatusProtocolError,
				Message: "an item is not a [key, value] pair"}
		}
		m = append(m, Entry{kv[0], kv[1]})
	}
	return m, nil
}

// Update sets every entry of m (a Map, or any Go map), one atomic operation per entry.
func (d *Dict) Update(m any) error {
	var entries Map
	switch x := m.(type) {
	case Map:
		entries = x
	default:
		v, err := Encode(m)
		if err != nil {
			return err
		}
		back, err := Decode(v)
		if err != nil {
			return err
		}
		var ok bool
		if entries, ok = back.(Map); !ok {
			return &Error{Op: "dict.update", Name: d.h.name, Status: StatusWrongType,
				Message: "Update takes a Map or a Go map"}
		}
	}
	for _, e := range entries {
		if err := d.Set(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// Pop removes key and returns its value; ErrKeyNotFound if there is none.
func (d *Dict) Pop(key any) (any, error) {
	return d.fetch("pop", []any{key}, func(p *C.xproc_dict_t, e [][]byte, out **C.uint8_t, n *C.size_t, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		return C.xg_dict_pop(p, k, kl, out, n, msg)
	})
}

// PopItem removes and returns the most recently inserted entry; ErrKeyNotFound if empty.
func (d *Dict) PopItem() (key, value any, err error) {
	var k, v *C.uint8_t
	var kl, vl C.size_t
	err = d.call("popitem", nil, func(p *C.xproc_dict_t, _ [][]byte, msg **C.char) C.int {
		return C.xg_dict_popitem(p, &k, &kl, &v, &vl, msg)
	})
	if err != nil {
		return nil, nil, err
	}
	key, kerr := takeValue("dict.popitem", d.h.name, k, kl)
	value, verr := takeValue("dict.popitem", d.h.name, v, vl)
	if kerr != nil {
		return nil, nil, kerr
	}
	return key, value, verr
}

// SetDefault returns the value under key, first setting it to def if the key is absent.
func (d *Dict) SetDefault(key, def any) (any, error) {
	return d.fetch("setdefault", []any{key, def}, func(p *C.xproc_dict_t, e [][]byte, out **C.uint8_t, n *C.size_t, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		v, vl := cbytes(e[1])
		return C.xg_dict_setdefault(p, k, kl, v, vl, out, n, msg)
	})
}

// Clear removes every entry.
func (d *Dict) Clear() error {
	return d.call("clear", nil, func(p *C.xproc_dict_t, _ [][]byte, msg **C.char) C.int {
		return C.xg_dict_clear(p, msg)
	})
}

// Incr atomically adds delta to the integer under key (an absent key counts as 0) and
// returns the new value; ErrWrongType if the value is not an integer.
func (d *Dict) Incr(key any, delta int64) (int64, error) {
	var out C.int64_t
	err := d.call("incr", []any{key}, func(p *C.xproc_dict_t, e [][]byte, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		return C.xg_dict_incr(p, k, kl, C.int64_t(delta), &out, msg)
	})
	return int64(out), err
}

// CompareAndSet atomically sets key to value if it holds expected (compared as encoded
// bytes), and reports whether it did.
func (d *Dict) CompareAndSet(key, expected, value any) (bool, error) {
	var swapped C.bool
	err := d.call("compare_and_set", []any{key, expected, value}, func(p *C.xproc_dict_t, e [][]byte, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		x, xl := cbytes(e[1])
		v, vl := cbytes(e[2])
		return C.xg_dict_cas(p, k, kl, x, xl, v, vl, &swapped, msg)
	})
	return bool(swapped), err
}

// SetIfAbsent atomically sets key to value only if the key is absent, and reports whether
// it did.
func (d *Dict) SetIfAbsent(key, value any) (bool, error) {
	var swapped C.bool
	err := d.call("compare_and_set", []any{key, value}, func(p *C.xproc_dict_t, e [][]byte, msg **C.char) C.int {
		k, kl := cbytes(e[0])
		v, vl := cbytes(e[1])
		return C.xg_dict_cas(p, k, kl, nil, 0, v, vl, &swapped, msg)
	})
	return bool(swapped), err
}
