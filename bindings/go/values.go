// Go values to MessagePack bytes and back (docs/PROTOCOL.md §4). libxproc's _raw functions
// carry the bytes, so every operation is one cgo call and no C value tree is built.
//
//	Go (encode)                                  MessagePack            Go (decode)
//	nil                                          nil                    nil
//	bool                                         bool                   bool
//	int, int8..int64, uint, uint8..uint64        int (shortest form)    int64, or uint64 above MaxInt64
//	float64 / float32                            float 64 / float 32    float64 / float32
//	string                                       str                    string
//	[]byte                                       bin                    []byte
//	[]any, any other slice or array              array                  []any
//	Map, map[K]V                                 map                    Map (ordered, any keys)
//	Ext                                          extension              Ext
//
// Maps come back as Map, an ordered list of entries, because other languages send keys Go
// maps cannot hold ([]byte, arrays, maps) and because insertion order is part of a dict.
package xproc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and maps may nest in one value, as the broker checks
// (docs/PROTOCOL.md §4); deeper values are refused before they are sent.
const MaxDepth = 100

// Entry is one key and value of a Map.
type Entry struct {
	Key   any
	Value any
}

// Map is a MessagePack map as decoded: its entries in the order they were encoded. Keys
// may be any value, including ones a Go map cannot hold. Build one to send an ordered map.
type Map []Entry

// Get returns the value under key and whether it is there. Keys match when their encoded
// bytes do, the same rule the broker's dicts use (so int(1), int64(1) and uint8(1) are one
// key, and 1 and 1.0 are two).
func (m Map) Get(key any) (any, bool) {
	want, err := Encode(key)
	if err != nil {
		return nil, false
	}
	for _, e := range m {
		if got, err := Encode(e.Key); err == nil && bytes.Equal(got, want) {
			return e.Value, true
		}
	}
	return nil, false
}

// StringMap converts the map to a map[string]any; it fails if a key is not a string.
func (m Map) StringMap() (map[string]any, error) {
	out := make(map[string]any, len(m))
	for _, e := range m {
		k, ok := e.Key.(string)
		if !ok {
			return nil, fmt.Errorf("xproc: map key %#v is not a string", e.Key)
		}
		out[k] = e.Value
	}
	return out, nil
}

// Ext is a MessagePack extension value: its type code and data. Type -1 is the timestamp
// extension, whose data the broker checks is 4, 8 or 12 bytes long.
type Ext struct {
	Type int8
	Data []byte
}

// Encode returns the MessagePack encoding of v (see the package's value table). It is what
// every put, send and dict call applies to its values.
func Encode(v any) ([]byte, error) {
	e := encoder{buf: make([]byte, 0, 64)}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// Decode returns the value encoded in data, which must be exactly one MessagePack value.
func Decode(data []byte) (any, error) {
	d := decoder{buf: data}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.buf) {
		return nil, valueError("decode", "%d bytes after the value", len(d.buf)-d.pos)
	}
	return v, nil
}

func valueError(op, format string, args ...any) error {
	return &Error{Op: op, Status: StatusInvalidValue, Message: fmt.Sprintf(format, args...)}
}

type encoder struct{ buf []byte }

func (e *encoder) byte1(b byte) { e.buf = append(e.buf, b) }

func (e *encoder) head(b byte, n uint64, size int) {
	e.buf = append(e.buf, b)
	switch size {
	case 1:
		e.buf = append(e.buf, byte(n))
	case 2:
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
	case 4:
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
	case 8:
		e.buf = binary.BigEndian.AppendUint64(e.buf, n)
	}
}

// int writes an integer in its shortest form, as every standard encoder does: dict keys
// compare by their bytes, so 1 from Go must be the bytes 1 from Python is.
func (e *encoder) int(n int64) {
	switch {
	case n >= 0:
		e.uint(uint64(n))
	case n >= -32:
		e.byte1(byte(n))
	case n >= math.MinInt8:
		e.head(0xd0, uint64(n), 1)
	case n >= math.MinInt16:
		e.head(0xd1, uint64(n), 2)
	case n >= math.MinInt32:
		e.head(0xd2, uint64(n), 4)
	default:
		e.head(0xd3, uint64(n), 8)
	}
}

func (e *encoder) uint(n uint64) {
	switch {
	case n <= 0x7f:
		e.byte1(byte(n))
	case n <= math.MaxUint8:
		e.head(0xcc, n, 1)
	case n <= math.MaxUint16:
		e.head(0xcd, n, 2)
	case n <= math.MaxUint32:
		e.head(0xce, n, 4)
	default:
		e.head(0xcf, n, 8)
	}
}

// length writes a str/bin/array/map/ext header: fix is the fix-size marker (0 if none),
// fixMax its largest length, and m8/m16/m32 the markers of the 1-, 2- and 4-byte forms
// (0 where the family has none).
func (e *encoder) length(n int, fix byte, fixMax int, m8, m16, m32 byte) error {
	switch {
	case fix != 0 && n <= fixMax:
		e.byte1(fix | byte(n))
	case m8 != 0 && n <= math.MaxUint8:
		e.head(m8, uint64(n), 1)
	case n <= math.MaxUint16:
		e.head(m16, uint64(n), 2)
	case uint64(n) <= math.MaxUint32:
		e.head(m32, uint64(n), 4)
	default:
		return valueError("encode", "%d elements or bytes: more than MessagePack's 2^32-1", n)
	}
	return nil
}

func (e *encoder) str(s string) error {
	if !utf8.ValidString(s) {
		return valueError("encode", "string is not valid UTF-8 (send []byte for bytes)")
	}
	if err := e.length(len(s), 0xa0, 31, 0xd9, 0xda, 0xdb); err != nil {
		return err
	}
	e.buf = append(e.buf, s...)
	return nil
}

func (e *encoder) bin(b []byte) error {
	if err := e.length(len(b), 0, 0, 0xc4, 0xc5, 0xc6); err != nil {
		return err
	}
	e.buf = append(e.buf, b...)
	return nil
}

func (e *encoder) value(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.byte1(0xc0)
	case bool:
		if x {
			e.byte1(0xc3)
		} else {
			e.byte1(0xc2)
		}
	case int:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int64:
		e.int(x)
	case uint:
		e.uint(uint64(x))
	case uint8:
		e.uint(uint64(x))
	case uint16:
		e.uint(uint64(x))
	case uint32:
		e.uint(uint64(x))
	case uint64:
		e.uint(x)
	case float32:
		e.head(0xca, uint64(math.Float32bits(x)), 4)
	case float64:
		e.head(0xcb, math.Float64bits(x), 8)
	case string:
		return e.str(x)
	case []byte:
		return e.bin(x)
	case Ext:
		return e.ext(x)
	case []any:
		if depth >= MaxDepth {
			return valueError("encode", "arrays and maps nested deeper than %d", MaxDepth)
		}
		if err := e.length(len(x), 0x90, 15, 0, 0xdc, 0xdd); err != nil {
			return err
		}
		for _, item := range x {
			if err := e.value(item, depth+1); err != nil {
				return err
			}
		}
	case Map:
		if depth >= MaxDepth {
			return valueError("encode", "arrays and maps nested deeper than %d", MaxDepth)
		}
		if err := e.length(len(x), 0x80, 15, 0, 0xde, 0xdf); err != nil {
			return err
		}
		for _, entry := range x {
			if err := e.value(entry.Key, depth+1); err != nil {
				return err
			}
			if err := e.value(entry.Value, depth+1); err != nil {
				return err
			}
		}
	default:
		return e.reflected(reflect.ValueOf(v), depth)
	}
	return nil
}

// reflected encodes the kinds the type switch does not name: typed slices and arrays, Go
// maps of any key and value types, named types over the basic kinds, and pointers.
func (e *encoder) reflected(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			e.byte1(0xc0)
			return nil
		}
		return e.value(rv.Elem().Interface(), depth)
	case reflect.Bool:
		return e.value(rv.Bool(), depth)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(rv.Uint())
	case reflect.Float32:
		return e.value(float32(rv.Float()), depth)
	case reflect.Float64:
		return e.value(rv.Float(), depth)
	case reflect.String:
		return e.str(rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			e.byte1(0xc0)
			return nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return e.bin(b)
		}
		if depth >= MaxDepth {
			return valueError("encode", "arrays and maps nested deeper than %d", MaxDepth)
		}
		if err := e.length(rv.Len(), 0x90, 15, 0, 0xdc, 0xdd); err != nil {
			return err
		}
		for i := 0; i < rv.Len(); i++ {
			if err := e.value(rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		if rv.IsNil() {
			e.byte1(0xc0)
			return nil
		}
		if depth >= MaxDepth {
			return valueError("encode", "arrays and maps nested deeper than %d", MaxDepth)
		}
		if err := e.length(rv.Len(), 0x80, 15, 0, 0xde, 0xdf); err != nil {
			return err
		}
		it := rv.MapRange()
		for it.Next() {
			if err := e.value(it.Key().Interface(), depth+1); err != nil {
				return err
			}
			if err := e.value(it.Value().Interface(), depth+1); err != nil {
				return err
			}
		}
	default:
		return valueError("encode", "cannot encode a Go %s as MessagePack", rv.Type())
	}
	return nil
}

func (e *encoder) ext(x Ext) error {
	n := len(x.Data)
	switch n {
	case 1, 2, 4, 8, 16:
		e.byte1(map[int]byte{1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}[n])
	default:
		if err := e.length(n, 0, 0, 0xc7, 0xc8, 0xc9); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, byte(x.Type))
	e.buf = append(e.buf, x.Data...)
	return nil
}

type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.buf)-d.pos < n {
		return nil, valueError("decode", "truncated MessagePack value")
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) uintN(size int) (uint64, error) {
	b, err := d.take(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	default:
		return binary.BigEndian.Uint64(b), nil
	}
}

// positive returns an unsigned integer as int64 when it fits, so that Go code sees one
// integer type for everything but the top half of the u64 range.
func positive(n uint64) any {
	if n <= math.MaxInt64 {
		return int64(n)
	}
	return n
}

func (d *decoder) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, valueError("decode", "arrays and maps nested deeper than %d", MaxDepth)
	}
	b, err := d.take(1)
	if err != nil {
		return nil, err
	}
	m := b[0]
	switch {
	case m <= 0x7f:
		return int64(m), nil
	case m >= 0xe0:
		return int64(int8(m)), nil
	case m&0xf0 == 0x80:
		return d.mapN(int(m&0x0f), depth)
	case m&0xf0 == 0x90:
		return d.arrayN(int(m&0x0f), depth)
	case m&0xe0 == 0xa0:
		return d.strN(int(m & 0x1f))
	}
	switch m {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uintN(1 << (m - 0xc4))
		if err != nil {
			return nil, err
		}
		raw, err := d.take(int(n))
		if err != nil {
			return nil, err
		}
		return bytes.Clone(raw), nil
	case 0xc7, 0xc8, 0xc9:
		n, err := d.uintN(1 << (m - 0xc7))
		if err != nil {
			return nil, err
		}
		return d.extN(int(n))
	case 0xca:
		n, err := d.uintN(4)
		return math.Float32frombits(uint32(n)), err
	case 0xcb:
		n, err := d.uintN(8)
		return math.Float64frombits(n), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		n, err := d.uintN(1 << (m - 0xcc))
		return positive(n), err
	case 0xd0:
		n, err := d.uintN(1)
		return int64(int8(n)), err
	case 0xd1:
		n, err := d.uintN(2)
		return int64(int16(n)), err
	case 0xd2:
		n, err := d.uintN(4)
		return int64(int32(n)), err
	case 0xd3:
		n, err := d.uintN(8)
		return int64(n), err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.extN(1 << (m - 0xd4))
	case 0xd9, 0xda, 0xdb:
		n, err := d.uintN(1 << (m - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.strN(int(n))
	case 0xdc, 0xdd:
		n, err := d.uintN(2 << (m - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayN(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uintN(2 << (m - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapN(int(n), depth)
	}
	return nil, valueError("decode", "byte 0x%02x is not a MessagePack marker", m)
}

func (d *decoder) strN(n int) (any, error) {
	raw, err := d.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(raw) {
		return nil, valueError("decode", "string is not valid UTF-8")
	}
	return string(raw), nil
}

func (d *decoder) extN(n int) (any, error) {
	t, err := d.take(1)
	if err != nil {
		return nil, err
	}
	raw, err := d.take(n)
	if err != nil {
		return nil, err
	}
	return Ext{Type: int8(t[0]), Data: bytes.Clone(raw)}, nil
}

// remaining bounds a container's announced count by the bytes left (each element takes at
// least one), so a hostile header cannot make us allocate gigabytes.
func (d *decoder) remaining(n int) error {
	if n > len(d.buf)-d.pos {
		return valueError("decode", "truncated MessagePack value")
	}
	return nil
}

func (d *decoder) arrayN(n int, depth int) (any, error) {
	if err := d.remaining(n); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *decoder) mapN(n int, depth int) (any, error) {
	if err := d.remaining(2 * n); err != nil {
		return nil, err
	}
	out := make(Map, n)
	for i := range out {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[i] = Entry{Key: k, Value: v}
	}
	return out, nil
}
