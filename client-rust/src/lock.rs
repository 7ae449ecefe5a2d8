//! Locks and reentrant locks ([`Lock`]), what an acquire reports ([`Acquisition`]), and the
//! RAII [`Guard`] shared by locks, conditions and semaphores.
//!
//! A lock is owned by the **connection** that acquired it, not by a thread: every thread using
//! the same [`Client`] shares its locks (one `Client` per thread gives per-thread ownership).
//! When the owner's connection goes away while holding it, the broker releases it, and the next
//! acquire reports the dead owner's pid in [`Acquisition::abandoned_by`].

use std::time::Duration;

use xproc_protocol::{Kind, RequestFields};

use crate::client::Client;
use crate::codec::Wait;
use crate::error::Result;

/// The outcome of an acquire.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let lock = client.lock("device")?;
/// let got = lock.acquire()?;
/// if let Some(pid) = got.abandoned_by {
///     println!("pid {pid} died holding the lock: check the device's state");
/// }
/// lock.release()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acquisition {
    /// Whether the caller now holds it (`false` only when a timeout ran out or a non-blocking
    /// attempt found it taken).
    pub acquired: bool,
    /// Set when the previous owner disconnected while holding it: that process's pid. The
    /// protected state may be half-updated; check it.
    pub abandoned_by: Option<u32>,
}

/// Acquires through `op` (`lock.acquire`, `condition.acquire`).
pub(crate) fn acquire(
    client: &Client,
    name: &str,
    op: &str,
    timeout: Option<Duration>,
) -> Result<Acquisition> {
    let wait = Wait::new(timeout);
    let req = RequestFields {
        name: Some(name.into()),
        timeout_ms: wait.timeout_ms,
        ..RequestFields::new(0, op)
    };
    client.exchange(req, wait.deadline, |r| {
        Ok(Acquisition {
            acquired: crate::client::need(r.acquired, op, "acquired")?,
            abandoned_by: r.abandoned_by,
        })
    })
}

/// Sends a release-style request (`lock.release`, `condition.release`, `semaphore.release`).
pub(crate) fn release(client: &Client, name: &str, op: &str) -> Result<()> {
    let req = RequestFields {
        name: Some(name.into()),
        ..RequestFields::new(0, op)
    };
    client.exchange(req, None, |_| Ok(()))
}

/// A held lock, condition lock or semaphore permit, released when dropped.
///
/// Dropping releases and ignores errors (the connection may be gone, which releases it
/// anyway); call [`release`](Self::release) to see them.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let lock = client.lock("device")?;
/// {
///     let guard = lock.lock()?; // released when `guard` goes out of scope
///     if guard.abandoned_by().is_some() { /* repair */ }
///     // ... use the device ...
/// }
/// # Ok(()) }
/// ```
#[must_use = "dropping the guard releases at once"]
#[derive(Debug)]
pub struct Guard<'a> {
    client: &'a Client,
    name: &'a str,
    release_op: &'static str,
    abandoned_by: Option<u32>,
    held: bool,
}

impl<'a> Guard<'a> {
    pub(crate) fn new(
        client: &'a Client,
        name: &'a str,
        release_op: &'static str,
        abandoned_by: Option<u32>,
    ) -> Self {
        Guard {
            client,
            name,
            release_op,
            abandoned_by,
            held: true,
        }
    }

    /// The pid of a previous owner that died holding the lock, if so.
    pub fn abandoned_by(&self) -> Option<u32> {
        self.abandoned_by
    }

    /// Releases now, reporting errors.
    pub fn release(mut self) -> Result<()> {
        self.held = false;
        release(self.client, self.name, self.release_op)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.held {
            let _ = release(self.client, self.name, self.release_op);
        }
    }
}

/// A named lock or reentrant lock (`Kind::Lock` / `Kind::RLock`; see the module docs for
/// ownership). A plain lock acquired again by its owner waits, as Python's `Lock` does; an
/// rlock is reentrant and free when released as many times as acquired.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let lock = client.lock("device")?;
/// match lock.lock_timeout(Duration::from_secs(5))? {
///     Some(_guard) => { /* held until the end of this block, or until we crash */ }
///     None => println!("still busy after 5 s"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Lock {
    client: Client,
    name: String,
    kind: Kind,
}

impl Lock {
    pub(crate) fn open(client: &Client, name: &str, kind: Kind) -> Result<Self> {
        client.open(name, kind)?;
        Ok(Lock {
            client: client.clone(),
            name: name.to_string(),
            kind,
        })
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `Kind::Lock` or `Kind::RLock`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Acquires, waiting as long as it takes (`acquired` is then always true).
    pub fn acquire(&self) -> Result<Acquisition> {
        acquire(&self.client, &self.name, "lock.acquire", None)
    }

    /// Acquires with an optional timeout: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait (the form bindings
    /// map their timeout arguments to).
    pub fn acquire_within(&self, timeout: Option<Duration>) -> Result<Acquisition> {
        acquire(&self.client, &self.name, "lock.acquire", timeout)
    }

    /// Acquires, waiting at most `timeout`; `acquired` is false if it ran out.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Acquisition> {
        acquire(&self.client, &self.name, "lock.acquire", Some(timeout))
    }

    /// Acquires if free now; `acquired` is false otherwise.
    pub fn try_acquire(&self) -> Result<Acquisition> {
        acquire(
            &self.client,
            &self.name,
            "lock.acquire",
            Some(Duration::ZERO),
        )
    }

    /// Releases. [`Error::NotOwner`](crate::Error::NotOwner) if this connection does not hold
    /// it.
    pub fn release(&self) -> Result<()> {
        release(&self.client, &self.name, "lock.release")
    }

    fn guard(&self, a: Acquisition) -> Option<Guard<'_>> {
        a.acquired
            .then(|| Guard::new(&self.client, &self.name, "lock.release", a.abandoned_by))
    }

    /// Acquires, waiting as long as it takes, and returns a guard that releases on drop.
    pub fn lock(&self) -> Result<Guard<'_>> {
        let a = self.acquire()?;
        Ok(Guard::new(
            &self.client,
            &self.name,
            "lock.release",
            a.abandoned_by,
        ))
    }

    /// Like [`lock`](Self::lock), waiting at most `timeout`; `None` if it ran out.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Option<Guard<'_>>> {
        Ok(self.guard(self.acquire_timeout(timeout)?))
    }

    /// Like [`lock`](Self::lock) if free now; `None` otherwise.
    pub fn try_lock(&self) -> Result<Option<Guard<'_>>> {
        Ok(self.guard(self.try_acquire()?))
    }
}
