package xproc

// The one file that names libxproc. Build flags come from pkg-config (xproc.pc, installed by
// client-c/install.sh beside the library); see docs/GO.md for PKG_CONFIG_PATH, for building
// against an uninstalled tree, and for the -tags xproc_no_pkgconfig escape hatch.
//
// xproc_last_error() is thread-local, and a goroutine may move to another OS thread between
// two cgo calls, so each call goes through a wrapper in wrap.c that makes the libxproc call and,
// on failure, copies the message in the same C call (freed by check).

/*
#include <stdlib.h>
#include "wrap.h"
*/
import "C"

import (
	"unsafe"
)

// Version is the version of the libxproc this program is linked with, e.g. "0.1.0".
func Version() string { return C.GoString(C.xproc_version()) }

// check turns a wrapper's status and copied message into an *Error (nil for XPROC_OK).
func check(op, name string, st C.int, msg *C.char) error {
	if st == 0 {
		return nil
	}
	e := &Error{Op: op, Name: name, Status: Status(st)}
	if msg != nil {
		e.Message = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	return e
}

// cstr passes a Go string to C as (pointer, length) without copying; C does not keep it.
func cstr(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// cbytes passes Go bytes to C as (pointer, length) without copying; C does not keep them.
func cbytes(b []byte) (*C.cu8, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.cu8)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// takeValue decodes a buffer libxproc returned, then frees it.
func takeValue(op, name string, p *C.uint8_t, n C.size_t) (any, error) {
	defer C.xproc_bytes_free(p, n)
	v, err := Decode(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Op, e.Name = op, name
		}
		return nil, err
	}
	return v, nil
}
