//! Barriers: `parties` requests meet; each gets a distinct index 0..parties-1 (the last to
//! arrive gets `parties - 1` and releases the others).
//!
//! A timeout, an `abort` or a waiting party's disconnect breaks the barrier: every waiter is
//! answered `BrokenBarrier`, as is every later wait until `reset`.

use std::collections::BTreeMap;

use super::{WaiterId, Wake, Wakes};
use xproc_protocol::ErrorCode;

/// One barrier's state.
#[derive(Debug)]
pub struct Barrier {
    parties: u64,
    /// Waiting requests and the index each will get, in arrival order.
    waiting: BTreeMap<WaiterId, u64>,
    broken: bool,
}

/// What `wait` did.
#[derive(Debug, PartialEq, Eq)]
pub enum BarrierWait {
    /// The caller was the last party: its index (the others are in the wakes).
    Index(u64),
    /// Waiting for the other parties.
    Blocked,
    /// The barrier is (or just got) broken.
    Broken,
}

impl Barrier {
    /// A barrier for `parties` (at least 1; the broker checks).
    pub fn new(parties: u64) -> Self {
        Barrier {
            parties,
            waiting: BTreeMap::new(),
            broken: false,
        }
    }

    /// Parties the barrier waits for.
    pub fn parties(&self) -> u64 {
        self.parties
    }
    /// Parties waiting now.
    pub fn n_waiting(&self) -> u64 {
        self.waiting.len() as u64
    }
    /// Whether the barrier is broken (until `reset`).
    pub fn broken(&self) -> bool {
        self.broken
    }
    /// Every blocked wait, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.waiting.keys().copied());
    }

    /// Arrives at the barrier. `wait` is `None` for a zero timeout, which (like any timeout)
    /// breaks the barrier unless this arrival completes it.
    pub fn wait(&mut self, wait: Option<WaiterId>, wakes: &mut Wakes) -> BarrierWait {
        if self.broken {
            return BarrierWait::Broken;
        }
        let index = self.n_waiting();
        if index + 1 >= self.parties {
            wakes.extend(
                std::mem::take(&mut self.waiting)
                    .into_iter()
                    .map(|(w, i)| (w, Wake::Index(i))),
            );
            return BarrierWait::Index(index);
        }
        match wait {
            Some(w) => {
                self.waiting.insert(w, index);
                BarrierWait::Blocked
            }
            None => {
                self.break_it(wakes);
                BarrierWait::Broken
            }
        }
    }

    fn break_it(&mut self, wakes: &mut Wakes) {
        self.broken = true;
        wakes.extend(
            std::mem::take(&mut self.waiting)
                .into_keys()
                .map(|w| (w, Wake::Fail(ErrorCode::BrokenBarrier))),
        );
    }

    /// Breaks the barrier.
    pub fn abort(&mut self, wakes: &mut Wakes) {
        self.break_it(wakes);
    }

    /// Answers current waiters `BrokenBarrier` and makes the barrier usable again.
    pub fn reset(&mut self, wakes: &mut Wakes) {
        self.break_it(wakes);
        self.broken = false;
    }

    /// A waiting party went away: the barrier breaks. Returns whether it was waiting here.
    pub fn cancel(&mut self, w: WaiterId, wakes: &mut Wakes) -> bool {
        if self.waiting.remove(&w).is_none() {
            return false;
        }
        self.break_it(wakes);
        true
    }

    /// A wait timed out: the barrier breaks, the timed-out wait included.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        if self.waiting.remove(&w).is_some() {
            wakes.push((w, Wake::Fail(ErrorCode::BrokenBarrier)));
            self.break_it(wakes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROKEN: Wake = Wake::Fail(ErrorCode::BrokenBarrier);

    #[test]
    fn parties_get_distinct_indices() {
        let mut b = Barrier::new(3);
        let mut wakes = Wakes::new();
        assert_eq!(b.wait(Some(WaiterId(1)), &mut wakes), BarrierWait::Blocked);
        assert_eq!(b.wait(Some(WaiterId(2)), &mut wakes), BarrierWait::Blocked);
        assert_eq!(b.wait(Some(WaiterId(3)), &mut wakes), BarrierWait::Index(2));
        assert_eq!(
            wakes,
            vec![(WaiterId(1), Wake::Index(0)), (WaiterId(2), Wake::Index(1))]
        );
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(
            Barrier::new(1).wait(None, &mut wakes),
            BarrierWait::Index(0)
        );
    }

    #[test]
    fn timeout_abort_and_disconnect_break_it() {
        let mut wakes = Wakes::new();
        let mut b = Barrier::new(3);
        b.wait(Some(WaiterId(1)), &mut wakes);
        b.wait(Some(WaiterId(2)), &mut wakes);
        b.timeout(WaiterId(1), &mut wakes);
        assert_eq!(wakes, vec![(WaiterId(1), BROKEN), (WaiterId(2), BROKEN)]);
        assert!(b.broken());
        assert_eq!(b.wait(Some(WaiterId(3)), &mut wakes), BarrierWait::Broken);
        wakes.clear();
        b.reset(&mut wakes);
        assert!(!b.broken());
        b.wait(Some(WaiterId(4)), &mut wakes);
        assert!(b.cancel(WaiterId(4), &mut wakes));
        assert!(b.broken());
        b.reset(&mut wakes);
        b.wait(Some(WaiterId(5)), &mut wakes);
        b.abort(&mut wakes);
        assert_eq!(wakes, vec![(WaiterId(5), BROKEN)]);
        b.reset(&mut wakes);
        assert_eq!(b.wait(None, &mut wakes), BarrierWait::Broken);
    }
}
