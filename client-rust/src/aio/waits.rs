//! The async [`Barrier`] and [`Condition`]. Calls that never wait (`abort`, `reset`, `state`,
//! `notify`) are the blocking handle's, through `blocking()`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use xproc_protocol::RequestFields;

use super::{Complete, Core, Flush, Pending, Undo};
use crate::client::need;
use crate::codec::Wait;
use crate::error::Result;
use crate::Waited;

fn on<'a>(name: &'a str, op: &'static str, timeout: Option<Duration>) -> RequestFields<'a> {
    RequestFields {
        name: Some(name.into()),
        timeout_ms: Wait::new(timeout).timeout_ms,
        ..RequestFields::new(0, op)
    }
}

/// An async barrier: `barrier.wait(None).await`.
pub struct Barrier {
    core: Arc<Core>,
    sync: crate::Barrier,
}

impl Barrier {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Barrier) -> Self {
        Barrier {
            core: core.clone(),
            sync,
        }
    }

    /// The barrier's name.
    pub fn name(&self) -> &str {
        self.sync.name()
    }

    /// The blocking handle (`abort`, `reset`, `state`).
    pub fn blocking(&self) -> &crate::Barrier {
        &self.sync
    }

    /// Waits for every party, at most `timeout` (`None`: as long as it takes); returns this
    /// party's index. [`Error::BrokenBarrier`](crate::Error::BrokenBarrier) when it breaks.
    /// Dropping the future while it waits gives the wait up at the broker, which breaks the
    /// barrier for every party, as a timeout does (Python's `Barrier` too): a party that
    /// stops waiting would otherwise leave the others stuck. A barrier that had already
    /// passed stays passed.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<u64> {
        let req = on(self.name(), "barrier.wait", timeout);
        let reply = Pending::start(&self.core, &req, Undo::Nothing)?
            .reply()
            .await?;
        need(reply.fields()?.index, "barrier.wait", "index")
    }
}

/// An async condition variable with its own (reentrant) lock: `acquire`, `wait`, `release`,
/// as Python's `asyncio.Condition`, across processes.
pub struct Condition {
    core: Arc<Core>,
    sync: crate::Condition,
    /// Tickets of dropped `wait` futures: the broker still reacquires the lock for them, and
    /// [`release`](Self::release) must not overtake that (it would find the lock not held,
    /// and the reacquired lock would then stay with this connection).
    reacquiring: Arc<Mutex<Vec<u64>>>,
}

impl Drop for Condition {
    fn drop(&mut self) {
        // Nobody will wait for them here any more: the client collects them.
        let kept = std::mem::take(
            &mut *self
                .reacquiring
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.core.abandon(kept);
    }
}

impl Condition {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Condition) -> Self {
        Condition {
            core: core.clone(),
            sync,
            reacquiring: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The condition's name.
    pub fn name(&self) -> &str {
        self.sync.name()
    }

    /// The blocking handle (`notify`, `notify_all`).
    pub fn blocking(&self) -> &crate::Condition {
        &self.sync
    }

    /// Acquires the lock, waiting up to `timeout` (`None`: as long as it takes); false when
    /// the timeout passed. Dropping the future takes nothing (a lock granted meanwhile is
    /// released again).
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool> {
        self.settle().await;
        let req = on(self.name(), "condition.acquire", timeout);
        let undo = Undo::Acquire("condition.release", self.name().to_string());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        need(reply.fields()?.acquired, "condition.acquire", "acquired")
    }

    /// Releases the lock (once). If a [`wait`](Self::wait) future was dropped, this first
    /// waits until the broker has given the lock back to this connection.
    pub async fn release(&self) -> Result<()> {
        self.settle().await;
        let req = on(self.name(), "condition.release", None);
        Pending::start(&self.core, &req, Undo::Nothing)?
            .reply()
            .await?;
        Ok(())
    }

    /// Releases the lock (which this connection must hold:
    /// [`Error::NotOwner`](crate::Error::NotOwner)), waits for a notify or `timeout`
    /// (`None`: as long as it takes), and reacquires the lock before it returns.
    ///
    /// Dropping the future gives the wait for a notify up at the broker, which still
    /// reacquires the lock for this connection: the lock counts as held again, and the next
    /// [`release`](Self::release) (or [`acquire`](Self::acquire)) on this handle waits until
    /// the broker has it back. Nothing else is taken (a notify that came is spent, as in any
    /// condition variable whose waiter gives up).
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<Waited> {
        self.settle().await;
        let req = on(self.name(), "condition.wait", timeout);
        let undo = Undo::Keep(self.reacquiring.clone());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        let r = reply.fields()?;
        Ok(Waited {
            notified: need(r.notified, "condition.wait", "notified")?,
            abandoned_by: r.abandoned_by,
        })
    }

    /// Waits until `predicate` is true, checking it first and after each notify, for at most
    /// `timeout` in all (`None`: as long as it takes); returns its last value. Call with the
    /// lock held, as [`wait`](Self::wait) (the predicate runs with it held).
    pub async fn wait_for(
        &self,
        mut predicate: impl FnMut() -> Result<bool>,
        timeout: Option<Duration>,
    ) -> Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if predicate()? {
                return Ok(true);
            }
            match deadline {
                None => {
                    self.wait(None).await?;
                }
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    if !self.wait(Some(left)).await?.notified {
                        return predicate();
                    }
                }
            }
        }
    }

    /// Waits for the completions of dropped `wait`s (the lock is back with this connection).
    async fn settle(&self) {
        loop {
            let next = self
                .reacquiring
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .first()
                .copied();
            let Some(ticket) = next else { return };
            // Its outcome says nothing the caller needs: the lock is held again, or the
            // connection is gone (and with it the lock).
            let _ = Complete {
                core: &self.core,
                ticket,
                owes_flush: Flush::No,
            }
            .await;
            self.reacquiring
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|&t| t != ticket);
        }
    }
}
