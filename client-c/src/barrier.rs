//! `xproc_barrier_t`: named barriers (Python's `threading.Barrier`), over the Rust client's
//! `Barrier`.

use std::ffi::c_char;

use xproc_client::Barrier;

use crate::client::{client, xproc_client_t};
use crate::error::Result;
use crate::handle::{self, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;

/// A barrier handle (opaque). Open with `xproc_barrier_open`, free with
/// `xproc_barrier_free`. Thread-safe; keeps its client alive.
pub struct xproc_barrier_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_barrier_t {
    type Body = Barrier;
    const MAGIC: u64 = 0x7870_726f_6362_6172;
    const NAME: &'static str = "xproc_barrier_t";
}

/// A barrier's state, read in one call by `xproc_barrier_state`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct xproc_barrier_state_t {
    /// Parties needed to release it (fixed at creation).
    pub parties: u64,
    /// Parties waiting now.
    pub n_waiting: u64,
    /// Whether it is broken (until `xproc_barrier_reset`).
    pub broken: bool,
}

unsafe fn barrier<'a>(p: *const xproc_barrier_t) -> Result<&'a Barrier> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "barrier") }
}

/// Opens the barrier `name` (`name_len` bytes of UTF-8), creating it for `parties` parties
/// (at least 1) if the name is free (an existing one must have the same count).
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_barrier_free`); on
/// failure NULL. Errors: `XPROC_OPTION_MISMATCH`, `XPROC_INVALID_ARGUMENT` (0 parties),
/// `XPROC_TYPE_MISMATCH`, `XPROC_INVALID_NAME`, `XPROC_LIMIT`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    parties: u64,
    out: *mut *mut xproc_barrier_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        *out = handle::into_handle(unsafe { self::client(client)? }.barrier(name, parties)?);
        Ok(())
    })
}

/// Frees a barrier handle. NULL is a no-op. No other thread may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_free(barrier: *mut xproc_barrier_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(barrier) }
    })
}

/// Waits until `parties` parties are waiting, up to `timeout_ms` (negative: as long as it
/// takes); running out breaks the barrier. `*index` receives this party's index,
/// 0..parties-1, distinct among the parties released together.
///
/// Errors: `XPROC_BROKEN_BARRIER` (the barrier is or became broken: a timeout, an abort, or a
/// waiting party's disconnect), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_wait(
    barrier: *const xproc_barrier_t,
    timeout_ms: i64,
    index: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let index = unsafe { handle::out(index, 0, "index")? };
        let b = unsafe { self::barrier(barrier)? };
        *index = match handle::timeout(timeout_ms) {
            None => b.wait()?,
            Some(t) => b.wait_timeout(t)?,
        };
        Ok(())
    })
}

/// Breaks the barrier: current and later waiters get `XPROC_BROKEN_BARRIER` until
/// `xproc_barrier_reset`. Errors: `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_abort(barrier: *const xproc_barrier_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::barrier(barrier)? }.abort()?;
        Ok(())
    })
}

/// Returns the barrier to its initial, unbroken state. Errors as `xproc_barrier_abort`.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_reset(barrier: *const xproc_barrier_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::barrier(barrier)? }.reset()?;
        Ok(())
    })
}

/// The barrier's parties, waiting count and broken flag, read together, into `*out`. Errors
/// as `xproc_barrier_abort`.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_state(
    barrier: *const xproc_barrier_t,
    out: *mut xproc_barrier_state_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, xproc_barrier_state_t::default(), "out")? };
        let s = unsafe { self::barrier(barrier)? }.state()?;
        *out = xproc_barrier_state_t {
            parties: s.parties,
            n_waiting: s.n_waiting,
            broken: s.broken,
        };
        Ok(())
    })
}
