//! More started requests for the event-loop API (`evloop.rs` has the descriptor, the
//! completion queue and the first `*_start` calls): a joinable queue's join, a leased get (and
//! `xproc_queue_unlease`, which gives back a delivery a cancelled one got anyway), a barrier's
//! and a condition's wait, a condition's acquire. Pipes have theirs in `evloop_pipe.rs`.
//!
//! What to do with the completion of a request that was cancelled (`xproc_client_cancel`) but
//! finished at the broker first: a join, a barrier wait, a condition wait took nothing (a
//! condition wait's completion comes once the lock is held again, in every case); a leased
//! get's item is held on a lease — handle it, or give it back with `xproc_queue_unlease`.

use crate::barrier::xproc_barrier_t;
use crate::condition::xproc_condition_t;
use crate::error::Result;
use crate::handle;
use crate::panic::ffi;
use crate::queue::xproc_queue_t;
use crate::status::xproc_status_e;

/// Stores `ticket` in `*out` (checked first, so a bad pointer costs nothing).
unsafe fn started(out: *mut u64, start: impl FnOnce() -> Result<u64>) -> Result<()> {
    // SAFETY: the caller's pointer, checked by the helper.
    let out = unsafe { handle::out(out, 0, "ticket")? };
    *out = start()?;
    Ok(())
}

/// Starts a `xproc_queue_join` of a joinable queue, waiting at the broker up to `timeout_ms`
/// (negative: as long as it takes); `*ticket` identifies its completion, whose status is
/// `XPROC_OK` once every item put was marked done (`XPROC_TIMEOUT` otherwise, also after a
/// cancel; it takes nothing). Errors (now): `XPROC_DISCONNECTED`, `XPROC_NULL_ARGUMENT`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_join_start(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let q = handle::body::<xproc_queue_t>(queue, "queue")?;
            Ok(q.start_join(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a `xproc_queue_get_leased_raw` (lease `lease_ms`; `<= 0`: 30 s), waiting at the
/// broker up to `timeout_ms` (negative: as long as it takes). Its completion has the value
/// (`xproc_completion_value_raw`) and the uint fields `delivery` and `attempt`
/// (`xproc_completion_uint`); settle the delivery with `xproc_queue_ack` / `xproc_queue_nack`.
/// If it was cancelled and still completed with an item, the item is held on a lease: give it
/// back with `xproc_queue_unlease` (it goes back to the head, the attempt not counted) or
/// handle it. Results as `xproc_queue_join_start`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_get_leased_start(
    queue: *const xproc_queue_t,
    timeout_ms: i64,
    lease_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let q = handle::body::<xproc_queue_t>(queue, "queue")?;
            let lease = match u64::try_from(lease_ms) {
                Ok(ms) if ms > 0 => std::time::Duration::from_millis(ms),
                _ => xproc_client::DEFAULT_LEASE,
            };
            Ok(q.start_get_leased(handle::timeout(timeout_ms), lease)?)
        })
    })
}

/// Gives back `delivery`, which the caller never looked at — the item of a
/// `xproc_queue_get_leased_start` it had cancelled, which completed with the item anyway
/// (docs/PROTOCOL.md §6.3 `queue.unlease`): the item goes back to the head of the queue at
/// once and that hand-over does not count toward `max_attempts`. For an item that was looked
/// at, use `xproc_queue_nack`. Blocks for one round trip. Errors: `XPROC_UNKNOWN_DELIVERY`
/// (not held by this client), `XPROC_NOT_FOUND`, `XPROC_DISCONNECTED`,
/// `XPROC_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_queue_unlease(
    queue: *const xproc_queue_t,
    delivery: u64,
) -> xproc_status_e {
    ffi(|| {
        // SAFETY: checked by the helper.
        let q = unsafe { handle::body::<xproc_queue_t>(queue, "queue")? };
        q.unlease(delivery)?;
        Ok(())
    })
}

/// Starts a `xproc_barrier_wait`, waiting at the broker up to `timeout_ms` (negative: as long
/// as it takes); its completion has the uint field `index`, or the status
/// `XPROC_BROKEN_BARRIER`. Cancelling it while it waits breaks the barrier (as its timeout
/// does). Results as `xproc_queue_join_start`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_barrier_wait_start(
    barrier: *const xproc_barrier_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let b = handle::body::<xproc_barrier_t>(barrier, "barrier")?;
            Ok(b.start_wait(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts a `xproc_condition_wait` (the condition's lock must be held by this client: the
/// completion is `XPROC_NOT_OWNER` otherwise), waiting for a notify up to `timeout_ms`
/// (negative: as long as it takes). Its completion has the bool field `notified` (and the
/// uint field `abandoned_by` when set) and comes only once the lock is held again — after a
/// cancel too, which ends the wait for a notify, not the reacquiring. Results as
/// `xproc_queue_join_start`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_wait_start(
    condition: *const xproc_condition_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let c = handle::body::<xproc_condition_t>(condition, "condition")?;
            Ok(c.start_wait(handle::timeout(timeout_ms))?)
        })
    })
}

/// Starts an acquire of the condition's lock; its completion has the bool field `acquired`
/// (and `abandoned_by` when set). A cancelled one that completed with `acquired` true holds
/// the lock: release it (`xproc_condition_release`). Results as `xproc_queue_join_start`.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn xproc_condition_acquire_start(
    condition: *const xproc_condition_t,
    timeout_ms: i64,
    ticket: *mut u64,
) -> xproc_status_e {
    ffi(|| unsafe {
        // SAFETY: the caller's pointers, checked by the helpers.
        started(ticket, || {
            let c = handle::body::<xproc_condition_t>(condition, "condition")?;
            Ok(c.start_acquire(handle::timeout(timeout_ms))?)
        })
    })
}
