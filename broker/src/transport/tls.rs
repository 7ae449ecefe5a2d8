//! TLS for `--listen tls://HOST:PORT` (docs/SECURITY.md §7): rustls (ring provider) over the
//! same nonblocking TCP stream as `tcp://`, presented to the connection as an ordinary byte
//! stream of plaintext, so the authkey handshake and the frames run unchanged on top.
//!
//! The connection writes by `write(&output[sent..])` and retries the same bytes after
//! `WouldBlock`. A TLS write encrypts the plaintext at once, and its records may not all fit
//! in the socket: then the write reports only the bytes before them and remembers how much
//! plaintext they hold (`owed`); the retry, once the records are out, counts those as
//! written. So the connection's own count of pending bytes stays the truth, and it keeps
//! asking for write readiness until the peer really has everything. Like a plain write, each
//! write goes on until the socket is full or the buffer is sent — an edge-triggered loop
//! hears of room again only after the socket was full.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable, not PEM, or holds nothing usable.
    #[error("{what} {}: {message}", .path.display())]
    File {
        /// `TLS certificate` or `TLS key`.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
    /// rustls refused the pair (a key that does not match the certificate, an unsupported
    /// key type).
    #[error("TLS certificate and key: {0}")]
    Config(String),
}

/// Loads the certificate chain (PEM, leaf first) and the private key (PEM; PKCS#8, PKCS#1 or
/// SEC1; mode 0600 like an authkey file) into a server configuration.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let file_err = |what, path: &Path, message: String| TlsError::File {
        what,
        path: path.to_path_buf(),
        message,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key)
            .map_err(|e| file_err("TLS key", key, e.to_string()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(file_err(
                "TLS key",
                key,
                format!("mode {mode:o}: it must be readable by its owner only (chmod 600)"),
            ));
        }
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| file_err("TLS certificate", cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err("TLS certificate", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_err(
            "TLS certificate",
            cert,
            "no CERTIFICATE block".into(),
        ));
    }
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| file_err("TLS key", key, e.to_string()))?;
    // ring, not aws-lc-rs (which needs cmake and its own C build): rustls deprecates ring's
    // provider only because it lacks the post-quantum key exchange; X25519 and the P-curves
    // remain, as in every TLS 1.3 stack today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// A TLS server stream over a nonblocking TCP stream.
#[derive(Debug)]
pub struct TlsStream {
    /// The TCP stream (registered with the event loop).
    pub sock: TcpStream,
    conn: ServerConnection,
    /// Plaintext bytes encrypted by an earlier `write` that reported `WouldBlock` because
    /// their records were not all out yet; the next `write` reports them once they are.
    owed: usize,
}

impl TlsStream {
    /// Starts the server side of a handshake on an accepted stream.
    pub fn new(sock: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream {
            sock,
            conn,
            owed: 0,
        })
    }

    /// Writes queued TLS records until the socket would block; true when none is left.
    fn push_records(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

impl Read for TlsStream {
    /// Fills `buf` as far as the socket allows. A short read means the socket is drained,
    /// as on a plain stream: the connection then waits for the next readiness edge, so
    /// returning early with records still unread in the socket would stall it.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            while filled < buf.len() {
                match self.conn.reader().read(&mut buf[filled..]) {
                    Ok(0) => return Ok(filled), // the peer's close_notify
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if filled > 0 => {
                        let _ = e; // reported by the next call
                        return Ok(filled);
                    }
                    Err(e) => return Err(e),
                }
            }
            if filled == buf.len() {
                return Ok(filled);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Ok(filled),
                Ok(_) => {}
                Err(e) if filled > 0 && e.kind() == io::ErrorKind::WouldBlock => return Ok(filled),
                Err(e) => return Err(e),
            }
            if let Err(e) = self.conn.process_new_packets() {
                // Tell the peer why (the alert rustls queued), then fail this connection only.
                let _ = self.push_records();
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Handshake messages the peer's records called for; a socket too full for them now
            // gets them with the next write (the challenge, then a heartbeat, always follow).
            self.push_records()?;
        }
    }
}

impl Write for TlsStream {
    /// Seals and sends as much of `buf` as the socket takes, like a plain write: the event
    /// loop asks for write readiness again only after a write that filled the socket, so a
    /// write must not stop early while the socket still has room.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.push_records()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        // The caller retries from where it stood: the bytes owed went out as records. Go on
        // with the rest, so this write too ends with the socket full or the buffer sent.
        let mut done = std::mem::take(&mut self.owed).min(buf.len());
        while done < buf.len() {
            // rustls seals up to its buffer limit (64 KiB) at a time.
            let n = self.conn.writer().write(&buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
            if !self.push_records()? {
                // The socket is full with this piece's records partly queued: report the
                // pieces before it now, this one once its records are out.
                self.owed = n;
                return match done - n {
                    0 => Err(io::ErrorKind::WouldBlock.into()),
                    out => Ok(out),
                };
            }
        }
        Ok(done)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push_records().map(|_| ())
    }
}
