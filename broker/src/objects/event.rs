//! Events: a flag and the requests waiting for it to be set.

use std::collections::BTreeSet;

use super::{WaiterId, Wake, Wakes};

/// One event's state.
#[derive(Debug, Default)]
pub struct Event {
    set: bool,
    waiters: BTreeSet<WaiterId>,
}

/// What `wait` did.
#[derive(Debug, PartialEq, Eq)]
pub enum EventWait {
    /// Answered now: whether the flag is set.
    Now(bool),
    /// Not set; waits under the given waiter id.
    Blocked,
}

impl Event {
    /// An event that is not set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.set
    }
    /// Requests waiting for the flag.
    pub fn waiter_count(&self) -> usize {
        self.waiters.len()
    }
    /// Every blocked wait, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        out.extend(self.waiters.iter().copied());
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&mut self, wakes: &mut Wakes) {
        self.set = true;
        wakes.extend(
            std::mem::take(&mut self.waiters)
                .into_iter()
                .map(|w| (w, Wake::Set(true))),
        );
    }

    /// Clears the flag.
    pub fn clear(&mut self) {
        self.set = false;
    }

    /// Answers at once when set (or when `wait` is `None`), else waits under `wait`.
    pub fn wait(&mut self, wait: Option<WaiterId>) -> EventWait {
        match (self.set, wait) {
            (true, _) => EventWait::Now(true),
            (false, Some(w)) => {
                self.waiters.insert(w);
                EventWait::Blocked
            }
            (false, None) => EventWait::Now(false),
        }
    }

    /// Forgets a blocked wait. Returns whether it was waiting here.
    pub fn cancel(&mut self, w: WaiterId) -> bool {
        self.waiters.remove(&w)
    }

    /// A wait's timeout passed: it is answered `set: false`.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        if self.cancel(w) {
            wakes.push((w, Wake::Set(false)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_wakes_all_and_clear_rearms() {
        let mut e = Event::new();
        let mut wakes = Wakes::new();
        assert_eq!(e.wait(None), EventWait::Now(false));
        assert_eq!(e.wait(Some(WaiterId(1))), EventWait::Blocked);
        assert_eq!(e.wait(Some(WaiterId(2))), EventWait::Blocked);
        e.set(&mut wakes);
        assert_eq!(
            wakes,
            vec![
                (WaiterId(1), Wake::Set(true)),
                (WaiterId(2), Wake::Set(true))
            ]
        );
        assert_eq!(e.wait(Some(WaiterId(3))), EventWait::Now(true));
        e.clear();
        assert!(!e.is_set());
        wakes.clear();
        e.wait(Some(WaiterId(4)));
        e.timeout(WaiterId(4), &mut wakes);
        assert_eq!(wakes, vec![(WaiterId(4), Wake::Set(false))]);
    }
}
