//! The async handles: [`Queue`], [`Lock`] (with its [`Guard`]), [`Semaphore`], [`Event`].
//! Each wraps its blocking handle; calls that never wait (`qsize`, `release`, `set`) are the
//! blocking handle's, through [`blocking`](Queue::blocking).

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use xproc_protocol::RequestFields;

use super::coalesce::{Kind, Outcome, MAX_COALESCED_VALUE};
use super::{Core, Pending, Undo};
use crate::client::{need, value_of};
use crate::codec::{decode, encode, Wait};
use crate::error::{Error, Result};
use crate::Waitable;

fn ms(timeout: Option<Duration>) -> Option<u64> {
    Wait::new(timeout).timeout_ms
}

/// An async queue of `T`s: `q.get().await`, `q.put(&v).await`.
pub struct Queue<T> {
    core: Arc<Core>,
    sync: crate::Queue<T>,
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Queue<T>) -> Self {
        Queue {
            core: core.clone(),
            sync,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        self.sync.name()
    }

    /// The blocking handle (for `qsize`, `try_get`, ...).
    pub fn blocking(&self) -> &crate::Queue<T> {
        &self.sync
    }

    /// Takes the oldest value, waiting as long as it takes. Dropping the future (a runtime
    /// timeout, `select!`) cancels the get at the broker: it takes nothing.
    pub async fn get(&self) -> Result<T> {
        self.get_timeout(None).await
    }

    /// Takes the oldest value, waiting at most `timeout` at the broker
    /// ([`Error::Timeout`](crate::Error::Timeout); `Some(ZERO)`: not at all,
    /// [`Error::Empty`](crate::Error::Empty)).
    pub async fn get_timeout(&self, timeout: Option<Duration>) -> Result<T> {
        let mut at_once = false;
        if self.core.coalescing() {
            // With the other gets of this turn on this queue, as one `queue.get_many`.
            match self
                .core
                .join(Kind::Get, self.name(), ms(timeout), Vec::new())
                .await?
            {
                Outcome::Got(payload, at) => return decode(&payload[at]),
                Outcome::Empty => return Err(Error::Empty),
                Outcome::Alone(_) => at_once = true,
                Outcome::Full | Outcome::Put | Outcome::Reissue(_) => {}
            }
        }
        let req = RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "queue.get")
        };
        let undo = Undo::Get(self.name().to_string());
        let reply = Pending::start_now(&self.core, &req, undo, at_once)?
            .reply()
            .await?;
        let r = reply.fields()?;
        decode(value_of(&r, "queue.get")?)
    }

    /// Waits until every item put in this joinable queue was marked done (`task_done` or an
    /// ack), at most `timeout` ([`Error::Timeout`](crate::Error::Timeout); `None`: as long as
    /// it takes). Dropping the future gives the wait up; it takes nothing.
    pub async fn join(&self, timeout: Option<Duration>) -> Result<()> {
        let req = RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "queue.join")
        };
        Pending::start(&self.core, &req, Undo::Nothing)?
            .reply()
            .await?;
        Ok(())
    }

    /// Takes the oldest value on a lease of `lease` (acknowledged delivery, see
    /// [`crate::Queue::get_leased`]), waiting at most `timeout` (`None`: as long as it
    /// takes). Settle the [`Delivery`](crate::Delivery) with its (blocking, one round trip)
    /// `ack` or `nack`. Dropping the future takes nothing: a delivery the broker had already
    /// handed over is given back (`queue.unlease`): the item goes back to the head of the
    /// queue and that hand-over does not count as an attempt. A value that does not decode as
    /// `T` is nacked and returned as [`Error::Decode`](crate::Error::Decode).
    pub async fn get_leased(
        &self,
        timeout: Option<Duration>,
        lease: Duration,
    ) -> Result<crate::Delivery<T>> {
        let req = RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            lease_ms: Some(crate::codec::millis_ceil(lease).max(1)),
            ..RequestFields::new(0, "queue.get_leased")
        };
        let undo = Undo::Leased(self.name().to_string());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        let r = reply.fields()?;
        let id = need(r.delivery, "queue.get_leased", "delivery")?;
        let attempt = need(r.attempt, "queue.get_leased", "attempt")?;
        let raw = self.sync.raw();
        match decode(value_of(&r, "queue.get_leased")?) {
            Ok(value) => Ok(crate::Delivery::new(
                value,
                id,
                u32::try_from(attempt).unwrap_or(u32::MAX),
                raw.clone(),
            )),
            Err(e) => {
                // Nobody here can process it as T: give it back rather than sit on the lease.
                let _ = raw.nack(id, Duration::ZERO);
                Err(e)
            }
        }
    }

    /// Puts `value`, waiting for room as long as it takes. A put the broker already made is
    /// not undone when the future is dropped (it took nothing from anyone).
    pub async fn put(&self, value: &T) -> Result<()> {
        self.put_timeout(value, None).await
    }

    /// Puts `value`, waiting for room at most `timeout` at the broker
    /// ([`Error::Timeout`](crate::Error::Timeout); `Some(ZERO)`: not at all,
    /// [`Error::Full`](crate::Error::Full)).
    pub async fn put_timeout(&self, value: &T, timeout: Option<Duration>) -> Result<()> {
        let mut bytes = encode(value)?;
        let mut at_once = false;
        if self.core.coalescing() && bytes.len() <= MAX_COALESCED_VALUE {
            // With the other puts of this turn on this queue, as one `queue.put_many`.
            match self
                .core
                .join(Kind::Put, self.name(), ms(timeout), bytes)
                .await?
            {
                Outcome::Put => return Ok(()),
                Outcome::Full => return Err(Error::Full),
                Outcome::Reissue(v) => bytes = v,
                Outcome::Alone(v) => (bytes, at_once) = (v, true),
                Outcome::Got(..) | Outcome::Empty => {
                    return Err(Error::Protocol("a put batch answered as a get".into()))
                }
            }
        }
        let req = RequestFields {
            name: Some(self.name().into()),
            value: Some(serde_bytes::Bytes::new(&bytes)),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "queue.put")
        };
        Pending::start_now(&self.core, &req, Undo::Nothing, at_once)?
            .reply()
            .await?;
        Ok(())
    }
}

/// An async lock: `lock.lock().await` returns a [`Guard`] that releases it when dropped.
pub struct Lock {
    core: Arc<Core>,
    sync: crate::Lock,
}

/// Holds a [`Lock`]; releases it when dropped (without waiting: the release is sent, its
/// reply collected by the client later).
pub struct Guard<'a> {
    lock: &'a Lock,
    /// Set when the lock had been abandoned by a holder that died: that holder's pid.
    pub abandoned_by: Option<u32>,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let req = RequestFields {
            name: Some(self.lock.name().into()),
            ..RequestFields::new(0, "lock.release")
        };
        if let Ok(t) = self.lock.core.client.start(&req) {
            self.lock.core.abandoned().insert(t, Undo::Nothing);
        }
    }
}

impl Lock {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Lock) -> Self {
        Lock {
            core: core.clone(),
            sync,
        }
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        self.sync.name()
    }

    /// The blocking handle.
    pub fn blocking(&self) -> &crate::Lock {
        &self.sync
    }

    /// Acquires the lock, waiting as long as it takes; the guard releases it. Dropping the
    /// future gives the acquire up at the broker (if the lock was granted meanwhile, it is
    /// released again).
    pub async fn lock(&self) -> Result<Guard<'_>> {
        let req = RequestFields {
            name: Some(self.name().into()),
            ..RequestFields::new(0, "lock.acquire")
        };
        let undo = Undo::Acquire("lock.release", self.name().to_string());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        let r = reply.fields()?;
        need(r.acquired, "lock.acquire", "acquired")?;
        Ok(Guard {
            lock: self,
            abandoned_by: r.abandoned_by,
        })
    }
}

/// An async semaphore.
pub struct Semaphore {
    core: Arc<Core>,
    sync: crate::Semaphore,
}

impl Semaphore {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Semaphore) -> Self {
        Semaphore {
            core: core.clone(),
            sync,
        }
    }

    /// The semaphore's name.
    pub fn name(&self) -> &str {
        self.sync.name()
    }

    /// The blocking handle (`release`).
    pub fn blocking(&self) -> &crate::Semaphore {
        &self.sync
    }

    /// Takes one permit, waiting up to `timeout` (`None`: as long as it takes); false when
    /// the timeout passed. Release it with `blocking().release(1)`.
    pub async fn acquire(&self, timeout: Option<Duration>) -> Result<bool> {
        let req = RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "semaphore.acquire")
        };
        let undo = Undo::Acquire("semaphore.release", self.name().to_string());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        need(reply.fields()?.acquired, "semaphore.acquire", "acquired")
    }
}

/// An async event.
pub struct Event {
    core: Arc<Core>,
    sync: crate::Event,
}

impl Event {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Event) -> Self {
        Event {
            core: core.clone(),
            sync,
        }
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        self.sync.name()
    }

    /// The blocking handle (`set`, `clear`, `is_set`).
    pub fn blocking(&self) -> &crate::Event {
        &self.sync
    }

    /// Waits until the event is set (true) or `timeout` passes (false).
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let req = RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "event.wait")
        };
        let reply = Pending::start(&self.core, &req, Undo::Nothing)?
            .reply()
            .await?;
        need(reply.fields()?.set, "event.wait", "set")
    }
}

impl<T: Serialize + DeserializeOwned> Waitable for Queue<T> {
    fn wait_target(&self) -> (&str, &'static str) {
        self.sync.wait_target()
    }
}

impl Waitable for Lock {
    fn wait_target(&self) -> (&str, &'static str) {
        self.sync.wait_target()
    }
}

impl Waitable for Semaphore {
    fn wait_target(&self) -> (&str, &'static str) {
        self.sync.wait_target()
    }
}

impl Waitable for Event {
    fn wait_target(&self) -> (&str, &'static str) {
        self.sync.wait_target()
    }
}
