//! TCP: the listener behind `--listen tcp://HOST:PORT` and the options every accepted stream
//! gets. Portable (mio's TCP types and `socket2` work on every OS mio supports); only
//! `TCP_USER_TIMEOUT` is Linux's.
//!
//! A dead peer must be noticed without its help: each accepted stream gets TCP keepalive
//! (idle [`KEEPALIVE_IDLE`], then [`KEEPALIVE_PROBES`] probes [`KEEPALIVE_INTERVAL`] apart) for a
//! silent link, and `TCP_USER_TIMEOUT` = [`LINK_TIMEOUT`] for a link with bytes in flight —
//! which the broker's heartbeat guarantees every [`HEARTBEAT_INTERVAL`] (docs/PROTOCOL.md §1.2).
//! Either way the kernel errors the socket, the event loop reads the error, and the
//! connection goes through the one cleanup path like any other.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use mio::net::{TcpListener as MioListener, TcpStream};
use mio::{Interest, Registry, Token};
use socket2::{SockRef, TcpKeepalive};
use xproc_protocol::auth::{HEARTBEAT_INTERVAL, LINK_TIMEOUT};

/// Idle time before the first keepalive probe: one heartbeat interval.
pub const KEEPALIVE_IDLE: Duration = HEARTBEAT_INTERVAL;
/// Time between keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// Unanswered probes after which the kernel drops the link.
pub const KEEPALIVE_PROBES: u32 = 3;

/// The scheme of a TCP endpoint.
pub const SCHEME: &str = "tcp://";

/// The scheme of a TCP endpoint with TLS (`transport/tls.rs`).
pub const TLS_SCHEME: &str = "tls://";

/// Parses `tcp://HOST:PORT` or `tls://HOST:PORT` (a name, an IPv4 address, or `[v6]`) into
/// the addresses it names.
pub fn parse_endpoint(s: &str) -> Result<Vec<SocketAddr>, String> {
    let rest = s
        .strip_prefix(SCHEME)
        .or_else(|| s.strip_prefix(TLS_SCHEME))
        .ok_or_else(|| format!("{s:?} is not a tcp://HOST:PORT or tls://HOST:PORT endpoint"))?;
    let addrs: Vec<SocketAddr> = rest
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {s:?}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{s:?} names no address"));
    }
    Ok(addrs)
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpListener {
    inner: MioListener,
    /// The address it is bound to (with the real port when 0 was asked for).
    pub addr: SocketAddr,
}

impl TcpListener {
    /// Binds and listens at `addr` (nonblocking, `SO_REUSEADDR` so a restarted broker can
    /// rebind while old connections linger in `TIME_WAIT`).
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let inner = MioListener::bind(addr)?;
        let addr = inner.local_addr()?;
        Ok(TcpListener { inner, addr })
    }

    /// Accepts one connection with its peer's address; `None` when none is waiting. The
    /// stream is nonblocking and has keepalive, `TCP_NODELAY` (requests are small and
    /// latency-bound) and the user timeout set.
    pub fn accept(&self) -> io::Result<Option<(TcpStream, SocketAddr)>> {
        match self.inner.accept() {
            Ok((s, peer)) => {
                configure(&s)?;
                Ok(Some((s, peer)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Registers the listener with the event loop (readable).
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.inner, token, Interest::READABLE)
    }

    /// Removes the listener from the event loop.
    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(&mut self.inner)
    }
}

/// The options every accepted stream gets.
fn configure(s: &TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    let sock = SockRef::from(s);
    let ka = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    #[cfg(not(any(target_os = "windows", target_os = "openbsd")))]
    let ka = ka.with_retries(KEEPALIVE_PROBES);
    sock.set_tcp_keepalive(&ka)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    sock.set_tcp_user_timeout(Some(LINK_TIMEOUT))?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = LINK_TIMEOUT;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let a = parse_endpoint("tcp://127.0.0.1:5000").unwrap();
        assert_eq!(a, vec!["127.0.0.1:5000".parse().unwrap()]);
        assert_eq!(
            parse_endpoint("tcp://[::1]:7").unwrap(),
            vec!["[::1]:7".parse().unwrap()]
        );
        assert!(parse_endpoint("127.0.0.1:5000").is_err());
        assert!(parse_endpoint("tcp://127.0.0.1").is_err());
    }
}
