//! TCP (docs/PROTOCOL.md §1.2): connecting to `tcp://HOST:PORT` with the options that let a
//! dead link be noticed — keepalive and `TCP_USER_TIMEOUT` — and `TCP_NODELAY`, since every
//! request is a small message waiting for its reply. Portable through `socket2`; only the user
//! timeout is Linux's.
//!
//! `tls://HOST:PORT` is the same stream with TLS (rustls, ring provider) inside: the TLS
//! handshake runs first, then the authkey handshake and the frames as plaintext through it.
//! The reader and the writer handles share one rustls session: a writer encrypts and sends
//! under `send` (so records leave in the order they were sealed), the reader reads the socket
//! without any lock and only takes the session's lock to decrypt, so a writer blocked on a
//! full socket never keeps the reader from draining replies.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use socket2::{SockRef, TcpKeepalive};
use xproc_protocol::auth::{HEARTBEAT_INTERVAL, LINK_TIMEOUT};

/// Ciphertext read from the socket per decryption step: 8 KiB, so the plaintext it yields
/// always fits rustls' 16 KiB receive buffer.
const TLS_READ_CHUNK: usize = 8 * 1024;

/// A connected TCP stream to the broker, plain or with TLS.
#[derive(Debug)]
pub(crate) struct Stream {
    sock: TcpStream,
    tls: Option<Arc<Tls>>,
}

/// One TLS session, shared by a connection's reader and writer handles.
#[derive(Debug)]
struct Tls {
    session: Mutex<ClientConnection>,
    /// Held while records are sealed and sent, so they go out in sequence order.
    send: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a `tls://` connection trusts and expects.
#[derive(Debug, Clone)]
pub(crate) struct TlsOptions {
    /// PEM file with the CA certificates that may sign the broker's certificate.
    pub ca_file: std::path::PathBuf,
    /// The name the broker's certificate must carry (a DNS name or an IP address).
    pub server_name: String,
}

/// A client configuration trusting the CA certificates in `ca_file`.
fn client_config(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("TLS CA file {}: {e}", ca_file.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no CERTIFICATE block"));
    }
    // ring, as the broker: rustls deprecates its provider only for lacking post-quantum key
    // exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Stream {
    /// Connects to `host_port` (`HOST:PORT`), trying each address it resolves to, each for at
    /// most `timeout`.
    pub(crate) fn connect(host_port: &str, timeout: Duration) -> io::Result<Stream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
        for addr in host_port.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    configure(&s)?;
                    return Ok(Stream { sock: s, tls: None });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Connects like [`connect`](Self::connect), then runs the TLS handshake, checking the
    /// broker's certificate against `opts`; waits at most `timeout` for the broker's part.
    /// `Err(Ok(io))`: nothing listens (the caller's "no broker"); `Err(Err(text))`: the TLS
    /// setup or handshake failed.
    pub(crate) fn connect_tls(
        host_port: &str,
        timeout: Duration,
        opts: &TlsOptions,
    ) -> Result<Stream, Result<io::Error, String>> {
        let config = client_config(&opts.ca_file).map_err(Err)?;
        let name = ServerName::try_from(opts.server_name.clone())
            .map_err(|e| Err(format!("TLS server name {:?}: {e}", opts.server_name)))?;
        let mut s = Stream::connect(host_port, timeout).map_err(Ok)?;
        let mut session = ClientConnection::new(config, name)
            .map_err(|e| Err(format!("cannot start TLS: {e}")))?;
        s.sock
            .set_read_timeout(Some(timeout))
            .map_err(|e| Err(e.to_string()))?;
        while session.is_handshaking() {
            session.complete_io(&mut s.sock).map_err(|e| {
                Err(format!(
                    "TLS handshake with {host_port} (server name {:?}) failed: {e}",
                    opts.server_name
                ))
            })?;
        }
        s.tls = Some(Arc::new(Tls {
            session: Mutex::new(session),
            send: Mutex::new(()),
        }));
        Ok(s)
    }

    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(Stream {
            sock: self.sock.try_clone()?,
            tls: self.tls.clone(),
        })
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }

    /// Writes all of `buf`, never raising SIGPIPE (sealed in TLS records on `tls://`).
    pub(crate) fn send_all(&self, buf: &[u8]) -> io::Result<()> {
        let Some(tls) = &self.tls else {
            return self.send_raw(buf);
        };
        let _order = lock(&tls.send);
        let mut rest = buf;
        // rustls seals at most its buffer limit (64 KiB) at a time: seal, send, repeat.
        while !rest.is_empty() {
            let mut records = Vec::new();
            {
                let mut session = lock(&tls.session);
                let n = session.writer().write(rest)?;
                rest = &rest[n..];
                while session.wants_write() {
                    session.write_tls(&mut records)?;
                }
                if n == 0 && records.is_empty() {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
            self.send_raw(&records)?;
        }
        Ok(())
    }

    /// Sends what the session has queued (an answer a received record called for, such as a
    /// key update). Only if no writer is sending: a writer blocked on a full socket may be
    /// waiting for the broker, which may be waiting for this reader; the writer's next send
    /// drains whatever is queued anyway.
    fn send_queued(&self, tls: &Tls) -> io::Result<()> {
        let Ok(_order) = tls.send.try_lock() else {
            return Ok(());
        };
        let mut records = Vec::new();
        {
            let mut session = lock(&tls.session);
            while session.wants_write() {
                session.write_tls(&mut records)?;
            }
        }
        self.send_raw(&records)
    }

    /// Decrypts `raw` (bytes just read from the socket).
    fn feed(&self, tls: &Tls, mut raw: &[u8]) -> io::Result<()> {
        let answer = {
            let mut session = lock(&tls.session);
            while !raw.is_empty() {
                session.read_tls(&mut raw)?;
                session
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            session.wants_write()
        };
        if answer {
            self.send_queued(tls)?;
        }
        Ok(())
    }

    /// Plaintext already decrypted, if any (`WouldBlock` when none).
    fn plaintext(tls: &Tls, buf: &mut [u8]) -> io::Result<usize> {
        lock(&tls.session).reader().read(buf)
    }

    /// Writes all of `buf` on the socket itself.
    fn send_raw(&self, mut buf: &[u8]) -> io::Result<()> {
        let sock = SockRef::from(&self.sock);
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
        let Some(tls) = &self.tls else {
            return super::unix::recv_dontwait(&self.sock, buf);
        };
        loop {
            match Self::plaintext(tls, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            let mut raw = [0u8; TLS_READ_CHUNK];
            let n = super::unix::recv_dontwait(&self.sock, &mut raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.feed(tls, &raw[..n])?;
        }
    }

    /// Without a per-call non-blocking flag, report "nothing yet": the caller then waits for
    /// the reply the ordinary way.
    #[cfg(not(unix))]
    pub(crate) fn recv_now(&self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// The blocking writes of the handshake.
    pub(crate) fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.send_all(buf)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.clone() else {
            return self.sock.read(buf);
        };
        loop {
            match Self::plaintext(&tls, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other,
            }
            // No lock while waiting: the writer may seal and send meanwhile.
            let mut raw = [0u8; TLS_READ_CHUNK];
            let n = self.sock.read(&mut raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.feed(&tls, &raw[..n])?;
        }
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
        self.sock.as_raw_fd()
    }
}
