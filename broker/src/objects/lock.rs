//! Locks (`lock`, `rlock`), also the lock inside a `condition`.
//!
//! A lock is owned by a connection. A plain lock acquired again by its owner waits (as Python's
//! `Lock` does); a reentrant one counts depth. When the owner disconnects the lock is
//! *abandoned*: it is released and the next acquire that gets it reports the dead owner's pid.
//! Requests that reacquire after `condition.wait` wait in the same FIFO as plain acquires,
//! carrying the depth to restore.

use std::collections::BTreeMap;

use super::{Owner, WaiterId, Wake, Wakes};

/// One lock's state.
#[derive(Debug)]
pub struct Lock {
    reentrant: bool,
    holder: Option<Owner>,
    /// Times the holder acquired it without releasing (1 for a plain lock).
    depth: u64,
    waiters: BTreeMap<WaiterId, Acquirer>,
    /// Pid of an owner that disconnected while holding the lock; reported (once) by the next
    /// acquire that gets it.
    abandoned_by: Option<u32>,
}

#[derive(Debug)]
struct Acquirer {
    owner: Owner,
    depth: u64,
    /// `Some(notified)` for a `condition.wait` reacquiring: it is answered with `Notified`.
    reacquire: Option<bool>,
}

/// What `acquire` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acquire {
    /// The caller holds it now.
    Acquired {
        /// The pid of a previous owner that disconnected while holding it (reported once).
        abandoned_by: Option<u32>,
    },
    /// Held by another and the caller would not wait.
    WouldBlock,
    /// Held by another; waits under the given waiter id.
    Blocked,
}

/// The caller does not hold the lock.
#[derive(Debug, PartialEq, Eq)]
pub struct NotOwner;

impl Lock {
    /// A free lock; `reentrant` for `rlock` and conditions.
    pub fn new(reentrant: bool) -> Self {
        Lock {
            reentrant,
            holder: None,
            depth: 0,
            waiters: BTreeMap::new(),
            abandoned_by: None,
        }
    }

    /// Who holds it.
    pub fn holder(&self) -> Option<Owner> {
        self.holder
    }
    /// Times the holder acquired it without releasing (0 when free).
    pub fn depth(&self) -> u64 {
        self.depth
    }
    /// The pid the next acquirer will be told abandoned the lock.
    pub fn abandoned_by(&self) -> Option<u32> {
        self.abandoned_by
    }
    /// Requests waiting for the lock.
    pub fn waiter_count(&self) -> usize {
        self.waiters.len()
    }
    /// Every blocked request, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.waiters.keys().copied());
    }
    /// Whether connection `conn` holds it.
    pub fn holds(&self, conn: u64) -> bool {
        self.holder.is_some_and(|h| h.conn == conn)
    }

    /// Acquires for `owner`, or queues the request under `wait`.
    pub fn acquire(&mut self, owner: Owner, wait: Option<WaiterId>) -> Acquire {
        match self.holder {
            // A free lock has no waiters: releasing hands it to the first one.
            None => {
                self.holder = Some(owner);
                self.depth = 1;
                Acquire::Acquired {
                    abandoned_by: self.abandoned_by.take(),
                }
            }
            Some(h) if self.reentrant && h.conn == owner.conn => {
                self.depth += 1;
                Acquire::Acquired { abandoned_by: None }
            }
            Some(_) => match wait {
                Some(w) => {
                    self.waiters.insert(
                        w,
                        Acquirer {
                            owner,
                            depth: 1,
                            reacquire: None,
                        },
                    );
                    Acquire::Blocked
                }
                None => Acquire::WouldBlock,
            },
        }
    }

    /// Releases one level; a lock released fully goes to the first waiter.
    pub fn release(&mut self, owner: Owner, wakes: &mut Wakes) -> Result<(), NotOwner> {
        if !self.holds(owner.conn) {
            return Err(NotOwner);
        }
        self.depth -= 1;
        if self.depth == 0 {
            self.holder = None;
            self.grant_next(wakes);
        }
        Ok(())
    }

    /// Releases every level at once (`condition.wait`); returns the depth it had.
    pub fn release_fully(&mut self, owner: Owner, wakes: &mut Wakes) -> Result<u64, NotOwner> {
        if !self.holds(owner.conn) {
            return Err(NotOwner);
        }
        let depth = std::mem::take(&mut self.depth);
        self.holder = None;
        self.grant_next(wakes);
        Ok(depth)
    }

    /// The owner went away: release the lock and remember who abandoned it. Returns whether
    /// `owner` held it.
    pub fn abandon(&mut self, owner: Owner, wakes: &mut Wakes) -> bool {
        if !self.holds(owner.conn) {
            return false;
        }
        self.holder = None;
        self.depth = 0;
        self.abandoned_by = Some(owner.pid);
        self.grant_next(wakes);
        true
    }

    /// Queues a `condition.wait` to get the lock back at `depth`; answered with
    /// `Notified { notified }` when it does (at once if the lock is free).
    pub fn reacquire(
        &mut self,
        w: WaiterId,
        owner: Owner,
        depth: u64,
        notified: bool,
        wakes: &mut Wakes,
    ) {
        self.waiters.insert(
            w,
            Acquirer {
                owner,
                depth,
                reacquire: Some(notified),
            },
        );
        if self.holder.is_none() {
            self.grant_next(wakes);
        }
    }

    fn grant_next(&mut self, wakes: &mut Wakes) {
        let Some((w, a)) = self.waiters.pop_first() else {
            return;
        };
        self.holder = Some(a.owner);
        self.depth = a.depth;
        let abandoned_by = self.abandoned_by.take();
        let wake = match a.reacquire {
            Some(notified) => Wake::Notified {
                notified,
                abandoned_by,
            },
            None => Wake::Acquired {
                acquired: true,
                abandoned_by,
            },
        };
        wakes.push((w, wake));
    }

    /// Forgets a blocked request. Returns whether it was waiting here.
    pub fn cancel(&mut self, w: WaiterId) -> bool {
        self.waiters.remove(&w).is_some()
    }

    /// A blocked acquire's timeout passed: it gets `acquired: false`. A reacquiring
    /// `condition.wait` keeps waiting: it must hold the lock again before it answers.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        if let Some(a) = self.waiters.get(&w) {
            if a.reacquire.is_none() {
                self.waiters.remove(&w);
                wakes.push((
                    w,
                    Wake::Acquired {
                        acquired: false,
                        abandoned_by: None,
                    },
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Owner = Owner { conn: 1, pid: 100 };
    const B: Owner = Owner { conn: 2, pid: 200 };
    const C: Owner = Owner { conn: 3, pid: 300 };

    fn acquired(abandoned_by: Option<u32>) -> Acquire {
        Acquire::Acquired { abandoned_by }
    }

    #[test]
    fn plain_lock_excludes_even_its_owner() {
        let mut l = Lock::new(false);
        let mut wakes = Wakes::new();
        assert_eq!(l.acquire(A, None), acquired(None));
        assert_eq!(l.acquire(A, None), Acquire::WouldBlock);
        assert_eq!(l.acquire(B, None), Acquire::WouldBlock);
        assert_eq!(l.release(B, &mut wakes), Err(NotOwner));
        assert_eq!(l.release(A, &mut wakes), Ok(()));
        assert_eq!(l.release(A, &mut wakes), Err(NotOwner));
    }

    #[test]
    fn rlock_counts_depth() {
        let mut l = Lock::new(true);
        let mut wakes = Wakes::new();
        l.acquire(A, None);
        assert_eq!(l.acquire(A, None), acquired(None));
        assert_eq!(l.depth(), 2);
        assert_eq!(l.acquire(B, Some(WaiterId(1))), Acquire::Blocked);
        l.release(A, &mut wakes).unwrap();
        assert!(wakes.is_empty());
        l.release(A, &mut wakes).unwrap();
        assert_eq!(
            wakes,
            vec![(
                WaiterId(1),
                Wake::Acquired {
                    acquired: true,
                    abandoned_by: None
                }
            )]
        );
        assert_eq!(l.holder(), Some(B));
    }

    #[test]
    fn waiters_in_fifo_order_and_abandonment_reported_once() {
        let mut l = Lock::new(false);
        let mut wakes = Wakes::new();
        l.acquire(A, None);
        l.acquire(B, Some(WaiterId(1)));
        l.acquire(C, Some(WaiterId(2)));
        assert!(l.abandon(A, &mut wakes));
        assert_eq!(
            wakes.pop(),
            Some((
                WaiterId(1),
                Wake::Acquired {
                    acquired: true,
                    abandoned_by: Some(100)
                }
            ))
        );
        l.release(B, &mut wakes).unwrap();
        assert_eq!(
            wakes.pop(),
            Some((
                WaiterId(2),
                Wake::Acquired {
                    acquired: true,
                    abandoned_by: None
                }
            ))
        );
    }

    #[test]
    fn abandoned_free_lock_reports_to_next_acquire() {
        let mut l = Lock::new(false);
        let mut wakes = Wakes::new();
        l.acquire(A, None);
        l.abandon(A, &mut wakes);
        assert_eq!(l.abandoned_by(), Some(100));
        assert_eq!(l.acquire(B, None), acquired(Some(100)));
        l.release(B, &mut wakes).unwrap();
        assert_eq!(l.acquire(B, None), acquired(None));
    }

    #[test]
    fn timeout_and_cancel() {
        let mut l = Lock::new(false);
        let mut wakes = Wakes::new();
        l.acquire(A, None);
        l.acquire(B, Some(WaiterId(1)));
        l.acquire(C, Some(WaiterId(2)));
        l.timeout(WaiterId(1), &mut wakes);
        assert_eq!(
            wakes.pop(),
            Some((
                WaiterId(1),
                Wake::Acquired {
                    acquired: false,
                    abandoned_by: None
                }
            ))
        );
        assert!(l.cancel(WaiterId(2)));
        l.release(A, &mut wakes).unwrap();
        assert!(wakes.is_empty());
        assert_eq!(l.holder(), None);
    }
}
