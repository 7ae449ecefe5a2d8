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
//! TCP (`tcp.rs`, every OS) and [`Link`] (`link.rs`: a local or a TCP stream, which is what a
//! connection holds) sit beside the OS module.

use std::io;
use std::path::PathBuf;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

mod link;
pub mod tcp;
pub use link::Link;

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
