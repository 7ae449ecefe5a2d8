//! Unix domain sockets (docs/PROTOCOL.md §1).

use std::io::{self, Read};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::Duration;

/// `send` flags: never raise SIGPIPE when the broker is gone (a C or C# host process would die
/// of it); the error comes back as EPIPE instead.
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: libc::c_int = 0;

/// A connected stream to the broker.
#[derive(Debug)]
pub(crate) struct Stream(UnixStream);

/// The broker's end of [`Stream::pair`], in unit tests.
#[cfg(test)]
pub(crate) type PairPeer = UnixStream;

impl Stream {
    /// Connects to the broker's socket at `path`.
    pub(crate) fn connect(path: &Path) -> io::Result<Stream> {
        UnixStream::connect(path).map(Stream)
    }

    /// A second handle on the same connection (the reader's, beside the writer's).
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        self.0.try_clone().map(Stream)
    }

    /// Makes reads give up with `WouldBlock`/`TimedOut` after `timeout` (`None`: never).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    /// Writes all of `buf`, retrying on EINTR and never raising SIGPIPE.
    pub(crate) fn send_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            // SAFETY: the pointer and length describe a live slice; the fd is open (owned by
            // `self`, borrowed for the duration of the call).
            let n = unsafe {
                libc::send(
                    self.0.as_raw_fd(),
                    buf.as_ptr().cast(),
                    buf.len(),
                    SEND_FLAGS,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            buf = &buf[n as usize..];
        }
        Ok(())
    }

    /// Reads what the socket holds now, without waiting (`WouldBlock` when nothing), whatever
    /// the receive timeout.
    pub(crate) fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        recv_dontwait(&self.0, buf)
    }

    /// Both ends of a connected pair, for unit tests that play the broker.
    #[cfg(test)]
    pub(crate) fn pair() -> io::Result<(Stream, PairPeer)> {
        UnixStream::pair().map(|(a, b)| (Stream(a), b))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

/// One `recv` with `MSG_DONTWAIT` on `sock`: what it holds now, or `WouldBlock`. Shared by the
/// Unix and TCP streams, whose blocking reads use a receive timeout that this must not wait on.
pub(crate) fn recv_dontwait(sock: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe a live, writable slice; the fd is open (owned by
    // `sock`, borrowed for the call).
    let n = unsafe {
        libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Bumped in every child `fork` creates, by a `pthread_atfork` handler. Comparing it with the
/// value a connection saw when it was made tells "are we still the process that connected?"
/// without a `getpid` per request (a real syscall since glibc 2.25, ~250 ns on this VM, which
/// the benchmarks showed on every call).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The current fork generation, registering the `pthread_atfork` handler on first use.
pub(crate) fn fork_generation() -> u64 {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: the handler only touches an atomic, which is async-signal-safe and fine in a
        // freshly forked child. If registration fails (ENOMEM), forks go unnoticed, as before
        // this check existed; nothing else depends on it.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Where this user's broker listens when `$XPROC_SOCKET` does not say:
/// `$XDG_RUNTIME_DIR/xproc.sock`, else `/tmp/xproc-<uid>/xproc.sock`.
pub(crate) fn default_local_endpoint() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir).join("xproc.sock");
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    PathBuf::from(format!("/tmp/xproc-{uid}/xproc.sock"))
}
