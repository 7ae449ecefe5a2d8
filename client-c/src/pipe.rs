//! `xproc_pipe_t`: one end of a pipe, over the Rust client's `RawPipe`.
//!
//! The handle keeps its `RawPipe` in a slot that `xproc_pipe_close` empties, so that closing is
//! explicit and happens once, and a later call on the handle is told `XPROC_CLOSED` instead of
//! reaching the broker. Calls in flight on other threads hold their own reference; if one is
//! still running when the end is closed, the end closes as that call returns.

use std::ffi::{c_char, c_int};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use xproc_client::{End, PipeOptions, RawPipe};

use crate::client::{client, xproc_client_t};
use crate::error::{Error, Result};
use crate::handle::{self, BytesOut, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;
use crate::value::{value_ref, ValueOut};
use crate::xproc_value_t;

/// One end (`'a'` or `'b'`) of a pipe (opaque), held by this handle's connection. Open with
/// `xproc_pipe_open`; close with `xproc_pipe_close` and/or free with `xproc_pipe_free` (which
/// closes it if still open). Thread-safe; keeps its client alive.
pub struct xproc_pipe_t {
    _private: [u8; 0],
}

/// The body of a pipe handle: the end, until it is closed.
pub(crate) struct PipeEnd {
    slot: Mutex<Option<Arc<RawPipe>>>,
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_pipe_t {
    type Body = PipeEnd;
    const MAGIC: u64 = 0x7870_726f_6370_6970;
    const NAME: &'static str = "xproc_pipe_t";
}

impl PipeEnd {
    /// The open end, or `XPROC_CLOSED` once `xproc_pipe_close` was called.
    fn get(&self) -> Result<Arc<RawPipe>> {
        // A panic while the lock was held left nothing half-done: the slot is one Option.
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.clone().ok_or(Error::EndClosed)
    }
}

pub(crate) unsafe fn pipe(p: *const xproc_pipe_t) -> Result<Arc<RawPipe>> {
    // SAFETY: forwarded.
    unsafe { handle::body::<xproc_pipe_t>(p, "pipe") }?.get()
}

/// Opens the pipe `name` (`name_len` bytes of UTF-8), creating it if the name is free, and
/// claims its end `end` (`'a'` or `'b'`) for this client's connection.
///
/// Creation options: `duplex` (1: both ends send and receive; 0: `'a'` sends and `'b'`
/// receives; negative: not given — duplex on creation, an existing pipe's value accepted) and
/// `capacity` (messages each end's inbox holds before a send waits; negative: not given,
/// 1024 on creation).
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_pipe_free`); on
/// failure NULL. Errors: `XPROC_BUSY` (another connection holds that end; the message names
/// its pid), `XPROC_INVALID_ARGUMENT` (`end` is not `'a'` or `'b'`), `XPROC_TYPE_MISMATCH`,
/// `XPROC_OPTION_MISMATCH`, `XPROC_INVALID_NAME`, `XPROC_LIMIT`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    end: c_char,
    duplex: c_int,
    capacity: i64,
    out: *mut *mut xproc_pipe_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        let c = unsafe { self::client(client)? };
        let end = match end as u8 {
            b'a' => End::A,
            b'b' => End::B,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "a pipe end is 'a' or 'b', not {:?}",
                    other as char
                )))
            }
        };
        let options = PipeOptions {
            duplex: (duplex >= 0).then_some(duplex != 0),
            capacity: u64::try_from(capacity).ok(),
        };
        let raw = RawPipe::open(c, name, end, options)?;
        *out = handle::into_handle(PipeEnd {
            slot: Mutex::new(Some(Arc::new(raw))),
        });
        Ok(())
    })
}

/// Closes this end: the other end receives what is left, then `XPROC_CLOSED` (end of file);
/// once both ends are released the name is free for a fresh pipe. Later calls on this
/// handle return `XPROC_CLOSED`; closing again is a no-op. The handle must still be freed.
///
/// Errors: `XPROC_DISCONNECTED` (the broker has released the end anyway),
/// `XPROC_NULL_ARGUMENT`. Thread-safe; a call still running on another thread finishes first.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_close(pipe: *const xproc_pipe_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        let body = unsafe { handle::body::<xproc_pipe_t>(pipe, "pipe")? };
        let taken = body.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(raw) = taken {
            // With no other call in flight this is the only reference and the close is sent
            // now; otherwise the last call in flight drops it, which closes the end.
            if let Ok(raw) = Arc::try_unwrap(raw) {
                raw.close()?;
            }
        }
        Ok(())
    })
}

/// Frees a pipe handle, closing its end first if `xproc_pipe_close` was not called. NULL is
/// a no-op. No other thread may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_free(pipe: *mut xproc_pipe_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`. Dropping the RawPipe closes the end (best effort).
        unsafe { handle::free(pipe) }
    })
}

/// Sends one MessagePack message (`len` bytes at `data`) to the other end, waiting up to
/// `timeout_ms` for room in its inbox (negative: as long as it takes; 0: not at all).
///
/// Errors: `XPROC_FULL` (timeout 0 and no room), `XPROC_TIMEOUT`, `XPROC_CLOSED` (the other
/// end is closed, or this one was), `XPROC_INVALID_ARGUMENT` (the receive-only end of a
/// one-way pipe), `XPROC_NOT_OWNER`, `XPROC_INVALID_VALUE`, `XPROC_LIMIT`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_send_raw(
    pipe: *const xproc_pipe_t,
    data: *const u8,
    len: usize,
    timeout_ms: i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let data = unsafe { handle::bytes(data, len, "data")? };
        unsafe { self::pipe(pipe)? }.send(data, handle::timeout(timeout_ms))?;
        Ok(())
    })
}

/// Receives the next message, waiting up to `timeout_ms` (negative: as long as it takes; 0:
/// not at all), into `*out`/`*out_len` (owned by the caller: free with `xproc_bytes_free`;
/// NULL/0 on failure).
///
/// Errors: `XPROC_EMPTY` (timeout 0 and nothing waiting), `XPROC_TIMEOUT`, `XPROC_CLOSED`
/// (end of file: the other end is closed and everything was received; or this end was
/// closed), `XPROC_INVALID_ARGUMENT` (the send-only end of a one-way pipe),
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_recv_raw(
    pipe: *const xproc_pipe_t,
    timeout_ms: i64,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let p = unsafe { self::pipe(pipe)? };
        out.set(p.recv(handle::timeout(timeout_ms))?);
        Ok(())
    })
}

/// Sends `value` (borrowed, not consumed), encoded as MessagePack. Results and errors as
/// `xproc_pipe_send_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_send(
    pipe: *const xproc_pipe_t,
    value: *const xproc_value_t,
    timeout_ms: i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let bytes = unsafe { value_ref(value, "value")? }.encode()?;
        unsafe { self::pipe(pipe)? }.send(&bytes, handle::timeout(timeout_ms))?;
        Ok(())
    })
}

/// Receives the next message, decoded into `*out` (owned by the caller: free with
/// `xproc_value_free`; NULL on failure). Results and errors as `xproc_pipe_recv_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_recv(
    pipe: *const xproc_pipe_t,
    timeout_ms: i64,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let p = unsafe { self::pipe(pipe)? };
        out.set_decoded(&p.recv(handle::timeout(timeout_ms))?)
    })
}

/// Whether a message is waiting (or a receive would report end of file), waiting up to
/// `timeout_ms` for one (negative: as long as it takes; 0: answer at once), into `*ready`.
/// Errors: `XPROC_CLOSED` (this end was closed), `XPROC_NOT_OWNER`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_pipe_poll(
    pipe: *const xproc_pipe_t,
    timeout_ms: i64,
    ready: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let ready = unsafe { handle::out(ready, false, "ready")? };
        let p = unsafe { self::pipe(pipe)? };
        *ready = p.poll(handle::timeout(timeout_ms).unwrap_or(Duration::MAX))?;
        Ok(())
    })
}
