package xproc_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	xproc "example.invalid/xproc/bindings/go"
)

func TestEncodeShortestIntegers(t *testing.T) {
	// Dict keys compare by bytes: integers must take their shortest form, whatever Go type.
	cases := []struct {
		v    any
		want []byte
	}{
		{int(1), []byte{0x01}}, {uint8(1), []byte{0x01}}, {int64(-1), []byte{0xff}},
		{int(-33), []byte{0xd0, 0xdf}}, {int(200), []byte{0xcc, 0xc8}},
		{int(-200), []byte{0xd1, 0xff, 0x38}}, {int64(math.MinInt64), []byte{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}},
		{uint64(math.MaxUint64), []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{1.5, []byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}}, {float32(1.5), []byte{0xca, 0x3f, 0xc0, 0, 0}},
		{"", []byte{0xa0}}, {[]byte{}, []byte{0xc4, 0x00}}, {nil, []byte{0xc0}},
		{[]any{}, []byte{0x90}}, {xproc.Map{}, []byte{0x80}},
	}
	for _, c := range cases {
		got, err := xproc.Encode(c.v)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("Encode(%#v) = % x, %v; want % x", c.v, got, err, c.want)
		}
	}
}

func TestRoundTripTypes(t *testing.T) {
	cases := []struct{ in, out any }{
		{nil, nil}, {true, true}, {int(7), int64(7)}, {int64(math.MinInt64), int64(math.MinInt64)},
		{uint64(math.MaxUint64), uint64(math.MaxUint64)}, {uint64(5), int64(5)},
		{float32(2.5), float32(2.5)}, {2.5, 2.5}, {"héllo ✓ 🦀", "héllo ✓ 🦀"},
		{[]byte{0, 1, 0}, []byte{0, 1, 0}}, {[]int{1, 2}, []any{int64(1), int64(2)}},
		{map[string]int{"a": 1}, xproc.Map{{"a", int64(1)}}},
		{xproc.Map{{[]any{int64(1)}, "array key"}}, xproc.Map{{[]any{int64(1)}, "array key"}}},
		{xproc.Ext{Type: 5, Data: []byte{1, 2, 3}}, xproc.Ext{Type: 5, Data: []byte{1, 2, 3}}},
		{xproc.Ext{Type: -1, Data: []byte{0, 0, 0, 1}}, xproc.Ext{Type: -1, Data: []byte{0, 0, 0, 1}}},
		{make([]byte, 70000), make([]byte, 70000)},
	}
	for _, c := range cases {
		enc, err := xproc.Encode(c.in)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", c.in, err)
		}
		got, err := xproc.Decode(enc)
		if err != nil || !reflect.DeepEqual(got, c.out) {
			t.Errorf("Decode(Encode(%#v)) = %#v, %v; want %#v", c.in, got, err, c.out)
		}
	}
}

func TestBadValues(t *testing.T) {
	if _, err := xproc.Encode(make(chan int)); !errors.Is(err, xproc.ErrInvalidValue) {
		t.Errorf("Encode(chan) = %v, want ErrInvalidValue", err)
	}
	if _, err := xproc.Encode(string([]byte{0xff})); !errors.Is(err, xproc.ErrInvalidValue) {
		t.Errorf("Encode(invalid UTF-8) = %v, want ErrInvalidValue", err)
	}
	deep := []any{}
	for i := 0; i < xproc.MaxDepth+1; i++ {
		deep = []any{deep}
	}
	if _, err := xproc.Encode(deep); !errors.Is(err, xproc.ErrInvalidValue) {
		t.Errorf("Encode(too deep) = %v, want ErrInvalidValue", err)
	}
	for _, bad := range [][]byte{{}, {0xc1}, {0x92, 0x01}, {0x01, 0x02}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xa1, 0xff}} {
		if _, err := xproc.Decode(bad); !errors.Is(err, xproc.ErrInvalidValue) {
			t.Errorf("Decode(% x) = %v, want ErrInvalidValue", bad, err)
		}
	}
}

func TestMapGetMatchesByEncoding(t *testing.T) {
	m := xproc.Map{{int64(1), "one"}, {"k", "v"}, {1.0, "float one"}}
	if v, ok := m.Get(uint8(1)); !ok || v != "one" {
		t.Errorf("Get(uint8(1)) = %v, %v", v, ok)
	}
	if v, ok := m.Get(1.0); !ok || v != "float one" {
		t.Errorf("Get(1.0) = %v, %v", v, ok)
	}
	if _, ok := m.Get("missing"); ok {
		t.Error("Get(missing) found something")
	}
	if _, err := m.StringMap(); err == nil {
		t.Error("StringMap with integer keys succeeded")
	}
}
