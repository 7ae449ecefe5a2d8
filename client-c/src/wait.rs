//! Waiting on many objects with one request (docs/PROTOCOL.md §6.9): `xproc_queue_get_any*`
//! takes one value from the first of several queues to have one; `xproc_wait` reports which
//! of several queues, pipe ends, events, locks and semaphores are ready.

use std::ffi::c_void;
use std::sync::Arc;

use xproc_client::{RawPipe, Waitable};

use crate::client::{client, xproc_client_t};
use crate::error::{Error, Result};
use crate::event::xproc_event_t;
use crate::handle::{self, BytesOut};
use crate::lock::xproc_lock_t;
use crate::panic::ffi;
use crate::pipe::pipe;
use crate::queue::xproc_queue_t;
use crate::semaphore::xproc_semaphore_t;
use crate::status::xproc_status_e;
use crate::value::ValueOut;
use crate::xproc_value_t;

/// What kind of handle an `xproc_wait_object_t` holds.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum xproc_wait_kind_e {
    /// An `xproc_queue_t *` (queue or joinable queue): ready when it holds an item.
    XPROC_WAIT_QUEUE = 0,
    /// An `xproc_pipe_t *`: ready when a message waits at its end, or the pipe is finished.
    XPROC_WAIT_PIPE = 1,
    /// An `xproc_event_t *`: ready when set.
    XPROC_WAIT_EVENT = 2,
    /// An `xproc_lock_t *` (lock or rlock): ready when nobody holds it.
    XPROC_WAIT_LOCK = 3,
    /// An `xproc_semaphore_t *`: ready when its value is above 0.
    XPROC_WAIT_SEMAPHORE = 4,
}

/// One object for `xproc_wait`: a handle and what kind it is. The handle is borrowed for the
/// call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct xproc_wait_object_t {
    /// Which handle type `object` is (a mismatch is refused with `XPROC_INVALID_ARGUMENT`).
    pub kind: xproc_wait_kind_e,
    /// The handle.
    pub object: *const c_void,
}

/// A borrowed object, or a pipe end held for the call.
pub(crate) enum Held<'a> {
    Borrowed(&'a dyn Waitable),
    Pipe(Arc<RawPipe>),
}

impl Held<'_> {
    pub(crate) fn waitable(&self) -> &dyn Waitable {
        match self {
            Held::Borrowed(w) => *w,
            Held::Pipe(p) => &**p,
        }
    }
}

/// Borrows the `count` elements at `p` (NULL only with `count` 0, which is refused anyway).
unsafe fn array<'a, T>(p: *const T, count: usize, arg: &'static str) -> Result<&'a [T]> {
    if count == 0 {
        return Err(Error::InvalidArgument(format!(
            "argument '{arg}': at least one object is needed"
        )));
    }
    if p.is_null() {
        return Err(Error::Null(arg));
    }
    if count > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(Error::InvalidArgument(format!(
            "argument '{arg}': count {count} is too large"
        )));
    }
    // SAFETY: the caller promises `count` readable elements at `p`.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// The names of the queue handles `queues[0..count]`.
pub(crate) unsafe fn queue_names<'a>(
    queues: *const *const xproc_queue_t,
    count: usize,
) -> Result<Vec<&'a str>> {
    // SAFETY: forwarded.
    let handles = unsafe { array(queues, count, "queues")? };
    handles
        .iter()
        // SAFETY: each is a queue handle, checked by its magic.
        .map(|&q| unsafe { handle::body::<xproc_queue_t>(q, "queues") }.map(|q| q.name()))
        .collect()
}

/// The objects of `objects[0..count]`, each checked against its declared kind.
pub(crate) unsafe fn held_objects<'a>(
    objects: *const xproc_wait_object_t,
    count: usize,
) -> Result<Vec<Held<'a>>> {
    // SAFETY: forwarded.
    let objects = unsafe { array(objects, count, "objects")? };
    objects
        .iter()
        .map(|o| {
            let p = o.object;
            // SAFETY: each handle is checked by its magic against its declared kind.
            unsafe {
                Ok(match o.kind {
                    xproc_wait_kind_e::XPROC_WAIT_QUEUE => {
                        Held::Borrowed(handle::body::<xproc_queue_t>(p.cast(), "objects")?)
                    }
                    xproc_wait_kind_e::XPROC_WAIT_PIPE => Held::Pipe(pipe(p.cast())?),
                    xproc_wait_kind_e::XPROC_WAIT_EVENT => {
                        Held::Borrowed(handle::body::<xproc_event_t>(p.cast(), "objects")?)
                    }
                    xproc_wait_kind_e::XPROC_WAIT_LOCK => {
                        Held::Borrowed(handle::body::<xproc_lock_t>(p.cast(), "objects")?)
                    }
                    xproc_wait_kind_e::XPROC_WAIT_SEMAPHORE => {
                        Held::Borrowed(handle::body::<xproc_semaphore_t>(p.cast(), "objects")?)
                    }
                })
            }
        })
        .collect()
}

/// Takes the oldest value of the first of `queues[0..count]` (queue handles, in the order
/// given) that has one, waiting up to `timeout_ms` (negative: as long as it takes; 0: not at
/// all) for the first value put to any of them. The request is one waiter in every queue's
/// line with its other getters, sent on `client`'s connection; exactly one value is taken.
///
/// On success `*index` is the position in `queues` of the queue it came from and
/// `*out`/`*out_len` hold its MessagePack bytes, owned by the caller (free with
/// `xproc_bytes_free`); on failure NULL/0 and `*index` 0.
///
/// Errors: `XPROC_EMPTY` (timeout 0, all empty), `XPROC_TIMEOUT`, `XPROC_NOT_FOUND` (one was
/// deleted, also while waiting), `XPROC_INVALID_ARGUMENT` (count 0, the same queue twice, a
/// handle of another type), `XPROC_LIMIT` (more than 16384 queues), `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_any_raw(
    client: *const xproc_client_t,
    queues: *const *const xproc_queue_t,
    count: usize,
    timeout_ms: i64,
    index: *mut usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let index = unsafe { handle::out(index, 0, "index")? };
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let c = unsafe { self::client(client)? };
        let names = unsafe { queue_names(queues, count)? };
        let (i, bytes) = c.get_any_names(&names, handle::timeout(timeout_ms))?;
        *index = i;
        out.set(bytes);
        Ok(())
    })
}

/// `xproc_queue_get_any_raw` with the value decoded: on success `*out` is an owned value (free
/// with `xproc_value_free`). Arguments and errors as `xproc_queue_get_any_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_any(
    client: *const xproc_client_t,
    queues: *const *const xproc_queue_t,
    count: usize,
    timeout_ms: i64,
    index: *mut usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let index = unsafe { handle::out(index, 0, "index")? };
        let out = unsafe { ValueOut::new(out, "out")? };
        let c = unsafe { self::client(client)? };
        let names = unsafe { queue_names(queues, count)? };
        let (i, bytes) = c.get_any_names(&names, handle::timeout(timeout_ms))?;
        *index = i;
        out.set_decoded(&bytes)
    })
}

/// Waits up to `timeout_ms` (negative: as long as it takes; 0: only looks) until at least one
/// of `objects[0..count]` is ready, and marks which: `ready[i]` is set to 1 for each ready
/// object and 0 for the others (`ready` has room for `count` bytes), and `*n_ready` (optional:
/// may be NULL) to how many are ready; 0 when the timeout passed. Ready means: a queue holds
/// an item, a pipe end has a message or is at end of file, an event is set, a lock is free, a
/// semaphore is above 0. Nothing is taken or reserved: another client may take the item or
/// the lock first, so follow it with a non-blocking get or a bounded acquire. The request is
/// sent on `client`'s connection; a pipe end must be held by that connection.
///
/// Errors: `XPROC_NOT_FOUND`, `XPROC_TYPE_MISMATCH`, `XPROC_NOT_OWNER` (a pipe end held by
/// another connection), `XPROC_INVALID_ARGUMENT` (count 0, an object twice, a handle that is
/// not of its `kind`), `XPROC_CLOSED` (a pipe handle already closed), `XPROC_LIMIT`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_wait(
    client: *const xproc_client_t,
    objects: *const xproc_wait_object_t,
    count: usize,
    timeout_ms: i64,
    ready: *mut u8,
    n_ready: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let n_ready = unsafe { handle::opt_out(n_ready, 0) };
        let objects = unsafe { array(objects, count, "objects")? };
        if ready.is_null() {
            return Err(Error::Null("ready"));
        }
        // SAFETY: the caller promises `count` writable bytes at `ready`.
        let ready = unsafe { std::slice::from_raw_parts_mut(ready, count) };
        ready.fill(0);
        let c = unsafe { self::client(client)? };
        let held = unsafe { held_objects(objects.as_ptr(), count)? };
        let refs: Vec<&dyn Waitable> = held.iter().map(Held::waitable).collect();
        let indices = c.wait(&refs, handle::timeout(timeout_ms))?;
        for &i in &indices {
            if let Some(r) = ready.get_mut(i) {
                *r = 1;
            }
        }
        if let Some(n) = n_ready {
            *n = indices.len();
        }
        Ok(())
    })
}
