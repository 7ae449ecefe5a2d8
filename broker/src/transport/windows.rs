//! Windows named pipes: a stub with the same names as `unix.rs`, so the event loop compiles
//! against one interface. Every constructor returns `Unsupported` until the named-pipe
//! transport (DESIGN.md §8, "later") is written; mio's named-pipe support and `interprocess`'s
//! `local_socket` on Windows are the intended building blocks.

use std::io;
use std::path::{Path, PathBuf};

use mio::{Interest, Registry, Token};

use super::TransportError;
use crate::state::PeerCred;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "xprocd does not support Windows named pipes yet",
    )
}

/// A connected client (a named pipe instance, once implemented).
#[derive(Debug)]
pub struct Stream(());

impl io::Read for Stream {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(unsupported())
    }
}

impl io::Write for Stream {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(unsupported())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An accepted connection, with what the OS says about its peer.
#[derive(Debug)]
pub struct Accepted {
    /// The connection.
    pub stream: Stream,
    /// Its peer's pid (uid and gid mean nothing here).
    pub peer: io::Result<PeerCred>,
    /// Empty: Windows has no gids.
    pub gids: Vec<u32>,
}

/// A group given access to the endpoint; Windows would use an ACL instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The name as configured.
    pub name: String,
    /// Unused on Windows.
    pub gid: u32,
}

impl Group {
    /// Groups are not supported on Windows yet.
    pub fn resolve(name: &str) -> Result<Group, TransportError> {
        Err(TransportError::UnknownGroup {
            name: name.to_string(),
        })
    }
}

/// No supplementary groups on Windows.
pub fn supplementary_groups(_: &Stream) -> Vec<u32> {
    Vec::new()
}

/// The listening endpoint.
#[derive(Debug)]
pub struct Listener(());

impl Listener {
    /// Would listen at `path`; unsupported for now.
    pub fn bind(path: &Path, _group: Option<&Group>) -> Result<Self, TransportError> {
        Err(TransportError::Io {
            what: "cannot listen at",
            path: path.to_path_buf(),
            source: unsupported(),
        })
    }
    /// The endpoint name.
    pub fn path(&self) -> &Path {
        Path::new("")
    }
    /// Would accept one connection.
    pub fn accept(&self) -> io::Result<Option<Accepted>> {
        Err(unsupported())
    }
    /// Would register with the event loop.
    pub fn register(&self, _: &Registry, _: Token) -> io::Result<()> {
        Err(unsupported())
    }
    /// Would deregister from the event loop.
    pub fn deregister(&self, _: &Registry) -> io::Result<()> {
        Err(unsupported())
    }
    /// Named pipes leave no file behind.
    pub fn remove_socket_file(&self) {}
}

/// SIGTERM/SIGINT's counterpart (console control events), once implemented.
#[derive(Debug)]
pub struct ShutdownSignal(());

impl ShutdownSignal {
    /// Would install console control handlers.
    pub fn install(_: &Registry, _: Token) -> Result<Self, TransportError> {
        Err(TransportError::Setup {
            what: "cannot install shutdown handlers",
            source: unsupported(),
        })
    }
    /// Would empty the notification channel.
    pub fn drain(&mut self) {}
}

/// The default pipe name.
pub fn default_socket_path(_group: Option<&Group>) -> Result<PathBuf, TransportError> {
    Ok(PathBuf::from(r"\\.\pipe\xproc"))
}

/// Named pipes need no directory.
pub fn prepare_socket_dir(_: &Path, _: Option<&Group>) -> Result<(), TransportError> {
    Ok(())
}

/// Would register a connection with the event loop.
pub fn register(_: &Registry, _: &Stream, _: Token, _: Interest) -> io::Result<()> {
    Err(unsupported())
}

/// Would change a connection's registration.
pub fn reregister(_: &Registry, _: &Stream, _: Token, _: Interest) -> io::Result<()> {
    Err(unsupported())
}

/// Would deregister a connection.
pub fn deregister(_: &Registry, _: &Stream) -> io::Result<()> {
    Err(unsupported())
}

/// Descriptor limits do not apply to named pipe handles: nothing to raise.
pub fn raise_fd_limit(_want: u64) -> io::Result<u64> {
    Ok(u64::MAX)
}

/// Windows has no per-process descriptor limit that `accept` hits.
pub fn out_of_descriptors(_: &io::Error) -> bool {
    false
}

/// No reserve is needed on Windows (see [`out_of_descriptors`]).
#[derive(Debug)]
pub struct FdReserve(());

impl FdReserve {
    /// A reserve that holds nothing.
    pub fn new() -> io::Result<Self> {
        Ok(FdReserve(()))
    }
    /// Nothing to give up.
    pub fn release(&mut self) -> bool {
        false
    }
    /// Nothing to take back.
    pub fn restore(&mut self) {}
}

/// No service-manager notification on Windows (the service control manager is a later job).
pub fn notify(_state: &str) {}
