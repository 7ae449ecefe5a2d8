//! The async [`Pipe`] end: `send`, `recv`, `poll` as futures over the started pipe calls
//! (brokered, or on the socket of a direct end). All
//! of the async client's pipe code is here (see `started_pipe.rs` for the started requests
//! underneath).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Complete, Core, Flush, Pending, Undo};
use crate::client::{need, value_of};
use crate::codec::{decode, encode};
use crate::error::Result;
use crate::{End, Waitable};

/// One end of a pipe carrying `T`s, async: `end.send(&v).await`, `end.recv().await`.
/// Dropping it closes the end (as the blocking [`Pipe`](crate::Pipe) does).
pub struct Pipe<T> {
    core: Arc<Core>,
    sync: crate::Pipe<T>,
    /// Tickets of dropped `recv` futures, oldest first: a message the broker had already
    /// handed to one of them is the next one [`recv`](Self::recv) returns (it is older than
    /// any a new receive could get, and this end has no other receiver to give it to).
    kept: Arc<Mutex<Vec<u64>>>,
}

impl<T> Drop for Pipe<T> {
    fn drop(&mut self) {
        // The end closes with the blocking handle (messages not received are dropped, as for
        // any closed end); the kept completions are collected by the client.
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        self.core.abandon(kept);
    }
}

impl<T: Serialize + DeserializeOwned> Pipe<T> {
    pub(crate) fn new(core: &Arc<Core>, sync: crate::Pipe<T>) -> Self {
        Pipe {
            core: core.clone(),
            sync,
            kept: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The pipe's name.
    pub fn name(&self) -> &str {
        self.sync.raw().name()
    }

    /// The end this handle holds.
    pub fn end(&self) -> End {
        self.sync.end()
    }

    /// The blocking handle.
    pub fn blocking(&self) -> &crate::Pipe<T> {
        &self.sync
    }

    /// Sends `value`, waiting for room as long as it takes.
    pub async fn send(&self, value: &T) -> Result<()> {
        self.send_timeout(value, None).await
    }

    /// Sends `value`, waiting for room at most `timeout` ([`Error::Timeout`](crate::Error::Timeout);
    /// `Some(ZERO)`: [`Error::Full`](crate::Error::Full) when there is none). At most the
    /// broker's `max_frame` bytes (larger values go through the blocking handle, as a memfd).
    /// A message the broker already took is not undone when the future is dropped.
    pub async fn send_timeout(&self, value: &T, timeout: Option<Duration>) -> Result<()> {
        let bytes = encode(value)?;
        let ticket = self.sync.raw().start_send(&bytes, timeout)?;
        Pending::adopt(&self.core, ticket, Undo::Nothing)
            .reply()
            .await?;
        Ok(())
    }

    /// Receives the next message, waiting as long as it takes;
    /// [`Error::Closed`](crate::Error::Closed) at end of file. Dropping the future takes
    /// nothing: a message the broker had already handed over is the one the next `recv` on
    /// this handle returns, before any other (so order holds).
    pub async fn recv(&self) -> Result<T> {
        self.recv_timeout(None).await
    }

    /// Receives the next message, waiting at most `timeout` ([`Error::Timeout`](crate::Error::Timeout);
    /// `Some(ZERO)`: [`Error::Empty`](crate::Error::Empty) when none waits).
    pub async fn recv_timeout(&self, timeout: Option<Duration>) -> Result<T> {
        while let Some(ticket) = self.first_kept() {
            // Cancelled already: it completes at once, with a message or its timeout outcome.
            let outcome = Complete {
                core: &self.core,
                ticket,
                owes_flush: Flush::No,
            }
            .await;
            self.kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|&t| t != ticket);
            if let Ok(reply) = outcome {
                if let Some(v) = reply.fields()?.value {
                    return decode(v);
                }
            }
        }
        let undo = Undo::Keep(self.kept.clone());
        let ticket = self.sync.raw().start_recv(timeout)?;
        let reply = Pending::adopt(&self.core, ticket, undo).reply().await?;
        let r = reply.fields()?;
        decode(value_of(&r, "pipe.recv")?)
    }

    fn first_kept(&self) -> Option<u64> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .copied()
    }

    /// Whether a message waits (or `recv` would report end of file), waiting up to `timeout`
    /// for one (`Duration::MAX`: as long as it takes). Takes nothing.
    pub async fn poll(&self, timeout: Duration) -> Result<bool> {
        let ticket = self.sync.raw().start_poll(timeout)?;
        let reply = Pending::adopt(&self.core, ticket, Undo::Nothing)
            .reply()
            .await?;
        need(reply.fields()?.ready, "pipe.poll", "ready")
    }
}

impl<T: Serialize + DeserializeOwned> Waitable for Pipe<T> {
    fn wait_target(&self) -> (&str, &'static str) {
        self.sync.wait_target()
    }
}
