//! Conditions ([`Condition`]): a named lock plus waiting for a notify.

use std::time::{Duration, Instant};

use xproc_protocol::{Kind, RequestFields};

use crate::client::{need, Client};
use crate::codec::Wait;
use crate::error::Result;
use crate::lock::{self, Acquisition, Guard};

/// The outcome of [`Condition::wait_within`].
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let cond = client.condition("state")?;
/// cond.acquire()?;
/// let waited = cond.wait_within(Some(Duration::from_secs(1)))?;
/// println!("notified: {}", waited.notified); // the lock is held again either way
/// cond.release()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waited {
    /// Whether a notify came (false: the timeout passed). The lock is held again either way.
    pub notified: bool,
    /// Set when the lock's previous owner disconnected while holding it and this wait got it
    /// back next: that process's pid.
    pub abandoned_by: Option<u32>,
}

/// A named condition variable with its own (reentrant) lock, as Python's
/// `threading.Condition`. `wait` and `notify` need the lock held by this connection
/// ([`Error::NotOwner`](crate::Error::NotOwner) otherwise).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let cond = client.condition("state")?;
/// let flags = client.dict::<String, bool>("flags")?;
/// let _guard = cond.lock()?;
/// // Waits (releasing the lock meanwhile) until another process sets the flag and notifies.
/// cond.wait_for(|| Ok(flags.get("done")?.unwrap_or(false)), None)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Condition {
    client: Client,
    name: String,
}

impl Condition {
    pub(crate) fn open(client: &Client, name: &str) -> Result<Self> {
        client.open(name, Kind::Condition)?;
        Ok(Condition {
            client: client.clone(),
            name: name.to_string(),
        })
    }

    /// The condition's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Acquires the condition's lock, waiting as long as it takes.
    pub fn acquire(&self) -> Result<Acquisition> {
        lock::acquire(&self.client, &self.name, "condition.acquire", None)
    }

    /// Acquires the lock with an optional timeout: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait (the form bindings
    /// map their timeout arguments to).
    pub fn acquire_within(&self, timeout: Option<Duration>) -> Result<Acquisition> {
        lock::acquire(&self.client, &self.name, "condition.acquire", timeout)
    }

    /// Acquires the lock, waiting at most `timeout`; `acquired` is false if it ran out.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Acquisition> {
        lock::acquire(&self.client, &self.name, "condition.acquire", Some(timeout))
    }

    /// Releases the lock.
    pub fn release(&self) -> Result<()> {
        lock::release(&self.client, &self.name, "condition.release")
    }

    /// Acquires the lock and returns a guard that releases it on drop.
    pub fn lock(&self) -> Result<Guard<'_>> {
        let a = self.acquire()?;
        Ok(Guard::new(
            &self.client,
            &self.name,
            "condition.release",
            a.abandoned_by,
        ))
    }

    /// [`wait`](Self::wait) with an optional timeout: `None` waits as long as it takes,
    /// `Some(Duration::ZERO)` does not wait (the form bindings map their timeout arguments to).
    /// Reports whether a notify came, and `abandoned_by` if the lock's previous owner died
    /// holding it while this call waited to reacquire it.
    pub fn wait_within(&self, timeout: Option<Duration>) -> Result<Waited> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            name: Some(self.name.as_str().into()),
            timeout_ms: wait.timeout_ms,
            ..RequestFields::new(0, "condition.wait")
        };
        // No client-side deadline: after the timeout the broker still reacquires the lock, for
        // as long as that takes, before it replies (docs/PROTOCOL.md §6.6), as Python's
        // `Condition.wait` does. Giving up early would leave the lock to be granted to this
        // connection after the caller was told the wait failed.
        self.client.exchange(req, None, |r| {
            Ok(Waited {
                notified: need(r.notified, "condition.wait", "notified")?,
                abandoned_by: r.abandoned_by,
            })
        })
    }

    /// Releases the lock, waits for a notify, and reacquires the lock before returning.
    pub fn wait(&self) -> Result<()> {
        self.wait_within(None).map(|_| ())
    }

    /// Like [`wait`](Self::wait), waiting at most `timeout` for the notify; returns whether
    /// one came. The lock is held again either way: reacquiring it after the timeout is not
    /// bounded by `timeout` (as in Python), so this call returns when the lock is back.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_within(Some(timeout)).map(|w| w.notified)
    }

    /// Waits until `predicate` is true, checking it first and after each notify, for at most
    /// `timeout` in all (`None`: as long as it takes). Returns the predicate's last value.
    /// Call with the lock held, as with [`wait`](Self::wait).
    pub fn wait_for(
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
                None => self.wait()?,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    if !self.wait_timeout(left)? {
                        return predicate();
                    }
                }
            }
        }
    }

    fn notify_op(&self, op: &'static str, n: Option<u64>) -> Result<u64> {
        let req = RequestFields {
            name: Some(self.name.as_str().into()),
            n,
            ..RequestFields::new(0, op)
        };
        self.client
            .exchange(req, None, |r| Ok(need(r.n, op, "n")?.max(0) as u64))
    }

    /// Wakes up to `n` waiters; returns how many were woken.
    pub fn notify(&self, n: u64) -> Result<u64> {
        self.notify_op("condition.notify", Some(n))
    }

    /// Wakes every waiter; returns how many were woken.
    pub fn notify_all(&self) -> Result<u64> {
        self.notify_op("condition.notify_all", None)
    }
}
