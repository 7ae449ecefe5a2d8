//! One client's byte stream, whichever transport it came in on: the local socket (Unix socket
//! or named pipe, the OS module's [`Stream`]) or TCP. The event loop and the connection see
//! only this, so a TCP client is served by exactly the code a local one is.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::{Interest, Registry, Token};

use super::Stream;

/// A connected client's stream.
#[derive(Debug)]
pub enum Link {
    /// The local socket: peer credentials come from the OS.
    Local(Stream),
    /// TCP: the peer is known by its address and, once the handshake is done, by its key.
    Tcp(mio::net::TcpStream),
    /// TLS over TCP (`tls://`): as `Tcp`, encrypted.
    Tls(Box<super::tls::TlsStream>),
}

impl Link {
    /// The peer's address, for a TCP link.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Link::Local(_) => None,
            Link::Tcp(s) => s.peer_addr().ok(),
            Link::Tls(s) => s.sock.peer_addr().ok(),
        }
    }

    /// Descriptor passing works on this link: a local Unix socket (never TCP, never a named
    /// pipe).
    pub fn passes_fds(&self) -> bool {
        matches!(self, Link::Local(_)) && super::PASSES_FDS
    }

    /// One read, with any descriptors that came with the bytes (a local link only; TCP and
    /// TLS carry none).
    pub fn read_with_fds(&mut self, buf: &mut [u8]) -> io::Result<super::Received> {
        match self {
            Link::Local(s) => super::recv_with_fds(s, buf),
            Link::Tcp(_) | Link::Tls(_) => self.read(buf).map(|n| super::Received {
                n,
                fds: Vec::new(),
                truncated: false,
            }),
        }
    }

    /// One write of `buf` with `fds` attached to its first byte (a local link only).
    pub fn write_with_fds(&mut self, buf: &[u8], fds: &[super::Descriptor]) -> io::Result<usize> {
        match self {
            Link::Local(s) => super::send_with_fds(s, buf, fds),
            Link::Tcp(_) | Link::Tls(_) if fds.is_empty() => self.write(buf),
            Link::Tcp(_) | Link::Tls(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "descriptors cannot travel over TCP",
            )),
        }
    }

    /// Whether a read that returned less than it asked for leaves the stream drained, with a
    /// new readiness event to follow the next byte (so the event loop may stop reading there
    /// and save a `read` that would say `WouldBlock`). True of Unix sockets (epoll/kqueue
    /// edges) and of named pipes (mio starts the next overlapped read once its buffer is
    /// emptied). Not of TCP on Windows: mio re-arms a socket's AFD poll only when an
    /// operation returns `WouldBlock`, so a stream left after a short read is never reported
    /// again ([`TCP_SHORT_READ_DRAINS`](super::TCP_SHORT_READ_DRAINS)). True of TLS on every
    /// OS: its read returns short only after the socket itself said `WouldBlock` (or closed),
    /// which re-arms the poll.
    pub fn short_read_drains(&self) -> bool {
        match self {
            Link::Local(_) | Link::Tls(_) => true,
            Link::Tcp(_) => super::TCP_SHORT_READ_DRAINS,
        }
    }

    /// Registers the stream with the event loop.
    pub fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Link::Local(s) => super::register(registry, s, token, interest),
            Link::Tcp(s) => registry.register(s, token, interest),
            Link::Tls(s) => registry.register(&mut s.sock, token, interest),
        }
    }

    /// Changes the readiness the stream is registered for.
    pub fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Link::Local(s) => super::reregister(registry, s, token, interest),
            Link::Tcp(s) => registry.reregister(s, token, interest),
            Link::Tls(s) => registry.reregister(&mut s.sock, token, interest),
        }
    }

    /// Removes the stream from the event loop (before it is closed).
    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Link::Local(s) => super::deregister(registry, s),
            Link::Tcp(s) => registry.deregister(s),
            Link::Tls(s) => registry.deregister(&mut s.sock),
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Local(s) => s.read(buf),
            Link::Tcp(s) => s.read(buf),
            Link::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Local(s) => s.write(buf),
            Link::Tcp(s) => s.write(buf),
            Link::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Link::Local(s) => s.flush(),
            Link::Tcp(s) => s.flush(),
            Link::Tls(s) => s.flush(),
        }
    }
}
