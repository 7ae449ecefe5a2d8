//! xprocd, the xproc broker: named queues, pipes, dicts and sync primitives served to processes
//! in any language over a Unix socket, with the MessagePack wire format of docs/PROTOCOL.md.
//!
//! # Layout
//!
//! Bytes flow down this list and replies flow back up; only `connection` and `transport`
//! touch sockets.
//!
//! - [`config`]: every limit, as a named field with a documented default.
//! - [`server`]: the one event loop (`mio`): accept, read, dispatch, expire deadlines, reap,
//!   flush before sleeping; shutdown on SIGTERM/SIGINT.
//! - [`transport`]: the only OS-specific code: the listening socket (through `interprocess`),
//!   peer credentials, the shutdown signal pipe, the default endpoint.
//! - [`auth`]: authkeys and the broker's side of the TCP handshake, as a pure state machine;
//!   the per-address failure record.
//! - [`access`]: per-object rules of restricted TCP keys (`[keys.NAME]`): which names, read
//!   or write; which ops read and which write.
//! - [`connection`]: one client's socket, input and output buffers, and handshake state.
//! - [`dispatch`]: checked request → handler, after the central object/kind checks.
//! - [`handlers`]: one file per family of ops (`admin`, `queue`, `dict`, `pipe`, `sync`).
//! - [`state`]: the broker's state without IO: objects, sessions, memory budget, wake delivery.
//! - [`waiters`]: blocked requests as records, with a deadline-ordered table.
//! - [`multi`]: `queue.get_any` and `wait`: one waiter record over many objects.
//! - [`objects`]: one pure state machine per kind, unit-tested without sockets.
//! - [`stored`]: the stored-value type: inline bytes or a sealed memfd a client passed.
//! - [`rings`]: a connection's value rings (up and down), their allocator and checks.
//! - [`cleanup`]: the one disconnect-cleanup path.
//!
//! The binary (`src/main.rs`) parses flags, sets up logging and calls [`run`].

#![warn(missing_docs)]

pub mod access;
pub mod auth;
pub mod cleanup;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod handlers;
pub mod multi;
pub mod objects;
pub mod rings;
pub mod server;
pub mod state;
pub mod stored;
pub mod transport;
pub mod waiters;

pub use config::Config;
pub use server::run;

/// Why the broker could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint could not be set up (path, permissions, another broker running, ...).
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// The authkey file cannot be used.
    #[error(transparent)]
    Key(#[from] auth::KeyError),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] transport::tls::TlsError),
    /// A TCP endpoint cannot be listened on.
    #[error("cannot listen on {endpoint}: {message}")]
    Listen {
        /// The endpoint as configured.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The OS event queue failed.
    #[error("event loop failed: {0}")]
    Poll(#[source] std::io::Error),
}
