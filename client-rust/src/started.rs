//! Started (non-blocking) forms of the remaining waiting calls, beside `events.rs`: a joinable
//! queue's `join`, a leased get, a barrier's and a condition's `wait`. Each sends its request
//! and returns a ticket, completed through the event-loop API ([`Client::process`](crate::Client::process),
//! [`Client::take_completion`](crate::Client::take_completion)); pipes have theirs in `started_pipe.rs`.
//!
//! # Undoing a cancelled request that was answered first
//!
//! [`Client::cancel`](crate::Client::cancel) makes a blocked request complete with its timeout outcome, which takes
//! nothing; if the broker had answered first, the completion carries the real outcome and the
//! caller who gave the request up undoes it:
//!
//! | started | real outcome | undo |
//! |---|---|---|
//! | `queue.join` | done | nothing (it took nothing) |
//! | `queue.get_leased` | `value`, `delivery` | [`RawQueue::unlease`]: the item goes back to the head at once, the hand-over not counted as an attempt (docs/PROTOCOL.md §6.3) |
//! | `barrier.wait` | `index` | nothing: the barrier passed; cancelling one still blocked breaks it (its timeout outcome, §5) |
//! | `condition.wait` | `notified` | nothing: either way the broker reacquired the lock before answering |
//!
//! [`RawQueue::unlease`]: crate::RawQueue::unlease

use std::time::Duration;

use xproc_protocol::RequestFields;

use crate::codec::{millis_ceil, Wait};
use crate::error::Result;

/// `timeout_ms` for a started request: `None` waits as long as it takes.
fn ms(timeout: Option<Duration>) -> Option<u64> {
    Wait::new(timeout).timeout_ms
}

/// A request on the object `name` with op `op`.
fn on<'a>(name: &'a str, op: &'static str, timeout: Option<Duration>) -> RequestFields<'a> {
    RequestFields {
        name: Some(name.into()),
        timeout_ms: ms(timeout),
        ..RequestFields::new(0, op)
    }
}

impl crate::RawQueue {
    /// Starts a `queue.join` (a joinable queue's; see [`Client::start`](crate::Client::start)): it completes with no
    /// fields once every item put was marked done, or with [`Error::Timeout`](crate::Error::Timeout).
    pub fn start_join(&self, timeout: Option<Duration>) -> Result<u64> {
        self.client().start(&on(self.name(), "queue.join", timeout))
    }

    /// Starts a `queue.get_leased` with a lease of `lease` (at least 1 ms); its completion has
    /// `value`, `delivery` and `attempt`. A cancelled one that completes with an item holds
    /// its lease: give it back with [`unlease`](Self::unlease), or handle it.
    pub fn start_get_leased(&self, timeout: Option<Duration>, lease: Duration) -> Result<u64> {
        self.client().start(&RequestFields {
            lease_ms: Some(millis_ceil(lease).max(1)),
            ..on(self.name(), "queue.get_leased", timeout)
        })
    }
}

impl crate::RawQueue {
    /// Gives back delivery `id`, which its caller never saw — the completion of a
    /// [`start_get_leased`](Self::start_get_leased) the caller had cancelled
    /// (docs/PROTOCOL.md §6.3 `queue.unlease`): the item goes back to the head of the queue
    /// at once and the hand-over does not count as an attempt. Not for an item that was looked
    /// at: [`nack`](Self::nack) that. [`Error::UnknownDelivery`](crate::Error::UnknownDelivery)
    /// as for `nack`.
    pub fn unlease(&self, id: u64) -> Result<()> {
        let req = RequestFields {
            name: Some(self.name().into()),
            delivery: Some(id),
            ..RequestFields::new(0, "queue.unlease")
        };
        self.client().exchange(req, None, |_| Ok(()))
    }
}

impl crate::Barrier {
    /// Starts a `barrier.wait`; its completion has `index`, or is
    /// [`Error::BrokenBarrier`](crate::Error::BrokenBarrier). Cancelling it while it waits
    /// breaks the barrier, as its timeout does.
    pub fn start_wait(&self, timeout: Option<Duration>) -> Result<u64> {
        self.client()
            .start(&on(self.name(), "barrier.wait", timeout))
    }
}

impl crate::Condition {
    /// Starts a `condition.wait` (the lock must be held by this connection); its completion
    /// says `notified` (and `abandoned_by`), and comes only once the broker has reacquired the
    /// lock — also after a cancel, which ends the wait for a notify, not the reacquiring.
    pub fn start_wait(&self, timeout: Option<Duration>) -> Result<u64> {
        self.client()
            .start(&on(self.name(), "condition.wait", timeout))
    }

    /// Starts a `condition.acquire`; its completion says `acquired` (and `abandoned_by`).
    pub fn start_acquire(&self, timeout: Option<Duration>) -> Result<u64> {
        self.client()
            .start(&on(self.name(), "condition.acquire", timeout))
    }
}
