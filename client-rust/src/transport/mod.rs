//! The client's transport: the only OS-specific code in the crate. Each OS module exports the
//! same names, so `conn.rs` and `client.rs` are written once (as the broker's `transport/` and
//! mio's `sys/{unix,windows}` do):
//!
//! - `Stream`: a connected byte stream to the broker, with `connect`, `try_clone` (one handle
//!   reads while the other writes), `Read`, `set_read_timeout` (a blocking read that gives up
//!   after a while), `recv_now` (what is there, without waiting) and `send_all` (never
//!   raises SIGPIPE);
//! - [`fork_generation`]: a counter that changes in a forked child, so a child never writes on
//!   its parent's connection;
//! - [`default_local_endpoint`]: where a broker of this user listens when nothing else is said.
//!
//! Unix domain sockets (`unix.rs`) and Windows named pipes (`windows.rs`) are the local
//! transports. TCP (`tcp.rs`) works on every OS; the [`Stream`] defined here is either, with
//! the same methods, so `conn.rs` does not know which.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix::Stream as LocalStream;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows::Stream as LocalStream;
#[cfg(windows)]
pub(crate) use windows::*;

pub(crate) mod tcp;

use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

/// A connected stream to the broker: the local socket or TCP.
#[derive(Debug)]
pub(crate) enum Stream {
    /// The local socket.
    Local(LocalStream),
    /// TCP, after the handshake.
    Tcp(tcp::Stream),
}

impl Stream {
    /// Connects to the broker's local socket at `path`.
    pub(crate) fn connect(path: &Path) -> io::Result<Stream> {
        LocalStream::connect(path).map(Stream::Local)
    }

    /// A second handle on the same connection (the reader's, beside the writer's).
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Local(s) => s.try_clone().map(Stream::Local),
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
        }
    }

    /// Makes reads give up with `WouldBlock`/`TimedOut` after `timeout` (`None`: never).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Local(s) => s.set_read_timeout(timeout),
            Stream::Tcp(s) => s.set_read_timeout(timeout),
        }
    }

    /// Writes all of `buf`, retrying on EINTR and never raising SIGPIPE.
    pub(crate) fn send_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Local(s) => s.send_all(buf),
            Stream::Tcp(s) => s.send_all(buf),
        }
    }

    /// Reads what the stream holds now, without waiting (`WouldBlock` when nothing), whatever
    /// the receive timeout.
    pub(crate) fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Local(s) => s.recv_now(buf),
            Stream::Tcp(s) => s.recv_now(buf),
        }
    }

    /// How long the link may be silent before it counts as dead: `LINK_TIMEOUT` on TCP, where
    /// the broker sends heartbeats (docs/PROTOCOL.md §1.1); `None` on the local socket, where
    /// the kernel reports a dead broker at once.
    pub(crate) fn link_timeout(&self) -> Option<Duration> {
        match self {
            Stream::Local(_) => None,
            Stream::Tcp(_) => Some(xproc_protocol::auth::LINK_TIMEOUT),
        }
    }

    /// Both ends of a connected pair, for unit tests that play the broker.
    #[cfg(test)]
    pub(crate) fn pair() -> io::Result<(Stream, PairPeer)> {
        LocalStream::pair().map(|(a, b)| (Stream::Local(a), b))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Local(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}
