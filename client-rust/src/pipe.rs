//! Pipes: one end of a two-ended message channel. [`RawPipe`] moves MessagePack bytes,
//! [`Pipe<T>`] typed values.
//!
//! Opening an end claims it for this connection (another connection holding it gets
//! [`Error::Busy`]). Closing the end (or dropping the handle, or the connection going away)
//! finishes the pipe: the other end receives what is left, then [`Error::Closed`].

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::Bytes;
use xproc_protocol::{End, Kind, ReplyFields, RequestFields};

use crate::client::{need, value_of, Client};
use crate::codec::{decode, encode, Wait};
use crate::error::Result;
use crate::valuebuf::{SharedReply, ValueBuf};

/// Creation options for a pipe. `None` means "not given": the default applies on creation and
/// an existing pipe's value is accepted.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use xproc::{End, PipeOptions};
///
/// // A one-way pipe: a sends, b receives; 64 messages in flight at most.
/// let tx = client.pipe_with::<Vec<f64>>(
///     "samples",
///     End::A,
///     PipeOptions { duplex: Some(false), capacity: Some(64) },
/// )?;
/// tx.send(&vec![0.5, 0.25])?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipeOptions {
    /// Both ends send and receive (default `true`); `false`: `a` sends, `b` receives.
    pub duplex: Option<bool>,
    /// Messages each end's inbox holds before a send waits (default 1024).
    pub capacity: Option<u64>,
}

/// One end of a pipe, carrying raw MessagePack messages.
///
/// Timeouts: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait.
/// Dropping the handle closes the end, as [`close`](Self::close) does.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let end = client.raw_pipe("chan", xproc::End::B, Default::default())?;
/// let message = end.recv(None)?; // the bytes of one MessagePack value
/// println!("{} bytes", message.len());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RawPipe {
    client: Client,
    name: String,
    end: End,
    duplex: bool,
    capacity: u64,
    closed: bool,
}

impl RawPipe {
    /// Opens or creates the pipe `name` and claims `end`.
    pub fn open(client: &Client, name: &str, end: End, options: PipeOptions) -> Result<Self> {
        let opened = client.open_with(
            name,
            Kind::Pipe,
            RequestFields {
                duplex: options.duplex,
                capacity: options.capacity,
                end: Some(end.as_str()),
                ..RequestFields::new(0, "open")
            },
        )?;
        Ok(RawPipe {
            client: client.clone(),
            name: name.to_string(),
            end,
            duplex: opened.duplex.unwrap_or(true),
            capacity: opened.capacity.unwrap_or(0),
            closed: false,
        })
    }

    /// The pipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The end this handle holds.
    pub fn end(&self) -> End {
        self.end
    }

    /// Whether both ends send and receive.
    pub fn duplex(&self) -> bool {
        self.duplex
    }

    /// Messages each inbox holds.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn req(&self, op: &'static str, timeout_ms: Option<u64>) -> RequestFields<'_> {
        RequestFields {
            name: Some(self.name.as_str().into()),
            end: Some(self.end.as_str()),
            timeout_ms,
            ..RequestFields::new(0, op)
        }
    }

    /// Sends one message to the other end, waiting up to `timeout` for room in its inbox.
    /// [`Error::Full`](crate::Error::Full) when not waiting; [`Error::Closed`](crate::Error::Closed) when the other end is closed.
    pub fn send(&self, value: &[u8], timeout: Option<Duration>) -> Result<()> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            value: Some(Bytes::new(value)),
            ..self.req("pipe.send", wait.timeout_ms)
        };
        // A large value travels as a sealed memfd (docs/PROTOCOL.md §4.1).
        self.client
            .exchange_shared(req, wait.deadline, |_, _| Ok(()))
    }

    /// Receives the next message, waiting up to `timeout`. [`Error::Empty`](crate::Error::Empty) when not waiting;
    /// [`Error::Closed`](crate::Error::Closed) once the other end is closed and everything was received.
    pub fn recv(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        // A message that came as a memfd is read with one pread (cheaper than mapping it).
        self.take(timeout, |r, s| match s {
            Some(s) => s.read(),
            None => Ok(value_of(r, "pipe.recv")?.to_vec()),
        })
    }

    /// Like [`recv`](Self::recv), returning the message as a [`ValueBuf`]: one that came as a
    /// sealed memfd stays its read-only mapping (no copy), held until the `ValueBuf` drops.
    pub fn recv_buf(&self, timeout: Option<Duration>) -> Result<ValueBuf> {
        self.take(timeout, |r, s| match s {
            Some(s) => s.into_buf(),
            None => Ok(ValueBuf::owned(value_of(r, "pipe.recv")?.to_vec())),
        })
    }

    /// One `pipe.recv`, its reply handed to `f` with the memfd value that came with it.
    fn take<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
    ) -> Result<R> {
        let wait = Wait::new(timeout);
        self.client
            .exchange_shared(self.req("pipe.recv", wait.timeout_ms), wait.deadline, f)
    }

    /// Like [`recv`](Self::recv), handing the bytes to `f` without copying them (a large
    /// message that came as a memfd is handed over as its read-only mapping).
    pub fn recv_with<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        self.take(timeout, |r, s| match s {
            Some(s) => f(s.map()?.bytes()),
            None => f(value_of(r, "pipe.recv")?),
        })
    }

    /// Whether a message is waiting (or a `recv` would report `Closed`), waiting up to
    /// `timeout` for one.
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        let wait = Wait::new(Some(timeout));
        self.client
            .exchange(self.req("pipe.poll", wait.timeout_ms), wait.deadline, |r| {
                need(r.ready, "pipe.poll", "ready")
            })
    }

    /// Closes this end: the other end receives what is left, then `Closed`.
    pub fn close(mut self) -> Result<()> {
        self.closed = true;
        self.send_close()
    }

    fn send_close(&self) -> Result<()> {
        self.client
            .exchange(self.req("pipe.close", None), None, |_| Ok(()))
    }
}

impl Drop for RawPipe {
    fn drop(&mut self) {
        if !self.closed {
            // Best effort: if the connection is gone, the broker has released the end already.
            let _ = self.send_close();
        }
    }
}

/// One end of a pipe carrying `T`s (see the crate docs, "Values"). Dropping it closes the end.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// // In one process:
/// let a = client.pipe::<String>("chan", xproc::End::A)?;
/// a.send(&"hello".to_string())?;
/// // In another (each end is held by one connection at a time):
/// let b = client.pipe::<String>("chan", xproc::End::B)?;
/// match b.recv() {
///     Ok(message) => println!("{message}"),
///     Err(xproc::Error::Closed(_)) => println!("end of file"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
pub struct Pipe<T> {
    raw: RawPipe,
    _values: PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Pipe<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pipe").field(&self.raw).finish()
    }
}

impl<T: Serialize + DeserializeOwned> Pipe<T> {
    /// Wraps a raw handle.
    pub fn from_raw(raw: RawPipe) -> Self {
        Pipe {
            raw,
            _values: PhantomData,
        }
    }

    /// The raw handle underneath.
    pub fn raw(&self) -> &RawPipe {
        &self.raw
    }

    /// Unwraps the raw handle.
    pub fn into_raw(self) -> RawPipe {
        self.raw
    }

    /// The end this handle holds.
    pub fn end(&self) -> End {
        self.raw.end()
    }

    /// Sends `value`, waiting as long as it takes for room.
    pub fn send(&self, value: &T) -> Result<()> {
        self.raw.send(&encode(value)?, None)
    }

    /// Sends `value`, waiting at most `timeout` for room.
    pub fn send_timeout(&self, value: &T, timeout: Duration) -> Result<()> {
        self.raw.send(&encode(value)?, Some(timeout))
    }

    /// Sends `value` if there is room now ([`Error::Full`](crate::Error::Full) otherwise).
    pub fn try_send(&self, value: &T) -> Result<()> {
        self.raw.send(&encode(value)?, Some(Duration::ZERO))
    }

    /// Receives the next message, waiting as long as it takes. [`Error::Closed`](crate::Error::Closed) at end of file.
    pub fn recv(&self) -> Result<T> {
        self.raw.recv_with(None, decode)
    }

    /// Receives the next message, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T> {
        self.raw.recv_with(Some(timeout), decode)
    }

    /// Receives a message if one is waiting ([`Error::Empty`](crate::Error::Empty) otherwise).
    pub fn try_recv(&self) -> Result<T> {
        self.raw.recv_with(Some(Duration::ZERO), decode)
    }

    /// Whether a message waits (or `recv` would report end of file), waiting up to `timeout`.
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        self.raw.poll(timeout)
    }

    /// Closes this end: the other end receives what is left, then end of file.
    pub fn close(self) -> Result<()> {
        self.raw.close()
    }
}
