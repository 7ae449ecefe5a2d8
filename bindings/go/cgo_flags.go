//go:build !xproc_no_pkgconfig

package xproc

// Compiler and linker flags for libxproc from pkg-config's xproc.pc. Build with
// -tags xproc_no_pkgconfig to give them yourself in CGO_CFLAGS / CGO_LDFLAGS instead.

// #cgo pkg-config: xproc
import "C"
