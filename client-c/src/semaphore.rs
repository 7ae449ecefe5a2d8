//! `xproc_semaphore_t`: named semaphores and bounded semaphores, over the Rust client's
//! `Semaphore`. Permits a connection holds are returned when it disconnects.

use std::ffi::c_char;

use xproc_client::Semaphore;

use crate::client::{client, xproc_client_t};
use crate::handle::{self, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;

/// A semaphore or bounded semaphore handle (opaque). Open with `xproc_semaphore_open` or
/// `xproc_bounded_semaphore_open`, free with `xproc_semaphore_free` (which releases nothing).
/// Thread-safe; keeps its client alive.
pub struct xproc_semaphore_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_semaphore_t {
    type Body = Semaphore;
    const MAGIC: u64 = 0x7870_726f_6373_656d;
    const NAME: &'static str = "xproc_semaphore_t";
}

unsafe fn open(
    c: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    initial: u64,
    bounded: bool,
    out: *mut *mut xproc_semaphore_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        let c = unsafe { client(c)? };
        let s = if bounded {
            c.bounded_semaphore(name, initial)?
        } else {
            c.semaphore(name, initial)?
        };
        *out = handle::into_handle(s);
        Ok(())
    })
}

/// Opens the semaphore `name` (`name_len` bytes of UTF-8), creating it with `initial` permits
/// if the name is free (an existing one must have the same initial value).
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_semaphore_free`);
/// on failure NULL. Errors: `XPROC_OPTION_MISMATCH`, `XPROC_TYPE_MISMATCH`,
/// `XPROC_INVALID_NAME`, `XPROC_LIMIT`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_semaphore_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    initial: u64,
    out: *mut *mut xproc_semaphore_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { open(client, name, name_len, initial, false, out) }
}

/// Opens or creates the bounded semaphore `name`: releasing above `initial` permits is
/// `XPROC_INVALID_ARGUMENT`. Arguments, results and errors as `xproc_semaphore_open`.
#[no_mangle]
pub unsafe extern "C" fn xproc_bounded_semaphore_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    initial: u64,
    out: *mut *mut xproc_semaphore_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { open(client, name, name_len, initial, true, out) }
}

/// Frees a semaphore handle (permits held stay held). NULL is a no-op. No other thread may be
/// using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_semaphore_free(semaphore: *mut xproc_semaphore_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(semaphore) }
    })
}

/// Takes a permit, waiting up to `timeout_ms` (negative: as long as it takes; 0: try once).
/// `*acquired` tells whether it got one. Errors: `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_semaphore_acquire(
    semaphore: *const xproc_semaphore_t,
    timeout_ms: i64,
    acquired: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let acquired = unsafe { handle::out(acquired, false, "acquired")? };
        let s = unsafe { handle::body::<xproc_semaphore_t>(semaphore, "semaphore")? };
        *acquired = match handle::timeout(timeout_ms) {
            None => s.acquire().map(|()| true)?,
            Some(t) => s.acquire_timeout(t)?,
        };
        Ok(())
    })
}

/// Returns `n` permits (Python's `release(n)`). Errors: `XPROC_INVALID_ARGUMENT` (a bounded
/// semaphore released above its initial value), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_semaphore_release(
    semaphore: *const xproc_semaphore_t,
    n: u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { handle::body::<xproc_semaphore_t>(semaphore, "semaphore")? }.release_n(n)?;
        Ok(())
    })
}
