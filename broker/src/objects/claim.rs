//! The claim a `queue.get_any` waiter shares among the queues it waits on.
//!
//! One blocked `queue.get_any` is one waiter record, registered as a getter in each of its
//! queues, first come first served with their other getters. The first queue that hands it an
//! item marks the shared claim with its position in the request's `names`; every other queue
//! then skips that getter, so exactly one item is taken even when several of its queues get
//! items within one broker operation (a disconnect returning leases to two of them). The broker
//! removes the stale registrations when it answers the waiter.

use std::cell::Cell;
use std::rc::Rc;

/// Shared by every registration of one `queue.get_any` waiter: `None` while it waits, then the
/// index (in the request's `names`) of the queue that handed it its item.
#[derive(Debug, Clone, Default)]
pub struct Claim(Rc<Cell<Option<u32>>>);

impl Claim {
    /// A fresh, unclaimed claim.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which queue took the waiter, if one did.
    pub fn taken_by(&self) -> Option<u32> {
        self.0.get()
    }

    /// Marks the waiter as served by the queue at `index`. False if another queue already
    /// did (the caller must then skip it).
    pub fn take(&self, index: u32) -> bool {
        if self.0.get().is_some() {
            return false;
        }
        self.0.set(Some(index));
        true
    }
}
