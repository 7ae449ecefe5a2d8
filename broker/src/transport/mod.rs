//! The transport: the only OS-specific code in the broker. Each OS module exports the same
//! names — [`Listener`] (whose `accept` also reads the peer's credentials), [`Accepted`],
//! [`Stream`], [`Group`], [`ShutdownSignal`], [`register`], [`reregister`], [`deregister`],
//! [`default_socket_path`], and the descriptor limit's [`raise_fd_limit`],
//! [`out_of_descriptors`] and [`FdReserve`], the service manager's [`notify`], and whether a
//! short read drains a TCP stream ([`TCP_SHORT_READ_DRAINS`]) — so the event loop is written
//! once.
//!
//! Unix domain sockets are `unix.rs`; Windows named pipes are `windows.rs`.
//!
//! Descriptor passing (docs/PROTOCOL.md §1.3): [`Descriptor`], [`PASSES_FDS`],
//! [`recv_with_fds`] and [`send_with_fds`] — `SCM_RIGHTS` in `unix.rs`, "not supported" in
//! `nofds.rs` on every other OS.
//!
//! TCP (`tcp.rs`, every OS) and [`Link`] (`link.rs`: a local or a TCP stream, which is what a
//! connection holds) sit beside the OS module.

use std::io;
use std::path::PathBuf;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

// A connection's value rings (§4.2): memfds, Unix only; `nofds.rs` says "not supported".
#[cfg(unix)]
mod rings_unix;
#[cfg(unix)]
pub use rings_unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

// Descriptor passing is Unix-only (`SCM_RIGHTS`, in `unix.rs`); elsewhere the same names say
// "not supported", and `hello` never grants `fds`.
#[cfg(not(unix))]
mod nofds;
#[cfg(not(unix))]
pub use nofds::*;

mod link;
pub mod tcp;
pub mod tls;
pub use link::Link;

/// What one read of a local stream brought: bytes, and the descriptors that came with them.
#[derive(Debug)]
pub struct Received {
    /// Bytes read (0: end of stream).
    pub n: usize,
    /// Descriptors that arrived with these bytes (`SCM_RIGHTS`), owned: dropping closes them.
    pub fds: Vec<Descriptor>,
    /// The peer sent more descriptors in one message than the broker takes
    /// ([`MAX_FDS_PER_FRAME`](crate::connection::MAX_FDS_PER_FRAME)); the OS closed the rest.
    pub truncated: bool,
}

/// Why a descriptor passed as a value was refused (docs/PROTOCOL.md §4.1).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Not a memfd (no seals can be read: a pipe, a socket, a regular file).
    #[error("the descriptor is not a memfd (memfd_create with MFD_ALLOW_SEALING)")]
    NotMemfd,
    /// A memfd without every seal a value needs.
    #[error("the memfd is not sealed: {missing} missing (a value needs F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL)")]
    NotSealed {
        /// The missing seals' names.
        missing: String,
    },
    /// The size the request announced is not the memfd's.
    #[error("value_len is {announced} bytes but the memfd holds {actual}")]
    SizeMismatch {
        /// `value_len`.
        announced: u64,
        /// The memfd's size.
        actual: u64,
    },
    /// Reading or mapping it failed.
    #[error("cannot map the memfd: {0}")]
    Io(#[source] io::Error),
}

/// Why the broker could not set up its endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A broker answers at the socket path already.
    #[error("another xprocd is already listening at {}", .path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The path does not fit in `sun_path`.
    #[error(
        "socket path {} is {len} bytes; the limit (sun_path) is {max} bytes: choose a shorter --socket",
        .path.display()
    )]
    PathTooLong {
        /// The socket path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The longest path the OS accepts.
        max: usize,
    },
    /// The pipe name is longer than Windows allows.
    #[error(
        "pipe name {} is {len} characters; the limit is {max}: choose a shorter --pipe",
        .name.display()
    )]
    PipeNameTooLong {
        /// The pipe name, `\\.\pipe\` included.
        name: PathBuf,
        /// Its length in UTF-16 units.
        len: usize,
        /// The longest name Windows accepts.
        max: usize,
    },
    /// Something other than a socket is at the path; it is never replaced.
    #[error("{} exists and is not a socket; refusing to replace it", .path.display())]
    NotASocket {
        /// The socket path.
        path: PathBuf,
    },
    /// `--group` names no group.
    #[error("no group named {name:?} (give a group name or a numeric gid)")]
    UnknownGroup {
        /// The name given.
        name: String,
    },
    /// The default socket directory is not ours or not a directory.
    #[error("refusing to use socket directory {}: {reason}", .path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A filesystem or socket call on `path` failed.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What the broker was doing.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Setting up something other than the socket (signal handlers) failed.
    #[error("{what}: {source}")]
    Setup {
        /// What the broker was doing.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}
