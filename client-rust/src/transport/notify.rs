//! The event-loop descriptor of `events.rs` on Linux: an epoll set watching the connection's
//! socket and a wake-up pipe, which whoever files a started request's reply on another thread
//! writes to. The same names exist where there is no such descriptor (`nonotify.rs`).

use std::ffi::c_int;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use super::Stream;

/// The descriptor an event loop watches, with the wake-up pipe it also watches.
#[derive(Debug)]
pub(crate) struct Notifier {
    /// The level-triggered epoll set handed to the loop.
    epoll: OwnedFd,
    /// The wake-up pipe's read end (non-blocking), drained by [`drain`](Self::drain).
    wake_r: UnixStream,
    /// Its write end, shared with the [`waker`](Self::waker).
    wake_w: Arc<UnixStream>,
}

/// An OS error, with the call that failed.
fn os(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Notifier {
    /// An epoll set readable when `sock` is, or when the waker has been called.
    pub(crate) fn new(sock: &Stream) -> io::Result<Notifier> {
        let (wake_r, wake_w) = UnixStream::pair().map_err(|e| os("socketpair", e))?;
        wake_r
            .set_nonblocking(true)
            .map_err(|e| os("nonblocking", e))?;
        wake_w
            .set_nonblocking(true)
            .map_err(|e| os("nonblocking", e))?;
        // SAFETY: epoll_create1 has no memory arguments; the result is checked.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(os("epoll_create1", io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
        for fd in [sock.as_raw_fd(), wake_r.as_raw_fd()] {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: fd as u64,
            };
            // SAFETY: `ev` is a valid epoll_event for the duration of the call.
            if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
                return Err(os("epoll_ctl", io::Error::last_os_error()));
            }
        }
        Ok(Notifier {
            epoll,
            wake_r,
            wake_w: Arc::new(wake_w),
        })
    }

    /// The descriptor the loop watches for readability.
    pub(crate) fn fd(&self) -> c_int {
        self.epoll.as_raw_fd()
    }

    /// Makes the descriptor readable, from any thread. A full pipe is readable already, so a
    /// failed write loses nothing.
    pub(crate) fn waker(&self) -> Box<dyn Fn() + Send> {
        let wake_w = Arc::clone(&self.wake_w);
        Box::new(move || {
            let _ = (&*wake_w).write(&[1]);
        })
    }

    /// Empties the wake-up pipe (before the connection is read).
    pub(crate) fn drain(&self) {
        let mut sink = [0u8; 256];
        while matches!((&self.wake_r).read(&mut sink), Ok(n) if n > 0) {}
    }
}
