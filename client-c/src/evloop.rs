//! The event-loop API (docs/C.md, "Using xproc from an event loop"): one descriptor per client
//! that becomes readable when replies may have come, requests started without waiting
//! (`*_start`, returning a ticket), a completion queue drained after
//! `xproc_client_process`, and cancellation of a started request. The blocking calls work
//! beside it on the same client, from any thread.
//!
//! Threading: every function here is thread-safe, but the model is one loop thread per
//! client calling `xproc_client_process` and `xproc_client_next_completion`; completions are
//! handed out once, to whichever thread asks first.

use std::ffi::{c_char, c_int};

use xproc_client::Waitable;
use xproc_protocol::ReplyFields;

use crate::client::{client, xproc_client_t};
use crate::error::{Error, Result};
use crate::event::xproc_event_t;
use crate::handle::{self, Opaque};
use crate::lock::xproc_lock_t;
use crate::panic::{ffi, ffi_or};
use crate::queue::xproc_queue_t;
use crate::semaphore::xproc_semaphore_t;
use crate::status::xproc_status_e;
use crate::wait::{held_objects, queue_names, xproc_wait_object_t};

/// The outcome of a started request (opaque), from `xproc_client_next_completion` or
/// `xproc_client_take_completion`; owned by the caller, freed with `xproc_completion_free`.
/// Read it with `xproc_completion_status` and the field accessors.
pub struct xproc_completion_t {
    _private: [u8; 0],
}

/// A completion's body: its ticket, its status and message, and the reply's payload.
pub(crate) struct Completion {
    ticket: u64,
    status: xproc_status_e,
    message: String,
    payload: Vec<u8>,
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_completion_t {
    type Body = Completion;
    const MAGIC: u64 = 0x7870_726f_6363_6d70;
    const NAME: &'static str = "xproc_completion_t";
}

impl Completion {
    fn new(ticket: u64, outcome: xproc_client::Result<xproc_client::Reply>) -> Completion {
        match outcome {
            Ok(r) => Completion {
                ticket,
                status: xproc_status_e::XPROC_OK,
                message: String::new(),
                payload: r.into_payload(),
            },
            Err(e) => {
                let e = Error::Client(e);
                Completion {
                    ticket,
                    status: e.status(),
                    message: e.to_string(),
                    payload: Vec::new(),
                }
            }
        }
    }

    fn fields(&self) -> Result<ReplyFields<'_>> {
        if self.status != xproc_status_e::XPROC_OK {
            return Err(Error::InvalidArgument(format!(
                "the request failed ({}): it has no result fields",
                self.message
            )));
        }
        ReplyFields::decode(&self.payload).map_err(|e| {
            Error::Client(xproc_client::Error::Protocol(format!(
                "malformed reply: {e}"
            )))
        })
    }
}

unsafe fn completion<'a>(p: *const xproc_completion_t) -> Result<&'a Completion> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "completion") }
}

/// Stores `ticket` in `*out` (checked first, so a bad pointer costs nothing).
unsafe fn started(out: *mut u64, start: impl FnOnce() -> Result<u64>) -> Result<()> {
    // SAFETY: the caller's pointer, checked by the helper.
    let out = unsafe { handle::out(out, 0, "ticket")? };
    *out = start()?;
    Ok(())
}

/// The descriptor an event loop watches for readability, into `*fd`: readable when replies to
/// started requests may have come (spurious readiness is possible). Then call
/// `xproc_client_process`. Owned by the client: valid until `xproc_client_free`; never read
/// from, write to or close it. Linux only so far (elsewhere `XPROC_PROTOCOL_ERROR`, with a
/// message). Errors: `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_event_fd(
    client: *const xproc_client_t,
    fd: *mut c_int,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let fd = unsafe { handle::out(fd, -1, "fd")? };
        *fd = unsafe { self::client(client)? }.event_fd()?;
        Ok(())
    })
}

/// Reads what the connection holds, without ever blocking, and moves finished requests to the
/// completion queue; `*ready` (optional: may be NULL) receives how many completions wait.
/// Call it when the descriptor is readable. Errors: `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_process(
    client: *const xproc_client_t,
    ready: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let ready = unsafe { handle::opt_out(ready, 0) };
        let n = unsafe { self::client(client)? }.process()?;
        if let Some(r) = ready {
            *r = n;
        }
        Ok(())
    })
}

/// Pops the next completion (in the order requests finished): `*ticket` is the ticket its
/// `*_start` returned and `*out` the completion, owned by the caller (free with
/// `xproc_completion_free`). `XPROC_EMPTY` (and NULL, 0) when none waits: call
/// `xproc_client_process` after the descriptor is readable. Every started request completes
/// exactly once. Errors: `XPROC_EMPTY`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_next_completion(
    client: *const xproc_client_t,
    ticket: *mut u64,
    out: *mut *mut xproc_completion_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let ticket = unsafe { handle::out(ticket, 0, "ticket")? };
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let c = unsafe { self::client(client)? };
        let (t, outcome) = c.next_completion().ok_or(xproc_client::Error::Empty)?;
        *ticket = t;
        *out = handle::into_handle(Completion::new(t, outcome));
        Ok(())
    })
}

/// Takes the completion of started request `ticket` if it has finished (after
/// `xproc_client_process`), else `XPROC_EMPTY` (and NULL). Ownership as
/// `xproc_client_next_completion`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_take_completion(
    client: *const xproc_client_t,
    ticket: u64,
    out: *mut *mut xproc_completion_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let c = unsafe { self::client(client)? };
        let outcome = c
            .take_completion(ticket)
            .ok_or(xproc_client::Error::Empty)?;
        *out = handle::into_handle(Completion::new(ticket, outcome));
        Ok(())
    })
}

/// Asks the broker to give up started request `ticket` (not yet collected), without
/// blocking. It still completes: with its timeout outcome if it was waiting (a get then took
/// nothing, an acquire got nothing), or, if it had finished at the broker first, with its real
/// outcome — look at it (an item in it is yours). Errors: `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_cancel(
    client: *const xproc_client_t,
    ticket: u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::client(client)? }.cancel(ticket)?;
        Ok(())
    })
}

/// Starts a get of the oldest value (see `xproc_queue_get_raw`), waiting at the broker up to
/// `timeout_ms` (negative: as long as it takes). `*ticket` identifies its completion, whose
/// value is read with `xproc_completion_value_raw`. Errors (now): `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`; the request's own outcome (`XPROC_EMPTY`, `XPROC_TIMEOUT`, ...) is
/// its completion's status. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_start(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let q = handle::body::<xproc_queue_t>(queue, "queue")?;
            Ok(q.start_get(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a put of `len` MessagePack bytes at `data` (copied; see `xproc_queue_put_raw`).
/// Results as `xproc_queue_get_start`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_put_start_raw(
    queue: *const xproc_queue_t,
    data: *const u8,
    len: usize,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let data = handle::bytes(data, len, "data")?;
            let q = handle::body::<xproc_queue_t>(queue, "queue")?;
            Ok(q.start_put(data, handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a `xproc_queue_get_any` over `queues[0..count]` on `client`'s connection; its
/// completion has the value and the `index` field. Results as `xproc_queue_get_start`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_any_start(
    client: *const xproc_client_t,
    queues: *const *const xproc_queue_t,
    count: usize,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let c = self::client(client)?;
            let names = queue_names(queues, count)?;
            Ok(c.start_get_any(&names, handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a `xproc_wait` over `objects[0..count]` on `client`'s connection; its completion's
/// `indices` say which are ready (`xproc_completion_indices`). Results as
/// `xproc_queue_get_start`.
#[no_mangle]
pub unsafe extern "C" fn xproc_wait_start(
    client: *const xproc_client_t,
    objects: *const xproc_wait_object_t,
    count: usize,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let c = self::client(client)?;
            let held = held_objects(objects, count)?;
            let refs: Vec<&dyn Waitable> = held.iter().map(|h| h.waitable()).collect();
            Ok(c.start_wait(&refs, handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts an acquire of the lock; its completion has the bool field `acquired` (false when
/// the timeout passed or it was cancelled) and, when set, the uint field `abandoned_by`.
/// Results as `xproc_queue_get_start`.
#[no_mangle]
pub unsafe extern "C" fn xproc_lock_acquire_start(
    lock: *const xproc_lock_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let l = handle::body::<xproc_lock_t>(lock, "lock")?;
            Ok(l.start_acquire(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts an acquire of one permit; its completion has the bool field `acquired`. Results as
/// `xproc_queue_get_start`.
#[no_mangle]
pub unsafe extern "C" fn xproc_semaphore_acquire_start(
    semaphore: *const xproc_semaphore_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let s = handle::body::<xproc_semaphore_t>(semaphore, "semaphore")?;
            Ok(s.start_acquire(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a wait for the event; its completion has the bool field `set`. Results as
/// `xproc_queue_get_start`.
#[no_mangle]
pub unsafe extern "C" fn xproc_event_wait_start(
    event: *const xproc_event_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let e = handle::body::<xproc_event_t>(event, "event")?;
            Ok(e.start_wait(handle::timeout(timeout_ms))?)
        })
    })
}

/// The request's outcome: `XPROC_OK`, or the status it failed with (`XPROC_TIMEOUT`,
/// `XPROC_EMPTY`, `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, ...), whose message
/// `xproc_last_error` then returns. A NULL or invalid completion is `XPROC_NULL_ARGUMENT` /
/// `XPROC_INVALID_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_status(
    completion: *const xproc_completion_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        let c = unsafe { self::completion(completion)? };
        if c.status == xproc_status_e::XPROC_OK {
            return Ok(());
        }
        Err(Error::Status(c.status, c.message.clone()))
    })
}

/// The ticket of the request this completion belongs to.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_ticket(completion: *const xproc_completion_t) -> u64 {
    ffi_or(0, || {
        // SAFETY: checked by the helper.
        unsafe { self::completion(completion) }.map_or(0, |c| c.ticket)
    })
}

/// The `value` of a successful completion (a get's item): `*data`/`*len` point into the
/// completion, **borrowed** — valid until `xproc_completion_free`. Errors: `XPROC_NOT_FOUND`
/// (this reply has no value), `XPROC_INVALID_ARGUMENT` (the request failed: see
/// `xproc_completion_status`), `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_value_raw(
    completion: *const xproc_completion_t,
    data: *mut *const u8,
    len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let data = unsafe { handle::out(data, std::ptr::null(), "data")? };
        let len = unsafe { handle::out(len, 0, "len")? };
        let c = unsafe { self::completion(completion)? };
        let v = c.fields()?.value.ok_or_else(|| missing("value"))?;
        // The value's bytes lie inside the payload the completion owns.
        *data = v.as_ptr();
        *len = v.len();
        Ok(())
    })
}

fn missing(field: &str) -> Error {
    Error::Client(xproc_client::Error::Broker {
        code: "NotFound".into(),
        message: format!("the reply has no field '{field}'"),
    })
}

/// A uint result field of a successful completion by name (`field_len` bytes at `field`):
/// `index` (`queue.get_any`), `abandoned_by` (acquires), `delivery`, `len`, ... Errors:
/// `XPROC_NOT_FOUND` (absent), `XPROC_INVALID_ARGUMENT` (the request failed, or an unknown
/// field), `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_uint(
    completion: *const xproc_completion_t,
    field: *const c_char,
    field_len: usize,
    out: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, 0, "out")? };
        let name = unsafe { handle::string(field, field_len, "field")? };
        let c = unsafe { self::completion(completion)? };
        let r = c.fields()?;
        let v = match name {
            "index" => r.index,
            "abandoned_by" => r.abandoned_by.map(u64::from),
            "delivery" => r.delivery,
            "attempt" => r.attempt,
            "len" => r.len,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "no uint result field '{other}' (index, abandoned_by, delivery, attempt, len)"
                )))
            }
        };
        *out = v.ok_or_else(|| missing(name))?;
        Ok(())
    })
}

/// A bool result field of a successful completion by name: `acquired`, `set`, `ready`,
/// `notified`. Errors as `xproc_completion_uint`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_bool(
    completion: *const xproc_completion_t,
    field: *const c_char,
    field_len: usize,
    out: *mut bool,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, false, "out")? };
        let name = unsafe { handle::string(field, field_len, "field")? };
        let c = unsafe { self::completion(completion)? };
        let r = c.fields()?;
        let v = match name {
            "acquired" => r.acquired,
            "set" => r.set,
            "ready" => r.ready,
            "notified" => r.notified,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "no bool result field '{other}' (acquired, set, ready, notified)"
                )))
            }
        };
        *out = v.ok_or_else(|| missing(name))?;
        Ok(())
    })
}

/// The `indices` of a successful `xproc_wait_start` completion: `ready[i]` set to 1 for each
/// ready object and 0 for the others (`ready` has room for `count` bytes, the count the wait
/// was started with); `*n_ready` (optional) receives how many are ready. Errors as
/// `xproc_completion_uint`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_indices(
    completion: *const xproc_completion_t,
    ready: *mut u8,
    count: usize,
    n_ready: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let n_ready = unsafe { handle::opt_out(n_ready, 0) };
        if ready.is_null() && count > 0 {
            return Err(Error::Null("ready"));
        }
        let c = unsafe { self::completion(completion)? };
        let r = c.fields()?;
        let indices = r.indices.as_ref().ok_or_else(|| missing("indices"))?;
        if count > 0 {
            // SAFETY: the caller promises `count` writable bytes at `ready`.
            let ready = unsafe { std::slice::from_raw_parts_mut(ready, count) };
            ready.fill(0);
            for &i in indices {
                if let Some(slot) = ready.get_mut(i as usize) {
                    *slot = 1;
                }
            }
        }
        if let Some(n) = n_ready {
            *n = indices.len();
        }
        Ok(())
    })
}

/// Frees a completion. NULL is a no-op. Borrowed value pointers die with it.
#[no_mangle]
pub unsafe extern "C" fn xproc_completion_free(completion: *mut xproc_completion_t) {
    ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(completion) }
    })
}

/// Makes the `*_start` functions of `client` defer their writes (`on` nonzero; off by default):
/// the requests a loop starts in one turn then leave together, in one `send`, when it calls
/// `xproc_client_flush_starts` (or `xproc_client_process`) — which it **must** do before it
/// waits for the descriptor, or their replies never come. A blocking call of any thread also
/// sends them first. `xproc_client_cancel` is always sent at once. Turning it off flushes.
/// Errors: `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_defer_starts(
    client: *const xproc_client_t,
    on: c_int,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::client(client)? }.set_defer_starts(on != 0);
        Ok(())
    })
}

/// Sends the requests started while `xproc_client_defer_starts` is on and not sent yet, in
/// one write; nothing when there are none. Never waits for replies. Errors:
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_client_flush_starts(
    client: *const xproc_client_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::client(client)? }.flush_starts()?;
        Ok(())
    })
}
