//! Semaphores and bounded semaphores ([`Semaphore`]). Permits are held by the connection that
//! acquired them and returned when it disconnects.

use std::time::Duration;

use xproc_protocol::{Kind, RequestFields};

use crate::client::{need, Client};
use crate::codec::Wait;
use crate::error::{Error, Result};
use crate::lock::Guard;

/// A named counting semaphore (`Kind::Semaphore`) or bounded semaphore
/// (`Kind::BoundedSemaphore`, whose release above its initial value is
/// [`Error::InvalidArgument`]).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let slots = client.bounded_semaphore("gpu-slots", 2)?;
/// let _permit = slots.permit()?; // returned when dropped, or if this process dies
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Client,
    name: String,
    kind: Kind,
    initial: u64,
}

impl Semaphore {
    pub(crate) fn open(client: &Client, name: &str, kind: Kind, initial: u64) -> Result<Self> {
        let opened = client.open_with(
            name,
            kind,
            RequestFields {
                initial: Some(initial),
                ..RequestFields::new(0, "open")
            },
        )?;
        Ok(Semaphore {
            client: client.clone(),
            name: name.to_string(),
            kind,
            initial: opened.initial.unwrap_or(initial),
        })
    }

    /// The semaphore's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `Kind::Semaphore` or `Kind::BoundedSemaphore`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The initial number of permits.
    pub fn initial(&self) -> u64 {
        self.initial
    }

    /// Takes a permit with an optional timeout: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait (the form bindings
    /// map their timeout arguments to).
    /// Returns whether it got one.
    pub fn acquire_within(&self, timeout: Option<Duration>) -> Result<bool> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            name: Some(self.name.as_str().into()),
            timeout_ms: wait.timeout_ms,
            ..RequestFields::new(0, "semaphore.acquire")
        };
        self.client.exchange(req, wait.deadline, |r| {
            need(r.acquired, "semaphore.acquire", "acquired")
        })
    }

    /// Takes a permit, waiting as long as it takes.
    pub fn acquire(&self) -> Result<()> {
        match self.acquire_within(None)? {
            true => Ok(()),
            false => Err(Error::Protocol(
                "semaphore.acquire without timeout returned acquired: false".into(),
            )),
        }
    }

    /// Takes a permit, waiting at most `timeout`; `false` if it ran out.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.acquire_within(Some(timeout))
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> Result<bool> {
        self.acquire_within(Some(Duration::ZERO))
    }

    /// Returns one permit.
    pub fn release(&self) -> Result<()> {
        self.release_n(1)
    }

    /// Returns `n` permits.
    pub fn release_n(&self, n: u64) -> Result<()> {
        let req = RequestFields {
            name: Some(self.name.as_str().into()),
            n: Some(n),
            ..RequestFields::new(0, "semaphore.release")
        };
        self.client.exchange(req, None, |_| Ok(()))
    }

    /// Takes a permit, waiting as long as it takes, and returns a guard that gives it back on
    /// drop.
    pub fn permit(&self) -> Result<Guard<'_>> {
        self.acquire()?;
        Ok(Guard::new(
            &self.client,
            &self.name,
            "semaphore.release",
            None,
        ))
    }

    /// Like [`permit`](Self::permit), waiting at most `timeout`; `None` if it ran out.
    pub fn permit_timeout(&self, timeout: Duration) -> Result<Option<Guard<'_>>> {
        Ok(self
            .acquire_timeout(timeout)?
            .then(|| Guard::new(&self.client, &self.name, "semaphore.release", None)))
    }
}
