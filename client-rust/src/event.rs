//! Events ([`Event`]): a flag processes wait for.

use std::time::Duration;

use xproc_protocol::{Kind, RequestFields};

use crate::client::{need, Client};
use crate::codec::Wait;
use crate::error::{Error, Result};

/// A named event, as Python's `threading.Event`.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let ready = client.event("ready")?;
/// if !ready.wait_timeout(Duration::from_secs(10))? {
///     println!("not ready after 10 s");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Event {
    client: Client,
    name: String,
}

impl Event {
    pub(crate) fn open(client: &Client, name: &str) -> Result<Self> {
        client.open(name, Kind::Event)?;
        Ok(Event {
            client: client.clone(),
            name: name.to_string(),
        })
    }

    /// The event's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn req(&self, op: &'static str, timeout_ms: Option<u64>) -> RequestFields<'_> {
        RequestFields {
            name: Some(self.name.as_str().into()),
            timeout_ms,
            ..RequestFields::new(0, op)
        }
    }

    /// Sets the flag, waking every waiter.
    pub fn set(&self) -> Result<()> {
        self.client
            .exchange(self.req("event.set", None), None, |_| Ok(()))
    }

    /// Clears the flag.
    pub fn clear(&self) -> Result<()> {
        self.client
            .exchange(self.req("event.clear", None), None, |_| Ok(()))
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> Result<bool> {
        self.client
            .exchange(self.req("event.is_set", None), None, |r| {
                need(r.set, "event.is_set", "set")
            })
    }

    /// Waits for the flag with an optional timeout: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait (the form bindings
    /// map their timeout arguments to).
    /// Returns whether the flag is set.
    pub fn wait_within(&self, timeout: Option<Duration>) -> Result<bool> {
        let wait = Wait::new(timeout);
        self.client.exchange(
            self.req("event.wait", wait.timeout_ms),
            wait.deadline,
            |r| need(r.set, "event.wait", "set"),
        )
    }

    /// Waits until the flag is set.
    pub fn wait(&self) -> Result<()> {
        match self.wait_within(None)? {
            true => Ok(()),
            false => Err(Error::Protocol(
                "event.wait without timeout returned set: false".into(),
            )),
        }
    }

    /// Waits at most `timeout` for the flag; returns whether it is set.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_within(Some(timeout))
    }
}
