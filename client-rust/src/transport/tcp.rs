//! TCP (docs/PROTOCOL.md §1.1): connecting to `tcp://HOST:PORT` with the options that let a
//! dead link be noticed — keepalive and `TCP_USER_TIMEOUT` — and `TCP_NODELAY`, since every
//! request is a small message waiting for its reply. Portable through `socket2`; only the user
//! timeout is Linux's.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use xproc_protocol::auth::{HEARTBEAT_INTERVAL, LINK_TIMEOUT};

/// A connected TCP stream to the broker.
#[derive(Debug)]
pub(crate) struct Stream(TcpStream);

impl Stream {
    /// Connects to `host_port` (`HOST:PORT`), trying each address it resolves to, each for at
    /// most `timeout`.
    pub(crate) fn connect(host_port: &str, timeout: Duration) -> io::Result<Stream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
        for addr in host_port.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    configure(&s)?;
                    return Ok(Stream(s));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        self.0.try_clone().map(Stream)
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    /// Writes all of `buf`, never raising SIGPIPE.
    pub(crate) fn send_all(&self, mut buf: &[u8]) -> io::Result<()> {
        let sock = SockRef::from(&self.0);
        while !buf.is_empty() {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let sent = sock.send_with_flags(buf, libc::MSG_NOSIGNAL);
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let sent = sock.send(buf);
            match sent {
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the socket holds now, without waiting (`WouldBlock` when nothing).
    #[cfg(unix)]
    pub(crate) fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        super::unix::recv_dontwait(&self.0, buf)
    }

    /// Without a per-call non-blocking flag, report "nothing yet": the caller then waits for
    /// the reply the ordinary way.
    #[cfg(not(unix))]
    pub(crate) fn recv_now(&self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// The blocking writes of the handshake.
    pub(crate) fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

fn configure(s: &TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    let sock = SockRef::from(s);
    let ka = TcpKeepalive::new()
        .with_time(HEARTBEAT_INTERVAL)
        .with_interval(Duration::from_secs(1));
    #[cfg(not(any(target_os = "windows", target_os = "openbsd")))]
    let ka = ka.with_retries(3);
    sock.set_tcp_keepalive(&ka)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sock.set_tcp_user_timeout(Some(LINK_TIMEOUT))?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = LINK_TIMEOUT;
    Ok(())
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}
