//! Queues (`queue`, `joinable_queue`): a FIFO of values with an optional bound, blocked getters,
//! blocked putters (each holding the value it wants to put), for joinable queues the
//! unfinished-task count that `join` waits on, and the items **in flight**: handed out by
//! `queue.get_leased` and not yet acked.
//!
//! # Leases
//!
//! A leased item leaves the ready FIFO for the in-flight table, keyed by its delivery id (the
//! [`WaiterId`] the broker recorded for the lease, so ids are unique for the broker's life). It
//! stays charged against the memory budget. It leaves the table by:
//! - [`ack`](Queue::ack): gone for good (a joinable queue counts it done);
//! - [`nack`](Queue::nack) without a delay, the lease running out ([`timeout`](Queue::timeout))
//!   or its holder disconnecting ([`cancel`](Queue::cancel)): back to the **head** of the
//!   queue at once, or straight to the first waiting getter;
//! - a nack with a delay: it waits in the table, marked delayed, until the broker's timer
//!   returns it the same way.
//!
//! Each item counts its leased deliveries. One that comes back after `max_attempts` of them
//! (when that is not 0) is not requeued but staged for the dead-letter queue: the broker takes
//! it with [`take_dead`](Queue::take_dead) and appends it to `NAME.dead`, since a machine
//! cannot reach another object. The machine keeps no clock: lease deadlines live in the
//! broker's deadline table with its other timeouts.
//!
//! # Storage
//!
//! Ready items that were never leased live in an [`Arena`]: small values back to back in
//! chunks, each larger one (above [`INLINE_MAX`](super::arena::INLINE_MAX)) in an allocation
//! of its own, in one order — so a value stored out of line (a memfd, issue 11) takes its
//! place among the others. Items that come back from flight carry an attempt count and go
//! ahead of every other ready item, so they wait in a small list of their own, `returned`,
//! which is served first.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::arena::Arena;
use super::claim::Claim;
use super::{item_charge, WaiterId, Wake, Wakes};
use crate::stored::Stored;
use xproc_protocol::ErrorCode;

/// One queued value and how many leased deliveries it has had.
#[derive(Debug, PartialEq, Eq)]
pub struct Item {
    /// The value's MessagePack bytes.
    pub value: Stored,
    /// Leased deliveries so far (plain gets do not count).
    pub attempts: u32,
}

/// A blocked get: plain, leased with the lease its item will get, or one registration of a
/// `queue.get_any` over several queues (see [`Claim`]).
#[derive(Debug, Clone)]
enum Getter {
    Plain,
    Leased { lease_ms: u64 },
    Any { claim: Claim, index: u32 },
}

/// A blocked put: the values it still has to put, in order. A `queue.put` holds one; a
/// `queue.put_many` holds those that did not fit yet (`many`), and counts those that did.
#[derive(Debug)]
struct Putter {
    values: VecDeque<Stored>,
    /// Values of this request already in the queue.
    put: u64,
    /// A `queue.put_many`: a failure reports `put` ([`Wake::PartlyPut`]).
    many: bool,
}

/// An item handed out by `get_leased` and not acked yet.
#[derive(Debug)]
struct InFlight {
    value: Stored,
    /// Which leased delivery this is (1-based).
    attempt: u32,
    /// Nacked with a delay: nobody holds it; it waits to go back.
    delayed: bool,
}

/// Why an item came back from flight, for the counters `stat` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// `queue.nack` (at once, or when its delay ran out).
    Nacked,
    /// Its lease ran out.
    Expired,
    /// Its holder disconnected.
    Abandoned,
}

/// Lease counters since the queue was created, for `stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseStats {
    /// Deliveries acked.
    pub acked: u64,
    /// Deliveries nacked.
    pub nacked: u64,
    /// Leases that ran out.
    pub expired: u64,
    /// Leases whose holder disconnected.
    pub abandoned: u64,
    /// Items that went back to the queue (or to a waiting getter) after any of the above.
    pub requeued: u64,
    /// Items moved to the dead-letter queue.
    pub dead_lettered: u64,
}

/// One queue's state.
#[derive(Debug)]
pub struct Queue {
    /// Items back from flight (nacked, expired, abandoned, or refused by the dead-letter
    /// queue), oldest first, each with its attempt count: served before `ready`.
    returned: VecDeque<Item>,
    /// Every other ready item (never leased: no attempts to keep), in order.
    ready: Arena,
    /// Most items held; 0 means unbounded (the broker's memory budget still applies).
    maxsize: u64,
    /// `joinable_queue`: counts unfinished tasks for `task_done` / `join`.
    joinable: bool,
    /// Leased deliveries of one item before it is dead-lettered; 0 = never.
    max_attempts: u64,
    /// Items put and not yet marked done (always 0 on a plain queue).
    unfinished: u64,
    getters: BTreeMap<WaiterId, Getter>,
    /// Blocked puts, with the values each will put once there is room.
    putters: BTreeMap<WaiterId, Putter>,
    joiners: BTreeSet<WaiterId>,
    /// Leased items by delivery id.
    in_flight: BTreeMap<WaiterId, InFlight>,
    /// Items past `max_attempts`, waiting for the broker to move them to `NAME.dead`. Not
    /// charged here any more (see [`take_dead`](Queue::take_dead)).
    dead: Vec<Item>,
    stats: LeaseStats,
    /// Bytes charged for values held (each plus [`ITEM_OVERHEAD`](super::ITEM_OVERHEAD)):
    /// ready items, in-flight items and the values of blocked puts.
    bytes: usize,
}

/// What `put` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// The value is in the queue (or already with a getter).
    Done,
    /// The queue is full and the caller would not wait.
    Full,
    /// The queue is full; the put waits under the given waiter id.
    Blocked,
}

/// What `put_many` did.
#[derive(Debug, PartialEq, Eq)]
pub enum PutMany {
    /// Every value is in the queue (or with getters).
    Done,
    /// The queue filled up and the caller would not wait: the first `put` values are in.
    Full {
        /// Values put.
        put: u64,
    },
    /// The queue filled up; the rest wait under the given waiter id, in order.
    Blocked,
}

/// What `get` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Get {
    /// The oldest item.
    Value(Stored),
    /// Empty and the caller would not wait.
    Empty,
    /// Empty; the get waits under the given waiter id.
    Blocked,
}

/// What `get_leased` did.
#[derive(Debug, PartialEq, Eq)]
pub enum GetLeased {
    /// The oldest item is now in flight under the id passed in; this is its `attempt`-th
    /// leased delivery. Its bytes: [`in_flight_value`](Queue::in_flight_value).
    Leased {
        /// 1-based.
        attempt: u32,
    },
    /// Empty and the caller would not wait.
    Empty,
    /// Empty; the get waits under the id passed in.
    Blocked,
}

/// What `join` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Join {
    /// Every task is done.
    Done,
    /// Tasks are unfinished and the caller would not wait.
    WouldBlock,
    /// Tasks are unfinished; waits under the given waiter id.
    Blocked,
}

/// `task_done` was called more times than items were put.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyTaskDone;

/// An ack or nack for a delivery that is not in flight here (or is waiting out a nack delay).
#[derive(Debug, PartialEq, Eq)]
pub struct NotInFlight;

impl Queue {
    /// An empty queue. `maxsize` 0 means unbounded; `max_attempts` 0 never dead-letters.
    pub fn new(maxsize: u64, joinable: bool, max_attempts: u64) -> Self {
        Queue {
            returned: VecDeque::new(),
            ready: Arena::default(),
            maxsize,
            joinable,
            max_attempts,
            unfinished: 0,
            getters: BTreeMap::new(),
            putters: BTreeMap::new(),
            joiners: BTreeSet::new(),
            in_flight: BTreeMap::new(),
            dead: Vec::new(),
            stats: LeaseStats::default(),
            bytes: 0,
        }
    }

    /// Ready items (not counting those in flight).
    pub fn len(&self) -> usize {
        self.returned.len() + self.ready.len()
    }
    /// Whether no item is ready.
    pub fn is_empty(&self) -> bool {
        self.returned.is_empty() && self.ready.is_empty()
    }
    /// Most items held; 0 = unbounded.
    pub fn maxsize(&self) -> u64 {
        self.maxsize
    }
    /// Leased deliveries before dead-lettering; 0 = never.
    pub fn max_attempts(&self) -> u64 {
        self.max_attempts
    }
    /// Items put and not yet marked done (joinable queues).
    pub fn unfinished(&self) -> u64 {
        self.unfinished
    }
    /// Bytes charged for values held: ready, in flight, and blocked puts (each value plus
    /// [`ITEM_OVERHEAD`](super::ITEM_OVERHEAD)).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Blocked gets (plain and leased).
    pub fn getters(&self) -> usize {
        self.getters.len()
    }

    /// The getter the next put hands its value to, when it is a plain `queue.get` (the ring
    /// handoff, docs/PROTOCOL.md §4.2, copies a value straight into its down ring).
    pub fn next_plain_getter(&self) -> Option<WaiterId> {
        match self.getters.first_key_value() {
            Some((&w, Getter::Plain)) => Some(w),
            _ => None,
        }
    }
    /// Blocked puts.
    pub fn putters(&self) -> usize {
        self.putters.len()
    }
    /// Blocked joins.
    pub fn joiners(&self) -> usize {
        self.joiners.len()
    }
    /// Lease counters.
    pub fn stats(&self) -> LeaseStats {
        self.stats
    }

    /// Deliveries in flight (held, not delayed), oldest first: (delivery id, attempt).
    pub fn in_flight(&self) -> impl Iterator<Item = (WaiterId, u32)> + '_ {
        self.in_flight
            .iter()
            .filter(|(_, f)| !f.delayed)
            .map(|(id, f)| (*id, f.attempt))
    }

    /// Items nacked with a delay, waiting to go back.
    pub fn delayed(&self) -> usize {
        self.in_flight.values().filter(|f| f.delayed).count()
    }

    /// Every delivery id in the table, held or delayed (for `delete`).
    pub fn leases(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.in_flight.keys().copied());
    }

    /// The value of a delivery in flight.
    pub fn in_flight_value(&self, delivery: WaiterId) -> Option<&[u8]> {
        self.in_flight.get(&delivery).map(|f| &*f.value)
    }

    fn is_full(&self) -> bool {
        self.maxsize != 0 && self.len() as u64 >= self.maxsize
    }

    fn count_task(&mut self) {
        if self.joinable {
            self.unfinished += 1;
        }
    }

    /// One task done (an ack, a dead-lettered item); wakes every `join` when none is left.
    fn done(&mut self, wakes: &mut Wakes) {
        if !self.joinable || self.unfinished == 0 {
            return;
        }
        self.unfinished -= 1;
        if self.unfinished == 0 {
            wakes.extend(
                std::mem::take(&mut self.joiners)
                    .into_iter()
                    .map(|j| (j, Wake::Done)),
            );
        }
    }

    /// Hands `item` to the first waiting getter: a plain one takes the value; a leased one
    /// gets it in flight under its own id (the broker turns its waiter into the lease).
    /// Returns the item back if nobody waits. Getters wait only on an empty queue, so handing
    /// over keeps FIFO order.
    fn hand_over(&mut self, item: Item, wakes: &mut Wakes) -> Option<Item> {
        let (getter, kind) = loop {
            let Some((getter, kind)) = self.getters.pop_first() else {
                return Some(item);
            };
            // A `queue.get_any` another of its queues served already: skip it.
            match &kind {
                Getter::Any { claim, index } if !claim.take(*index) => continue,
                _ => break (getter, kind),
            }
        };
        match kind {
            Getter::Plain | Getter::Any { .. } => wakes.push((getter, Wake::Value(item.value))),
            Getter::Leased { lease_ms } => {
                let attempt = item.attempts.saturating_add(1);
                self.bytes += item_charge(item.value.len());
                self.in_flight.insert(
                    getter,
                    InFlight {
                        value: item.value,
                        attempt,
                        delayed: false,
                    },
                );
                wakes.push((getter, Wake::Leased { attempt, lease_ms }));
            }
        }
        None
    }

    /// Puts `value`. A waiting getter takes it at once; otherwise it is queued if there is room,
    /// else the put blocks under `wait` (or fails with `Full` when `wait` is `None`).
    pub fn put(&mut self, value: Stored, wait: Option<WaiterId>, wakes: &mut Wakes) -> Put {
        let item = Item { value, attempts: 0 };
        let Some(item) = self.hand_over(item, wakes) else {
            self.count_task();
            return Put::Done;
        };
        if !self.is_full() {
            self.bytes += item_charge(item.value.len());
            self.ready.push_back(item.value);
            self.count_task();
            return Put::Done;
        }
        match wait {
            Some(w) => {
                self.bytes += item_charge(item.value.len());
                self.putters.insert(
                    w,
                    Putter {
                        values: VecDeque::from([item.value]),
                        put: 0,
                        many: false,
                    },
                );
                Put::Blocked
            }
            None => Put::Full,
        }
    }

    /// Puts `values` in order, as [`put`](Self::put) would one by one, except that once the
    /// queue is full the rest wait together under `wait` (each going in as room frees, ahead
    /// of later puts), or, when `wait` is `None`, are dropped with [`PutMany::Full`].
    pub fn put_many(
        &mut self,
        values: Vec<Stored>,
        wait: Option<WaiterId>,
        wakes: &mut Wakes,
    ) -> PutMany {
        let mut values = values.into_iter();
        let mut put = 0;
        while let Some(value) = values.next() {
            let Some(item) = self.hand_over(Item { value, attempts: 0 }, wakes) else {
                self.count_task();
                put += 1;
                continue;
            };
            if !self.is_full() {
                self.bytes += item_charge(item.value.len());
                self.ready.push_back(item.value);
                self.count_task();
                put += 1;
                continue;
            }
            let Some(w) = wait else {
                return PutMany::Full { put };
            };
            let rest: VecDeque<Stored> = std::iter::once(item.value).chain(values).collect();
            self.bytes += rest.iter().map(|v| item_charge(v.len())).sum::<usize>();
            self.putters.insert(
                w,
                Putter {
                    values: rest,
                    put,
                    many: true,
                },
            );
            return PutMany::Blocked;
        }
        PutMany::Done
    }

    /// Takes the oldest ready item out of the FIFO, making room for the oldest blocked put.
    fn pop(&mut self, wakes: &mut Wakes) -> Option<Item> {
        let item = match self.returned.pop_front() {
            Some(item) => item,
            None => Item {
                value: self.ready.pop_front()?,
                attempts: 0,
            },
        };
        self.bytes -= item_charge(item.value.len());
        if let Some(mut first) = self.putters.first_entry() {
            // Its bytes were counted when it blocked.
            let p = first.get_mut();
            if let Some(v) = p.values.pop_front() {
                self.ready.push_back(v);
                p.put += 1;
            }
            if p.values.is_empty() {
                let (putter, _) = first.remove_entry();
                wakes.push((putter, Wake::Done));
            }
            self.count_task();
        }
        Some(item)
    }

    /// Takes the oldest item; makes room for the oldest blocked put, if any.
    pub fn get(&mut self, wait: Option<WaiterId>, wakes: &mut Wakes) -> Get {
        if let Some(item) = self.pop(wakes) {
            return Get::Value(item.value);
        }
        match wait {
            Some(w) => {
                self.getters.insert(w, Getter::Plain);
                Get::Blocked
            }
            None => Get::Empty,
        }
    }

    /// Registers `w`, a `queue.get_any` over several queues, as a getter here; this queue is
    /// `names[index]` of its request. The caller found the queue empty (so FIFO holds).
    pub fn wait_any(&mut self, w: WaiterId, claim: Claim, index: u32) {
        self.getters.insert(w, Getter::Any { claim, index });
    }

    /// Leases the oldest item under delivery id `id`, or blocks under `id` (when `wait`) until
    /// one comes; the broker records `id` as the lease (or the waiter) accordingly.
    pub fn get_leased(
        &mut self,
        id: WaiterId,
        lease_ms: u64,
        wait: bool,
        wakes: &mut Wakes,
    ) -> GetLeased {
        if let Some(item) = self.pop(wakes) {
            let attempt = item.attempts.saturating_add(1);
            self.bytes += item_charge(item.value.len());
            self.in_flight.insert(
                id,
                InFlight {
                    value: item.value,
                    attempt,
                    delayed: false,
                },
            );
            return GetLeased::Leased { attempt };
        }
        if wait {
            self.getters.insert(id, Getter::Leased { lease_ms });
            GetLeased::Blocked
        } else {
            GetLeased::Empty
        }
    }

    /// Acks a delivery: the item is gone for good (and done, on a joinable queue).
    pub fn ack(&mut self, delivery: WaiterId, wakes: &mut Wakes) -> Result<(), NotInFlight> {
        match self.in_flight.get(&delivery) {
            Some(f) if !f.delayed => {}
            _ => return Err(NotInFlight),
        }
        let f = self.in_flight.remove(&delivery).ok_or(NotInFlight)?;
        self.bytes -= item_charge(f.value.len());
        self.stats.acked += 1;
        self.done(wakes);
        Ok(())
    }

    /// Nacks a delivery: back to the head at once, or (`delay`) held until the broker's timer
    /// calls [`timeout`](Self::timeout) for it. An item on its last attempt is staged for the
    /// dead-letter queue at once either way. Returns whether the item now waits out a delay.
    pub fn nack(
        &mut self,
        delivery: WaiterId,
        delay: bool,
        wakes: &mut Wakes,
    ) -> Result<bool, NotInFlight> {
        let f = match self.in_flight.get_mut(&delivery) {
            Some(f) if !f.delayed => f,
            _ => return Err(NotInFlight),
        };
        self.stats.nacked += 1;
        let last = self.max_attempts != 0 && u64::from(f.attempt) >= self.max_attempts;
        if delay && !last {
            f.delayed = true;
            return Ok(true);
        }
        self.come_back(delivery, None, wakes);
        Ok(false)
    }

    /// Gives back delivery `delivery`, which its consumer never saw (`queue.unlease`): the item
    /// goes back to the head (or to the first waiting getter) with its attempt count as
    /// before this hand-over, so it never reaches the dead letters this way.
    pub fn unlease(&mut self, delivery: WaiterId, wakes: &mut Wakes) -> Result<(), NotInFlight> {
        if self.in_flight.get(&delivery).is_none_or(|f| f.delayed) {
            return Err(NotInFlight);
        }
        let Some(f) = self.in_flight.remove(&delivery) else {
            return Err(NotInFlight);
        };
        self.bytes -= item_charge(f.value.len());
        let item = Item {
            value: f.value,
            attempts: f.attempt.saturating_sub(1),
        };
        self.requeue(item, wakes);
        Ok(())
    }

    /// An item leaves flight without an ack: staged for the dead-letter queue if it has had
    /// `max_attempts` deliveries, otherwise back to the head (or the first waiting getter).
    fn come_back(&mut self, delivery: WaiterId, why: Option<Return>, wakes: &mut Wakes) {
        let Some(f) = self.in_flight.remove(&delivery) else {
            return;
        };
        match why {
            Some(Return::Expired) => self.stats.expired += 1,
            Some(Return::Abandoned) => self.stats.abandoned += 1,
            Some(Return::Nacked) | None => {}
        }
        self.bytes -= item_charge(f.value.len());
        let item = Item {
            value: f.value,
            attempts: f.attempt,
        };
        if self.max_attempts != 0 && u64::from(item.attempts) >= self.max_attempts {
            self.dead.push(item);
        } else {
            self.requeue(item, wakes);
        }
    }

    /// Puts an item that has been out back at the head of the queue, or hands it to the first
    /// waiting getter. It goes back even past `maxsize`: it was admitted when it was put.
    pub fn requeue(&mut self, item: Item, wakes: &mut Wakes) {
        self.stats.requeued += 1;
        if let Some(item) = self.hand_over(item, wakes) {
            self.bytes += item_charge(item.value.len());
            self.returned.push_front(item);
        }
    }

    /// Takes the items staged for the dead-letter queue. They are no longer charged here: the
    /// broker either appends them to `NAME.dead` (then calls
    /// [`dead_lettered`](Self::dead_lettered)) or, when it cannot, [`requeue`](Self::requeue)s
    /// them.
    pub fn take_dead(&mut self) -> Vec<Item> {
        std::mem::take(&mut self.dead)
    }

    /// Whether items wait to be moved to the dead-letter queue.
    pub fn has_dead(&self) -> bool {
        !self.dead.is_empty()
    }

    /// One staged item reached the dead-letter queue: it counts as done here.
    pub fn dead_lettered(&mut self, wakes: &mut Wakes) {
        self.stats.dead_lettered += 1;
        self.done(wakes);
    }

    /// Marks one task done; wakes every `join` when none is left.
    pub fn task_done(&mut self, wakes: &mut Wakes) -> Result<(), TooManyTaskDone> {
        if self.unfinished == 0 {
            return Err(TooManyTaskDone);
        }
        self.done(wakes);
        Ok(())
    }

    /// Waits until every task is done.
    pub fn join(&mut self, wait: Option<WaiterId>) -> Join {
        if self.unfinished == 0 {
            return Join::Done;
        }
        match wait {
            Some(w) => {
                self.joiners.insert(w);
                Join::Blocked
            }
            None => Join::WouldBlock,
        }
    }

    /// Forgets a blocked request (its client went away or the broker gave up on it); a blocked
    /// put's value is dropped. For a delivery in flight, its holder went away: the item comes
    /// back at once. Returns whether `w` was known here.
    pub fn cancel(&mut self, w: WaiterId, wakes: &mut Wakes) -> bool {
        if let Some(p) = self.putters.remove(&w) {
            self.bytes -= p.values.iter().map(|v| item_charge(v.len())).sum::<usize>();
            return true;
        }
        if self.getters.remove(&w).is_some() || self.joiners.remove(&w) {
            return true;
        }
        if self.in_flight.contains_key(&w) {
            self.come_back(w, Some(Return::Abandoned), wakes);
            return true;
        }
        false
    }

    /// A deadline passed. A blocked request fails with `Timeout`. A lease ran out, or a nack's
    /// delay did: the item comes back, and the record of the delivery is dropped
    /// ([`Wake::Forget`]).
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        if let Some(f) = self.in_flight.get(&w) {
            let why = if f.delayed {
                Return::Nacked
            } else {
                Return::Expired
            };
            self.come_back(w, Some(why), wakes);
            wakes.push((w, Wake::Forget));
            return;
        }
        if let Some(p) = self.putters.get(&w).filter(|p| p.many) {
            let put = p.put;
            self.cancel(w, wakes);
            wakes.push((
                w,
                Wake::PartlyPut {
                    code: ErrorCode::Timeout,
                    put,
                },
            ));
            return;
        }
        if self.cancel(w, wakes) {
            wakes.push((w, Wake::Fail(ErrorCode::Timeout)));
        }
    }

    /// Every blocked request, for `delete` (deliveries in flight are [`leases`](Self::leases)).
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.getters.keys().copied());
        out.extend(self.putters.keys().copied());
        out.extend(self.joiners.iter().copied());
    }

    /// How many requests are blocked here.
    pub fn waiter_count(&self) -> usize {
        self.getters.len() + self.putters.len() + self.joiners.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(b: u8) -> Stored {
        Stored::from(&[b][..])
    }

    #[test]
    fn fifo_and_bytes() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        for i in 0..3 {
            assert_eq!(q.put(v(i), None, &mut wakes), Put::Done);
        }
        assert_eq!((q.len(), q.bytes()), (3, 3 * item_charge(1)));
        for i in 0..3 {
            assert_eq!(q.get(None, &mut wakes), Get::Value(v(i)));
        }
        assert_eq!(q.get(None, &mut wakes), Get::Empty);
        assert_eq!(q.bytes(), 0);
        assert!(wakes.is_empty());
    }

    #[test]
    fn blocked_getters_are_served_in_arrival_order() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        assert_eq!(q.get(Some(WaiterId(1)), &mut wakes), Get::Blocked);
        assert_eq!(q.get(Some(WaiterId(2)), &mut wakes), Get::Blocked);
        q.put(v(7), None, &mut wakes);
        q.put(v(8), None, &mut wakes);
        assert_eq!(
            wakes,
            vec![
                (WaiterId(1), Wake::Value(v(7))),
                (WaiterId(2), Wake::Value(v(8)))
            ]
        );
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn full_queue_blocks_put_until_a_get() {
        let mut q = Queue::new(1, false, 0);
        let mut wakes = Wakes::new();
        assert_eq!(q.put(v(1), None, &mut wakes), Put::Done);
        assert_eq!(q.put(v(2), None, &mut wakes), Put::Full);
        assert_eq!(q.put(v(2), Some(WaiterId(5)), &mut wakes), Put::Blocked);
        assert_eq!(q.bytes(), 2 * item_charge(1));
        assert_eq!(q.get(None, &mut wakes), Get::Value(v(1)));
        assert_eq!(wakes, vec![(WaiterId(5), Wake::Done)]);
        assert_eq!(q.get(None, &mut wakes), Get::Value(v(2)));
    }

    #[test]
    fn cancelled_getter_takes_nothing() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        q.get(Some(WaiterId(1)), &mut wakes);
        assert!(q.cancel(WaiterId(1), &mut wakes));
        q.put(v(3), None, &mut wakes);
        assert!(wakes.is_empty());
        assert_eq!(q.len(), 1);
        q.timeout(WaiterId(1), &mut wakes);
        assert!(wakes.is_empty());
    }

    #[test]
    fn join_waits_for_task_done() {
        let mut q = Queue::new(0, true, 0);
        let mut wakes = Wakes::new();
        assert_eq!(q.join(None), Join::Done);
        q.put(v(1), None, &mut wakes);
        q.put(v(2), None, &mut wakes);
        assert_eq!(q.join(None), Join::WouldBlock);
        assert_eq!(q.join(Some(WaiterId(9))), Join::Blocked);
        q.get(None, &mut wakes);
        q.task_done(&mut wakes).unwrap();
        assert!(wakes.is_empty());
        q.task_done(&mut wakes).unwrap();
        assert_eq!(wakes, vec![(WaiterId(9), Wake::Done)]);
        assert_eq!(q.task_done(&mut wakes), Err(TooManyTaskDone));
    }

    #[test]
    fn plain_queue_counts_no_tasks() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        q.put(v(1), None, &mut wakes);
        assert_eq!(q.unfinished(), 0);
    }

    #[test]
    fn a_lease_keeps_the_item_charged_until_acked() {
        let mut q = Queue::new(0, true, 0);
        let mut wakes = Wakes::new();
        q.put(v(1), None, &mut wakes);
        let d = WaiterId(10);
        assert_eq!(
            q.get_leased(d, 1000, false, &mut wakes),
            GetLeased::Leased { attempt: 1 }
        );
        assert_eq!((q.len(), q.bytes(), q.unfinished()), (0, item_charge(1), 1));
        assert_eq!(q.in_flight_value(d), Some(&[1u8][..]));
        assert_eq!(q.join(Some(WaiterId(11))), Join::Blocked);
        q.ack(d, &mut wakes).unwrap();
        assert_eq!(wakes, vec![(WaiterId(11), Wake::Done)]);
        assert_eq!((q.bytes(), q.unfinished()), (0, 0));
        assert_eq!(q.ack(d, &mut wakes), Err(NotInFlight), "a repeated ack");
        assert_eq!(q.stats().acked, 1);
    }

    #[test]
    fn an_expired_lease_puts_the_item_back_at_the_head() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        q.put(v(1), None, &mut wakes);
        q.put(v(2), None, &mut wakes);
        q.get_leased(WaiterId(10), 1000, false, &mut wakes);
        q.timeout(WaiterId(10), &mut wakes);
        assert_eq!(wakes, vec![(WaiterId(10), Wake::Forget)]);
        wakes.clear();
        // 1 is first again, on its second attempt.
        assert_eq!(
            q.get_leased(WaiterId(11), 1000, false, &mut wakes),
            GetLeased::Leased { attempt: 2 }
        );
        assert_eq!(q.in_flight_value(WaiterId(11)), Some(&[1u8][..]));
        assert_eq!(q.ack(WaiterId(10), &mut wakes), Err(NotInFlight), "stale");
        assert_eq!(q.stats().expired, 1);
    }

    #[test]
    fn a_returning_item_goes_straight_to_a_waiting_leased_getter() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        q.put(v(5), None, &mut wakes);
        q.get_leased(WaiterId(1), 1000, false, &mut wakes);
        assert_eq!(
            q.get_leased(WaiterId(2), 777, true, &mut wakes),
            GetLeased::Blocked
        );
        // The holder disconnects: the waiting getter gets it, as attempt 2, with its lease.
        assert!(q.cancel(WaiterId(1), &mut wakes));
        assert_eq!(
            wakes,
            vec![(
                WaiterId(2),
                Wake::Leased {
                    attempt: 2,
                    lease_ms: 777
                }
            )]
        );
        assert_eq!(q.in_flight().collect::<Vec<_>>(), vec![(WaiterId(2), 2)]);
        assert_eq!(q.stats().abandoned, 1);
    }

    #[test]
    fn nack_with_a_delay_holds_the_item_until_its_timer() {
        let mut q = Queue::new(0, false, 0);
        let mut wakes = Wakes::new();
        q.put(v(1), None, &mut wakes);
        q.get_leased(WaiterId(1), 1000, false, &mut wakes);
        assert_eq!(q.nack(WaiterId(1), true, &mut wakes), Ok(true));
        assert_eq!((q.len(), q.delayed(), q.in_flight().count()), (0, 1, 0));
        assert_eq!(q.ack(WaiterId(1), &mut wakes), Err(NotInFlight));
        assert_eq!(q.nack(WaiterId(1), false, &mut wakes), Err(NotInFlight));
        q.timeout(WaiterId(1), &mut wakes);
        assert_eq!((q.len(), q.delayed()), (1, 0));
        assert_eq!(wakes, vec![(WaiterId(1), Wake::Forget)]);
    }

    #[test]
    fn unlease_gives_an_item_back_to_the_head_without_counting_the_attempt() {
        let mut q = Queue::new(0, true, 1);
        let mut wakes = Wakes::new();
        q.put(v(1), None, &mut wakes);
        q.put(v(2), None, &mut wakes);
        assert_eq!(
            q.get_leased(WaiterId(1), 1000, false, &mut wakes),
            GetLeased::Leased { attempt: 1 }
        );
        assert_eq!(q.unlease(WaiterId(1), &mut wakes), Ok(()));
        assert_eq!(q.unlease(WaiterId(1), &mut wakes), Err(NotInFlight));
        assert!(!q.has_dead(), "max_attempts 1, yet not dead-lettered");
        assert_eq!((q.len(), q.unfinished(), q.in_flight().count()), (2, 2, 0));
        // Back at the head, and again a first attempt.
        assert_eq!(
            q.get_leased(WaiterId(2), 1000, false, &mut wakes),
            GetLeased::Leased { attempt: 1 }
        );
        assert_eq!(q.in_flight().collect::<Vec<_>>(), vec![(WaiterId(2), 1)]);
        assert_eq!(
            q.unlease(WaiterId(9), &mut wakes),
            Err(NotInFlight),
            "never issued"
        );
    }

    #[test]
    fn past_max_attempts_an_item_is_staged_for_the_dead_letters() {
        let mut q = Queue::new(0, true, 2);
        let mut wakes = Wakes::new();
        q.put(v(9), None, &mut wakes);
        q.get_leased(WaiterId(1), 1000, false, &mut wakes);
        assert_eq!(q.nack(WaiterId(1), false, &mut wakes), Ok(false));
        assert!(!q.has_dead());
        q.get_leased(WaiterId(2), 1000, false, &mut wakes);
        // The last attempt: even a delayed nack dead-letters at once.
        assert_eq!(q.nack(WaiterId(2), true, &mut wakes), Ok(false));
        let dead = q.take_dead();
        assert_eq!(
            dead,
            vec![Item {
                value: v(9),
                attempts: 2
            }]
        );
        assert_eq!((q.len(), q.bytes(), q.unfinished()), (0, 0, 1));
        q.dead_lettered(&mut wakes);
        assert_eq!(q.unfinished(), 0, "a dead-lettered item counts as done");
    }
}
