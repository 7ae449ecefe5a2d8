//! `xproc_lock_t`: named locks and reentrant locks, over the Rust client's `Lock`.
//!
//! A lock is owned by the connection that acquired it, not by a thread. When the owner's
//! connection goes away while holding it, the broker releases it and the next acquire reports
//! the dead owner's pid in `abandoned_by`.

use std::ffi::c_char;
use std::time::Duration;

use xproc_client::{Acquisition, Lock};

use crate::client::{client, xproc_client_t};
use crate::error::Result;
use crate::handle::{self, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;

/// A lock or reentrant lock handle (opaque). Open with `xproc_lock_open` or
/// `xproc_rlock_open`, free with `xproc_lock_free` (which does not release it). Thread-safe;
/// keeps its client alive.
pub struct xproc_lock_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_lock_t {
    type Body = Lock;
    const MAGIC: u64 = 0x7870_726f_636c_6f63;
    const NAME: &'static str = "xproc_lock_t";
}

/// Runs an acquire with a C timeout: negative waits as long as it takes, 0 tries once.
pub(crate) fn acquire_with(
    timeout_ms: i64,
    forever: impl FnOnce() -> xproc_client::Result<Acquisition>,
    bounded: impl FnOnce(Duration) -> xproc_client::Result<Acquisition>,
) -> xproc_client::Result<Acquisition> {
    match handle::timeout(timeout_ms) {
        None => forever(),
        Some(t) => bounded(t),
    }
}

/// Writes an acquisition to the C out-parameters (`abandoned_by` optional).
pub(crate) unsafe fn report(
    a: Acquisition,
    acquired: &mut bool,
    abandoned_by: *mut u32,
) -> Result<()> {
    *acquired = a.acquired;
    // SAFETY: the caller's pointer, NULL allowed.
    if let Some(out) = unsafe { handle::opt_out(abandoned_by, 0) } {
        *out = a.abandoned_by.unwrap_or(0);
    }
    Ok(())
}

unsafe fn open(
    c: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    reentrant: bool,
    out: *mut *mut xproc_lock_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        let c = unsafe { client(c)? };
        let lock = if reentrant {
            c.rlock(name)?
        } else {
            c.lock(name)?
        };
        *out = handle::into_handle(lock);
        Ok(())
    })
}

/// Opens the lock `name` (`name_len` bytes of UTF-8), creating it if the name is free. A plain
/// lock acquired again by its owner waits (as Python's `Lock`).
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_lock_free`); on
/// failure NULL. Errors: `XPROC_TYPE_MISMATCH`, `XPROC_INVALID_NAME`, `XPROC_LIMIT`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_lock_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut xproc_lock_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { open(client, name, name_len, false, out) }
}

/// Opens or creates the reentrant lock `name`: its owner may acquire it again, and it is free
/// when released as many times. Arguments, results and errors as `xproc_lock_open`.
#[no_mangle]
pub unsafe extern "C" fn xproc_rlock_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut xproc_lock_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { open(client, name, name_len, true, out) }
}

/// Frees a lock handle. It does not release the lock (the connection still holds it until
/// released or disconnected). NULL is a no-op. No other thread may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_lock_free(lock: *mut xproc_lock_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(lock) }
    })
}

/// Acquires the lock, waiting up to `timeout_ms` (negative: as long as it takes; 0: try
/// once). `*acquired` tells whether this connection now holds it (false only when the wait
/// ran out). `*abandoned_by` (optional: may be NULL) is the pid of a previous owner that died
/// holding it, else 0: the state it protected may be half-updated.
///
/// Errors: `XPROC_NOT_FOUND` (deleted), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_lock_acquire(
    lock: *const xproc_lock_t,
    timeout_ms: i64,
    acquired: *mut bool,
    abandoned_by: *mut u32,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let acquired = unsafe { handle::out(acquired, false, "acquired")? };
        let l = unsafe { handle::body::<xproc_lock_t>(lock, "lock")? };
        let a = acquire_with(timeout_ms, || l.acquire(), |t| l.acquire_timeout(t))?;
        // SAFETY: forwarded.
        unsafe { report(a, acquired, abandoned_by) }
    })
}

/// Releases the lock (an rlock: one level). Errors: `XPROC_NOT_OWNER` (this connection does
/// not hold it), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_lock_release(lock: *const xproc_lock_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { handle::body::<xproc_lock_t>(lock, "lock")? }.release()?;
        Ok(())
    })
}
