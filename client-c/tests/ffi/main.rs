//! Calls every `extern "C"` function of libxproc the way C does — raw pointers, (pointer,
//! length) strings, out-parameters, statuses — against a real `xprocd` (one per test, from
//! `target/<profile>/xprocd`: run `cargo build -p xproc-broker` first). Error paths are
//! covered too: NULL arguments, wrong handle types, timeouts, closed pipes, a broker that
//! went away.
//!
//! One test binary with a module per area, so the large library links once.

mod client;
mod dict;
mod pipe;
mod queue;
mod stall;
mod stream;
mod sync;
mod value;

use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

use crate::*;
use xproc_tests::Broker;

/// This thread's `xproc_last_error()`, copied.
fn last_error() -> String {
    unsafe { CStr::from_ptr(xproc_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Asserts a call succeeded, showing the last error if not.
#[track_caller]
fn ok(s: xproc_status_e) {
    assert_eq!(s, xproc_status_e::XPROC_OK, "{}", last_error());
    assert_eq!(last_error(), "", "a success clears the last error");
}

/// Asserts a call failed with `want` and left a message.
#[track_caller]
fn fails(s: xproc_status_e, want: xproc_status_e) -> String {
    assert_eq!(s, want, "last error: {}", last_error());
    let msg = last_error();
    assert!(!msg.is_empty(), "a failure ({want:?}) leaves a message");
    msg
}

/// A string argument as C passes it.
fn s(text: &str) -> (*const c_char, usize) {
    (text.as_ptr().cast(), text.len())
}

/// Connects a new client to `broker`.
fn connect(broker: &Broker) -> *mut xproc_client_t {
    let path = broker.socket().to_str().expect("a UTF-8 socket path");
    let (p, n) = s(path);
    let mut c = null_mut();
    ok(unsafe { xproc_client_connect(p, n, XPROC_DEFAULT_CONNECT_TIMEOUT_MS, &mut c) });
    assert!(!c.is_null());
    c
}

/// Encodes a value with the value API (for the `_raw` tests).
fn encode(v: *const xproc_value_t) -> Vec<u8> {
    let (mut p, mut n) = (null_mut(), 0);
    ok(unsafe { xproc_value_encode(v, &mut p, &mut n) });
    let out = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
    unsafe { xproc_bytes_free(p, n) };
    out
}

/// Takes a returned buffer: copies it and frees it with `xproc_bytes_free`.
fn take_bytes(p: *mut u8, n: usize) -> Vec<u8> {
    assert!(!p.is_null());
    let out = unsafe { std::slice::from_raw_parts(p, n) }.to_vec();
    unsafe { xproc_bytes_free(p, n) };
    out
}

/// A string value (owned).
fn str_value(text: &str) -> *mut xproc_value_t {
    let (p, n) = s(text);
    let mut v = null_mut();
    ok(unsafe { xproc_value_new_string(p, n, &mut v) });
    v
}

/// Reads a string value.
fn read_str(v: *const xproc_value_t) -> String {
    let (mut p, mut n) = (null(), 0);
    ok(unsafe { xproc_value_as_string(v, &mut p, &mut n) });
    let b = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n) };
    String::from_utf8(b.to_vec()).expect("UTF-8")
}

/// Reads an integer value.
fn read_i64(v: *const xproc_value_t) -> i64 {
    let mut n = 0;
    ok(unsafe { xproc_value_as_int64(v, &mut n) });
    n
}

/// MessagePack bytes of a value given as rmpv.
fn mp(v: rmpv::Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &v).expect("encode");
    out
}

/// Decodes MessagePack bytes into rmpv.
fn unmp(b: &[u8]) -> rmpv::Value {
    rmpv::decode::read_value(&mut &b[..]).expect("decode")
}
