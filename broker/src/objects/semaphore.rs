//! Semaphores (`semaphore`, `bounded_semaphore`).
//!
//! Permits are counted per connection so that a connection that goes away gives back what it
//! took. A release first pays back the releaser's own permits; permits released by a
//! connection that holds none (the producer side of a signalling semaphore) are nobody's.
//! On disconnect a connection's permits are returned, but never so many that the value
//! would exceed `initial`: in a signalling semaphore (initial 0, one side releases, the
//! other acquires) the acquirer's "permits" were handed to it by someone else, and giving
//! them back would invent permits nobody released.

use std::collections::{BTreeMap, HashMap};

use super::{Owner, WaiterId, Wake, Wakes};

/// One semaphore's state.
#[derive(Debug)]
pub struct Semaphore {
    value: u64,
    initial: u64,
    /// `bounded_semaphore`: a release above `initial` is refused.
    bounded: bool,
    /// Permits each connection acquired and has not released: conn id → (owner, count).
    holders: HashMap<u64, (Owner, u64)>,
    waiters: BTreeMap<WaiterId, Owner>,
}

/// What `acquire` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acquire {
    /// A permit was taken.
    Acquired,
    /// No permit and the caller would not wait.
    WouldBlock,
    /// No permit; waits under the given waiter id.
    Blocked,
}

/// A bounded semaphore would go above its initial value (or the count would overflow).
#[derive(Debug, PartialEq, Eq)]
pub struct OverRelease {
    /// The value before the release.
    pub value: u64,
    /// The value the semaphore was created with.
    pub initial: u64,
}

impl Semaphore {
    /// A semaphore with `initial` permits; `bounded` refuses releases above it.
    pub fn new(initial: u64, bounded: bool) -> Self {
        Semaphore {
            value: initial,
            initial,
            bounded,
            holders: HashMap::new(),
            waiters: BTreeMap::new(),
        }
    }

    /// Permits available.
    pub fn value(&self) -> u64 {
        self.value
    }
    /// The value it was created with.
    pub fn initial(&self) -> u64 {
        self.initial
    }
    /// Whether releases above `initial` are refused.
    pub fn bounded(&self) -> bool {
        self.bounded
    }
    /// Requests waiting for a permit.
    pub fn waiter_count(&self) -> usize {
        self.waiters.len()
    }
    /// Every blocked acquire, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.waiters.keys().copied());
    }
    /// Permits `conn` holds.
    pub fn held_by(&self, conn: u64) -> u64 {
        self.holders.get(&conn).map_or(0, |h| h.1)
    }
    /// Every holder and its count, by conn id.
    pub fn holders(&self) -> Vec<(Owner, u64)> {
        let mut v: Vec<_> = self.holders.values().copied().collect();
        v.sort_by_key(|(o, _)| o.conn);
        v
    }

    fn take(&mut self, owner: Owner) {
        self.value -= 1;
        self.holders.entry(owner.conn).or_insert((owner, 0)).1 += 1;
    }

    /// Takes a permit, or waits under `wait` (fails at once when `wait` is `None`).
    pub fn acquire(&mut self, owner: Owner, wait: Option<WaiterId>) -> Acquire {
        // A positive value means nobody waits: releases serve waiters first.
        if self.value > 0 {
            self.take(owner);
            return Acquire::Acquired;
        }
        match wait {
            Some(w) => {
                self.waiters.insert(w, owner);
                Acquire::Blocked
            }
            None => Acquire::WouldBlock,
        }
    }

    /// Releases `n` permits and serves waiters in arrival order.
    pub fn release(&mut self, owner: Owner, n: u64, wakes: &mut Wakes) -> Result<(), OverRelease> {
        let over = OverRelease {
            value: self.value,
            initial: self.initial,
        };
        let value = self.value.checked_add(n).ok_or(over)?;
        if self.bounded && value > self.initial {
            return Err(OverRelease {
                value: self.value,
                initial: self.initial,
            });
        }
        if let Some(h) = self.holders.get_mut(&owner.conn) {
            h.1 -= h.1.min(n);
            if h.1 == 0 {
                self.holders.remove(&owner.conn);
            }
        }
        self.value = value;
        self.serve(wakes);
        Ok(())
    }

    fn serve(&mut self, wakes: &mut Wakes) {
        while self.value > 0 {
            let Some((w, o)) = self.waiters.pop_first() else {
                break;
            };
            self.take(o);
            wakes.push((
                w,
                Wake::Acquired {
                    acquired: true,
                    abandoned_by: None,
                },
            ));
        }
    }

    /// `owner` went away: return its permits (capped at `initial`, see the module doc).
    /// Returns how many it held.
    pub fn return_permits(&mut self, owner: Owner, wakes: &mut Wakes) -> u64 {
        let Some((_, held)) = self.holders.remove(&owner.conn) else {
            return 0;
        };
        self.value += held.min(self.initial.saturating_sub(self.value));
        self.serve(wakes);
        held
    }

    /// Forgets a blocked acquire. Returns whether it was waiting here.
    pub fn cancel(&mut self, w: WaiterId) -> bool {
        self.waiters.remove(&w).is_some()
    }

    /// An acquire's timeout passed: it is answered `acquired: false`.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        if self.cancel(w) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: Owner = Owner { conn: 1, pid: 100 };
    const B: Owner = Owner { conn: 2, pid: 200 };

    #[test]
    fn permits_and_fifo_waiters() {
        let mut s = Semaphore::new(2, false);
        let mut wakes = Wakes::new();
        assert_eq!(s.acquire(A, None), Acquire::Acquired);
        assert_eq!(s.acquire(A, None), Acquire::Acquired);
        assert_eq!(s.acquire(B, None), Acquire::WouldBlock);
        assert_eq!(s.acquire(B, Some(WaiterId(1))), Acquire::Blocked);
        assert_eq!(s.acquire(B, Some(WaiterId(2))), Acquire::Blocked);
        s.release(A, 1, &mut wakes).unwrap();
        assert_eq!(wakes.len(), 1);
        assert_eq!(wakes[0].0, WaiterId(1));
        assert_eq!((s.held_by(A.conn), s.held_by(B.conn)), (1, 1));
    }

    #[test]
    fn bounded_refuses_over_release() {
        let mut s = Semaphore::new(1, true);
        let mut wakes = Wakes::new();
        assert_eq!(
            s.release(A, 1, &mut wakes),
            Err(OverRelease {
                value: 1,
                initial: 1
            })
        );
        s.acquire(A, None);
        s.release(A, 1, &mut wakes).unwrap();
        let mut u = Semaphore::new(1, false);
        u.release(A, 3, &mut wakes).unwrap();
        assert_eq!(u.value(), 4);
    }

    #[test]
    fn disconnect_returns_permits_capped_at_initial() {
        let mut s = Semaphore::new(2, false);
        let mut wakes = Wakes::new();
        s.acquire(A, None);
        s.acquire(A, None);
        s.acquire(B, Some(WaiterId(1)));
        assert_eq!(s.return_permits(A, &mut wakes), 2);
        assert_eq!(wakes.len(), 1);
        assert_eq!(s.value(), 1);
        // Signalling: initial 0, A releases, B acquires, B dies: nothing is invented.
        let mut sig = Semaphore::new(0, false);
        sig.release(A, 1, &mut wakes).unwrap();
        sig.acquire(B, None);
        sig.return_permits(B, &mut wakes);
        assert_eq!(sig.value(), 0);
    }
}
