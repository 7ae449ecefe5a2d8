//! `xproc_queue_t`: queues and joinable queues, over the Rust client's `RawQueue`. Each value
//! operation comes as `_raw` (MessagePack bytes, what bindings use) and with `xproc_value_t`.

use std::ffi::c_char;

use xproc_client::{Kind, QueueOptions, RawQueue};

use crate::client::{client, xproc_client_t};
use crate::error::Result;
use crate::handle::{self, BytesOut, Opaque};
use crate::panic::ffi;
use crate::status::xproc_status_e;
use crate::value::{value_ref, ValueOut};
use crate::xproc_value_t;

/// A queue or joinable queue handle (opaque). Open with `xproc_queue_open`,
/// `xproc_joinable_queue_open` or their `_with` forms, free with `xproc_queue_free`. Freeing
/// the handle leaves the shared queue and its items in the broker. Thread-safe; keeps its
/// client alive.
pub struct xproc_queue_t {
    _private: [u8; 0],
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_queue_t {
    type Body = RawQueue;
    const MAGIC: u64 = 0x7870_726f_6371_7565;
    const NAME: &'static str = "xproc_queue_t";
}

/// A queue's counters, from `xproc_queue_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct xproc_queue_size_t {
    /// Items in the queue now (exact).
    pub len: u64,
    /// The queue's bound; 0 = unbounded.
    pub maxsize: u64,
    /// Items put and not yet marked done (joinable queues; always 0 on a plain queue).
    pub unfinished: u64,
}

unsafe fn queue<'a>(p: *const xproc_queue_t) -> Result<&'a RawQueue> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "queue") }
}

unsafe fn open(
    c: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    maxsize: i64,
    max_attempts: i64,
    kind: Kind,
    out: *mut *mut xproc_queue_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let name = unsafe { handle::name(name, name_len)? };
        let c = unsafe { client(c)? };
        // Negative: not given (the broker's default on creation; any existing value accepted).
        let options = QueueOptions {
            maxsize: u64::try_from(maxsize).ok(),
            max_attempts: u64::try_from(max_attempts).ok(),
        };
        *out = handle::into_handle(RawQueue::open(c, name, kind, options)?);
        Ok(())
    })
}

/// Opens the queue `name` (`name_len` bytes of UTF-8), creating it if the name is free.
///
/// `maxsize`: the most items it holds when created (0 = unbounded); negative = not given
/// (creates an unbounded queue; accepts an existing queue's bound). Reopening with a different
/// explicit `maxsize` is `XPROC_OPTION_MISMATCH`. `xproc_queue_open_with` also takes
/// `max_attempts`.
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_queue_free`); on
/// failure NULL. Errors: `XPROC_TYPE_MISMATCH` (the name holds another kind, including a
/// joinable queue), `XPROC_OPTION_MISMATCH`, `XPROC_INVALID_NAME`, `XPROC_LIMIT` (too many
/// objects), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    maxsize: i64,
    out: *mut *mut xproc_queue_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { xproc_queue_open_with(client, name, name_len, maxsize, -1, out) }
}

/// Opens or creates the joinable queue `name`: a queue with `xproc_queue_task_done` and
/// `xproc_queue_join`. Arguments, results and errors as `xproc_queue_open`.
#[no_mangle]
pub unsafe extern "C" fn xproc_joinable_queue_open(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    maxsize: i64,
    out: *mut *mut xproc_queue_t,
) -> xproc_status_e {
    // SAFETY: forwarded.
    unsafe { xproc_joinable_queue_open_with(client, name, name_len, maxsize, -1, out) }
}

/// Opens the queue `name` like `xproc_queue_open`, with every creation option.
///
/// `maxsize`: as for `xproc_queue_open` (0 = unbounded; negative = not given).
/// `max_attempts`: leased deliveries of one item (`xproc_queue_get_leased*`) before the
/// broker moves it to the dead-letter queue `NAME.dead` instead of handing it out again
/// (0 = never); negative = not given (creates the queue with the broker's default, 5; accepts
/// an existing queue's value). Reopening with a different explicit `maxsize` or
/// `max_attempts` is `XPROC_OPTION_MISMATCH` (the message names the option).
///
/// On success `*out` is a new handle owned by the caller (free with `xproc_queue_free`); on
/// failure NULL. Errors as `xproc_queue_open`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_open_with(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    maxsize: i64,
    max_attempts: i64,
    out: *mut *mut xproc_queue_t,
) -> xproc_status_e {
    let kind = Kind::Queue;
    // SAFETY: forwarded.
    unsafe { open(client, name, name_len, maxsize, max_attempts, kind, out) }
}

/// Opens or creates the joinable queue `name` like `xproc_joinable_queue_open`, with every
/// creation option. Arguments, results and errors as `xproc_queue_open_with`.
#[no_mangle]
pub unsafe extern "C" fn xproc_joinable_queue_open_with(
    client: *const xproc_client_t,
    name: *const c_char,
    name_len: usize,
    maxsize: i64,
    max_attempts: i64,
    out: *mut *mut xproc_queue_t,
) -> xproc_status_e {
    let kind = Kind::JoinableQueue;
    // SAFETY: forwarded.
    unsafe { open(client, name, name_len, maxsize, max_attempts, kind, out) }
}

/// Frees a queue handle (the shared queue stays in the broker). NULL is a no-op. No other
/// thread may be using this handle.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_free(queue: *mut xproc_queue_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(queue) }
    })
}

/// Puts one MessagePack value (`len` bytes at `data`, exactly one well-formed value),
/// waiting for room up to `timeout_ms` (negative: as long as it takes; 0: not at all).
///
/// Errors: `XPROC_FULL` (timeout 0 and full), `XPROC_TIMEOUT`, `XPROC_INVALID_VALUE`,
/// `XPROC_LIMIT` (value above `max_frame`, or the broker's memory budget), `XPROC_NOT_FOUND`
/// (deleted), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_put_raw(
    queue: *const xproc_queue_t,
    data: *const u8,
    len: usize,
    timeout_ms: i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let data = unsafe { handle::bytes(data, len, "data")? };
        unsafe { self::queue(queue)? }.put(data, handle::timeout(timeout_ms))?;
        Ok(())
    })
}

/// Takes the oldest value, waiting for one up to `timeout_ms` (negative: as long as it takes;
/// 0: not at all). On success `*out`/`*out_len` hold its MessagePack bytes, owned by the
/// caller (free with `xproc_bytes_free`); on failure NULL/0.
///
/// Errors: `XPROC_EMPTY` (timeout 0 and empty), `XPROC_TIMEOUT`, `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_raw(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let q = unsafe { self::queue(queue)? };
        out.set(q.get(handle::timeout(timeout_ms))?);
        Ok(())
    })
}

/// Puts `count` MessagePack values, pipelined (far cheaper than one round trip each): value
/// `i` is `lens[i]` bytes at `values[i]`. Each put waits for room as long as it takes. Values
/// are put in order.
///
/// `*done` (optional: may be NULL) receives how many were put. On the first failure the call
/// stops and returns it; puts already sent in the same batch may have succeeded beyond
/// `*done`. Errors: as `xproc_queue_put_raw`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_put_many_raw(
    queue: *const xproc_queue_t,
    values: *const *const u8,
    lens: *const usize,
    count: usize,
    done: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let done = unsafe { handle::opt_out(done, 0) };
        let values = unsafe { handle::byte_arrays(values, lens, count, "values", "lens")? };
        let n = unsafe { self::queue(queue)? }.put_many(values)?;
        if let Some(d) = done {
            *d = n;
        }
        Ok(())
    })
}

/// Puts `value` (borrowed, not consumed), encoded as MessagePack, waiting for room up to
/// `timeout_ms`. Results and errors as `xproc_queue_put_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_put(
    queue: *const xproc_queue_t,
    value: *const xproc_value_t,
    timeout_ms: i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let bytes = unsafe { value_ref(value, "value")? }.encode()?;
        unsafe { self::queue(queue)? }.put(&bytes, handle::timeout(timeout_ms))?;
        Ok(())
    })
}

/// Takes the oldest value, waiting up to `timeout_ms`, decoded into `*out` (owned by the
/// caller: free with `xproc_value_free`; NULL on failure). Errors as `xproc_queue_get_raw`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let q = unsafe { self::queue(queue)? };
        out.set_decoded(&q.get(handle::timeout(timeout_ms))?)
    })
}

/// The number of items in the queue now (exact), into `*out`. Errors: `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_qsize(
    queue: *const xproc_queue_t,
    out: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, 0, "out")? };
        *out = unsafe { self::queue(queue)? }.qsize()?.len;
        Ok(())
    })
}

/// The queue's length, bound and unfinished count, read together, into `*out` (empty:
/// `len == 0`; full: `maxsize > 0 && len >= maxsize`). Errors as `xproc_queue_qsize`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_size(
    queue: *const xproc_queue_t,
    out: *mut xproc_queue_size_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, xproc_queue_size_t::default(), "out")? };
        let s = unsafe { self::queue(queue)? }.qsize()?;
        *out = xproc_queue_size_t {
            len: s.len,
            maxsize: s.maxsize,
            unfinished: s.unfinished,
        };
        Ok(())
    })
}

/// Marks one item done (joinable queues). Errors: `XPROC_INVALID_ARGUMENT` (more calls than
/// items put), `XPROC_TYPE_MISMATCH` (a plain queue), `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_task_done(queue: *const xproc_queue_t) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::queue(queue)? }.task_done()?;
        Ok(())
    })
}

/// Waits until every item put has been marked done (joinable queues), up to `timeout_ms`
/// (negative: as long as it takes). Errors: `XPROC_TIMEOUT`, `XPROC_TYPE_MISMATCH` (a plain
/// queue), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_join(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        let q = unsafe { self::queue(queue)? };
        q.join(handle::timeout(timeout_ms))?;
        Ok(())
    })
}

/// The lease `xproc_queue_get_leased*` uses for `lease_ms <= 0`: the broker's default, 30 s.
fn lease(lease_ms: i64) -> std::time::Duration {
    match u64::try_from(lease_ms) {
        Ok(ms) if ms > 0 => std::time::Duration::from_millis(ms),
        _ => xproc_client::DEFAULT_LEASE,
    }
}

/// Takes the oldest value on a lease (acknowledged delivery), waiting for one up to
/// `timeout_ms` (negative: as long as it takes; 0: not at all). The item stays in the broker,
/// in flight, until it is settled with `xproc_queue_ack` (done) or `xproc_queue_nack` (give it
/// back); if `lease_ms` passes first (`lease_ms <= 0`: 30 s), or this client's connection
/// closes (the process dies), it goes back to the head of the queue for another consumer.
/// After the queue's `max_attempts` deliveries (5 by default) an item is moved to the queue
/// `NAME.dead` instead.
///
/// On success `*out`/`*out_len` hold the value's MessagePack bytes, owned by the caller (free
/// with `xproc_bytes_free`), `*delivery` the delivery id to ack or nack, and `*attempt` (may
/// be NULL) which delivery of this item this is (1 the first time). On failure NULL/0/0.
///
/// Errors: `XPROC_EMPTY` (timeout 0 and empty), `XPROC_TIMEOUT`, `XPROC_NOT_FOUND`,
/// `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_leased_raw(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    lease_ms: i64,
    out: *mut *mut u8,
    out_len: *mut usize,
    delivery: *mut u64,
    attempt: *mut u32,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { BytesOut::new(out, out_len, "out", "out_len")? };
        let delivery = unsafe { handle::out(delivery, 0, "delivery")? };
        let attempt = unsafe { handle::opt_out(attempt, 0) };
        let q = unsafe { self::queue(queue)? };
        let d = q.get_leased(handle::timeout(timeout_ms), lease(lease_ms))?;
        *delivery = d.id;
        if let Some(a) = attempt {
            *a = d.attempt;
        }
        out.set(d.value);
        Ok(())
    })
}

/// Like `xproc_queue_get_leased_raw`, the value decoded into `*out` (owned by the caller: free
/// with `xproc_value_free`; NULL on failure). A value that cannot be decoded is nacked at once
/// (so it is not held for the whole lease) and reported as `XPROC_INVALID_VALUE`.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_leased(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    lease_ms: i64,
    out: *mut *mut xproc_value_t,
    delivery: *mut u64,
    attempt: *mut u32,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { ValueOut::new(out, "out")? };
        let delivery = unsafe { handle::out(delivery, 0, "delivery")? };
        let attempt = unsafe { handle::opt_out(attempt, 0) };
        let q = unsafe { self::queue(queue)? };
        let d = q.get_leased(handle::timeout(timeout_ms), lease(lease_ms))?;
        if let Err(e) = out.set_decoded(&d.value) {
            let _ = q.nack(d.id, std::time::Duration::ZERO);
            return Err(e);
        }
        *delivery = d.id;
        if let Some(a) = attempt {
            *a = d.attempt;
        }
        Ok(())
    })
}

/// Acks `delivery` (from `xproc_queue_get_leased*`): the item is done and leaves the queue.
/// On a joinable queue this counts as `xproc_queue_task_done` (do not call both).
///
/// Errors: `XPROC_UNKNOWN_DELIVERY` (this connection does not hold it: already acked or
/// nacked, its lease ran out, or handed to another connection), `XPROC_NOT_FOUND` (the queue
/// was deleted), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_ack(
    queue: *const xproc_queue_t,
    delivery: u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        unsafe { self::queue(queue)? }.ack(delivery)?;
        Ok(())
    })
}

/// Gives `delivery` back: the item returns to the head of the queue after `delay_ms`
/// (0 or negative: at once), or moves to `NAME.dead` if this was its last attempt.
/// Errors as `xproc_queue_ack`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_nack(
    queue: *const xproc_queue_t,
    delivery: u64,
    delay_ms: i64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        let delay = handle::timeout(delay_ms).unwrap_or_default();
        unsafe { self::queue(queue)? }.nack(delivery, delay)?;
        Ok(())
    })
}
