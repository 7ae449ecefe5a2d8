//! `xproc_event_t`: named events (a flag processes can wait for), over the Rust client's
//! `Event`.

use std::ffi::c_char;

use xproc_client::Event;

use crate::client::{client, xproc_client_t};
use crate::error::Result;
use crate::handle::{self, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;

/// An event handle (opaque). Open with `xproc_event_open`, free with `xproc_event_free`.
/// Thread-safe; keeps its client alive.
pub struct xproc_event_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_event_t {
    type Body = Event;
    const MAGIC: u64 = 0x7870_726f_6365_7665;
    const NAME: &'static str = "xproc_event_t";
}

unsafe fn event<'a>(p: *const xproc_event_t) -> Result<&'a Event> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "event") }
}

/// Opens the event `name` (`name_len` bytes of UTF-8), creating it (clear) if the name is
/// free. On success `*out` is a new handle owned by the caller (free with
/// `xproc_event_free`); on failure NULL. Errors: `XPROC_TYPE_MISMATCH`,
/// `XPROC_INVALID_NAME`, `XPROC_LIMIT`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    out: *mut *mut xproc_event_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        *out = handle::into_handle(unsafe { self::client(client)? }.event(name)?);
        Ok(())
    })
}

/// Frees an event handle. NULL is a no-op. No other thread may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_free(event: *mut xproc_event_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(event) }
    })
}

/// Sets the flag, waking every waiter. Errors: `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_set(event: *const xproc_event_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::event(event)? }.set()?;
        Ok(())
    })
}

/// Clears the flag. Errors as `xproc_event_set`.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_clear(event: *const xproc_event_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::event(event)? }.clear()?;
        Ok(())
    })
}

/// Whether the flag is set, into `*out`. Errors as `xproc_event_set`.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_is_set(
    event: *const xproc_event_t,
    out: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, false, "out")? };
        *out = unsafe { self::event(event)? }.is_set()?;
        Ok(())
    })
}

/// Waits until the flag is set, up to `timeout_ms` (negative: as long as it takes; 0: just
/// look). `*set` tells whether it is set (false: the wait ran out). Errors as
/// `xproc_event_set`.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_wait(
    event: *const xproc_event_t,
    timeout_ms: i64,
    set: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let set = unsafe { handle::out(set, false, "set")? };
        let e = unsafe { self::event(event)? };
        *set = match handle::timeout(timeout_ms) {
            None => e.wait().map(|()| true)?,
            Some(t) => e.wait_timeout(t)?,
        };
        Ok(())
    })
}
