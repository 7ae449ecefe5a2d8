//! Streaming queues: `xproc_queue_put_async*` + `xproc_queue_flush` (puts that do not wait
//! for the broker, batched with a bounded window), `xproc_queue_get_many*` (many items per
//! round trip, returned as one `xproc_batch_t`) and `xproc_queue_ack_many`. Over the Rust
//! client's `RawQueue::put_async`, `get_many`, `get_many_leased` and `ack_many`.

use xproc_client::Error as ClientError;

use crate::error::{Error, Result};
use crate::handle::{self, Opaque};
use crate::panic::ffi;
use crate::queue::xproc_queue_t;
use crate::status::xproc_status_e;
use crate::xproc_value_t;

/// A batch of items taken by `xproc_queue_get_many` or `xproc_queue_get_many_leased`
/// (opaque): one allocation holding every value. Read it with `xproc_batch_len`,
/// `xproc_batch_item` and `xproc_batch_delivery`; free it with `xproc_batch_free`. Pointers it
/// hands out are borrowed from it and valid until it is freed. Read-only, so it may be read
/// from several threads at once.
pub struct xproc_batch_t {
    _private: [u8; 0],
}

/// The values back to back, where each ends, and (leased batches) each delivery and attempt.
pub(crate) struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    deliveries: Vec<(u64, u32)>,
}

// SAFETY: the magic is unique among libxproc's handle types.
unsafe impl Opaque for xproc_batch_t {
    type Body = Batch;
    const MAGIC: u64 = 0x7870_7262_6174_6368;
    const NAME: &'static str = "xproc_batch_t";
}

impl Batch {
    fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
    }

    fn item(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.bytes[start..end])
    }
}

unsafe fn queue<'a>(p: *const xproc_queue_t) -> Result<&'a xproc_client::RawQueue> {
    // SAFETY: forwarded.
    unsafe { handle::body(p, "queue") }
}

/// The batch size asked for: at least 1.
fn max_items(max: usize) -> Result<usize> {
    if max == 0 {
        return Err(Error::InvalidArgument("max must be at least 1".into()));
    }
    Ok(max)
}

/// Hands one MessagePack value (`len` bytes at `data`) to the connection without waiting for
/// the broker: it is sent in a batch with its neighbours, at most a window of batches in
/// flight (docs/C.md, "Streaming"); out of window this call waits for the oldest batch's
/// reply. Each value waits in the broker as long as it takes for room, so a bounded queue
/// never holds more than its `maxsize`; order is kept. The bytes are copied: the caller keeps
/// `data`.
///
/// A value gathered at the end of a burst is sent by the next call on the handle, by
/// `xproc_queue_flush`, or when the handle is freed (`xproc_queue_free` flushes).
///
/// Errors: an earlier `put_async` that the broker refused is reported here, once, with the
/// status of the refusal (`XPROC_NOT_FOUND` for a deleted queue, `XPROC_LIMIT` for the memory
/// budget or a value above `max_frame`, `XPROC_INVALID_VALUE`, `XPROC_DISCONNECTED`) and a
/// message naming the position (0-based, over every `put_async` of the handle) of the first
/// value not put; `data` is then not taken. `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_put_async_raw(
    queue: *const xproc_queue_t,
    data: *const u8,
    len: usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let bytes = unsafe { handle::bytes(data, len, "data")? };
        unsafe { self::queue(queue)? }.put_async(bytes)?;
        Ok(())
    })
}

/// Like `xproc_queue_put_async_raw`, encoding `value` (borrowed: the caller keeps it).
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_put_async(
    queue: *const xproc_queue_t,
    value: *const xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let encoded = unsafe { crate::value::value_ref(value, "value")? }.encode()?;
        unsafe { self::queue(queue)? }.put_async(&encoded)?;
        Ok(())
    })
}

/// Waits until every value handed to `xproc_queue_put_async*` on this handle has been
/// accepted by the broker (put in the queue, or refused). Returns the first refusal not yet
/// reported, as for `xproc_queue_put_async_raw`; `*failed_at` (optional: may be NULL) then
/// receives the position of the first value not put, and `UINT64_MAX` otherwise. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_flush(
    queue: *const xproc_queue_t,
    failed_at: *mut u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let failed_at = unsafe { handle::opt_out(failed_at, u64::MAX) };
        let q = unsafe { self::queue(queue)? };
        match q.flush() {
            Ok(()) => Ok(()),
            Err(e) => {
                if let (ClientError::PutAsync { position, .. }, Some(out)) = (&e, failed_at) {
                    *out = *position;
                }
                Err(e.into())
            }
        }
    })
}

/// Takes up to `max` values (at least 1) in one round trip, oldest first, waiting up to
/// `timeout_ms` for the first (negative: as long as it takes; 0: not at all). It returns what
/// is there without waiting for `max`.
///
/// On success `*out` is a new batch owned by the caller (free with `xproc_batch_free`) with 1
/// to `max` values; on failure NULL. Items in it are gone from the queue: a process that dies
/// holding it loses them (use `xproc_queue_get_many_leased` when it must not).
///
/// Errors: `XPROC_EMPTY` (timeout 0 and empty), `XPROC_TIMEOUT`, `XPROC_INVALID_ARGUMENT`
/// (`max` 0), `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_many(
    queue: *const xproc_queue_t,
    max: usize,
    timeout_ms: i64,
    out: *mut *mut xproc_batch_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let q = unsafe { self::queue(queue)? };
        let max = max_items(max)?;
        let batch = q.get_many_with(max, handle::timeout(timeout_ms), |values| {
            let mut b = Batch {
                bytes: Vec::new(),
                ends: Vec::new(),
                deliveries: Vec::new(),
            };
            for v in values {
                b.push(v);
            }
            Ok(b)
        })?;
        *out = handle::into_handle(batch);
        Ok(())
    })
}

/// Like `xproc_queue_get_many`, each value on its own lease of `lease_ms` (0 or negative: the
/// broker's default, 30 s), as `xproc_queue_get_leased` takes one: read each one's delivery
/// with `xproc_batch_delivery` and settle it with `xproc_queue_ack_many`, `xproc_queue_ack`
/// or `xproc_queue_nack`. Unsettled items go back to the queue when their lease runs out or
/// the connection closes, so a process that dies holding the batch loses nothing.
/// Errors as `xproc_queue_get_many`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_many_leased(
    queue: *const xproc_queue_t,
    max: usize,
    timeout_ms: i64,
    lease_ms: i64,
    out: *mut *mut xproc_batch_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { handle::out(out, std::ptr::null_mut(), "out")? };
        let q = unsafe { self::queue(queue)? };
        let max = max_items(max)?;
        let lease = match u64::try_from(lease_ms) {
            Ok(ms) if ms > 0 => std::time::Duration::from_millis(ms),
            _ => xproc_client::DEFAULT_LEASE,
        };
        let got = q.get_many_leased(max, handle::timeout(timeout_ms), lease)?;
        let mut b = Batch {
            bytes: Vec::new(),
            ends: Vec::with_capacity(got.len()),
            deliveries: Vec::with_capacity(got.len()),
        };
        for d in got {
            b.push(&d.value);
            b.deliveries.push((d.id, d.attempt));
        }
        *out = handle::into_handle(b);
        Ok(())
    })
}

/// Acks `count` deliveries (`ids[0..count]`) in one request. `*acked` (optional: may be
/// NULL) receives how many were acked; the others were not held by this connection (already
/// settled, lease ran out, never handed out here) and changed nothing. Errors:
/// `XPROC_NOT_FOUND` (the queue was deleted), `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`
/// (`ids` NULL with `count` > 0). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_ack_many(
    queue: *const xproc_queue_t,
    ids: *const u64,
    count: usize,
    acked: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked here and by the helpers.
        let acked = unsafe { handle::opt_out(acked, 0) };
        if ids.is_null() && count > 0 {
            return Err(Error::Null("ids"));
        }
        let ids: &[u64] = if count == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(ids, count) }
        };
        let q = unsafe { self::queue(queue)? };
        let unknown = q.ack_many(ids)?;
        if let Some(a) = acked {
            *a = count - unknown.len();
        }
        Ok(())
    })
}

/// How many values `batch` holds (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn xproc_batch_len(batch: *const xproc_batch_t) -> usize {
    crate::panic::ffi_or(0, || {
        // SAFETY: checked by the helper.
        unsafe { handle::body::<xproc_batch_t>(batch, "batch") }.map_or(0, |b| b.ends.len())
    })
}

/// Value `index` of `batch`: `*data`/`*len` point into the batch (borrowed: valid until
/// `xproc_batch_free`, not to be freed). Errors: `XPROC_OUT_OF_RANGE`, `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_batch_item(
    batch: *const xproc_batch_t,
    index: usize,
    data: *mut *const u8,
    len: *mut usize,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let data = unsafe { handle::out(data, std::ptr::null(), "data")? };
        let len = unsafe { handle::out(len, 0, "len")? };
        let b = unsafe { handle::body(batch, "batch")? };
        let v = b.item(index).ok_or_else(|| {
            Error::OutOfRange(format!("index {index} of a batch of {}", b.ends.len()))
        })?;
        *data = v.as_ptr();
        *len = v.len();
        Ok(())
    })
}

/// Value `index` of `batch`, decoded into `*out` (owned by the caller: free with
/// `xproc_value_free`). Errors: `XPROC_OUT_OF_RANGE`, `XPROC_INVALID_VALUE`,
/// `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_batch_value(
    batch: *const xproc_batch_t,
    index: usize,
    out: *mut *mut xproc_value_t,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let out = unsafe { crate::value::ValueOut::new(out, "out")? };
        let b = unsafe { handle::body(batch, "batch")? };
        let v = b.item(index).ok_or_else(|| {
            Error::OutOfRange(format!("index {index} of a batch of {}", b.ends.len()))
        })?;
        out.set_decoded(v)
    })
}

/// The delivery id and attempt (`attempt` optional: may be NULL) of value `index` of a batch
/// from `xproc_queue_get_many_leased`. Errors: `XPROC_OUT_OF_RANGE` (also for a batch from
/// `xproc_queue_get_many`, which has no deliveries), `XPROC_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn xproc_batch_delivery(
    batch: *const xproc_batch_t,
    index: usize,
    delivery: *mut u64,
    attempt: *mut u32,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: the caller's pointers, checked by the helpers.
        let delivery = unsafe { handle::out(delivery, 0, "delivery")? };
        let attempt = unsafe { handle::opt_out(attempt, 0) };
        let b = unsafe { handle::body(batch, "batch")? };
        let &(id, a) = b.deliveries.get(index).ok_or_else(|| {
            Error::OutOfRange(format!(
                "index {index}: this batch has {} deliveries",
                b.deliveries.len()
            ))
        })?;
        *delivery = id;
        if let Some(out) = attempt {
            *out = a;
        }
        Ok(())
    })
}

/// Frees a batch (its values with it). NULL is a no-op. No other thread may be reading it.
#[no_mangle]
pub unsafe extern "C" fn xproc_batch_free(batch: *mut xproc_batch_t) {
    crate::panic::ffi_or((), || {
        // SAFETY: checked by `free`.
        unsafe { handle::free(batch) }
    })
}
