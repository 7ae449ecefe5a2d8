//! Queues (`queue`, `joinable_queue`): a FIFO of values with an optional bound, blocked getters,
//! blocked putters (each holding the value it wants to put) and, for joinable queues, the
//! unfinished-task count that `join` waits on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{item_charge, WaiterId, Wake, Wakes};
use xproc_protocol::ErrorCode;

/// One queue's state.
#[derive(Debug)]
pub struct Queue {
    items: VecDeque<Box<[u8]>>,
    /// Most items held; 0 means unbounded (the broker's memory budget still applies).
    maxsize: u64,
    /// `joinable_queue`: counts unfinished tasks for `task_done` / `join`.
    joinable: bool,
    /// Items put and not yet marked done (always 0 on a plain queue).
    unfinished: u64,
    getters: BTreeSet<WaiterId>,
    /// Blocked puts, with the value each will put once there is room.
    putters: BTreeMap<WaiterId, Box<[u8]>>,
    joiners: BTreeSet<WaiterId>,
    /// Bytes charged for values held (each plus [`ITEM_OVERHEAD`](super::ITEM_OVERHEAD)):
    /// queued items plus the values of blocked puts.
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

/// What `get` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Get {
    /// The oldest item.
    Value(Box<[u8]>),
    /// Empty and the caller would not wait.
    Empty,
    /// Empty; the get waits under the given waiter id.
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

impl Queue {
    /// An empty queue. `maxsize` 0 means unbounded.
    pub fn new(maxsize: u64, joinable: bool) -> Self {
        Queue {
            items: VecDeque::new(),
            maxsize,
            joinable,
            unfinished: 0,
            getters: BTreeSet::new(),
            putters: BTreeMap::new(),
            joiners: BTreeSet::new(),
            bytes: 0,
        }
    }

    /// Items in the queue.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// Whether the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Most items held; 0 = unbounded.
    pub fn maxsize(&self) -> u64 {
        self.maxsize
    }
    /// Items put and not yet marked done (joinable queues).
    pub fn unfinished(&self) -> u64 {
        self.unfinished
    }
    /// Bytes charged for values held, blocked puts included (each value plus
    /// [`ITEM_OVERHEAD`](super::ITEM_OVERHEAD)).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Blocked gets.
    pub fn getters(&self) -> usize {
        self.getters.len()
    }
    /// Blocked puts.
    pub fn putters(&self) -> usize {
        self.putters.len()
    }
    /// Blocked joins.
    pub fn joiners(&self) -> usize {
        self.joiners.len()
    }

    fn is_full(&self) -> bool {
        self.maxsize != 0 && self.items.len() as u64 >= self.maxsize
    }

    fn count_task(&mut self) {
        if self.joinable {
            self.unfinished += 1;
        }
    }

    /// Puts `value`. A waiting getter takes it at once; otherwise it is queued if there is room,
    /// else the put blocks under `wait` (or fails with `Full` when `wait` is `None`).
    pub fn put(&mut self, value: Box<[u8]>, wait: Option<WaiterId>, wakes: &mut Wakes) -> Put {
        if let Some(getter) = self.getters.pop_first() {
            // Getters only wait on an empty queue, so handing over keeps FIFO order.
            self.count_task();
            wakes.push((getter, Wake::Value(value)));
            return Put::Done;
        }
        if !self.is_full() {
            self.bytes += item_charge(value.len());
            self.items.push_back(value);
            self.count_task();
            return Put::Done;
        }
        match wait {
            Some(w) => {
                self.bytes += item_charge(value.len());
                self.putters.insert(w, value);
                Put::Blocked
            }
            None => Put::Full,
        }
    }

    /// Takes the oldest item; makes room for the oldest blocked put, if any.
    pub fn get(&mut self, wait: Option<WaiterId>, wakes: &mut Wakes) -> Get {
        if let Some(value) = self.items.pop_front() {
            self.bytes -= item_charge(value.len());
            if let Some((putter, v)) = self.putters.pop_first() {
                // Its bytes were counted when it blocked.
                self.items.push_back(v);
                self.count_task();
                wakes.push((putter, Wake::Done));
            }
            return Get::Value(value);
        }
        match wait {
            Some(w) => {
                self.getters.insert(w);
                Get::Blocked
            }
            None => Get::Empty,
        }
    }

    /// Marks one task done; wakes every `join` when none is left.
    pub fn task_done(&mut self, wakes: &mut Wakes) -> Result<(), TooManyTaskDone> {
        if self.unfinished == 0 {
            return Err(TooManyTaskDone);
        }
        self.unfinished -= 1;
        if self.unfinished == 0 {
            wakes.extend(
                std::mem::take(&mut self.joiners)
                    .into_iter()
                    .map(|j| (j, Wake::Done)),
            );
        }
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
    /// put's value is dropped. Returns whether `w` was waiting here.
    pub fn cancel(&mut self, w: WaiterId) -> bool {
        if let Some(v) = self.putters.remove(&w) {
            self.bytes -= item_charge(v.len());
            return true;
        }
        self.getters.remove(&w) || self.joiners.remove(&w)
    }

    /// A blocked request's timeout passed: every queue op then fails with `Timeout`.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        if self.cancel(w) {
            wakes.push((w, Wake::Fail(ErrorCode::Timeout)));
        }
    }

    /// Every blocked request, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.getters.iter().copied());
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

    fn v(b: u8) -> Box<[u8]> {
        vec![b].into_boxed_slice()
    }

    #[test]
    fn fifo_and_bytes() {
        let mut q = Queue::new(0, false);
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
        let mut q = Queue::new(0, false);
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
        let mut q = Queue::new(1, false);
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
        let mut q = Queue::new(0, false);
        let mut wakes = Wakes::new();
        q.get(Some(WaiterId(1)), &mut wakes);
        assert!(q.cancel(WaiterId(1)));
        q.put(v(3), None, &mut wakes);
        assert!(wakes.is_empty());
        assert_eq!(q.len(), 1);
        q.timeout(WaiterId(1), &mut wakes);
        assert!(wakes.is_empty());
    }

    #[test]
    fn join_waits_for_task_done() {
        let mut q = Queue::new(0, true);
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
        let mut q = Queue::new(0, false);
        let mut wakes = Wakes::new();
        q.put(v(1), None, &mut wakes);
        assert_eq!(q.unfinished(), 0);
    }
}
