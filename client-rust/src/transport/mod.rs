//! The client's transport: the only OS-specific code in the crate. Each OS module exports the
//! same names, so `conn.rs` and `client.rs` are written once (as the broker's `transport/` and
//! mio's `sys/{unix,windows}` do):
//!
//! - `Stream`: a connected byte stream to the broker, with `connect`, `try_clone` (one handle
//!   reads while the other writes), `Read`, `set_read_timeout` (a blocking read that gives up
//!   after a while), `recv_fds` (one read, or what is there without waiting, with any
//!   descriptors that came along), `send_all` (never raises SIGPIPE) and `send_with_fd`;
//! - [`fork_generation`]: a counter that changes in a forked child, so a child never writes on
//!   its parent's connection;
//! - [`default_local_endpoint`]: where a broker of this user listens when nothing else is said;
//! - [`Notifier`]: the event-loop API's descriptor (Linux: epoll; elsewhere "not supported").
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

// Descriptor passing and memfd values are Unix-only (`unix.rs`); elsewhere the same names say
// "not supported" and `hello` never asks for `fds`.
#[cfg(not(unix))]
mod nofds;
#[cfg(not(unix))]
pub(crate) use nofds::*;

// The event-loop descriptor (`events.rs`): an epoll set on Linux (`notify.rs`); elsewhere the
// same names say "not supported" (`nonotify.rs`).
#[cfg(target_os = "linux")]
mod notify;
#[cfg(not(target_os = "linux"))]
#[path = "nonotify.rs"]
mod notify;
pub(crate) use notify::Notifier;

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

#[cfg(unix)]
impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Stream::Local(s) => s.as_raw_fd(),
            Stream::Tcp(s) => s.as_raw_fd(),
        }
    }
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

    /// Descriptors can cross this stream (a local Unix socket).
    pub(crate) fn passes_fds(&self) -> bool {
        matches!(self, Stream::Local(_)) && PASSES_FDS
    }

    /// One read (without waiting when `now`), with the descriptors that came with the bytes
    /// (docs/PROTOCOL.md §1.3); TCP brings none.
    pub(crate) fn read_fds(
        &mut self,
        buf: &mut [u8],
        now: bool,
    ) -> io::Result<(usize, Vec<Descriptor>)> {
        match self {
            Stream::Local(s) => s.recv_fds(buf, now),
            Stream::Tcp(s) if now => s.recv_now(buf).map(|n| (n, Vec::new())),
            Stream::Tcp(s) => s.read(buf).map(|n| (n, Vec::new())),
        }
    }

    /// Writes all of `buf` with `fd` attached to its first byte (docs/PROTOCOL.md §1.3).
    pub(crate) fn send_all_with_fd(&self, buf: &[u8], fd: &Descriptor) -> io::Result<()> {
        match self {
            Stream::Local(s) => {
                let n = s.send_with_fd(buf, fd)?;
                s.send_all(&buf[n..])
            }
            Stream::Tcp(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "descriptors cannot travel over TCP",
            )),
        }
    }

    /// How long the link may be silent before it counts as dead: `LINK_TIMEOUT` on TCP, where
    /// the broker sends heartbeats (docs/PROTOCOL.md §1.2); `None` on the local socket, where
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
