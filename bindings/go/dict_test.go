package xproc_test

import (
	"errors"
	"reflect"
	"testing"

	xproc "example.invalid/xproc/bindings/go"
)

func TestDict(t *testing.T) {
	sock := startBroker(t)
	d, err := connect(t, sock).Dict("stats")
	must(t, err)
	other, err := connect(t, sock).Dict("stats")
	must(t, err)
	must(t, d.Set("host", "a1"))
	must(t, d.Set(1, []any{"int key"}))
	must(t, d.Set([]byte{0}, 2.5))
	// Another client, another Go integer type: the same key (shortest-form encoding).
	if v, err := other.Get(int8(1)); err != nil || !reflect.DeepEqual(v, []any{"int key"}) {
		t.Fatalf("Get(int8(1)) = %#v, %v", v, err)
	}
	if _, err := other.Get(1.0); !errors.Is(err, xproc.ErrKeyNotFound) {
		t.Fatalf("Get(1.0) = %v, want ErrKeyNotFound (1.0 is not 1)", err)
	}
	if _, ok, err := other.Lookup("nope"); ok || err != nil {
		t.Fatalf("Lookup(missing) = %v, %v", ok, err)
	}
	keys, err := other.Keys()
	must(t, err)
	if !reflect.DeepEqual(keys, []any{"host", int64(1), []byte{0}}) {
		t.Fatalf("Keys = %#v (insertion order)", keys)
	}
	items, err := other.Items()
	must(t, err)
	if len(items) != 3 || items[0].Key != "host" || items[0].Value != "a1" {
		t.Fatalf("Items = %#v", items)
	}
	if n, err := d.Len(); err != nil || n != 3 {
		t.Fatalf("Len = %d, %v", n, err)
	}
	if in, err := d.Contains("host"); err != nil || !in {
		t.Fatalf("Contains(host) = %v, %v", in, err)
	}
	for i := 0; i < 5; i++ {
		_, err := other.Incr("hits", 2)
		must(t, err)
	}
	if n, err := d.Incr("hits", 0); err != nil || n != 10 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if _, err := d.Incr("host", 1); !errors.Is(err, xproc.ErrWrongType) {
		t.Fatalf("Incr on a string = %v, want ErrWrongType", err)
	}
	if ok, err := d.CompareAndSet("host", "zz", "b2"); err != nil || ok {
		t.Fatalf("CAS with a wrong expected value = %v, %v", ok, err)
	}
	if ok, err := d.CompareAndSet("host", "a1", "b2"); err != nil || !ok {
		t.Fatalf("CAS = %v, %v", ok, err)
	}
	if ok, err := d.SetIfAbsent("host", "c3"); err != nil || ok {
		t.Fatalf("SetIfAbsent on a present key = %v, %v", ok, err)
	}
	if ok, err := d.SetIfAbsent("new", "c3"); err != nil || !ok {
		t.Fatalf("SetIfAbsent on an absent key = %v, %v", ok, err)
	}
	if v, err := d.SetDefault("host", "x"); err != nil || v != "b2" {
		t.Fatalf("SetDefault(present) = %v, %v", v, err)
	}
	if v, err := d.Pop("new"); err != nil || v != "c3" {
		t.Fatalf("Pop = %v, %v", v, err)
	}
	if _, err := d.Pop("new"); !errors.Is(err, xproc.ErrKeyNotFound) {
		t.Fatalf("Pop(missing) = %v", err)
	}
	if err := d.Delete("missing"); !errors.Is(err, xproc.ErrKeyNotFound) {
		t.Fatalf("Delete(missing) = %v", err)
	}
	must(t, d.Update(map[string]int{"u": 1}))
	k, v, err := d.PopItem()
	if err != nil || k != "u" || v != int64(1) {
		t.Fatalf("PopItem = %v, %v, %v (the last inserted)", k, v, err)
	}
	must(t, d.Clear())
	if _, _, err := d.PopItem(); !errors.Is(err, xproc.ErrKeyNotFound) {
		t.Fatalf("PopItem on an empty dict = %v", err)
	}
}
