//! Unix domain sockets.
//!
//! The listener is created through `interprocess` (`local_socket`, nonblocking, mode 0600 set
//! with `fchmod` before `bind`, so there is no umask race; with a group, the file is then
//! given to the group and widened to 0660 — never the other way round, so there is no moment
//! when the wrong group can connect). It listens under a staging name and is then hard-linked
//! into place, so the socket file appears only once it accepts connections. `interprocess`
//! has no mio integration, so its fd — and each accepted stream's — is registered with mio
//! through `SourceFd`, and deregistered before it is dropped. Accepted streams are plain `std::os::unix::net::UnixStream`s.
//!
//! Peer credentials (pid, effective uid and gid) come from `interprocess`'s `peer_creds`
//! (`SO_PEERCRED` on Linux, `LOCAL_PEERCRED` on the BSDs and macOS), read once at accept.
//! Supplementary groups, which the gid allow-list also matches, come from `interprocess` where
//! the OS reports them with the credentials (`xucred`), and from `SO_PEERGROUPS` on Linux
//! (which `interprocess` does not read).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use interprocess::local_socket::traits::{Listener as _, StreamCommon as _};
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

/// An accepted connection, with what the OS says about its peer.
#[derive(Debug)]
pub struct Accepted {
    /// The connection, nonblocking.
    pub stream: Stream,
    /// Its peer's pid, uid and gid; an error when the OS could not tell (the peer may have
    /// gone already).
    pub peer: io::Result<PeerCred>,
    /// The peer's gids: the effective one first, then the supplementary groups where the OS
    /// reports them.
    pub gids: Vec<u32>,
}

/// A group that is given access to the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The name as configured (for messages).
    pub name: String,
    /// Its gid.
    pub gid: u32,
}

impl Group {
    /// Looks a group up by name, or takes a number as a gid.
    pub fn resolve(name: &str) -> Result<Group, TransportError> {
        if let Ok(gid) = name.parse::<u32>() {
            return Ok(Group {
                name: name.to_string(),
                gid,
            });
        }
        let unknown = || TransportError::UnknownGroup {
            name: name.to_string(),
        };
        let cname = std::ffi::CString::new(name).map_err(|_| unknown())?;
        // SAFETY: `group` and `result` are valid for writes, `buf` is a live buffer of the
        // length passed; getgrnam_r writes only into them.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut group,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc != 0 || result.is_null() {
            return Err(unknown());
        }
        Ok(Group {
            name: name.to_string(),
            gid: group.gr_gid,
        })
    }
}

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
    file_id: FileId,
}

impl Listener {
    /// Listens at `path`. Refuses if a broker already answers there; replaces a stale socket
    /// file left by a crash; never replaces anything that is not a socket. The socket file is
    /// mode 0600, or 0660 owned by `group`.
    pub fn bind(path: &Path, group: Option<&Group>) -> Result<Self, TransportError> {
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
        // Listen under a staging name first and publish the finished socket with link():
        // the socket file then appears only once it accepts connections, so a script that
        // waits for the file (`[ -S path ]`) never connects between bind() and listen() and
        // gets "connection refused". link() refuses to replace a file, so two brokers racing
        // for one path cannot take it from each other.
        let direct = || listen_at(path, group).map_err(|(what, e)| io_err(what, e));
        let (inner, file_id) = match staging_path(path) {
            Some(staging) => match listen_at(&staging, group) {
                Ok((inner, id)) => {
                    publish(&staging, path, id).map_err(|e| match e.kind() {
                        io::ErrorKind::AlreadyExists => TransportError::AlreadyRunning {
                            path: path.to_path_buf(),
                        },
                        _ => io_err("cannot publish the socket at", e),
                    })?;
                    (inner, id)
                }
                // Something squats on the staging name: listen at the path itself.
                Err((_, e)) if e.kind() == io::ErrorKind::AddrInUse => {
                    tracing::debug!(staging = %staging.display(), "staging name taken");
                    direct()?
                }
                Err((what, e)) => return Err(io_err(what, e)),
            },
            None => direct()?,
        };
        if let Some(g) = group {
            warn_if_unreachable(path, g);
        }
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

    /// Accepts one connection and reads its peer's credentials; `None` when none is
    /// waiting. The stream is nonblocking.
    pub fn accept(&self) -> io::Result<Option<Accepted>> {
        let s = match self.inner.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        };
        let creds = s.peer_creds();
        let mut gids = Vec::new();
        let peer = creds.and_then(|c| {
            let (Some(uid), Some(gid)) = (c.euid(), c.egid()) else {
                return Err(io::Error::other("the OS reported no uid/gid for the peer"));
            };
            gids.push(gid);
            gids.extend(c.groups().unwrap_or_default().iter().filter(|&&g| g != gid));
            Ok(PeerCred {
                pid: c.pid().map_or(0, |p| p as u32),
                uid,
                gid,
            })
        });
        let interprocess::local_socket::Stream::UdSocket(s) = s;
        let stream = Stream::from(OwnedFd::from(s));
        if peer.is_ok() {
            for g in supplementary_groups(&stream) {
                if !gids.contains(&g) {
                    gids.push(g);
                }
            }
        }
        Ok(Some(Accepted { stream, peer, gids }))
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
        if ours == Some(self.file_id) {
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
        // signal-hook swallows a signal that lands between its sigaction() and the moment it
        // records the handler's action; blocked meanwhile, such a signal stays pending and is
        // delivered, to the finished handler, when unblocked.
        let blocked = BlockedSignals::block(&[libc::SIGTERM, libc::SIGINT]).map_err(setup)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, tx).map_err(setup)?;
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, tx2).map_err(setup)?;
        drop(blocked);
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
/// `$XDG_RUNTIME_DIR/xproc.sock`, else `/tmp/xproc-<uid>/xproc.sock`. With a group, the
/// `/tmp` directory is mode 0710 and belongs to that group, so its members can reach the
/// socket (but not list or change the directory).
pub fn default_socket_path(group: Option<&Group>) -> Result<PathBuf, TransportError> {
    if let Some(p) = std::env::var_os("XPROC_SOCKET").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(dir).join("xproc.sock"));
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let dir = PathBuf::from(format!("/tmp/xproc-{uid}"));
    prepare_socket_dir(&dir, group)?;
    Ok(dir.join("xproc.sock"))
}

/// Creates the private socket directory (mode 0700; 0710 owned by `group` when one is given),
/// or checks an existing one: it must be a real directory owned by us. Another user's
/// directory under /tmp could be a trap (they could read or replace our socket), so it is
/// refused; our own with other permissions is set to the expected mode.
pub fn prepare_socket_dir(dir: &Path, group: Option<&Group>) -> Result<(), TransportError> {
    let unsafe_dir = |reason: String| TransportError::UnsafeDir {
        path: dir.to_path_buf(),
        reason,
    };
    let want = if group.is_some() { 0o710 } else { 0o700 };
    let share = |dir: &Path| match group {
        Some(g) => share_with_group(dir, g, want).map_err(|e| TransportError::Io {
            what: "cannot give the socket directory to its group",
            path: dir.to_path_buf(),
            source: e,
        }),
        None => Ok(()),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return share(dir),
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
    if let Some(g) = group {
        if md.gid() != g.gid || md.mode() & 0o777 != want {
            tracing::info!(path = %dir.display(), group = %g.name, "sharing socket directory with the group (mode 0710)");
            return share(dir);
        }
    } else if md.mode() & 0o777 != want {
        tracing::warn!(path = %dir.display(), mode = format!("{:o}", md.mode() & 0o777), "setting socket directory to 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(want)).map_err(|e| {
            TransportError::Io {
                what: "cannot chmod socket directory",
                path: dir.to_path_buf(),
                source: e,
            }
        })?;
    }
    Ok(())
}

/// The name a listener is bound under before it is published at `path`: a hidden file in the
/// same directory (link() cannot cross filesystems), named after this process. `None` when it
/// would not fit in `sun_path`; the listener is then bound at `path` directly.
fn staging_path(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let staging = dir.join(format!(".xprocd-{}.sock", std::process::id()));
    (staging.as_os_str().len() <= MAX_SOCKET_PATH).then_some(staging)
}

/// What a listener's file is: its (device, inode).
type FileId = (u64, u64);

/// Binds and listens at `path` (mode 0600, then shared with `group`); returns the listener and
/// its file's id, or what failed and why.
fn listen_at(
    path: &Path,
    group: Option<&Group>,
) -> Result<(interprocess::local_socket::Listener, FileId), (&'static str, io::Error)> {
    let listen = |e| ("cannot listen at", e);
    let name = path.to_fs_name::<GenericFilePath>().map_err(listen)?;
    let inner = ListenerOptions::new()
        .name(name)
        .nonblocking(ListenerNonblockingMode::Both)
        .reclaim_name(false)
        .mode(0o600)
        .create_sync()
        .map_err(listen)?;
    let unlink = |what: &'static str| {
        move |e: io::Error| {
            let _ = std::fs::remove_file(path);
            (what, e)
        }
    };
    if let Some(g) = group {
        share_with_group(path, g, 0o660).map_err(unlink("cannot give the socket to its group"))?;
    }
    let md = std::fs::symlink_metadata(path).map_err(unlink("cannot inspect"))?;
    Ok((inner, (md.dev(), md.ino())))
}

/// Makes the listening socket at `staging` (whose file is `id`) visible at `path`, then
/// removes the staging name. Fails with `AlreadyExists` if something appeared at `path`.
fn publish(staging: &Path, path: &Path, id: FileId) -> io::Result<()> {
    let result = match std::fs::hard_link(staging, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        // A filesystem without hard links: rename instead (it would replace a file that
        // appeared since the stale check; there is no portable rename that refuses to).
        Err(_) => std::fs::rename(staging, path),
    };
    let _ = std::fs::remove_file(staging);
    result?;
    // The file at `path` must be the socket just bound, not one swapped in meanwhile.
    let md = std::fs::symlink_metadata(path)?;
    if (md.dev(), md.ino()) != id {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "another socket appeared at the path",
        ));
    }
    Ok(())
}

/// Signals blocked in this thread until dropped (which restores the previous mask).
struct BlockedSignals {
    previous: libc::sigset_t,
}

impl BlockedSignals {
    fn block(signals: &[libc::c_int]) -> io::Result<Self> {
        // SAFETY: sigemptyset/sigaddset initialise and fill `set`; pthread_sigmask reads `set`
        // and writes the old mask into `previous`, both valid for the call.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &s in signals {
                libc::sigaddset(&mut set, s);
            }
            let mut previous: libc::sigset_t = std::mem::zeroed();
            match libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous) {
                0 => Ok(BlockedSignals { previous }),
                e => Err(io::Error::from_raw_os_error(e)),
            }
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `block`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}

/// Gives `path` (not following a symlink) to group `g`, then sets `mode`. In that order, so
/// the wider mode never applies to the previous group.
fn share_with_group(path: &Path, g: &Group, mode: u32) -> io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path; uid -1 leaves the owner unchanged.
    if unsafe { libc::lchown(c.as_ptr(), u32::MAX, g.gid) } != 0 {
        return Err(io::Error::last_os_error());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Logs a warning when members of `g` cannot reach the socket because its directory is not
/// searchable by them (a `$XDG_RUNTIME_DIR` is mode 0700, for one).
fn warn_if_unreachable(socket: &Path, g: &Group) {
    let Some(dir) = socket.parent() else {
        return;
    };
    let Ok(md) = std::fs::metadata(dir) else {
        return;
    };
    let mode = md.mode();
    let reachable = mode & 0o001 != 0 || (md.gid() == g.gid && mode & 0o010 != 0);
    if !reachable {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            group = %g.name,
            "members of the group cannot reach the socket: its directory is not searchable by them; \
             use --socket in a directory the group can search (see docs/SECURITY.md)"
        );
    }
}

/// `SO_PEERGROUPS` (Linux 4.13+), where its value is the generic one. `libc` does not
/// export it; architectures with their own socket option numbers (alpha, mips, parisc, sparc)
/// simply do without supplementary groups.
#[cfg(all(
    any(target_os = "linux", target_os = "android"),
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
const SO_PEERGROUPS: Option<libc::c_int> = Some(59);
#[cfg(not(all(
    any(target_os = "linux", target_os = "android"),
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
)))]
const SO_PEERGROUPS: Option<libc::c_int> = None;

/// The peer's supplementary groups as the kernel recorded them at `connect` (`SO_PEERGROUPS`);
/// empty where the OS cannot tell (the allow-list then matches the effective gid only).
pub fn supplementary_groups(stream: &Stream) -> Vec<u32> {
    let Some(opt) = SO_PEERGROUPS else {
        return Vec::new();
    };
    let mut groups = vec![0 as libc::gid_t; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is valid for `len` bytes of writes; the kernel writes at most that
        // and reports the size it needs in `len` (ERANGE) when the buffer is too small.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let n = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(n);
            return groups;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE) && n > groups.len() && n <= 65536 {
            groups.resize(n, 0);
            continue;
        }
        return Vec::new();
    }
}

/// The soft `RLIMIT_NOFILE` raised to `want` descriptors (as far as the hard limit allows; it
/// is never lowered). Returns the soft limit now in force. A broker with the usual soft limit
/// of 1024 could otherwise not even reach its default `max_clients`.
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is valid for writes.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let want = want as libc::rlim_t;
    if lim.rlim_cur != libc::RLIM_INFINITY && lim.rlim_cur < want {
        let raised = libc::rlimit {
            rlim_cur: if lim.rlim_max == libc::RLIM_INFINITY {
                want
            } else {
                want.min(lim.rlim_max)
            },
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; raising the soft limit up to the hard one needs
        // no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        lim.rlim_cur = raised.rlim_cur;
    }
    // rlim_t is u64 on Linux and the BSDs, but not by definition.
    #[allow(clippy::unnecessary_cast)]
    Ok(if lim.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        lim.rlim_cur as u64
    })
}

/// Whether an `accept` error means this process is out of descriptors (`EMFILE`), which
/// [`FdReserve`] can get round, rather than the whole system (`ENFILE`) or memory.
pub fn out_of_descriptors(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

/// One descriptor held back (`/dev/null`, close-on-exec) for the moment the process runs out:
/// closing it lets the broker accept the waiting connection, tell it `LimitExceeded` and close
/// it, instead of leaving it queued and unanswered (the accept would fail again on every try).
#[derive(Debug)]
pub struct FdReserve(Option<std::fs::File>);

impl FdReserve {
    /// Takes the reserve descriptor.
    pub fn new() -> io::Result<Self> {
        std::fs::File::open("/dev/null").map(|f| FdReserve(Some(f)))
    }

    /// Gives the descriptor up, so that one `accept` can succeed.
    pub fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Takes the descriptor back (after the refused connection is closed).
    pub fn restore(&mut self) {
        if self.0.is_none() {
            self.0 = std::fs::File::open("/dev/null").ok();
        }
    }
}

/// A short read drains a TCP socket here: epoll and kqueue report the next byte as a new
/// edge (see `Link::short_read_drains`).
pub const TCP_SHORT_READ_DRAINS: bool = true;

/// Tells the service manager about the broker's state (`READY=1`, `STOPPING=1`), systemd's
/// `sd_notify` protocol: one datagram to the `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a
/// path, or `@name` for Linux's abstract namespace). Without the variable (not started by a
/// `Type=notify` unit) it does nothing. Failures are logged, never fatal: the broker works the
/// same without a service manager.
pub fn notify(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET").filter(|t| !t.is_empty()) else {
        return;
    };
    let sent = std::os::unix::net::UnixDatagram::unbound().and_then(|sock| {
        let bytes = target.as_encoded_bytes();
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(name) = bytes.strip_prefix(b"@") {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            return sock.send_to_addr(state.as_bytes(), &addr);
        }
        let _ = bytes;
        sock.send_to(state.as_bytes(), Path::new(&target))
    });
    if let Err(e) = sent {
        tracing::warn!(error = %e, socket = ?target, state, "cannot notify the service manager");
    }
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

/// A descriptor that came from, or goes to, a peer with `SCM_RIGHTS` (docs/PROTOCOL.md §1.3).
pub type Descriptor = OwnedFd;

/// The local socket can carry descriptors (`SCM_RIGHTS`), so `hello` may grant `fds`.
pub const PASSES_FDS: bool = true;

/// Room in the control buffer for this many descriptors per `recvmsg`. A peer that sends more
/// in one message gets `MSG_CTRUNC` (the kernel closes the ones that did not fit, so nothing
/// leaks) and is refused.
const RECV_FDS: usize = crate::connection::MAX_FDS_PER_FRAME;

/// Room for the control buffer: comfortably more than `CMSG_SPACE` of [`RECV_FDS`] `c_int`s.
const CONTROL_WORDS: usize = 8 + RECV_FDS / 2;

/// Bytes of control buffer one message of [`RECV_FDS`] descriptors needs.
fn control_len() -> usize {
    let payload = RECV_FDS * std::mem::size_of::<libc::c_int>();
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let len = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    debug_assert!(len <= CONTROL_WORDS * 8);
    len
}

/// `recvmsg` flags: descriptors arrive close-on-exec where the OS can say so atomically.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const RECV_FLAGS: libc::c_int = libc::MSG_CMSG_CLOEXEC;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
const RECV_FLAGS: libc::c_int = 0;

/// One `recvmsg` into `buf`: the bytes, and any descriptors that came with them (owned from
/// here on, so every path closes them). `truncated` when the peer sent more descriptors than
/// fit ([`MAX_FDS_PER_FRAME`](crate::connection::MAX_FDS_PER_FRAME)).
pub fn recv_with_fds(stream: &mut Stream, buf: &mut [u8]) -> io::Result<super::Received> {
    // u64s keep the control buffer aligned for `cmsghdr`; only `control_len` of it is offered,
    // so the kernel truncates (and closes) past RECV_FDS descriptors.
    // Not zeroed: the kernel writes the control messages it delivers and says how many bytes
    // in `msg_controllen`, and only those are read (this runs for every read of every
    // connection that negotiated fds, so it is kept lean).
    let mut control = std::mem::MaybeUninit::<[u64; CONTROL_WORDS]>::uninit();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed is a valid `msghdr` (null name, no iovecs); the fields set below point
    // at `iov` and `control`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control_len() as _;
    // SAFETY: `msg` describes live, writable buffers of the given lengths; the fd is open.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, RECV_FLAGS) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control` up to `msg_controllen`; CMSG_FIRSTHDR/NXTHDR walk
    // only within it, and each SCM_RIGHTS payload holds whole `c_int`s it just installed in
    // this process, which nothing else owns: wrapping each in an `OwnedFd` at once is what
    // makes every path close them.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<libc::c_int>() {
                    let fd = std::ptr::read_unaligned(
                        data.add(i * std::mem::size_of::<libc::c_int>())
                            .cast::<libc::c_int>(),
                    );
                    let fd = OwnedFd::from_raw_fd(fd);
                    if RECV_FLAGS == 0 {
                        libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
                    }
                    fds.push(fd);
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(super::Received {
        n: n as usize,
        fds,
        truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// One `sendmsg` of `buf` with `fds` attached (`SCM_RIGHTS`) to its first byte: how many bytes
/// went. The descriptors go with the first byte written, so a short write still carried them
/// all; the caller writes the rest without them. Never raises SIGPIPE.
pub fn send_with_fds(stream: &mut Stream, buf: &[u8], fds: &[Descriptor]) -> io::Result<usize> {
    if fds.is_empty() {
        return io::Write::write(stream, buf);
    }
    if fds.len() > RECV_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors for one message",
        ));
    }
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let payload = fds.len() * std::mem::size_of::<libc::c_int>();
    // SAFETY: zeroed is a valid `msghdr`; it points at `iov` and `control`, which outlive the
    // call, and CMSG_SPACE(payload) fits in `control` (checked against RECV_FDS above). The
    // kernel only reads the buffers for a send.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(payload as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        let data = libc::CMSG_DATA(cmsg);
        for (i, fd) in fds.iter().enumerate() {
            std::ptr::write_unaligned(
                data.add(i * std::mem::size_of::<libc::c_int>())
                    .cast::<libc::c_int>(),
                fd.as_raw_fd(),
            );
        }
        libc::sendmsg(stream.as_raw_fd(), &msg, SEND_FLAGS)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `send` flags: a client that went away is an `EPIPE`, not a SIGPIPE.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: libc::c_int = 0;

/// The seals a shared value must carry before the broker believes its size or bytes: nobody
/// can write, grow, shrink it or lift the seals again (memfd_create(2), fcntl(2) "File Seals").
const VALUE_SEALS: libc::c_int =
    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;

/// A value a client passed as a sealed memfd (docs/PROTOCOL.md §4.1), mapped read-only: the
/// descriptor is what the broker stores and hands on, the mapping is how it reads the bytes
/// (once to validate them; again only for a client that cannot take descriptors). The seals
/// make both immutable for as long as anyone holds the descriptor.
#[derive(Debug)]
pub struct SealedValue {
    fd: OwnedFd,
    ptr: *const u8,
    len: usize,
}

impl SealedValue {
    /// Takes `fd` as a value of `len` bytes, after checking that it is a memfd (or another
    /// sealable shared-memory file) sealed against writing, growing, shrinking and unsealing,
    /// and that its size is `len`. Maps it read-only; the bytes are not looked at here.
    pub fn open(fd: OwnedFd, len: u64) -> Result<SealedValue, super::SealError> {
        use super::SealError as E;
        // SAFETY: F_GET_SEALS only reads the descriptor's seal set.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 {
            return Err(E::NotMemfd);
        }
        if seals & VALUE_SEALS != VALUE_SEALS {
            return Err(E::NotSealed {
                missing: seal_names(VALUE_SEALS & !seals),
            });
        }
        // One fstat on the descriptor itself (no dup and close around it).
        // SAFETY: `st` is valid for writes; fstat fills it for an open descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(E::Io(io::Error::last_os_error()));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(E::NotMemfd);
        }
        let actual = st.st_size as u64;
        if actual != len {
            return Err(E::SizeMismatch {
                announced: len,
                actual,
            });
        }
        if len == 0 {
            return Err(E::SizeMismatch {
                announced: 0,
                actual: 0,
            });
        }
        let size = usize::try_from(len).map_err(|_| E::Io(io::ErrorKind::OutOfMemory.into()))?;
        // SAFETY: a fresh read-only shared mapping of a file whose size is sealed at `size`:
        // no process can shrink it under us (no SIGBUS) or write through it (no torn reads).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(E::Io(io::Error::last_os_error()));
        }
        Ok(SealedValue {
            fd,
            ptr: ptr.cast(),
            len: size,
        })
    }

    /// The value's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`, and the seals keep them
        // unchanged.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The descriptor, to pass on to a client.
    pub fn fd(&self) -> &Descriptor {
        &self.fd
    }

    /// The value's size in bytes.
    pub fn size(&self) -> usize {
        self.len
    }
}

impl Drop for SealedValue {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `open` made; nothing borrows it any more.
        unsafe { libc::munmap(self.ptr.cast_mut().cast(), self.len) };
    }
}

/// The names of the seals in `set`, for messages.
fn seal_names(set: libc::c_int) -> String {
    [
        (libc::F_SEAL_SHRINK, "F_SEAL_SHRINK"),
        (libc::F_SEAL_GROW, "F_SEAL_GROW"),
        (libc::F_SEAL_WRITE, "F_SEAL_WRITE"),
        (libc::F_SEAL_SEAL, "F_SEAL_SEAL"),
    ]
    .iter()
    .filter(|(s, _)| set & s != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join("|")
}

/// Bytes of send buffer asked for each side of a direct pipe's socketpair. The kernel clamps it
/// to `net.core.wmem_max` (no privilege is needed to ask). The inbox is bounded in messages by
/// the counters page (`capacity`); this bounds the bytes in flight, the direct counterpart of a
/// brokered pipe's share of the memory budget: a message that does not fit waits for room
/// (docs/PROTOCOL.md §6.5.1).
pub const DIRECT_PIPE_BUFFER: usize = 4 * 1024 * 1024;

/// The two sides of a direct pipe (docs/PROTOCOL.md §6.5.1): a `SOCK_STREAM` socketpair,
/// close-on-exec and non-blocking for the broker's own writes (the backlog), one side per end
/// (`.0` for `a`, `.1` for `b`). Both sides can write even on a one-way pipe: the receiver
/// writes wake frames to a sender waiting for credit.
pub fn direct_pair() -> io::Result<(Descriptor, Descriptor)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: socketpair writes two new descriptors into `fds` on success.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created for us and nothing else owns them.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for side in [&a, &b] {
        let size = DIRECT_PIPE_BUFFER as libc::c_int;
        // SAFETY: setsockopt reads one c_int from a live local. A failure leaves the kernel's
        // default, which is also a bound; nothing depends on the exact size.
        unsafe {
            libc::setsockopt(
                side.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    Ok((a, b))
}

/// Writes `buf` into a direct pipe's side without waiting (the broker's backlog handover,
/// into a fresh, empty socketpair). Returns whether all of it went: a partial write means the
/// pipe must not switch (the caller drops the pair).
pub fn direct_write_all_now(side: &Descriptor, buf: &[u8]) -> bool {
    if buf.is_empty() {
        return true;
    }
    // SAFETY: a live slice; the fd is open for the call.
    let n = unsafe {
        libc::send(
            side.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            SEND_FLAGS | libc::MSG_DONTWAIT,
        )
    };
    n >= 0 && n as usize == buf.len()
}

/// Size of a direct pipe's counters page (docs/PROTOCOL.md §6.5.1): one page.
pub const DIRECT_PAGE_LEN: usize = 4096;

/// The seals of a counters page: its size is fixed (no peer can shrink it under the broker's
/// mapping, which would make a read fault), its bytes stay writable by the holders.
const PAGE_SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// A direct pipe's counters page: a sealed memfd of [`DIRECT_PAGE_LEN`] bytes, mapped
/// read-write here; its descriptor goes to each end with its socket. The broker writes the
/// `sent` counters before handing it out (the backlog) and afterwards only reads (`stat`).
#[derive(Debug)]
pub struct DirectPage {
    ptr: *mut u8,
}

impl DirectPage {
    /// A fresh, zeroed, sealed page, and two descriptors of it (one per end, to hand out; the
    /// mapping does not need them).
    pub fn new() -> io::Result<(DirectPage, Descriptor, Descriptor)> {
        // SAFETY: a NUL-terminated name and flags; the result is a fresh descriptor.
        let raw = unsafe {
            libc::memfd_create(
                c"xproc-direct-pipe".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just created, owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: plain calls on a descriptor we own.
        unsafe {
            if libc::ftruncate(fd.as_raw_fd(), DIRECT_PAGE_LEN as libc::off_t) != 0
                || libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, PAGE_SEALS) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: a fresh shared mapping of a file sealed at this size: no holder can shrink
        // it under us (no SIGBUS).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                DIRECT_PAGE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let page = DirectPage { ptr: ptr.cast() };
        let other = fd.try_clone()?;
        Ok((page, fd, other))
    }

    /// The u64 counter at byte `offset` (8-aligned, inside the page).
    fn counter(&self, offset: usize) -> &std::sync::atomic::AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= DIRECT_PAGE_LEN);
        // SAFETY: in bounds and aligned (the mapping is page-aligned); the page lives as long
        // as `self`; every process touches it only through atomics.
        unsafe { &*self.ptr.add(offset).cast::<std::sync::atomic::AtomicU64>() }
    }

    /// Reads the u64 at `offset` (a holder may write it at any time: the value is only shown).
    pub fn load(&self, offset: usize) -> u64 {
        self.counter(offset)
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Writes the u64 at `offset` (before the page is handed out).
    pub fn store(&self, offset: usize, v: u64) {
        self.counter(offset)
            .store(v, std::sync::atomic::Ordering::Release)
    }
}

impl Drop for DirectPage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; nothing borrows it any more.
        unsafe { libc::munmap(self.ptr.cast(), DIRECT_PAGE_LEN) };
    }
}

/// Gives the heap's free pages back to the OS. glibc keeps freed blocks of a few MiB (the
/// broker's copies of large values: its mmap threshold rises past them once one is freed) in
/// its heap and returns only the top; `malloc_trim` also releases free pages in the middle.
/// Elsewhere (musl, the BSDs, macOS) the allocator decides on its own, and this does nothing.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
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
        prepare_socket_dir(&dir, None).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_socket_dir(&dir, None).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // With a group (our own primary one, so that chgrp is allowed): 0710 and that group.
        // SAFETY: getgid cannot fail.
        let gid = unsafe { libc::getgid() };
        let g = Group::resolve(&gid.to_string()).unwrap();
        prepare_socket_dir(&dir, Some(&g)).unwrap();
        assert_eq!(mode(&dir), 0o710);
        assert_eq!(std::fs::metadata(&dir).unwrap().gid(), gid);
        let file = base.join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            prepare_socket_dir(&file, None),
            Err(TransportError::UnsafeDir { .. })
        ));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn too_long_paths_are_refused_before_any_syscall() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(MAX_SOCKET_PATH)));
        let err = Listener::bind(&long, None).unwrap_err();
        assert!(matches!(err, TransportError::PathTooLong { .. }));
        assert!(err.to_string().contains("sun_path"), "{err}");
    }

    #[test]
    fn groups_resolve_by_name_or_number() {
        assert_eq!(Group::resolve("4242").unwrap().gid, 4242);
        assert_eq!(Group::resolve("root").unwrap().gid, 0);
        assert!(matches!(
            Group::resolve("no-such-group-here"),
            Err(TransportError::UnknownGroup { .. })
        ));
    }

    #[test]
    fn supplementary_groups_are_those_of_the_peer() {
        let (a, _b) = Stream::pair().unwrap();
        let mut ours = vec![0 as libc::gid_t; 256];
        // SAFETY: the buffer holds 256 gids.
        let n = unsafe { libc::getgroups(256, ours.as_mut_ptr()) };
        assert!(n >= 0);
        ours.truncate(n as usize);
        ours.sort();
        let mut seen = supplementary_groups(&a);
        seen.sort();
        if SO_PEERGROUPS.is_some() {
            assert_eq!(seen, ours);
        } else {
            assert!(seen.is_empty());
        }
    }
}
