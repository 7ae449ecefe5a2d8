//! The Rust client for xproc: queues, pipes, dicts and locks that live in an `xprocd` broker
//! and are shared by processes written in any language.
//!
//! ```no_run
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Task { n: u32 }
//!
//! # fn main() -> xproc::Result<()> {
//! let client = xproc::Client::connect_default()?;
//! let tasks = client.queue::<Task>("tasks")?;      // opens, or creates, the shared queue
//! tasks.put(&Task { n: 7 })?;
//! let t: Task = tasks.get_timeout(Duration::from_secs(5))?;
//! # let _ = t; Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`client`](Client) (`client.rs`): connecting and `hello`, admin calls (`ping`, `list`,
//!   `stat`, `clients`, `delete`), the [`Client::call`] escape hatch, and one constructor per
//!   object type.
//! - `conn.rs`: the only code that touches the socket; matches replies to callers by id
//!   (see "Threads").
//! - `queue.rs`, `dict.rs`, `pipe.rs`: value-carrying objects, each as a raw layer
//!   ([`RawQueue`], [`RawDict`], [`RawPipe`]: MessagePack bytes in and out) and a typed layer
//!   over it ([`Queue<T>`], [`Dict<K, V>`], [`Pipe<T>`]: serde types).
//! - `lock.rs`, `semaphore.rs`, `event.rs`, `condition.rs`, `barrier.rs`: sync primitives.
//! - `many.rs`: waiting on many objects at once ([`Client::get_any`], [`Client::wait`]).
//! - `aio/` (feature `tokio`, Unix only; works on Linux, where the event-loop API does):
//!   `aio::Client`, futures over the event-loop API.
//! - `events.rs`: the event-loop API: [`Client::event_fd`], [`Client::start`],
//!   [`Client::process`], [`Client::next_completion`], [`Client::cancel`] (Linux only so far:
//!   elsewhere, Windows included, they exist and fail saying so).
//! - `rings.rs`: the connection's value rings (up and down) and their FIFO allocators.
//! - `valuebuf.rs`: [`ValueBuf`], a value as a get hands it over: owned, or a sealed memfd
//!   mapped read-only (no copy).
//! - `started.rs`, `started_pipe.rs`: started (event-loop) forms of `join`, leased gets,
//!   barrier and condition waits, and of the pipe calls (a message a cancelled receive got
//!   anyway is kept for the handle's next receive).
//! - `direct.rs`: a direct pipe end, once the broker handed it its socket and counters page
//!   (peer to peer, an inbox of exactly `capacity` messages).
//! - `codec.rs`: typed values to MessagePack and timeouts to wire fields.
//! - `error.rs`: [`Error`], one small enum for every failure.
//! - `endpoint.rs`: [`default_socket_path`], [`Endpoint`] (a path or `tcp://HOST:PORT`), authkey
//!   files.
//! - `handshake.rs`: the client's side of the TCP authkey handshake.
//! - `transport/`: the only OS-specific code: the stream to the broker, fork detection, the
//!   per-user default endpoint (same names per OS).
//!
//! The wire format itself is the `xproc-protocol` crate (docs/PROTOCOL.md); this crate builds
//! requests with its `RequestFields` and decodes replies with its `ReplyFields`.
//!
//! # Names, creation, lifetime
//!
//! Every constructor (`client.queue("tasks")`, `client.lock("dev")`, ...) opens the object with
//! that name in the broker, creating it if the name is free. Opening a name that holds another
//! kind of object is [`Error::TypeMismatch`]; giving a creation option (`maxsize`, `initial`,
//! `parties`, ...) that differs from the existing object's is an `OptionMismatch` broker error.
//! Objects live in the broker until deleted ([`Client::delete`]) or until it stops; dropping
//! a handle never deletes the shared object (pipes are the exception: dropping a [`Pipe`]
//! closes the end it holds).
//!
//! # Values
//!
//! Typed values are encoded with `rmp_serde::to_vec_named`: structs become MessagePack
//! **maps** keyed by field name, so Python, C and C# read them as dicts/maps; `Option::None`
//! is nil; integers take their shortest encoding (so `1` is the same dict key from every
//! language). A `Vec<u8>` serialises as an *array of integers* unless marked
//! `#[serde(with = "serde_bytes")]` (or wrapped in `serde_bytes::ByteBuf`), which makes it
//! MessagePack `bin` — what other languages see as bytes. A value that does not decode as the
//! requested type is [`Error::Decode`], which keeps its bytes (a `get` has already taken it).
//!
//! Values (and requests) larger than the broker's `max_frame` are refused before sending with
//! [`Error::Limit`], whose message names the limit; [`Client::limits`] tells the limits.
//!
//! # Acknowledged delivery
//!
//! `get` takes an item for good, as Python's `multiprocessing` does. When a consumer may
//! crash mid-task, take it on a lease instead and ack it when done:
//!
//! ```no_run
//! # use std::time::Duration;
//! # fn main() -> xproc::Result<()> {
//! # let client = xproc::Client::connect_default()?;
//! let tasks = client.queue::<String>("tasks")?;
//! let d = tasks.get_leased(Duration::from_secs(30))?; // 30 s to process it
//! println!("working on {} (attempt {})", d.value, d.attempt);
//! d.ack()?; // done; without this, it goes back to the queue when the lease ends
//! # Ok(()) }
//! ```
//!
//! If the lease runs out or the consumer's connection closes first, the item goes back to the
//! head of the queue at once. `nack(delay)` gives it back deliberately. After `max_attempts`
//! deliveries (a [`QueueOptions`] field, default 5) an item is moved to the dead-letter queue
//! `NAME.dead`. On a joinable queue, `ack` counts as `task_done`. docs/PROTOCOL.md §6.3 has
//! the details.
//!
//! # Raw access (for bindings)
//!
//! Every value-carrying handle has a raw form that takes and returns MessagePack bytes
//! (each exactly one MessagePack value; the broker checks, `InvalidValue` otherwise) and
//! timeouts as `Option<Duration>` (`None` waits as long as it takes, `Some(ZERO)` does not
//! wait): [`Client::raw_queue`], [`Client::raw_dict`], [`Client::raw_pipe`]. The typed handles
//! wrap them (`Queue::raw`, `Queue::from_raw`). Sync primitives carry no values and have one
//! form; their blocking calls also come as `*_within(Option<Duration>)` (`acquire_within`,
//! `wait_within`) with the same timeout convention. [`Client::call`] sends any request (a `RequestFields`) and returns its [`Reply`].
//! [`Error::code`] gives the wire error code behind an error.
//!
//! # Timeouts
//!
//! Blocking calls come in three forms, as in Python: wait as long as it takes (`get`), wait at
//! most a duration (`get_timeout`), or do not wait (`try_get`). The timeout bounds the whole
//! call: the broker enforces it, and answers with the call's timeout outcome once it passes.
//! Should that answer not have come within the timeout plus [`TIMEOUT_GRACE`] (the broker was
//! stopped, or read the request late), the client cancels the request at the broker and
//! returns what the broker says it did: the timeout outcome, or the item (the lock, ...) if
//! the request had completed first. Nothing is dropped with a discarded reply; a broker that
//! is stopped outright holds the call until it goes on.
//! One exception: a condition's `wait` reacquires the lock after its timeout for as long as
//! that takes (as in Python), so the client waits for that reply without a bound.
//!
//! Signals do not end a blocking call (an interrupted read is resumed) unless the thread
//! called [`set_interruptible`]: then its call is cancelled at the broker, so it took nothing,
//! and ends with [`Error::Interrupted`]. Language runtimes that run signal handlers between
//! calls (Python's Ctrl-C) use it through the C ABI.
//!
//! # Threads
//!
//! A [`Client`] is `Clone + Send + Sync`, an `Arc` around one connection shared by every
//! clone, every handle and every thread. Several threads may call at once, blocking calls
//! included: each request carries a unique id; writes go under a mutex; replies are matched to
//! callers by id. Nobody runs a background thread: a caller waiting for its reply reads the
//! socket itself if no other caller is reading (the *leader*), files the replies it finds for
//! the others, and hands over reading when its own reply has come; the others sleep on a
//! condvar until their reply is filed or they become leader. A single-threaded program thus
//! pays no thread hop per call. A receive buffer kept with the connection means a caller that
//! times out mid-frame loses nothing.
//!
//! If the broker goes away, every waiting thread gets [`Error::Disconnected`], and so does
//! every later call: connect again.
//!
//! **Processes.** A `Client` belongs to the process that connected. A child made by `fork`
//! (Python's `multiprocessing` on Linux, for one) inherits the socket, but its calls fail with
//! [`Error::Disconnected`] and neither write nor read on it, so the parent's stream is
//! untouched: connect again in the child. Dropping the inherited handles there sends nothing
//! and closes the child's copy of the socket; do it early in a long-lived child, since the
//! broker sees the parent's connection close only once every copy is closed (sockets are
//! close-on-exec, so an `exec` closes them too). docs/C.md, "Processes and fork", has the rules.
//!
//! **Ownership is per connection.** Locks, rlocks, semaphore permits, condition locks and
//! pipe ends belong to the connection that took them, so threads sharing a `Client` share
//! them (a plain lock taken by one thread can be released by another; an rlock is reentrant
//! across them). Open one `Client` per thread when each thread must own its locks. Opening a
//! client is cheap (one connect and one round trip).

#![warn(missing_docs)]

#[cfg(all(unix, feature = "tokio"))]
pub mod aio;
mod barrier;
mod client;
mod codec;
mod condition;
mod conn;
mod dict;
mod direct;
mod endpoint;
mod error;
mod event;
mod events;
mod handshake;
mod lock;
mod many;
mod pipe;
mod queue;
mod rings;
mod semaphore;
mod started;
mod started_pipe;
mod stream;
mod transport;
mod valuebuf;

pub use barrier::{Barrier, BarrierState};
pub use client::{
    Client, ConnectOptions, Opened, Reply, Stat, DEFAULT_CONNECT_TIMEOUT, MAX_BUSY_POLL,
    NO_DIRECT_PIPES_ENV, SHARED_VALUE_MIN,
};
pub use codec::{decode, encode, TIMEOUT_GRACE};
pub use condition::{Condition, Waited};
pub use conn::{set_interruptible, MAX_REPLY_FRAME};
pub use dict::{Dict, RawDict, Scan};
pub use endpoint::{
    default_socket_path, read_authkey_file, Endpoint, AUTHKEY_FILE_ENV, SOCKET_ENV, TCP_SCHEME,
    TLS_CA_ENV, TLS_SCHEME, TLS_SERVER_NAME_ENV,
};
pub use error::{Error, Result};
pub use event::Event;
pub use lock::{Acquisition, Guard, Lock};
pub use many::Waitable;
pub use pipe::{Pipe, PipeOptions, RawPipe};
pub use queue::{
    Delivery, Iter, Queue, QueueOptions, QueueSize, RawDelivery, RawQueue, DEFAULT_LEASE,
    PIPELINE_MAX_BYTES, PIPELINE_MAX_REQUESTS,
};
pub use rings::{NO_RINGS_ENV, RING_VALUE_MIN};
pub use semaphore::Semaphore;
pub use stream::{
    PUT_ASYNC_BATCH_BYTES, PUT_ASYNC_BATCH_ITEMS, PUT_ASYNC_LINGER, PUT_ASYNC_WINDOW,
};
pub use valuebuf::ValueBuf;

/// The wire protocol crate, re-exported for [`Client::call`] users and bindings.
pub use xproc_protocol as protocol;
pub use xproc_protocol::{
    ClientInfo, End, ErrorCode, Info, InfoValue, Kind, Limits, ObjectSummary,
};

#[cfg(test)]
mod tests {
    /// The concurrency promise of the crate docs, checked at compile time.
    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Client>();
        check::<crate::Queue<std::rc::Rc<u8>>>();
        check::<crate::Delivery<String>>();
        check::<crate::RawQueue>();
        check::<crate::Dict<String, std::cell::Cell<u8>>>();
        check::<crate::RawDict>();
        check::<crate::Pipe<u8>>();
        check::<crate::RawPipe>();
        check::<crate::Lock>();
        check::<crate::Semaphore>();
        check::<crate::Event>();
        check::<crate::Condition>();
        check::<crate::Barrier>();
        check::<crate::Error>();
    }
}
