//! `xproc_condition_t`: named condition variables with their own reentrant lock (Python's
//! `threading.Condition`), over the Rust client's `Condition`.

use std::ffi::{c_char, c_void};

use xproc_client::Condition;

use crate::client::{client, xproc_client_t};
use crate::error::{Error, Result};
use crate::handle::{self, Opaque};
use crate::lock::{acquire_with, report};
use crate::panic::ffi;
use crate::status::xproc_status_e;

/// A condition handle (opaque). Open with `xproc_condition_open`, free with
/// `xproc_condition_free`. `wait` and `notify` need the condition's lock held by this
/// connection. Thread-safe; keeps its client alive.
pub struct xproc_condition_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_condition_t {
    type Body = Condition;
    const MAGIC: u64 = 0x7870_726f_6363_6f6e;
    const NAME: &'static str = "xproc_condition_t";
}

/// A predicate for `xproc_condition_wait_for`: called with the `ctx` given there, returns
/// whether the awaited state holds.
pub type xproc_predicate_fn = Option<unsafe extern "C" fn(ctx: *mut c_void) -> bool>;

unsafe fn condition<'a>(p: *const xproc_condition_t) -> Result<&'a Condition> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "condition") }
}

/// Opens the condition `name` (`name_len` bytes of UTF-8), creating it if the name is free.
/// On success `*out` is a new handle owned by the caller (free with
/// `xproc_condition_free`); on failure NULL. Errors: `XPROC_TYPE_MISMATCH`,
/// `XPROC_INVALID_NAME`, `XPROC_LIMIT`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut xproc_condition_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        *out = handle::into_handle(unsafe { self::client(client)? }.condition(name)?);
        Ok(())
    })
}

/// Frees a condition handle (it does not release the lock). NULL is a no-op. No other thread
/// may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_free(condition: *mut xproc_condition_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(condition) }
    })
}

/// Acquires the condition's lock (reentrant), waiting up to `timeout_ms` (negative: as long
/// as it takes; 0: try once). `*acquired` and `*abandoned_by` (optional) as for
/// `xproc_lock_acquire`. Errors: `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_acquire(
    condition: *const xproc_condition_t,
    timeout_ms: i64,
    acquired: *mut bool,
    abandoned_by: *mut u32,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let acquired = unsafe { handle::out(acquired, false, "acquired")? };
        let c = unsafe { self::condition(condition)? };
        let a = acquire_with(timeout_ms, || c.acquire(), |t| c.acquire_timeout(t))?;
        // SAFETY: forwarded.
        unsafe { report(a, acquired, abandoned_by) }
    })
}

/// Releases the condition's lock (one level). Errors: `XPROC_NOT_OWNER`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_release(
    condition: *const xproc_condition_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::condition(condition)? }.release()?;
        Ok(())
    })
}

/// Releases the lock, waits for a notify up to `timeout_ms` (negative: as long as it takes),
/// and reacquires the lock before returning, either way. `*notified` tells whether a notify
/// came. Errors: `XPROC_NOT_OWNER` (the lock is not held), `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_wait(
    condition: *const xproc_condition_t,
    timeout_ms: i64,
    notified: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let notified = unsafe { handle::out(notified, false, "notified")? };
        let c = unsafe { self::condition(condition)? };
        *notified = match handle::timeout(timeout_ms) {
            None => c.wait().map(|()| true)?,
            Some(t) => c.wait_timeout(t)?,
        };
        Ok(())
    })
}

/// Waits until `predicate(ctx)` returns true, calling it first and after each notify, for at
/// most `timeout_ms` in all (negative: as long as it takes). Call with the lock held, as for
/// `xproc_condition_wait`; the predicate runs with the lock held. `*result` is the
/// predicate's last answer (false: the time ran out). `predicate` must not unwind (no C++
/// exceptions, no longjmp out of it). Errors: as `xproc_condition_wait`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_wait_for(
    condition: *const xproc_condition_t,
    predicate: xproc_predicate_fn,
    ctx: *mut c_void,
    timeout_ms: i64,
    result: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let result = unsafe { handle::out(result, false, "result")? };
        let predicate = predicate.ok_or(Error::Null("predicate"))?;
        let c = unsafe { self::condition(condition)? };
        // SAFETY: the caller's function and context, called as documented.
        let check = || Ok(unsafe { predicate(ctx) });
        *result = c.wait_for(check, handle::timeout(timeout_ms))?;
        Ok(())
    })
}

/// Wakes up to `n` waiters; `*woken` (optional: may be NULL) receives how many were woken.
/// Errors: `XPROC_NOT_OWNER` (the lock is not held), `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_notify(
    condition: *const xproc_condition_t,
    n: u64,
    woken: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let woken = unsafe { handle::opt_out(woken, 0) };
        let k = unsafe { self::condition(condition)? }.notify(n)?;
        if let Some(w) = woken {
            *w = k;
        }
        Ok(())
    })
}

/// Wakes every waiter; `*woken` (optional) receives how many. Errors as
/// `xproc_condition_notify`.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_notify_all(
    condition: *const xproc_condition_t,
    woken: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let woken = unsafe { handle::opt_out(woken, 0) };
        let k = unsafe { self::condition(condition)? }.notify_all()?;
        if let Some(w) = woken {
            *w = k;
        }
        Ok(())
    })
}
