//! Started (non-blocking) forms of the brokered pipe calls: `pipe.send`, `pipe.recv`,
//! `pipe.poll`. All pipe event-loop code lives here, apart from the other objects'
//! (`started.rs`), so that a pipe end served another way (directly between processes) can
//! plug in in one place.
//!
//! A cancelled request the broker had answered first: a `pipe.send` that went out stays sent
//! (it took nothing from anyone); a `pipe.poll` took nothing; a `pipe.recv`'s completion
//! carries the message, which is the caller's — a pipe end has one receiver, so there is no
//! one else to give it to: the caller delivers it as the next message received (the async
//! clients do: `aio::Pipe` hands it to the next `recv`, Python and C# return it from the
//! cancelled call). The message is older than any a later receive could get, so handing it
//! out first keeps the order.

use std::time::Duration;

use serde_bytes::Bytes;
use xproc_protocol::RequestFields;

use crate::codec::Wait;
use crate::error::Result;
use crate::RawPipe;

impl RawPipe {
    fn started(&self, op: &'static str, timeout: Option<Duration>) -> RequestFields<'_> {
        RequestFields {
            name: Some(self.name().into()),
            end: Some(self.end().as_str()),
            timeout_ms: Wait::new(timeout).timeout_ms,
            ..RequestFields::new(0, op)
        }
    }

    /// Starts a `pipe.send` of `value` (MessagePack bytes, at most the broker's `max_frame`:
    /// a started send does not travel as a memfd); its completion has no fields, or is
    /// [`Error::Full`](crate::Error::Full) / `Timeout` / [`Error::Closed`](crate::Error::Closed).
    pub fn start_send(&self, value: &[u8], timeout: Option<Duration>) -> Result<u64> {
        self.client().start(&RequestFields {
            value: Some(Bytes::new(value)),
            ..self.started("pipe.send", timeout)
        })
    }

    /// Starts a `pipe.recv`; its completion's `value` is the message, or it is
    /// [`Error::Empty`](crate::Error::Empty) / `Timeout` / [`Error::Closed`](crate::Error::Closed)
    /// (end of file). A cancelled one that completes with a message: that message is the
    /// caller's, and older than any a later receive gets (see the module docs).
    pub fn start_recv(&self, timeout: Option<Duration>) -> Result<u64> {
        self.client().start(&self.started("pipe.recv", timeout))
    }

    /// Starts a `pipe.poll` waiting up to `timeout` (`Duration::MAX`: as long as it takes,
    /// as [`poll`](Self::poll)); its completion says `ready`.
    pub fn start_poll(&self, timeout: Duration) -> Result<u64> {
        self.client()
            .start(&self.started("pipe.poll", Some(timeout)))
    }
}
