//! Queues and joinable queues: [`RawQueue`] moves MessagePack bytes, [`Queue<T>`] moves typed
//! values through it. Acknowledged delivery (leases) hands out [`RawDelivery`] /
//! [`Delivery<T>`], settled with `ack` or `nack`.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::Bytes;
use xproc_protocol::{Kind, ReplyFields, RequestFields, DEFAULT_LEASE_MS};

use crate::client::{check_reply, need, value_of, Client};
use crate::codec::{decode, encode, millis_ceil, Wait};
use crate::error::{Error, Result};
use crate::stream::Stream;
use crate::valuebuf::{SharedReply, ValueBuf};

/// Most requests [`RawQueue::put_many`] writes before collecting their replies. Bounded so
/// that unread replies never pile up at the broker (which stops reading a client whose output
/// backs up) while the client is still writing.
pub const PIPELINE_MAX_REQUESTS: usize = 1024;

/// Most bytes of values [`RawQueue::put_many`] writes before collecting replies.
pub const PIPELINE_MAX_BYTES: usize = 1 << 20;

/// How long a leased item stays with its consumer when no lease is given: 30 s (the broker's
/// default for `queue.get_leased`).
pub const DEFAULT_LEASE: Duration = Duration::from_millis(DEFAULT_LEASE_MS);

/// Creation options for a queue. `None` means "not given": the default applies when the queue
/// is created, and an existing queue's value is accepted.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let jobs = client.queue_with::<String>(
///     "jobs",
///     xproc::QueueOptions { maxsize: Some(100), max_attempts: Some(3) },
/// )?;
/// assert_eq!(jobs.maxsize(), 100);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueOptions {
    /// Most items the queue holds; `Some(0)` (the default on creation) means unbounded.
    pub maxsize: Option<u64>,
    /// Leased deliveries of one item before the broker moves it to the dead-letter queue
    /// `NAME.dead`; `Some(0)` never does. Default on creation: 5.
    pub max_attempts: Option<u64>,
}

/// A queue's counters, from one `queue.qsize` call.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let jobs = client.raw_queue("jobs", xproc::Kind::JoinableQueue, Default::default())?;
/// let size = jobs.qsize()?;
/// println!("{} queued, {} not yet done", size.len, size.unfinished);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSize {
    /// Items in the queue (exact).
    pub len: u64,
    /// The queue's bound; 0 = unbounded.
    pub maxsize: u64,
    /// Items put and not yet marked done (joinable queues; 0 for plain queues).
    pub unfinished: u64,
}

/// A queue (or joinable queue) handle carrying raw MessagePack values: each value is the bytes
/// of exactly one MessagePack value, checked by the broker (`InvalidValue` otherwise).
///
/// Timeouts: `None` waits as long as it takes, `Some(Duration::ZERO)` does not wait, anything
/// else waits at most that long.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// let q = client.raw_queue("tasks", xproc::Kind::Queue, Default::default())?;
/// q.put(&xproc::encode(&7u32)?, None)?; // one MessagePack value
/// let bytes = q.get(Some(std::time::Duration::from_secs(5)))?;
/// assert_eq!(xproc::decode::<u32>(&bytes)?, 7);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RawQueue {
    client: Client,
    name: String,
    kind: Kind,
    maxsize: u64,
    max_attempts: u64,
    /// `put_async` batches, shared by clones (see `stream.rs`).
    stream: Arc<Mutex<Stream>>,
}

/// An item handed out by [`RawQueue::get_leased`]: its bytes, and the delivery to settle with
/// [`RawQueue::ack`] or [`RawQueue::nack`]. Until then the item stays in the broker, in
/// flight; if the lease runs out or this connection closes first, it goes back to the head of
/// the queue for someone else.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let q = client.raw_queue("tasks", xproc::Kind::Queue, Default::default())?;
/// let d = q.get_leased(None, Duration::from_secs(30))?;
/// println!("delivery {} (attempt {}): {} bytes", d.id, d.attempt, d.value.len());
/// q.ack(d.id)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDelivery {
    /// The value's MessagePack bytes.
    pub value: Vec<u8>,
    /// The delivery id (unique for the broker's lifetime).
    pub id: u64,
    /// Which leased delivery of this item this is: 1 the first time, more after expired
    /// leases, nacks or crashed consumers.
    pub attempt: u32,
}

impl RawQueue {
    /// Opens or creates the queue `name`; `kind` is [`Kind::Queue`] or
    /// [`Kind::JoinableQueue`].
    pub fn open(client: &Client, name: &str, kind: Kind, options: QueueOptions) -> Result<Self> {
        if !matches!(kind, Kind::Queue | Kind::JoinableQueue) {
            return Err(Error::InvalidArgument(format!(
                "a queue's kind is queue or joinable_queue, not {kind}"
            )));
        }
        let opened = client.open_with(
            name,
            kind,
            RequestFields {
                maxsize: options.maxsize,
                max_attempts: options.max_attempts,
                ..RequestFields::new(0, "open")
            },
        )?;
        Ok(RawQueue {
            client: client.clone(),
            name: name.to_string(),
            kind,
            maxsize: opened.maxsize.unwrap_or(0),
            max_attempts: opened.max_attempts.unwrap_or(0),
            stream: Arc::new(Mutex::new(Stream::new(client.clone(), name.to_string()))),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Kind::Queue` or `Kind::JoinableQueue`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The queue's bound (0 = unbounded), as reported when it was opened.
    pub fn maxsize(&self) -> u64 {
        self.maxsize
    }

    /// The queue's `max_attempts` (0 = never dead-letter), as reported when it was opened.
    pub fn max_attempts(&self) -> u64 {
        self.max_attempts
    }

    /// The name of this queue's dead-letter queue: `NAME.dead`.
    pub fn dead_letter_name(&self) -> String {
        format!("{}.dead", self.name)
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn stream(&self) -> MutexGuard<'_, Stream> {
        // Nothing panics while holding it; a poisoned stream is still consistent.
        self.stream.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds a request of this handle, first sending any values `put_async` gathered so that
    /// the broker sees this handle's requests in the order they were made.
    fn req(&self, op: &'static str) -> RequestFields<'_> {
        self.stream().send();
        RequestFields {
            name: Some(self.name.as_str().into()),
            ..RequestFields::new(0, op)
        }
    }

    /// Puts one value, waiting for room up to `timeout`. [`Error::Full`] when not waiting and
    /// full; [`Error::Timeout`] when the wait ran out.
    pub fn put(&self, value: &[u8], timeout: Option<Duration>) -> Result<()> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            value: Some(Bytes::new(value)),
            timeout_ms: wait.timeout_ms,
            ..self.req("queue.put")
        };
        // A large value travels as a sealed memfd (docs/PROTOCOL.md §4.1).
        self.client
            .exchange_shared(req, wait.deadline, |_, _| Ok(()))
    }

    /// Takes the oldest value, waiting for one up to `timeout`. [`Error::Empty`] when not
    /// waiting and empty; [`Error::Timeout`] when the wait ran out.
    pub fn get(&self, timeout: Option<Duration>) -> Result<Vec<u8>> {
        // A value that came as a memfd is read with one pread (cheaper than mapping it).
        self.take(timeout, |r, s| match s {
            Some(s) => s.read(),
            None => Ok(value_of(r, "queue.get")?.to_vec()),
        })
    }

    /// Like [`get`](Self::get), handing the value's bytes to `f` without copying them (a
    /// value that came as a memfd is handed over as its read-only mapping, unmapped when `f`
    /// returns).
    pub fn get_with<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        self.take(timeout, |r, s| match s {
            Some(s) => f(s.map()?.bytes()),
            None => f(value_of(r, "queue.get")?),
        })
    }

    /// Like [`get`](Self::get), returning the value as a [`ValueBuf`]: a value that came as a
    /// sealed memfd stays its read-only mapping (no copy), held until the `ValueBuf` drops.
    ///
    /// On a connection that negotiated rings (docs/PROTOCOL.md §4.2) the first `get_buf`
    /// opens them, so that even the first large value is read in place in the down ring —
    /// and, when it arrives while this get waits, is copied there once, straight from its
    /// producer's up ring (the handoff) — instead of waiting for a large value to ask for
    /// them. That costs a `ring.open` round trip and two mappings (virtual, touched only by
    /// large values) on connections that only ever get small values.
    pub fn get_buf(&self, timeout: Option<Duration>) -> Result<ValueBuf> {
        self.client.want_rings();
        self.take(timeout, |r, s| match s {
            Some(s) => s.into_buf(),
            None => Ok(ValueBuf::owned(value_of(r, "queue.get")?.to_vec())),
        })
    }

    /// One `queue.get`, its reply handed to `f` with the memfd value that came with it.
    fn take<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&ReplyFields<'_>, Option<SharedReply>) -> Result<R>,
    ) -> Result<R> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            timeout_ms: wait.timeout_ms,
            ..self.req("queue.get")
        };
        self.client.exchange_shared(req, wait.deadline, f)
    }

    /// Takes the oldest value on a lease of `lease` (rounded up to whole milliseconds, at least
    /// 1), waiting for one up to `timeout` ([`Error::Empty`] when not waiting and empty,
    /// [`Error::Timeout`] when the wait ran out). Settle it with [`ack`](Self::ack) or
    /// [`nack`](Self::nack) before the lease runs out.
    pub fn get_leased(&self, timeout: Option<Duration>, lease: Duration) -> Result<RawDelivery> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            timeout_ms: wait.timeout_ms,
            lease_ms: Some(millis_ceil(lease).max(1)),
            ..self.req("queue.get_leased")
        };
        self.client.exchange(req, wait.deadline, |r| {
            Ok(RawDelivery {
                value: value_of(r, "queue.get_leased")?.to_vec(),
                id: need(r.delivery, "queue.get_leased", "delivery")?,
                attempt: u32::try_from(need(r.attempt, "queue.get_leased", "attempt")?)
                    .unwrap_or(u32::MAX),
            })
        })
    }

    /// Acks delivery `id`: the item is done and leaves the queue (on a joinable queue this
    /// counts as [`task_done`](Self::task_done)). [`Error::UnknownDelivery`] if this
    /// connection does not hold it (already settled, its lease ran out, or never handed out
    /// here).
    pub fn ack(&self, id: u64) -> Result<()> {
        let req = RequestFields {
            delivery: Some(id),
            ..self.req("queue.ack")
        };
        self.client.exchange(req, None, |_| Ok(()))
    }

    /// Nacks delivery `id`: the item goes back to the head of the queue after `delay`
    /// (`Duration::ZERO`: at once), or to the dead-letter queue if this was its last attempt.
    /// [`Error::UnknownDelivery`] as for [`ack`](Self::ack).
    pub fn nack(&self, id: u64, delay: Duration) -> Result<()> {
        let req = RequestFields {
            delivery: Some(id),
            delay_ms: Some(millis_ceil(delay)),
            ..self.req("queue.nack")
        };
        self.client.exchange(req, None, |_| Ok(()))
    }

    /// Hands `value` to the connection without waiting for the broker: it goes out in a
    /// batch with its neighbours, and at most a window of batches is in flight (see
    /// [`PUT_ASYNC_WINDOW`](crate::PUT_ASYNC_WINDOW)); out of window, this waits for the
    /// oldest batch's reply. Each value waits in the broker as long as it takes for room, so a
    /// bounded queue never holds more than `maxsize`. Order is kept.
    ///
    /// An earlier `put_async` that failed is reported here, once, as [`Error::PutAsync`]
    /// (naming the position of the first value not put); this value is then not taken. Call
    /// [`flush`](Self::flush) to wait until everything handed over is in the queue.
    ///
    /// A value of at least [`RING_VALUE_MIN`](crate::RING_VALUE_MIN) bytes on a connection
    /// with rings (docs/PROTOCOL.md §4.2) is written into a free up-ring region and goes as
    /// its own `queue.put` (after the values gathered before it), counted in the same window;
    /// so the broker copies one value out while the producer writes the next. When the ring
    /// has no room even after the values in flight that hold it are answered, the value goes
    /// in a batch like a small one. Order, window and error reporting are the same either way.
    pub fn put_async(&self, value: &[u8]) -> Result<()> {
        self.put_async_with(
            Some(value.len()),
            |region| {
                region.copy_from_slice(value);
                Ok(())
            },
            |buf| {
                buf.extend_from_slice(value);
                Ok(())
            },
        )
    }

    /// [`put_async`](Self::put_async) of a value `len` bytes long if known up front (then
    /// `fill` may write it into an up-ring region), else of the bytes `write` appends to the
    /// buffer it is given.
    pub(crate) fn put_async_with(
        &self,
        len: Option<usize>,
        fill: impl FnOnce(&mut [u8]) -> Result<()>,
        write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        self.stream().push(len, fill, write)
    }

    /// Waits until every value handed to [`put_async`](Self::put_async) on this handle (and
    /// its clones) has been accepted by the broker — put in the queue or refused. Returns the
    /// first refusal not yet reported, as [`Error::PutAsync`].
    pub fn flush(&self) -> Result<()> {
        self.stream().flush()
    }

    /// Takes up to `max` values (at least 1; at most [`MAX_BATCH`](crate::protocol::MAX_BATCH)
    /// per request) in one round trip, oldest first, waiting up to `timeout` for the first
    /// one ([`Error::Empty`] when not waiting and empty, [`Error::Timeout`] when the wait ran
    /// out). Once a value is there it returns what is there, without waiting for `max`.
    pub fn get_many(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<Vec<u8>>> {
        self.get_many_with(max, timeout, |values| {
            Ok(values.map(<[u8]>::to_vec).collect())
        })
    }

    /// Like [`get_many`](Self::get_many), handing the values' bytes to `f` without copying.
    pub fn get_many_with<R>(
        &self,
        max: usize,
        timeout: Option<Duration>,
        f: impl FnOnce(&mut dyn Iterator<Item = &[u8]>) -> Result<R>,
    ) -> Result<R> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            max: Some(max.max(1) as u64),
            timeout_ms: wait.timeout_ms,
            ..self.req("queue.get_many")
        };
        self.client.exchange(req, wait.deadline, |r| {
            let values = need(r.values.as_ref(), "queue.get_many", "values")?;
            let mut it = values.iter().map(|v| v.map_or(&[][..], |b| &b[..]));
            f(&mut it)
        })
    }

    /// Leases up to `max` values in one round trip, each under its own delivery (as
    /// [`get_leased`](Self::get_leased) does one), waiting up to `timeout` for the first.
    /// Settle them with [`ack_many`](Self::ack_many), [`ack`](Self::ack) or
    /// [`nack`](Self::nack); those not acked before their lease runs out, or when this
    /// connection closes, go back to the queue for another consumer.
    pub fn get_many_leased(
        &self,
        max: usize,
        timeout: Option<Duration>,
        lease: Duration,
    ) -> Result<Vec<RawDelivery>> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            max: Some(max.max(1) as u64),
            timeout_ms: wait.timeout_ms,
            lease_ms: Some(millis_ceil(lease).max(1)),
            ..self.req("queue.get_many_leased")
        };
        self.client.exchange(req, wait.deadline, |r| {
            let op = "queue.get_many_leased";
            let values = need(r.values.as_ref(), op, "values")?;
            let ids = need(r.deliveries.as_ref(), op, "deliveries")?;
            let attempts = need(r.attempts.as_ref(), op, "attempts")?;
            if ids.len() != values.len() || attempts.len() != values.len() {
                return Err(Error::Protocol(format!(
                    "{op}: {} values, {} deliveries and {} attempts",
                    values.len(),
                    ids.len(),
                    attempts.len()
                )));
            }
            Ok(values
                .iter()
                .zip(ids)
                .zip(attempts)
                .map(|((v, &id), &attempt)| RawDelivery {
                    value: v.map_or_else(Vec::new, |b| b.to_vec()),
                    id,
                    attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                })
                .collect())
        })
    }

    /// Acks many deliveries in one request. Returns those this connection did not hold
    /// (already settled, lease ran out, never handed out here), which changed nothing.
    pub fn ack_many(&self, ids: &[u64]) -> Result<Vec<u64>> {
        let req = RequestFields {
            deliveries: Some(ids.to_vec()),
            ..self.req("queue.ack_many")
        };
        self.client
            .exchange(req, None, |r| Ok(r.unknown.clone().unwrap_or_default()))
    }

    /// Puts every value, pipelined: up to [`PIPELINE_MAX_REQUESTS`] puts are written at once
    /// before their replies are collected, so the cost is far below one round trip per value.
    /// Each put waits for room as long as it takes. Values are put in order.
    ///
    /// Returns how many were put. On the first failure it stops and returns that error; puts
    /// already written in the same batch may have succeeded.
    pub fn put_many<V: AsRef<[u8]>>(&self, values: impl IntoIterator<Item = V>) -> Result<usize> {
        self.put_many_fallible(values.into_iter().map(Ok))
    }

    pub(crate) fn put_many_fallible<V: AsRef<[u8]>>(
        &self,
        values: impl Iterator<Item = Result<V>>,
    ) -> Result<usize> {
        let mut values = values.peekable();
        let mut done = 0;
        let mut batch: Vec<V> = Vec::new();
        while values.peek().is_some() {
            batch.clear();
            let mut bytes = 0;
            while batch.len() < PIPELINE_MAX_REQUESTS && bytes < PIPELINE_MAX_BYTES {
                match values.next() {
                    Some(v) => {
                        let v = v?;
                        bytes += v.as_ref().len();
                        batch.push(v);
                    }
                    None => break,
                }
            }
            let reqs = batch
                .iter()
                .map(|v| RequestFields {
                    value: Some(Bytes::new(v.as_ref())),
                    ..self.req("queue.put")
                })
                .collect();
            for reply in self.client.pipeline(reqs)? {
                check_reply(&reply?)?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// The queue's length, bound and unfinished count.
    pub fn qsize(&self) -> Result<QueueSize> {
        self.client.exchange(self.req("queue.qsize"), None, |r| {
            Ok(QueueSize {
                len: need(r.len, "queue.qsize", "len")?,
                maxsize: r.maxsize.unwrap_or(0),
                unfinished: r.unfinished.unwrap_or(0),
            })
        })
    }

    /// Marks one item done (joinable queues). [`Error::InvalidArgument`] if called more times
    /// than items were put; [`Error::TypeMismatch`] on a plain queue.
    pub fn task_done(&self) -> Result<()> {
        self.client
            .exchange(self.req("queue.task_done"), None, |_| Ok(()))
    }

    /// Waits until every item put has been marked done, up to `timeout` ([`Error::Timeout`]).
    pub fn join(&self, timeout: Option<Duration>) -> Result<()> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            timeout_ms: wait.timeout_ms,
            ..self.req("queue.join")
        };
        self.client.exchange(req, wait.deadline, |_| Ok(()))
    }
}

/// A queue (or joinable queue) of `T`s, with Python's method names.
///
/// Values are MessagePack, structs as maps (see the crate docs, "Values"); any language can put
/// and get them. A value in the queue that does not decode as `T` is returned as
/// [`Error::Decode`], which keeps its bytes.
///
/// Cloning a handle is cheap and shares the client's connection.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let tasks = client.queue::<(String, u32)>("tasks")?;
/// tasks.put(&("resize".to_string(), 640))?;
/// match tasks.get_timeout(Duration::from_secs(5)) {
///     Ok((op, n)) => println!("{op} {n}"),
///     Err(xproc::Error::Timeout) => println!("nothing came"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
pub struct Queue<T> {
    raw: RawQueue,
    _values: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            raw: self.raw.clone(),
            _values: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Queue").field(&self.raw).finish()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// Wraps a raw handle; values are encoded and decoded as `T`.
    pub fn from_raw(raw: RawQueue) -> Self {
        Queue {
            raw,
            _values: PhantomData,
        }
    }

    /// The raw handle underneath.
    pub fn raw(&self) -> &RawQueue {
        &self.raw
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        self.raw.name()
    }

    /// Puts `value`, waiting as long as it takes for room.
    pub fn put(&self, value: &T) -> Result<()> {
        self.put_typed(value, None)
    }

    /// Puts `value`, waiting at most `timeout` for room ([`Error::Timeout`]).
    pub fn put_timeout(&self, value: &T, timeout: Duration) -> Result<()> {
        self.put_typed(value, Some(timeout))
    }

    /// Puts `value` if there is room now ([`Error::Full`] otherwise). Python's `put_nowait`.
    pub fn try_put(&self, value: &T) -> Result<()> {
        self.put_typed(value, Some(Duration::ZERO))
    }

    /// A large value is encoded straight into the connection's up ring when it has one
    /// (docs/PROTOCOL.md §4.2); any other the usual way.
    fn put_typed(&self, value: &T, timeout: Option<Duration>) -> Result<()> {
        let client = &self.raw.client;
        if let Some((region, len)) = client.encode_up(value)? {
            let wait = Wait::new(timeout);
            let req = RequestFields {
                timeout_ms: wait.timeout_ms,
                ..self.raw.req("queue.put")
            };
            return client.exchange_placed(req, region, len, wait.deadline);
        }
        let bytes = encode(value)?;
        client.note_typed(bytes.len());
        self.raw.put(&bytes, timeout)
    }

    /// Puts every value, pipelined (see [`RawQueue::put_many`]); returns how many were put.
    pub fn put_many<B: Borrow<T>>(&self, values: impl IntoIterator<Item = B>) -> Result<usize> {
        self.raw
            .put_many_fallible(values.into_iter().map(|v| encode(v.borrow())))
    }

    /// Hands `value` over without waiting for the broker; see [`RawQueue::put_async`] (order,
    /// window, errors reported by the next call and by [`flush`](Self::flush)).
    ///
    /// Once a large value was handed over, the next are sized first (a pass that writes
    /// nothing) so that a large one is encoded straight into an up-ring region.
    pub fn put_async(&self, value: &T) -> Result<()> {
        let client = &self.raw.client;
        let len = match client.typed_was_large() {
            true => Some(crate::codec::encoded_len(value)?),
            false => None,
        };
        self.raw.put_async_with(
            len,
            |mut region| {
                rmp_serde::encode::write_named(&mut region, value)?;
                match region.is_empty() {
                    true => Ok(()),
                    false => Err(Error::Protocol("a value encoded shorter than sized".into())),
                }
            },
            |buf| {
                let at = buf.len();
                rmp_serde::encode::write_named(buf, value)?;
                client.note_typed_len(buf.len() - at);
                Ok(())
            },
        )
    }

    /// Waits until every value handed to [`put_async`](Self::put_async) is accepted by the
    /// broker; returns the first refusal not yet reported ([`Error::PutAsync`]).
    pub fn flush(&self) -> Result<()> {
        self.raw.flush()
    }

    /// Takes up to `max` values in one round trip, waiting up to `timeout` (`None`: as long
    /// as it takes) for the first; see [`RawQueue::get_many`]. A value that does not decode
    /// as `T` fails the call with [`Error::DecodeBatch`], which keeps every value taken.
    pub fn get_many(&self, max: usize, timeout: Option<Duration>) -> Result<Vec<T>> {
        self.raw.get_many_with(max, timeout, |values| {
            let raw: Vec<&[u8]> = values.collect();
            let mut out = Vec::with_capacity(raw.len());
            for (index, v) in raw.iter().enumerate() {
                match rmp_serde::from_slice(v) {
                    Ok(t) => out.push(t),
                    Err(source) => {
                        return Err(Error::DecodeBatch {
                            index,
                            source,
                            raw: raw.iter().map(|v| v.to_vec()).collect(),
                        })
                    }
                }
            }
            Ok(out)
        })
    }

    /// Leases up to `max` values in one round trip (see [`RawQueue::get_many_leased`]),
    /// waiting up to `timeout` for the first. A value that does not decode as `T` is nacked
    /// at once (as [`get_leased`](Self::get_leased) does) and left out; if none decodes, the
    /// first one's [`Error::Decode`] is returned.
    pub fn get_many_leased(
        &self,
        max: usize,
        timeout: Option<Duration>,
        lease: Duration,
    ) -> Result<Vec<Delivery<T>>> {
        let batch = self.raw.get_many_leased(max, timeout, lease)?;
        let mut out = Vec::with_capacity(batch.len());
        let mut first_error = None;
        for d in batch {
            match decode(&d.value) {
                Ok(value) => out.push(Delivery {
                    value,
                    id: d.id,
                    attempt: d.attempt,
                    queue: self.raw.clone(),
                }),
                Err(e) => {
                    let _ = self.raw.nack(d.id, Duration::ZERO);
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Acks many deliveries (their ids) in one request; returns the ids this connection did
    /// not hold. See [`RawQueue::ack_many`].
    pub fn ack_many(&self, ids: &[u64]) -> Result<Vec<u64>> {
        self.raw.ack_many(ids)
    }

    /// The values of the queue, as they come, fetched `batch` at a time with
    /// [`get_many`](Self::get_many): each `next` waits as long as it takes. The iterator
    /// ends after yielding an error.
    pub fn iter(&self, batch: usize) -> Iter<'_, T> {
        Iter {
            queue: self,
            batch,
            idle: None,
            buffered: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// Like [`iter`](Self::iter), but ends (returns `None`) once no value has come for
    /// `idle`.
    pub fn iter_timeout(&self, batch: usize, idle: Duration) -> Iter<'_, T> {
        Iter {
            idle: Some(idle),
            ..self.iter(batch)
        }
    }

    /// Takes the oldest value, waiting as long as it takes.
    pub fn get(&self) -> Result<T> {
        self.raw.get_with(None, decode)
    }

    /// Takes the oldest value, waiting at most `timeout` ([`Error::Timeout`]).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.raw.get_with(Some(timeout), decode)
    }

    /// Takes the oldest value if there is one ([`Error::Empty`] otherwise). Python's
    /// `get_nowait`.
    pub fn try_get(&self) -> Result<T> {
        self.raw.get_with(Some(Duration::ZERO), decode)
    }

    /// Items in the queue now (exact).
    pub fn qsize(&self) -> Result<u64> {
        Ok(self.raw.qsize()?.len)
    }

    /// Whether the queue is empty now.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.raw.qsize()?.len == 0)
    }

    /// Whether the queue is bounded and at its bound now.
    pub fn is_full(&self) -> Result<bool> {
        let s = self.raw.qsize()?;
        Ok(s.maxsize > 0 && s.len >= s.maxsize)
    }

    /// The queue's bound (0 = unbounded).
    pub fn maxsize(&self) -> u64 {
        self.raw.maxsize()
    }

    /// Marks one item done (joinable queues; [`Error::TypeMismatch`] on a plain queue,
    /// [`Error::InvalidArgument`] when called more times than items were put).
    pub fn task_done(&self) -> Result<()> {
        self.raw.task_done()
    }

    /// Waits until every item put has been marked done (joinable queues).
    pub fn join(&self) -> Result<()> {
        self.raw.join(None)
    }

    /// Like [`join`](Self::join), waiting at most `timeout` ([`Error::Timeout`]).
    pub fn join_timeout(&self, timeout: Duration) -> Result<()> {
        self.raw.join(Some(timeout))
    }

    /// Takes the oldest value on a lease (acknowledged delivery), waiting as long as it takes.
    /// The item stays in the broker until the returned [`Delivery`] is acked; if `lease`
    /// passes first, or this process dies, it goes back to the head of the queue for another
    /// consumer. A value that does not decode as `T` is nacked at once (so after
    /// `max_attempts` it lands in `NAME.dead`) and returned as [`Error::Decode`].
    pub fn get_leased(&self, lease: Duration) -> Result<Delivery<T>> {
        self.leased(None, lease)
    }

    /// Like [`get_leased`](Self::get_leased), waiting at most `timeout` ([`Error::Timeout`]).
    pub fn get_leased_timeout(&self, timeout: Duration, lease: Duration) -> Result<Delivery<T>> {
        self.leased(Some(timeout), lease)
    }

    /// Like [`get_leased`](Self::get_leased) if an item is ready now ([`Error::Empty`]
    /// otherwise).
    pub fn try_get_leased(&self, lease: Duration) -> Result<Delivery<T>> {
        self.leased(Some(Duration::ZERO), lease)
    }

    fn leased(&self, timeout: Option<Duration>, lease: Duration) -> Result<Delivery<T>> {
        let d = self.raw.get_leased(timeout, lease)?;
        match decode(&d.value) {
            Ok(value) => Ok(Delivery {
                value,
                id: d.id,
                attempt: d.attempt,
                queue: self.raw.clone(),
            }),
            Err(e) => {
                // Nobody could process it as T: give it back at once rather than sit on it
                // for the whole lease; max_attempts then routes it to the dead letters.
                let _ = self.raw.nack(d.id, Duration::ZERO);
                Err(e)
            }
        }
    }

    /// Flushes what [`put_async`](Self::put_async) handed over and drops this handle,
    /// returning the first refusal not yet reported. Client-side only: the shared queue and
    /// its items stay in the broker for every other handle and process (delete it with
    /// [`Client::delete`]). Python's `Queue.close` likewise only closes the caller's side.
    pub fn close(self) -> Result<()> {
        self.raw.flush()
    }
}

/// The values of a queue as they come, `batch` at a time ([`Queue::iter`]).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let tasks = client.queue::<u64>("tasks")?;
/// // Up to 256 items per round trip; ends after 2 s without one.
/// for n in tasks.iter_timeout(256, Duration::from_secs(2)) {
///     println!("{}", n?);
/// }
/// # Ok(()) }
/// ```
pub struct Iter<'q, T> {
    queue: &'q Queue<T>,
    batch: usize,
    idle: Option<Duration>,
    buffered: std::collections::VecDeque<T>,
    done: bool,
}

impl<T: Serialize + DeserializeOwned> Iterator for Iter<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let Some(v) = self.buffered.pop_front() {
            return Some(Ok(v));
        }
        if self.done {
            return None;
        }
        match self.queue.get_many(self.batch, self.idle) {
            Ok(values) => {
                self.buffered = values.into();
                self.buffered.pop_front().map(Ok)
            }
            Err(Error::Timeout) if self.idle.is_some() => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// An item taken with [`Queue::get_leased`]: the decoded value, plus what is needed to settle
/// it. Call [`ack`](Self::ack) once it has been processed, or [`nack`](Self::nack) to give it
/// back. Dropping a `Delivery` unsettled does nothing at once: the item goes back to the queue
/// when its lease runs out (or when this connection closes).
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// use std::time::Duration;
///
/// let tasks = client.queue::<String>("tasks")?;
/// let d = tasks.get_leased(Duration::from_secs(30))?;
/// if d.value().is_empty() {
///     d.nack(Duration::from_secs(1))?; // back to the queue in 1 s
/// } else {
///     d.ack()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Delivery<T> {
    /// The item.
    pub value: T,
    /// The delivery id.
    pub id: u64,
    /// Which leased delivery of this item this is (1 the first time).
    pub attempt: u32,
    queue: RawQueue,
}

impl<T> Delivery<T> {
    /// A delivery of `value` from `queue` (for the async client, which gets it from a
    /// completion).
    #[cfg_attr(not(all(unix, feature = "tokio")), allow(dead_code))]
    pub(crate) fn new(value: T, id: u64, attempt: u32, queue: RawQueue) -> Self {
        Delivery {
            value,
            id,
            attempt,
            queue,
        }
    }

    /// The item, by reference.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The queue it came from.
    pub fn queue(&self) -> &RawQueue {
        &self.queue
    }

    /// Acks it: done, removed from the queue (counts as `task_done` on a joinable queue).
    /// [`Error::UnknownDelivery`] if the lease ran out first (the item went back and may be
    /// processed again: make processing idempotent, or lease generously).
    pub fn ack(self) -> Result<()> {
        self.queue.ack(self.id)
    }

    /// Gives it back: to the head of the queue after `delay` (`Duration::ZERO`: at once), or
    /// to `NAME.dead` after its last attempt.
    pub fn nack(self, delay: Duration) -> Result<()> {
        self.queue.nack(self.id, delay)
    }

    /// Takes the value, leaving the delivery unsettled (its lease runs out by itself).
    pub fn into_value(self) -> T {
        self.value
    }
}
