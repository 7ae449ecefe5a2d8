//! The transport: the only OS-specific code in the broker. Each OS module exports the same
//! names — [`Listener`], [`Stream`], [`ShutdownSignal`], [`peer_cred`], [`register`],
//! [`reregister`], [`deregister`], [`default_socket_path`] — so the event loop is written once.
//!
//! Unix domain sockets are implemented (`unix.rs`); Windows named pipes are a documented stub
//! (`windows.rs`) until they are built.

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

/// Why the broker could not set up its endpoint.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("another xprocd is already listening at {}", .path.display())]
    AlreadyRunning { path: PathBuf },
    #[error(
        "socket path {} is {len} bytes; the limit (sun_path) is {max} bytes: choose a shorter --socket",
        .path.display()
    )]
    PathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },
    #[error("{} exists and is not a socket; refusing to replace it", .path.display())]
    NotASocket { path: PathBuf },
    #[error("refusing to use socket directory {}: {reason}", .path.display())]
    UnsafeDir { path: PathBuf, reason: String },
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what}: {source}")]
    Setup {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}
