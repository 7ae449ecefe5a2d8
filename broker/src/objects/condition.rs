//! Conditions: a reentrant [`Lock`] plus the set of `condition.wait` requests waiting for a
//! notify.
//!
//! `wait` releases the lock fully and parks the request here; `notify` moves parked requests
//! into the lock's FIFO, where they reacquire at their previous depth and only then are
//! answered (`notified: true`). A wait whose timeout passes moves to the lock's FIFO too and is
//! answered `notified: false` once it holds the lock again.

use std::collections::BTreeMap;

use super::lock::{Acquire, Lock, NotOwner};
use super::{Owner, WaiterId, Wakes};

/// One condition's state.
#[derive(Debug)]
pub struct Condition {
    lock: Lock,
    /// Waits parked until a notify: who, and the lock depth to restore.
    waiting: BTreeMap<WaiterId, (Owner, u64)>,
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

impl Condition {
    /// A condition with a free lock and no waits.
    pub fn new() -> Self {
        Condition {
            lock: Lock::new(true),
            waiting: BTreeMap::new(),
        }
    }

    /// The underlying lock, for inspection.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }
    /// Waits parked until a notify.
    pub fn parked(&self) -> usize {
        self.waiting.len()
    }
    /// Requests blocked here: parked waits plus the lock's FIFO.
    pub fn waiter_count(&self) -> usize {
        self.waiting.len() + self.lock.waiter_count()
    }
    /// Every blocked request, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.waiting.keys().copied());
        self.lock.waiters(out);
    }

    /// Acquires the condition's lock (reentrant).
    pub fn acquire(&mut self, owner: Owner, wait: Option<WaiterId>) -> Acquire {
        self.lock.acquire(owner, wait)
    }

    /// Releases one level of the lock.
    pub fn release(&mut self, owner: Owner, wakes: &mut Wakes) -> Result<(), NotOwner> {
        self.lock.release(owner, wakes)
    }

    /// Releases the lock fully and waits under `w`: parked until a notify when `park`, else
    /// straight back into the lock's FIFO (a zero timeout). The answer always comes as a wake
    /// for `w`, possibly already in `wakes` when the lock was free to take back.
    pub fn wait(
        &mut self,
        owner: Owner,
        w: WaiterId,
        park: bool,
        wakes: &mut Wakes,
    ) -> Result<(), NotOwner> {
        let depth = self.lock.release_fully(owner, wakes)?;
        if park {
            self.waiting.insert(w, (owner, depth));
        } else {
            self.lock.reacquire(w, owner, depth, false, wakes);
        }
        Ok(())
    }

    /// Wakes up to `n` parked waits (they then queue for the lock). Returns how many.
    pub fn notify(&mut self, owner: Owner, n: u64, wakes: &mut Wakes) -> Result<u64, NotOwner> {
        if !self.lock.holds(owner.conn) {
            return Err(NotOwner);
        }
        let mut woken = 0;
        while woken < n {
            let Some((w, (o, depth))) = self.waiting.pop_first() else {
                break;
            };
            self.lock.reacquire(w, o, depth, true, wakes);
            woken += 1;
        }
        Ok(woken)
    }

    /// A timeout passed: a parked wait queues to reacquire (answered `notified: false` once it
    /// holds the lock); a plain acquire gets `acquired: false`.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        match self.waiting.remove(&w) {
            Some((o, depth)) => self.lock.reacquire(w, o, depth, false, wakes),
            None => self.lock.timeout(w, wakes),
        }
    }

    /// Forgets a blocked request. Returns whether it was waiting here.
    pub fn cancel(&mut self, w: WaiterId) -> bool {
        self.waiting.remove(&w).is_some() || self.lock.cancel(w)
    }

    /// The owner went away; see [`Lock::abandon`].
    pub fn abandon(&mut self, owner: Owner, wakes: &mut Wakes) -> bool {
        self.lock.abandon(owner, wakes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::Wake;

    const A: Owner = Owner { conn: 1, pid: 100 };
    const B: Owner = Owner { conn: 2, pid: 200 };

    #[test]
    fn wait_releases_and_notify_reacquires_at_depth() {
        let mut c = Condition::new();
        let mut wakes = Wakes::new();
        c.acquire(A, None);
        c.acquire(A, None);
        c.wait(A, WaiterId(1), true, &mut wakes).unwrap();
        assert_eq!(c.lock().holder(), None);
        assert_eq!(c.acquire(B, None), Acquire::Acquired { abandoned_by: None });
        assert_eq!(c.notify(A, 1, &mut wakes), Err(NotOwner));
        assert_eq!(c.notify(B, 5, &mut wakes), Ok(1));
        assert!(wakes.is_empty(), "A must wait for B to release");
        c.release(B, &mut wakes).unwrap();
        assert_eq!(
            wakes,
            vec![(
                WaiterId(1),
                Wake::Notified {
                    notified: true,
                    abandoned_by: None
                }
            )]
        );
        assert_eq!((c.lock().holder(), c.lock().depth()), (Some(A), 2));
    }

    #[test]
    fn timed_out_wait_reacquires_then_answers_false() {
        let mut c = Condition::new();
        let mut wakes = Wakes::new();
        c.acquire(A, None);
        c.wait(A, WaiterId(1), true, &mut wakes).unwrap();
        c.acquire(B, None);
        c.timeout(WaiterId(1), &mut wakes);
        assert!(wakes.is_empty());
        c.release(B, &mut wakes).unwrap();
        assert_eq!(
            wakes,
            vec![(
                WaiterId(1),
                Wake::Notified {
                    notified: false,
                    abandoned_by: None
                }
            )]
        );
    }

    #[test]
    fn zero_timeout_wait_answers_at_once_when_free() {
        let mut c = Condition::new();
        let mut wakes = Wakes::new();
        assert_eq!(c.wait(A, WaiterId(1), false, &mut wakes), Err(NotOwner));
        c.acquire(A, None);
        c.wait(A, WaiterId(1), false, &mut wakes).unwrap();
        assert_eq!(wakes.len(), 1);
        assert_eq!(c.lock().holder(), Some(A));
    }
}
