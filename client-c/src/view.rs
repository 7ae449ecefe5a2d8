//! `xproc_view_t`: a value's bytes handed to C without a copy where the broker passed a
//! sealed memfd (docs/PROTOCOL.md §4.1) — the view then *is* a read-only mapping of the
//! kernel's pages — and as an owned buffer otherwise (a value that came inline). Either way
//! the view owns what it holds: its bytes stay valid, unchanged, until `xproc_view_free`,
//! whatever happens to the queue, dict, pipe or client it came from (the seals guarantee no
//! process can write, grow or shrink a memfd value). A value that came through the
//! connection's down ring (docs/PROTOCOL.md §4.2) is viewed in place too: the region is the
//! view's until `xproc_view_free`, which frees it for the broker's next value.
//!
//! `xproc_queue_get_view`, `xproc_dict_get_view` and `xproc_pipe_recv_view` make views;
//! `xproc_view_data` / `xproc_view_len` read them; `xproc_view_free` releases them.

use xproc_client::ValueBuf;

use crate::dict::xproc_dict_t;
use crate::error::{Error, Result};
use crate::handle::{self, Opaque};
use crate::panic::{ffi, ffi_or};
use crate::pipe::xproc_pipe_t;
use crate::queue::xproc_queue_t;
use crate::status::xproc_status_e;

/// A value's MessagePack bytes, owned by the caller until `xproc_view_free`: a read-only
/// mapping of the sealed memfd the broker passed or a region of the connection's read-only
/// down ring (large values on a local Unix socket: no copy was made; a held ring region also
/// holds back the ring space behind it, so free views when done), or a buffer holding a value
/// that came inline.
/// `xproc_view_data` and `xproc_view_len` give the bytes, which are valid and never change
/// until the view is freed — also after the queue, dict, pipe or client handle it came from is
/// freed. Thread-safe to read from several threads; free it once, from one.
pub struct xproc_view_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc handles ("xprocvie").
unsafe impl Opaque for xproc_view_t {
    type Body = ValueBuf;
    const MAGIC: u64 = 0x7870_726f_6376_6965;
    const NAME: &'static str = "xproc_view_t";
}

/// Clears `*out` and returns it for filling (NULL out is an error).
unsafe fn view_out<'a>(out: *mut *mut xproc_view_t) -> Result<&'a mut *mut xproc_view_t> {
    // SAFETY: forwarded.
    unsafe { handle::out(out, std::ptr::null_mut(), "out") }
}

/// Takes the oldest value of `queue`, waiting up to `timeout_ms` (negative: as long as it
/// takes; 0: not at all), as a view into `*out` (owned by the caller: free with
/// `xproc_view_free`; NULL on failure). A value that came as a sealed memfd is mapped, not
/// copied. Errors as `xproc_queue_get_raw`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_view(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    out: *mut *mut xproc_view_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { view_out(out)? };
        let q = unsafe { handle::body::<xproc_queue_t>(queue, "queue")? };
        *out = handle::into_handle::<xproc_view_t>(q.get_buf(handle::timeout(timeout_ms))?);
        Ok(())
    })
}

/// The value under `key` (`key_len` bytes of MessagePack) as a view into `*out` (owned by the
/// caller: free with `xproc_view_free`; NULL on failure). A value that came as a sealed memfd
/// is mapped, not copied. Errors as `xproc_dict_get_raw` (`XPROC_KEY_NOT_FOUND` when there is
/// none). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_dict_get_view(
    dict: *const xproc_dict_t,
    key: *const u8,
    key_len: usize,
    out: *mut *mut xproc_view_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { view_out(out)? };
        let key = unsafe { handle::bytes(key, key_len, "key")? };
        let d = unsafe { handle::body::<xproc_dict_t>(dict, "dict")? };
        let v = d
            .get_buf(key)?
            .ok_or_else(|| Error::Client(xproc_client::Error::KeyNotFound("no such key".into())))?;
        *out = handle::into_handle::<xproc_view_t>(v);
        Ok(())
    })
}

/// Receives the next message of `pipe`, waiting up to `timeout_ms`, as a view into `*out`
/// (owned by the caller: free with `xproc_view_free`; NULL on failure). A message that came as
/// a sealed memfd is mapped, not copied. Errors as `xproc_pipe_recv_raw`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_recv_view(
    pipe: *const xproc_pipe_t,
    timeout_ms: i64,
    out: *mut *mut xproc_view_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { view_out(out)? };
        let p = unsafe { crate::pipe::pipe(pipe)? };
        *out = handle::into_handle::<xproc_view_t>(p.recv_buf(handle::timeout(timeout_ms))?);
        Ok(())
    })
}

/// The view's bytes (one MessagePack value), borrowed from the view: valid until
/// `xproc_view_free`. NULL for NULL or a pointer that is not a live view (the mistake is
/// recorded in `xproc_last_error()`). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_view_data(view: *const xproc_view_t) -> *const u8 {
    ffi_or(std::ptr::null(), || {
        // SAFETY: checked by `body`.
        match unsafe { handle::body::<xproc_view_t>(view, "view") } {
            Ok(v) => v.as_ptr(),
            Err(e) => {
                crate::error::set_last_error(&e.to_string());
                std::ptr::null()
            }
        }
    })
}

/// The number of bytes at `xproc_view_data(view)`; 0 for NULL or a pointer that is not a
/// live view. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_view_len(view: *const xproc_view_t) -> usize {
    ffi_or(0, || {
        // SAFETY: checked by `body`.
        unsafe { handle::body::<xproc_view_t>(view, "view") }.map_or(0, |v| v.len())
    })
}

/// Whether the view maps a sealed memfd the broker passed or a down-ring region (no copy was
/// made), rather than holding a buffer. `false` for NULL or a pointer that is not a live view. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_view_is_mapped(view: *const xproc_view_t) -> bool {
    ffi_or(false, || {
        // SAFETY: checked by `body`.
        unsafe { handle::body::<xproc_view_t>(view, "view") }.is_ok_and(|v| v.is_mapped())
    })
}

/// Frees a view: unmaps its memfd (closed already when the view was made) or frees its
/// buffer; its bytes are invalid afterwards. NULL is a no-op. Freeing a view twice is
/// undefined behaviour, as for `free(3)`. Not thread-safe for the same view.
#[no_mangle]
pub unsafe extern "C" fn xproc_view_free(view: *mut xproc_view_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(view) }
    })
}
