//! Barriers ([`Barrier`]): `parties` processes wait until all have arrived.

use std::time::Duration;

use xproc_protocol::{Kind, RequestFields};

use crate::client::{need, Client};
use crate::codec::Wait;
use crate::error::Result;

/// A barrier's state, from one `barrier.state` call.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let start = client.barrier("start", 3)?;
/// let state = start.state()?;
/// println!("{}/{} waiting, broken: {}", state.n_waiting, state.parties, state.broken);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierState {
    /// Parties needed to release it.
    pub parties: u64,
    /// Parties waiting now.
    pub n_waiting: u64,
    /// Whether it is broken (until `reset`).
    pub broken: bool,
}

/// A named barrier, as Python's `threading.Barrier`. A wait that times out, an `abort`, or a
/// waiting party's disconnect breaks it: every waiter, and every later wait until `reset`, gets
/// [`Error::BrokenBarrier`](crate::Error::BrokenBarrier).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let start = client.barrier("start", 3)?;
/// let index = start.wait()?; // 0, 1 or 2: this party's place among the three
/// if index == 0 {
///     println!("everyone is here");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    name: String,
    parties: u64,
}

impl Barrier {
    pub(crate) fn open(client: &Client, name: &str, parties: u64) -> Result<Self> {
        let opened = client.open_with(
            name,
            Kind::Barrier,
            RequestFields {
                parties: Some(parties),
                ..RequestFields::new(0, "open")
            },
        )?;
        Ok(Barrier {
            client: client.clone(),
            name: name.to_string(),
            parties: opened.parties.unwrap_or(parties),
        })
    }

    /// The barrier's name.
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

    /// Waits with an optional timeout: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait (the form bindings
    /// map their timeout arguments to).
    pub fn wait_within(&self, timeout: Option<Duration>) -> Result<u64> {
        let wait = Wait::new(timeout);
        self.client.exchange(
            self.req("barrier.wait", wait.timeout_ms),
            wait.deadline,
            |r| need(r.index, "barrier.wait", "index"),
        )
    }

    /// Waits for every party; returns this party's index, distinct among the parties released
    /// together (0..parties).
    pub fn wait(&self) -> Result<u64> {
        self.wait_within(None)
    }

    /// Like [`wait`](Self::wait), at most `timeout`; running out breaks the barrier.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u64> {
        self.wait_within(Some(timeout))
    }

    /// Breaks the barrier: current and later waiters get `BrokenBarrier`.
    pub fn abort(&self) -> Result<()> {
        self.client
            .exchange(self.req("barrier.abort", None), None, |_| Ok(()))
    }

    /// Returns the barrier to its initial, unbroken state.
    pub fn reset(&self) -> Result<()> {
        self.client
            .exchange(self.req("barrier.reset", None), None, |_| Ok(()))
    }

    /// Parties, waiting count and broken flag, read together.
    pub fn state(&self) -> Result<BarrierState> {
        self.client
            .exchange(self.req("barrier.state", None), None, |r| {
                Ok(BarrierState {
                    parties: need(r.parties, "barrier.state", "parties")?,
                    n_waiting: need(r.n_waiting, "barrier.state", "n_waiting")?,
                    broken: need(r.broken, "barrier.state", "broken")?,
                })
            })
    }

    /// Parties needed to release the barrier (fixed at creation).
    pub fn parties(&self) -> u64 {
        self.parties
    }

    /// Parties waiting now.
    pub fn n_waiting(&self) -> Result<u64> {
        Ok(self.state()?.n_waiting)
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> Result<bool> {
        Ok(self.state()?.broken)
    }
}
