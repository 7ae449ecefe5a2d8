//! Pipes: one end of a two-ended message channel. [`RawPipe`] moves MessagePack bytes,
//! [`Pipe<T>`] typed values.
//!
//! Opening an end claims it for this connection (another connection holding it gets
//! [`Error::Busy`]). Closing the end (or dropping the handle, or the connection going away)
//! finishes the pipe: the other end receives what is left, then [`Error::Closed`].
//!
//! When both ends are held by local clients that can take descriptors, the broker hands each
//! end a socket and the pipe runs peer to peer (docs/PROTOCOL.md §6.5.1): the broker answers
//! an op with `direct` instead of doing it, and this handle does that op, and every later
//! one, on the socket (`direct.rs`). Nothing changes for the caller but the speed.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::Bytes;
use xproc_protocol::{End, Kind, ReplyFields, RequestFields};

use crate::client::{need, value_of, Client, Exchanged};
use crate::codec::{decode, encode, Wait};
use crate::direct::{DirectEnd, Until};
use crate::error::{Error, Result};
use crate::started_pipe::DirectSlot;
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
    /// The end's socket, once the pipe runs direct (this handle's copy: no lock to look).
    direct: OnceLock<Arc<DirectEnd>>,
    /// The same, shared with the event-loop core (`started_pipe.rs`), which may be the one
    /// that receives the socket (a started call answered `direct`); emptied when the end is
    /// closed, so that nothing but running calls keeps the socket open.
    shared: DirectSlot,
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
            direct: OnceLock::new(),
            shared: DirectSlot::default(),
        })
    }

    /// Whether this end runs direct: the broker handed it its socket, and messages go peer
    /// to peer (docs/PROTOCOL.md §6.5.1).
    pub fn is_direct(&self) -> bool {
        self.direct().is_some()
    }

    /// The direct end after a reply said `direct`: the socket and counters page that came
    /// with it, or (when another thread's call was handed them) that thread's, once installed.
    /// This end's direct socket, if the pipe runs direct and this client has it (from this
    /// handle's own call or from a started call's reply).
    fn direct(&self) -> Option<&Arc<DirectEnd>> {
        if let Some(d) = self.direct.get() {
            return Some(d);
        }
        let d = self.shared.get()?;
        Some(self.direct.get_or_init(|| d))
    }

    /// This end's direct socket, for the started calls (`started_pipe.rs`).
    pub(crate) fn direct_end(&self) -> Option<Arc<DirectEnd>> {
        self.direct().cloned()
    }

    /// The slot the event-loop core installs this end's socket into.
    pub(crate) fn direct_slot(&self) -> DirectSlot {
        self.shared.clone()
    }

    fn take_direct(&self, fds: Vec<crate::transport::Descriptor>) -> Result<&DirectEnd> {
        self.shared
            .install_from(fds, self.end, self.capacity, &self.name)?;
        let d = self.shared.wait(&self.name)?;
        Ok(self.direct.get_or_init(|| d))
    }

    /// The errors the broker gives for the wrong direction of a one-way pipe, given here on
    /// the direct path.
    pub(crate) fn check_direction(&self, sending: bool) -> Result<()> {
        let wrong = !self.duplex && (sending == (self.end == End::B));
        if wrong {
            return Err(Error::InvalidArgument(format!(
                "pipe '{}' is one-way (duplex false): only end a sends and only end b receives",
                self.name
            )));
        }
        Ok(())
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
        let until = Until::new(timeout);
        if let Some(d) = self.direct() {
            return self.send_direct(d, value, until);
        }
        let wait = Wait::new(timeout);
        let req = RequestFields {
            value: Some(Bytes::new(value)),
            ..self.req("pipe.send", wait.timeout_ms)
        };
        // A large value travels as a sealed memfd (docs/PROTOCOL.md §4.1).
        match self
            .client
            .exchange_pipe(req, wait.deadline, |_, _| Ok(()))?
        {
            Exchanged::Done(()) => Ok(()),
            Exchanged::Direct(fd) => self.send_direct(self.take_direct(fd)?, value, until),
        }
    }

    fn send_direct(&self, d: &DirectEnd, value: &[u8], until: Until) -> Result<()> {
        self.check_direction(true)?;
        let max = usize::try_from(self.client.limits().max_frame).unwrap_or(usize::MAX);
        if value.len() > max {
            // The same bound as through the broker, so a reader of either kind can take it.
            return Err(Error::Limit {
                code: xproc_protocol::ErrorCode::TooLarge,
                message: format!(
                    "pipe.send carries {} bytes of values, more than the broker's max_frame ({max} bytes)",
                    value.len()
                ),
            });
        }
        d.send(value, until)
    }

    /// Receives the next message, waiting up to `timeout`. [`Error::Empty`](crate::Error::Empty) when not waiting;
    /// [`Error::Closed`](crate::Error::Closed) once the other end is closed and everything was received.
    pub fn recv(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        // A message that came as a memfd is read with one pread (cheaper than mapping it).
        self.take(
            timeout,
            |r, s| match s {
                Some(s) => s.read(),
                None => Ok(value_of(r, "pipe.recv")?.to_vec()),
            },
            |bytes| Ok(bytes.to_vec()),
        )
    }

    /// Like [`recv`](Self::recv), returning the message as a [`ValueBuf`]: one that came as a
    /// sealed memfd stays its read-only mapping (no copy), held until the `ValueBuf` drops.
    pub fn recv_buf(&self, timeout: Option<Duration>) -> Result<ValueBuf> {
        self.take(
            timeout,
            |r, s| match s {
                Some(s) => s.into_buf(),
                None => Ok(ValueBuf::owned(value_of(r, "pipe.recv")?.to_vec())),
            },
            |bytes| Ok(ValueBuf::owned(bytes.to_vec())),
        )
    }

    /// One `pipe.recv`: its reply handed to `on_reply` with the memfd value that came with
    /// it, or, on a direct end (docs/PROTOCOL.md §6.5.1), the message read from the socket
    /// handed to `on_direct`. Exactly one of the two runs.
    fn take<R>(
        &self,
        timeout: Option<Duration>,
        on_reply: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
        on_direct: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let until = Until::new(timeout);
        if let Some(d) = self.direct() {
            self.check_direction(false)?;
            return d.recv(until, on_direct);
        }
        let wait = Wait::new(timeout);
        match self.client.exchange_pipe(
            self.req("pipe.recv", wait.timeout_ms),
            wait.deadline,
            on_reply,
        )? {
            Exchanged::Done(r) => Ok(r),
            Exchanged::Direct(fd) => {
                let d = self.take_direct(fd)?;
                self.check_direction(false)?;
                d.recv(until, on_direct)
            }
        }
    }

    /// Like [`recv`](Self::recv), handing the bytes to `f` without copying them (a large
    /// message that came as a memfd is handed over as its read-only mapping).
    pub fn recv_with<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        // `f` runs at most once: on the broker's reply, or on the socket if it said direct.
        let f = Cell::new(Some(f));
        let once = || f.take().expect("recv's callback runs once");
        self.take(
            timeout,
            |r, s| match s {
                Some(s) => once()(s.map()?.bytes()),
                None => once()(value_of(r, "pipe.recv")?),
            },
            |bytes| once()(bytes),
        )
    }

    /// Whether a message is waiting (or a `recv` would report `Closed`), waiting up to
    /// `timeout` for one.
    pub fn poll(&self, timeout: Duration) -> Result<bool> {
        let start = Instant::now();
        if let Some(d) = self.direct() {
            self.check_direction(false)?;
            return d.poll(timeout);
        }
        let wait = Wait::new(Some(timeout));
        match self.client.exchange_pipe(
            self.req("pipe.poll", wait.timeout_ms),
            wait.deadline,
            |r, _| need(r.ready, "pipe.poll", "ready"),
        )? {
            Exchanged::Done(ready) => Ok(ready),
            Exchanged::Direct(fd) => {
                let d = self.take_direct(fd)?;
                self.check_direction(false)?;
                d.poll(timeout.saturating_sub(start.elapsed()))
            }
        }
    }

    /// Closes this end: the other end receives what is left, then `Closed`.
    pub fn close(mut self) -> Result<()> {
        self.closed = true;
        // The socket first: the peer reads what is left, then end of file.
        drop(self.direct.take());
        self.shared.clear();
        self.send_close()
    }

    fn send_close(&self) -> Result<()> {
        self.client
            .exchange(self.req("pipe.close", None), None, |_| Ok(()))
    }
}

impl Drop for RawPipe {
    fn drop(&mut self) {
        drop(self.direct.take());
        self.shared.clear();
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
