//! Started requests on pipe ends for the event-loop API: `xproc_pipe_send_start_raw`,
//! `xproc_pipe_recv_start`, `xproc_pipe_poll_start`. All of the event-loop API's pipe code is
//! here, apart from the other objects' (`evloop.rs`, `evloop_more.rs`).
//!
//! A cancelled request that finished at the broker first: a send that went out stays sent; a
//! poll took nothing; a receive's completion carries the message, which is the caller's — a
//! pipe end has one receiver, so deliver it as the next message received (it is older than
//! any a later receive gets).

use crate::error::Result;
use crate::handle;
use crate::panic::ffi;
use crate::pipe::xproc_pipe_t;
use crate::status::xproc_status_e;

/// Stores `ticket` in `*out` (checked first, so a bad pointer costs nothing).
unsafe fn started(out: *mut u64, start: impl FnOnce() -> Result<u64>) -> Result<()> {
    // SAFETY: the caller's pointer, checked by the helper.
    let out = unsafe { handle::out(out, 0, "ticket")? };
    *out = start()?;
    Ok(())
}

/// Starts a send of `len` MessagePack bytes at `data` (copied; at most the broker's
/// `max_frame`: a started send does not travel as a memfd) to the other end, waiting for
/// room up to `timeout_ms` (negative: as long as it takes). Its completion's status is
/// `XPROC_OK`, `XPROC_FULL`, `XPROC_TIMEOUT` or `XPROC_CLOSED`. Errors (now): `XPROC_CLOSED`
/// (this end was closed), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_send_start_raw(
    pipe: *const xproc_pipe_t,
    data: *const u8,
    len: usize,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let data = handle::bytes(data, len, "data")?;
            let p = crate::pipe::pipe(pipe)?;
            Ok(p.start_send(data, handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a receive of the next message, waiting up to `timeout_ms` (negative: as long as it
/// takes). Its completion has the value (`xproc_completion_value_raw`), or the status
/// `XPROC_EMPTY`, `XPROC_TIMEOUT` or `XPROC_CLOSED` (end of file). Results as
/// `xproc_pipe_send_start_raw`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_recv_start(
    pipe: *const xproc_pipe_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let p = crate::pipe::pipe(pipe)?;
            Ok(p.start_recv(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a poll: whether a message waits (or a receive would report end of file), waiting
/// up to `timeout_ms` for one (negative: as long as it takes, as `xproc_pipe_poll`). Its completion
/// has the bool field `ready`. Results as `xproc_pipe_send_start_raw`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_poll_start(
    pipe: *const xproc_pipe_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let p = crate::pipe::pipe(pipe)?;
            let wait = handle::timeout(timeout_ms).unwrap_or(std::time::Duration::MAX);
            Ok(p.start_poll(wait)?)
        })
    })
}
