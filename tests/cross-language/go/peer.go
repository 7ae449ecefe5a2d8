// The Go peer of the cross-language matrix (tests/cross-language/README.md).
//
//	go_peer <send|recv> <queue|pipe|dict> <object-name>     (broker: $XPROC_SOCKET)
//
// The sender puts every value case on the object through the Go binding (bindings/go); the
// receiver takes each and checks it against its own copy, built here natively: same Go type
// (int64 is never float64, bool never an integer, string never []byte; floats must be
// float64), same value, NaN matches NaN, zeros agree on the sign bit, maps as sets of entries.
// Each step prints `ok <step>` or `FAIL <step>: ...`; the exit status is 1 if any failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	xproc "example.invalid/xproc/bindings/go"
)

const (
	recvTimeout  = 30 * time.Second
	sendTimeout  = 30 * time.Second
	dictIntKey   = int64(42)
	dictIntValue = "answer"
)

type valueCase struct {
	name  string
	value any
}

func mib() []byte {
	return pattern(1 << 20)
}

// pattern is n bytes of the matrix pattern; the 16 MiB case travels as a sealed memfd between
// clients on the local socket (PROTOCOL.md §4.1).
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func cases() []valueCase {
	return []valueCase{
		{"nil", nil},
		{"true", true},
		{"false", false},
		{"zero", int64(0)},
		{"minus_one", int64(-1)},
		{"i64_min", int64(math.MinInt64)},
		{"i64_max", int64(math.MaxInt64)},
		{"u64_max", uint64(math.MaxUint64)},
		{"two_pow_53_plus_1", int64(1<<53 + 1)},
		{"float_1_5", 1.5},
		{"nan", math.NaN()},
		{"pos_inf", math.Inf(1)},
		{"neg_inf", math.Inf(-1)},
		{"neg_zero", math.Copysign(0, -1)},
		{"empty_string", ""},
		{"unicode_string", "héllo wörld ✓ 日本 🦀"},
		{"empty_bytes", []byte{}},
		{"bytes_with_zeros", []byte{0, 1, 0, 0, 0xff, 0}},
		{"nested_array", []any{int64(1), []any{int64(2), []any{int64(3), []any{}}}, []any{}, []any{[]any{"deep"}}}},
		{"nested_map", xproc.Map{
			{Key: "name", Value: "matrix"},
			{Key: "inner", Value: xproc.Map{
				{Key: "list", Value: []any{int64(1), int64(2), int64(3)}},
				{Key: "deep", Value: xproc.Map{{Key: "x", Value: int64(-1)}, {Key: "empty", Value: xproc.Map{}}}},
			}},
			{Key: "empty_list", Value: []any{}},
		}},
		{"int_key_map", xproc.Map{{Key: int64(1), Value: "one"}, {Key: int64(-2), Value: "minus two"}}},
		{"mixed_array", []any{int64(1), "two", 3.25, true, nil, []byte{0, 0xff}, xproc.Map{{Key: "k", Value: "v"}}, []any{int64(-5)}}},
		{"bytes_1mib", mib()},
		{"bytes_16mib", pattern(16 << 20)},
	}
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case []byte:
		head := x
		if len(head) > 16 {
			head = head[:16]
		}
		s := fmt.Sprintf("bytes [% x]", head)
		if len(x) > 16 {
			s += fmt.Sprintf("... (%d bytes)", len(x))
		}
		return s
	case string:
		if len(x) > 40 {
			return fmt.Sprintf("string %q... (%d bytes)", x[:40], len(x))
		}
		return fmt.Sprintf("string %q", x)
	case []any:
		s := "["
		for i, item := range x {
			if i > 0 {
				s += ", "
			}
			s += describe(item)
		}
		return s + "]"
	case xproc.Map:
		s := "{"
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += describe(e.Key) + ": " + describe(e.Value)
		}
		return s + "}"
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

// difference says where and how got differs from expected, or "" if they are the same.
func difference(expected, got any, path string) string {
	at := ""
	if path != "" {
		at = "at " + path + ": "
	}
	mismatch := fmt.Sprintf("%sexpected %s, got %s", at, describe(expected), describe(got))
	if fmt.Sprintf("%T", expected) != fmt.Sprintf("%T", got) {
		return mismatch
	}
	switch e := expected.(type) {
	case float64:
		g := got.(float64)
		if math.IsNaN(e) {
			if math.IsNaN(g) {
				return ""
			}
			return mismatch
		}
		if e != g || math.Signbit(e) != math.Signbit(g) {
			return mismatch
		}
	case []byte:
		g := got.([]byte)
		if len(e) != len(g) {
			return fmt.Sprintf("%sexpected %d bytes, got %d bytes", at, len(e), len(g))
		}
		for i := range e {
			if e[i] != g[i] {
				return fmt.Sprintf("%sexpected byte %d = 0x%02x, got 0x%02x", at, i, e[i], g[i])
			}
		}
	case []any:
		g := got.([]any)
		if len(e) != len(g) {
			return mismatch
		}
		for i := range e {
			if why := difference(e[i], g[i], fmt.Sprintf("%s[%d]", path, i)); why != "" {
				return why
			}
		}
	case xproc.Map:
		g := got.(xproc.Map)
		if len(e) != len(g) {
			return mismatch
		}
		for _, ee := range e {
			found := false
			for _, ge := range g {
				if difference(ee.Key, ge.Key, "") == "" {
					found = true
					if why := difference(ee.Value, ge.Value, fmt.Sprintf("%s[%s]", path, describe(ee.Key))); why != "" {
						return why
					}
					break
				}
			}
			if !found {
				return fmt.Sprintf("%sexpected a key %s, got %s", at, describe(ee.Key), describe(got))
			}
		}
	default:
		if expected != got {
			return mismatch
		}
	}
	return ""
}

type report struct{ failures int }

func (r *report) ok(step string) { fmt.Printf("ok %s\n", step) }

func (r *report) fail(step, why string) {
	r.failures++
	fmt.Printf("FAIL %s: %s\n", step, why)
}

// check receives one value and checks it; false if nothing was received.
func (r *report) check(step string, expected any, receive func() (any, error)) bool {
	got, err := receive()
	if err != nil {
		r.fail(step, fmt.Sprintf("expected %s, got error: %v", describe(expected), err))
		return false
	}
	if why := difference(expected, got, ""); why != "" {
		r.fail(step, why)
	} else {
		r.ok(step)
	}
	return true
}

func (r *report) sent(step string, err error) bool {
	if err != nil {
		r.fail(step, fmt.Sprintf("send failed: %v", err))
		return false
	}
	r.ok(step)
	return true
}

// within is a context with a deadline d from now; the short-lived process never cancels it.
func within(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	time.AfterFunc(d, cancel)
	return ctx
}

func send(c *xproc.Client, scenario, name string, r *report) error {
	switch scenario {
	case "queue":
		q, err := c.Queue(name, xproc.QueueOptions{})
		if err != nil {
			return err
		}
		for _, vc := range cases() {
			if !r.sent(vc.name, q.Put(within(sendTimeout), vc.value)) {
				return nil
			}
		}
	case "pipe":
		p, err := c.Pipe(name, 'a', xproc.PipeOptions{})
		if err != nil {
			return err
		}
		for _, vc := range cases() {
			if !r.sent(vc.name, p.Send(within(sendTimeout), vc.value)) {
				return nil
			}
		}
		r.sent("end", p.Close())
	default:
		d, err := c.Dict(name)
		if err != nil {
			return err
		}
		for _, vc := range cases() {
			if !r.sent(vc.name, d.Set(vc.name, vc.value)) {
				return nil
			}
		}
		if r.sent("dict_int_key", d.Set(dictIntKey, dictIntValue)) {
			e, err := c.Event(name + ".done")
			if err == nil {
				err = e.Set()
			}
			r.sent("end", err)
		}
	}
	return nil
}

func recv(c *xproc.Client, scenario, name string, r *report) error {
	switch scenario {
	case "queue":
		q, err := c.Queue(name, xproc.QueueOptions{})
		if err != nil {
			return err
		}
		for _, vc := range cases() {
			if !r.check(vc.name, vc.value, func() (any, error) { return q.Get(within(recvTimeout)) }) {
				return nil
			}
		}
		if extra, err := q.GetNowait(); errors.Is(err, xproc.ErrEmpty) {
			r.ok("end")
		} else if err != nil {
			r.fail("end", fmt.Sprintf("expected an empty queue, got error: %v", err))
		} else {
			r.fail("end", "expected an empty queue, got "+describe(extra))
		}
	case "pipe":
		p, err := c.Pipe(name, 'b', xproc.PipeOptions{})
		if err != nil {
			return err
		}
		for _, vc := range cases() {
			if !r.check(vc.name, vc.value, func() (any, error) { return p.Recv(within(recvTimeout)) }) {
				return nil
			}
		}
		if extra, err := p.Recv(within(recvTimeout)); errors.Is(err, xproc.ErrClosed) {
			r.ok("end")
		} else if err != nil {
			r.fail("end", fmt.Sprintf("expected end of file, got error: %v", err))
		} else {
			r.fail("end", "expected end of file, got "+describe(extra))
		}
	default:
		e, err := c.Event(name + ".done")
		if err != nil {
			return err
		}
		if err := e.Wait(within(recvTimeout)); err != nil {
			r.fail("done", fmt.Sprintf("the sender's done event was not set in time: %v", err))
			return nil
		}
		d, err := c.Dict(name)
		if err != nil {
			return err
		}
		for _, vc := range cases() {
			r.check(vc.name, vc.value, func() (any, error) { return d.Get(vc.name) })
		}
		r.check("dict_int_key", dictIntValue, func() (any, error) { return d.Get(dictIntKey) })
		want := len(cases()) + 1
		if n, err := d.Len(); err != nil || n != want {
			r.fail("end", fmt.Sprintf("expected %d entries, got %d (%v)", want, n, err))
		} else {
			r.ok("end")
		}
	}
	return nil
}

func main() {
	args := os.Args[1:]
	if len(args) != 3 || (args[0] != "send" && args[0] != "recv") ||
		(args[1] != "queue" && args[1] != "pipe" && args[1] != "dict") {
		fmt.Fprintln(os.Stderr, "usage: go_peer <send|recv> <queue|pipe|dict> <object-name>")
		os.Exit(2)
	}
	r := &report{}
	c, err := xproc.Connect(context.Background(), "")
	if err != nil {
		r.fail("connect", err.Error())
		os.Exit(1)
	}
	defer c.Close()
	run := recv
	if args[0] == "send" {
		run = send
	}
	if err := run(c, args[1], args[2], r); err != nil {
		r.fail("open", err.Error())
	}
	if r.failures > 0 {
		c.Close()
		os.Exit(1)
	}
}
