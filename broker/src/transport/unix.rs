//! Unix domain sockets.
//!
//! The listener is created through `interprocess` (`local_socket`, nonblocking, mode 0600 set
//! with `fchmod` before `bind`, so there is no umask race). `interprocess` has no mio
//! integration, so its fd — and each accepted stream's — is registered with mio through
//! `SourceFd`, and deregistered before it is dropped. Accepted streams are plain
//! `std::os::unix::net::UnixStream`s.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use interprocess::local_socket::traits::Listener as _;
use interprocess::local_socket::{
    GenericFilePath, ListenerNonblockingMode, ListenerOptions, ToFsName,
};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::TransportError;
use crate::state::PeerCred;

/// A connected client.
pub type Stream = std::os::unix::net::UnixStream;

/// Longest socket path: `sun_path` holds 108 bytes on Linux (104 on the BSDs and macOS),
/// including the terminating NUL.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const MAX_SOCKET_PATH: usize = 107;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const MAX_SOCKET_PATH: usize = 103;

/// The listening socket.
#[derive(Debug)]
pub struct Listener {
    inner: interprocess::local_socket::Listener,
    path: PathBuf,
    /// The socket file's (device, inode) as bound: shutdown removes the file only if it is
    /// still ours, never a successor's.
    file_id: Option<(u64, u64)>,
}

impl Listener {
    /// Listens at `path`. Refuses if a broker already answers there; replaces a stale socket
    /// file left by a crash; never replaces anything that is not a socket.
    pub fn bind(path: &Path) -> Result<Self, TransportError> {
        let len = path.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(TransportError::PathTooLong {
                path: path.to_path_buf(),
                len,
                max: MAX_SOCKET_PATH,
            });
        }
        let io_err = |what, source| TransportError::Io {
            what,
            path: path.to_path_buf(),
            source,
        };
        match std::fs::symlink_metadata(path) {
            Ok(md) if !md.file_type().is_socket() => {
                return Err(TransportError::NotASocket {
                    path: path.to_path_buf(),
                })
            }
            Ok(_) => match Stream::connect(path) {
                Ok(_) => {
                    return Err(TransportError::AlreadyRunning {
                        path: path.to_path_buf(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    tracing::info!(path = %path.display(), "replacing a stale socket file");
                    std::fs::remove_file(path)
                        .map_err(|e| io_err("cannot remove stale socket file", e))?;
                }
                Err(e) => return Err(io_err("cannot check existing socket", e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot inspect", e)),
        }
        let name = path
            .to_fs_name::<GenericFilePath>()
            .map_err(|e| io_err("invalid socket path", e))?;
        let inner = ListenerOptions::new()
            .name(name)
            .nonblocking(ListenerNonblockingMode::Both)
            .reclaim_name(false)
            .mode(0o600)
            .create_sync()
            .map_err(|e| io_err("cannot listen at", e))?;
        let file_id = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        Ok(Listener {
            inner,
            path: path.to_path_buf(),
            file_id,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn raw_fd(&self) -> std::os::fd::RawFd {
        match &self.inner {
            interprocess::local_socket::Listener::UdSocket(l) => l.inner().as_raw_fd(),
        }
    }

    /// Accepts one connection; `None` when none is waiting. The stream is nonblocking.
    pub fn accept(&self) -> io::Result<Option<Stream>> {
        match self.inner.accept() {
            Ok(interprocess::local_socket::Stream::UdSocket(s)) => {
                Ok(Some(Stream::from(OwnedFd::from(s))))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Registers the listening fd with the event loop (readable).
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut SourceFd(&self.raw_fd()), token, Interest::READABLE)
    }

    /// Removes the listening fd from the event loop.
    pub fn deregister(&self, registry: &Registry) -> io::Result<()> {
        registry.deregister(&mut SourceFd(&self.raw_fd()))
    }

    /// Removes the socket file if it is still the one this listener bound.
    pub fn remove_socket_file(&self) {
        let ours = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if ours.is_some() && ours == self.file_id {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove socket file");
            }
        }
    }
}

/// SIGTERM and SIGINT, delivered through a self-pipe (a socket pair) that the event loop
/// polls like any other fd.
#[derive(Debug)]
pub struct ShutdownSignal {
    rx: mio::net::UnixStream,
}

impl ShutdownSignal {
    /// Installs the handlers and registers the pipe's read end under `token`.
    pub fn install(registry: &Registry, token: Token) -> Result<Self, TransportError> {
        let setup = |source| TransportError::Setup {
            what: "cannot install SIGTERM/SIGINT handlers",
            source,
        };
        let (rx, tx) = Stream::pair().map_err(setup)?;
        rx.set_nonblocking(true).map_err(setup)?;
        let tx2 = tx.try_clone().map_err(setup)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, tx).map_err(setup)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, tx2).map_err(setup)?;
        let mut rx = mio::net::UnixStream::from_std(rx);
        registry
            .register(&mut rx, token, Interest::READABLE)
            .map_err(setup)?;
        Ok(ShutdownSignal { rx })
    }

    /// Empties the pipe (several signals may have arrived).
    pub fn drain(&mut self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = io::Read::read(&mut self.rx, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}

/// The default endpoint (docs/PROTOCOL.md §1): `$XPROC_SOCKET`, else
/// `$XDG_RUNTIME_DIR/xproc.sock`, else `/tmp/xproc-<uid>/xproc.sock`.
pub fn default_socket_path() -> Result<PathBuf, TransportError> {
    if let Some(p) = std::env::var_os("XPROC_SOCKET").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(dir).join("xproc.sock"));
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = PathBuf::from(format!("/tmp/xproc-{uid}"));
    prepare_socket_dir(&dir)?;
    Ok(dir.join("xproc.sock"))
}

/// Creates the private socket directory (mode 0700), or checks an existing one: it must be a
/// real directory owned by us. Another user's directory under /tmp could be a trap (they
/// could read or replace our socket), so it is refused; our own with loose permissions is
/// tightened.
pub fn prepare_socket_dir(dir: &Path) -> Result<(), TransportError> {
    let unsafe_dir = |reason: String| TransportError::UnsafeDir {
        path: dir.to_path_buf(),
        reason,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(TransportError::Io {
                what: "cannot create socket directory",
                path: dir.to_path_buf(),
                source: e,
            })
        }
    }
    let md = std::fs::symlink_metadata(dir).map_err(|e| TransportError::Io {
        what: "cannot inspect socket directory",
        path: dir.to_path_buf(),
        source: e,
    })?;
    if !md.file_type().is_dir() {
        return Err(unsafe_dir("it is not a directory".into()));
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    if md.uid() != uid {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not by us (uid {uid})",
            md.uid()
        )));
    }
    if md.mode() & 0o077 != 0 {
        tracing::warn!(path = %dir.display(), mode = format!("{:o}", md.mode() & 0o777), "tightening socket directory to 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            TransportError::Io {
                what: "cannot chmod socket directory",
                path: dir.to_path_buf(),
                source: e,
            }
        })?;
    }
    Ok(())
}

/// The peer's pid, uid and gid (`SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_cred(stream: &Stream) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes and `len` is the size of `cred`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred {
        pid: cred.pid as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// The peer's uid and gid (`getpeereid`); these systems report no pid.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn peer_cred(stream: &Stream) -> io::Result<PeerCred> {
    let (mut uid, mut gid) = (0, 0);
    // SAFETY: both out-pointers are valid.
    if unsafe { libc::getpeereid(stream.as_raw_fd(), &mut uid, &mut gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCred { pid: 0, uid, gid })
}

/// Registers a connection's fd with the event loop.
pub fn register(
    registry: &Registry,
    s: &Stream,
    token: Token,
    interest: Interest,
) -> io::Result<()> {
    registry.register(&mut SourceFd(&s.as_raw_fd()), token, interest)
}

/// Changes the readiness a connection is registered for.
pub fn reregister(
    registry: &Registry,
    s: &Stream,
    token: Token,
    interest: Interest,
) -> io::Result<()> {
    registry.reregister(&mut SourceFd(&s.as_raw_fd()), token, interest)
}

/// Removes a connection's fd from the event loop (before it is closed).
pub fn deregister(registry: &Registry, s: &Stream) -> io::Result<()> {
    registry.deregister(&mut SourceFd(&s.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_dir_is_created_private_and_loose_modes_are_tightened() {
        let base = std::env::temp_dir().join(format!("xproc-dir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("d");
        prepare_socket_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_socket_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = base.join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            prepare_socket_dir(&file),
            Err(TransportError::UnsafeDir { .. })
        ));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn too_long_paths_are_refused_before_any_syscall() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(MAX_SOCKET_PATH)));
        let err = Listener::bind(&long).unwrap_err();
        assert!(matches!(err, TransportError::PathTooLong { .. }));
        assert!(err.to_string().contains("sun_path"), "{err}");
    }
}
