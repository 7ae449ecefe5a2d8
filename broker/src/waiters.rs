//! Blocking is data: one [`Waiter`] record per blocked request, and a deadline-ordered table.
//!
//! The objects keep their own FIFOs of [`WaiterId`]s (who waits, in arrival order); this table
//! keeps what the broker needs to answer a waiter — which connection, which request id, which
//! op on which object — and when its timeout passes. The event loop sleeps until
//! [`Waiters::next_deadline`]; when it wakes, [`Waiters::pop_expired`] hands out the waiters
//! whose time is up, earliest first.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Instant;

pub use crate::objects::WaiterId;
use crate::state::ConnKey;

/// The blocking ops, for messages and the `waits` strings of `clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOp {
    /// `queue.put`
    QueuePut,
    /// `queue.get`
    QueueGet,
    /// `queue.join`
    QueueJoin,
    /// `pipe.send`
    PipeSend,
    /// `pipe.recv`
    PipeRecv,
    /// `pipe.poll`
    PipePoll,
    /// `lock.acquire`
    LockAcquire,
    /// `condition.acquire`
    ConditionAcquire,
    /// `condition.wait`
    ConditionWait,
    /// `semaphore.acquire`
    SemaphoreAcquire,
    /// `event.wait`
    EventWait,
    /// `barrier.wait`
    BarrierWait,
    /// `queue.get_leased`, still waiting for an item.
    QueueGetLeased,
    /// `queue.put_many`, with values still waiting for room.
    QueuePutMany,
    /// `queue.get_many`, waiting for a first item.
    QueueGetMany,
    /// `queue.get_many_leased`, waiting for a first item.
    QueueGetManyLeased,
    /// `queue.get_any`: one record over several queues (`multi.rs`).
    QueueGetAny,
    /// `wait`: readiness of several objects (`multi.rs`).
    Wait,
    /// Not a blocked request: a delivery in flight, held by `conn` until it acks, nacks or
    /// disconnects, or the deadline (the lease) passes. Its id is the delivery id.
    Lease,
    /// Not a blocked request either: a nacked delivery waiting out its delay, held by nobody.
    Delay,
}

impl WaitOp {
    /// The op's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitOp::QueuePut => "queue.put",
            WaitOp::QueueGet => "queue.get",
            WaitOp::QueueJoin => "queue.join",
            WaitOp::PipeSend => "pipe.send",
            WaitOp::PipeRecv => "pipe.recv",
            WaitOp::PipePoll => "pipe.poll",
            WaitOp::LockAcquire => "lock.acquire",
            WaitOp::ConditionAcquire => "condition.acquire",
            WaitOp::ConditionWait => "condition.wait",
            WaitOp::SemaphoreAcquire => "semaphore.acquire",
            WaitOp::EventWait => "event.wait",
            WaitOp::BarrierWait => "barrier.wait",
            WaitOp::QueueGetLeased => "queue.get_leased",
            WaitOp::QueuePutMany => "queue.put_many",
            WaitOp::QueueGetMany => "queue.get_many",
            WaitOp::QueueGetManyLeased => "queue.get_many_leased",
            WaitOp::QueueGetAny => "queue.get_any",
            WaitOp::Wait => "wait",
            WaitOp::Lease => "lease",
            WaitOp::Delay => "nack delay",
        }
    }

    /// Whether the record is a delivery (a lease or a nack delay) rather than a blocked
    /// request: it is answered by nobody, and `ShuttingDown` does not apply to it.
    pub fn is_delivery(self) -> bool {
        matches!(self, WaitOp::Lease | WaitOp::Delay)
    }
}

/// One blocked request.
#[derive(Debug, Clone)]
pub struct Waiter {
    /// The connection to answer.
    pub conn: ConnKey,
    /// The request id to answer with.
    pub req: u64,
    /// The blocking op, for messages and `clients`.
    pub op: WaitOp,
    /// The object it waits on.
    pub object: Rc<str>,
    /// When its timeout passes; `None` waits as long as it takes.
    pub deadline: Option<Instant>,
    /// The timeout it asked for, for messages (for a lease: the lease).
    pub timeout_ms: u64,
    /// When the request blocked, or the lease or delay began (`stat` shows ages from it).
    pub since: Instant,
}

/// Every blocked request, by id and by deadline.
#[derive(Debug)]
pub struct Waiters {
    next: u64,
    table: HashMap<WaiterId, Waiter>,
    deadlines: BTreeSet<(Instant, WaiterId)>,
}

impl Default for Waiters {
    fn default() -> Self {
        Self::new()
    }
}

impl Waiters {
    /// An empty table. Ids start at 1: they double as delivery ids on the wire, where C
    /// callers may use 0 for "none".
    pub fn new() -> Self {
        Waiters {
            next: 1,
            table: HashMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// The id the next blocked request gets. Handlers pass it to an object before knowing
    /// whether the request blocks, and [`insert`](Self::insert) it only if it did.
    pub fn next_id(&self) -> WaiterId {
        WaiterId(self.next)
    }

    /// Records a blocked request under [`next_id`](Self::next_id).
    pub fn insert(&mut self, waiter: Waiter) -> WaiterId {
        let id = WaiterId(self.next);
        self.next += 1;
        if let Some(d) = waiter.deadline {
            self.deadlines.insert((d, id));
        }
        self.table.insert(id, waiter);
        id
    }

    /// Removes a waiter (it was answered, or its connection went away).
    pub fn remove(&mut self, id: WaiterId) -> Option<Waiter> {
        let w = self.table.remove(&id)?;
        if let Some(d) = w.deadline {
            self.deadlines.remove(&(d, id));
        }
        Some(w)
    }

    /// A waiter's record.
    pub fn get(&self, id: WaiterId) -> Option<&Waiter> {
        self.table.get(&id)
    }

    /// Turns a record into a delivery record (`op` [`WaitOp::Lease`] or [`WaitOp::Delay`]),
    /// held by `conn`, starting now and running out at `deadline` (`None`: never).
    pub fn convert(
        &mut self,
        id: WaiterId,
        op: WaitOp,
        conn: ConnKey,
        deadline: Option<Instant>,
        timeout_ms: u64,
    ) {
        let Some(w) = self.table.get_mut(&id) else {
            return;
        };
        if let Some(d) = w.deadline {
            self.deadlines.remove(&(d, id));
        }
        w.op = op;
        w.conn = conn;
        w.deadline = deadline;
        w.timeout_ms = timeout_ms;
        w.since = Instant::now();
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
    }

    /// Takes waiter `id` off the deadline table, as [`pop_expired`](Self::pop_expired) does
    /// (a cancelled request is answered as if its time were up).
    pub fn clear_deadline(&mut self, id: WaiterId) {
        if let Some(w) = self.table.get_mut(&id) {
            if let Some(d) = w.deadline.take() {
                self.deadlines.remove(&(d, id));
            }
        }
    }

    /// The earliest deadline, for the poll timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// The next waiter whose deadline is at or before `now`. Its deadline is cleared (the
    /// record stays: the object decides whether the timeout answers it or it waits on, as a
    /// `condition.wait` reacquiring its lock does).
    pub fn pop_expired(&mut self, now: Instant) -> Option<WaiterId> {
        let &(d, id) = self.deadlines.first()?;
        if d > now {
            return None;
        }
        self.deadlines.pop_first();
        if let Some(w) = self.table.get_mut(&id) {
            w.deadline = None;
        }
        Some(id)
    }

    /// Blocked requests.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no request is blocked.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Removes and returns every waiter (shutdown).
    pub fn drain(&mut self) -> impl Iterator<Item = (WaiterId, Waiter)> + '_ {
        self.deadlines.clear();
        self.table.drain()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn waiter(deadline: Option<Instant>) -> Waiter {
        Waiter {
            conn: ConnKey { slot: 0, id: 1 },
            req: 1,
            op: WaitOp::QueueGet,
            object: "q".into(),
            deadline,
            timeout_ms: 0,
            since: Instant::now(),
        }
    }

    #[test]
    fn deadlines_expire_in_order() {
        let now = Instant::now();
        let mut w = Waiters::new();
        let late = w.insert(waiter(Some(now + Duration::from_secs(2))));
        let forever = w.insert(waiter(None));
        let early = w.insert(waiter(Some(now + Duration::from_secs(1))));
        assert!(early > forever && forever > late);
        assert_eq!(w.next_deadline(), Some(now + Duration::from_secs(1)));
        assert_eq!(w.pop_expired(now), None);
        let later = now + Duration::from_secs(5);
        assert_eq!(w.pop_expired(later), Some(early));
        assert_eq!(w.pop_expired(later), Some(late));
        assert_eq!(w.pop_expired(later), None);
        assert_eq!(w.len(), 3);
        assert!(w.remove(forever).is_some());
        assert!(w.remove(forever).is_none());
    }
}
