//! Unix domain sockets (docs/PROTOCOL.md §1).

use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
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

    /// One `recvmsg` (without waiting when `now`): the bytes, and the descriptors that came
    /// with them (docs/PROTOCOL.md §1.3), owned from here on.
    pub(crate) fn recv_fds(&self, buf: &mut [u8], now: bool) -> io::Result<(usize, Vec<OwnedFd>)> {
        let mut control = [0u64; CONTROL_WORDS];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: zeroed is a valid msghdr; it points at `iov` and `control`, live for the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let flags = RECV_FLAGS | if now { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: `msg` describes live, writable buffers; the fd is open.
        let n = unsafe { libc::recvmsg(self.0.as_raw_fd(), &mut msg, flags) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut fds = Vec::new();
        // SAFETY: the kernel filled `control` up to `msg_controllen`; each SCM_RIGHTS payload
        // holds descriptors just installed in this process and owned by nothing else, so each
        // is wrapped in an OwnedFd at once (closed on every path).
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                    let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                    let data = libc::CMSG_DATA(cmsg);
                    for i in 0..len / std::mem::size_of::<libc::c_int>() {
                        let fd = std::ptr::read_unaligned(
                            data.add(i * std::mem::size_of::<libc::c_int>())
                                .cast::<libc::c_int>(),
                        );
                        fds.push(OwnedFd::from_raw_fd(fd));
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n as usize, fds))
    }

    /// One `sendmsg` of `buf` with `fd` attached to its first byte; how many bytes went.
    /// Never raises SIGPIPE.
    pub(crate) fn send_with_fd(&self, buf: &[u8], fd: &OwnedFd) -> io::Result<usize> {
        let mut control = [0u64; CONTROL_WORDS];
        let mut iov = libc::iovec {
            iov_base: buf.as_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        };
        let payload = std::mem::size_of::<libc::c_int>() as u32;
        loop {
            // SAFETY: zeroed is a valid msghdr; it points at `iov` and `control` (room for
            // CMSG_SPACE of one int), live for the call; the kernel only reads them.
            let n = unsafe {
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(payload) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(payload) as _;
                std::ptr::write_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<libc::c_int>(),
                    fd.as_raw_fd(),
                );
                libc::sendmsg(self.0.as_raw_fd(), &msg, SEND_FLAGS)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            return Ok(n as usize);
        }
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

/// A received descriptor.
pub(crate) type Descriptor = OwnedFd;

/// One end's socket of a direct pipe (docs/PROTOCOL.md §6.5.1), handed over by the broker: a
/// blocking `SOCK_STREAM` Unix socket whose peer is the other end's holder.
#[derive(Debug)]
pub(crate) struct DirectSocket(Stream);

impl DirectSocket {
    /// Takes ownership of the descriptor the broker passed.
    pub(crate) fn new(fd: Descriptor) -> DirectSocket {
        DirectSocket(Stream(UnixStream::from(fd)))
    }

    /// Waits until the socket is readable (or at end of stream), or writable with `write`, for
    /// at most `timeout` (`None`: as long as it takes). False if the time ran out;
    /// `Interrupted` if a signal handler ran.
    pub(crate) fn wait(&self, write: bool, timeout: Option<Duration>) -> io::Result<bool> {
        let mut p = libc::pollfd {
            fd: self.0 .0.as_raw_fd(),
            events: if write { libc::POLLOUT } else { libc::POLLIN },
            revents: 0,
        };
        let ms = match timeout {
            None => -1,
            Some(t) => {
                libc::c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX)
            }
        };
        // SAFETY: one live pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n > 0)
    }

    /// One read, waiting for data unless `now` (then `WouldBlock` when none). No descriptor
    /// travels on a direct pipe in this version, so this is a plain `recv` (cheaper than
    /// `recvmsg` with room for descriptors); any a peer attached anyway are discarded and
    /// closed by the kernel, never installed here.
    pub(crate) fn recv(&self, buf: &mut [u8], now: bool) -> io::Result<(usize, Vec<OwnedFd>)> {
        // SAFETY: a live, writable slice; the fd is open for the call.
        let n = unsafe {
            libc::recv(
                self.0 .0.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                if now { libc::MSG_DONTWAIT } else { 0 },
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((n as usize, Vec::new()))
    }

    /// Makes waiting reads give up with `WouldBlock`/`TimedOut` after `timeout` (`None`:
    /// never).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    /// Writes all of `buf`, waiting for room as long as it takes; EPIPE when the peer is gone.
    pub(crate) fn send_all(&self, buf: &[u8]) -> io::Result<()> {
        self.0.send_all(buf)
    }

    /// One write of what fits now (`WouldBlock` when nothing does); never raises SIGPIPE.
    pub(crate) fn send_now(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: a live slice; the fd is open for the call.
        let n = unsafe {
            libc::send(
                self.0 .0.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                SEND_FLAGS | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Bytes of a direct pipe's counters page (docs/PROTOCOL.md §6.5.1).
pub(crate) const COUNTERS_PAGE_LEN: usize = 4096;

/// A direct pipe's counters page (docs/PROTOCOL.md §6.5.1), mapped read-write: a memfd the
/// broker made, sealed against shrinking, so a peer cannot make our accesses fault.
#[derive(Debug)]
pub(crate) struct CountersPage {
    ptr: *mut u8,
}

// SAFETY: the page is only touched through atomics, from any thread.
unsafe impl Send for CountersPage {}
// SAFETY: as above.
unsafe impl Sync for CountersPage {}

impl CountersPage {
    /// Maps the page the broker passed; refuses one that is too small or could be shrunk.
    pub(crate) fn map(fd: Descriptor) -> io::Result<CountersPage> {
        // SAFETY: F_GET_SEALS only reads the descriptor's seal set.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the counters page is not a memfd sealed against shrinking",
            ));
        }
        let len = std::fs::File::from(fd.try_clone()?).metadata()?.len();
        if len < COUNTERS_PAGE_LEN as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the counters page is {len} bytes, not {COUNTERS_PAGE_LEN}"),
            ));
        }
        // SAFETY: a fresh shared mapping of a file that cannot shrink below this size.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                COUNTERS_PAGE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // The mapping keeps the page; the descriptor closes here.
        Ok(CountersPage { ptr: ptr.cast() })
    }

    /// The u64 at byte `offset` (8-aligned, in the page).
    pub(crate) fn u64_at(&self, offset: usize) -> &std::sync::atomic::AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= COUNTERS_PAGE_LEN);
        // SAFETY: in bounds, aligned (the mapping is page-aligned), alive as long as `self`.
        unsafe { &*self.ptr.add(offset).cast() }
    }

    /// The u32 at byte `offset` (4-aligned, in the page).
    pub(crate) fn u32_at(&self, offset: usize) -> &std::sync::atomic::AtomicU32 {
        assert!(offset.is_multiple_of(4) && offset + 4 <= COUNTERS_PAGE_LEN);
        // SAFETY: in bounds, aligned, alive as long as `self`.
        unsafe { &*self.ptr.add(offset).cast() }
    }
}

impl Drop for CountersPage {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made; nothing borrows it any more.
        unsafe { libc::munmap(self.ptr.cast(), COUNTERS_PAGE_LEN) };
    }
}

/// The local socket can carry descriptors, so the client asks for `fds` in `hello`.
pub(crate) const PASSES_FDS: bool = true;

/// Control buffer room, in u64s: CMSG_SPACE of a few descriptors. The broker sends at most one
/// per reply; a few more are accepted (and closed by their owner) rather than truncated.
const CONTROL_WORDS: usize = 8;

/// `recvmsg` flags: received descriptors are close-on-exec where the OS can do it atomically.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const RECV_FLAGS: libc::c_int = libc::MSG_CMSG_CLOEXEC;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
const RECV_FLAGS: libc::c_int = 0;

/// The seals that make a memfd a value nobody can change (docs/PROTOCOL.md §4.1).
const VALUE_SEALS: libc::c_int =
    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;

/// Writes `bytes` into a fresh memfd and seals it (docs/PROTOCOL.md §4.1): the one copy a
/// large value costs the producer. `Unsupported` where the OS has no memfds.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) fn sealed_value(bytes: &[u8]) -> io::Result<OwnedFd> {
    use std::os::unix::fs::FileExt;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; the result is a fresh fd.
    let fd = unsafe {
        libc::memfd_create(
            c"xproc-value".as_ptr(),
            libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let file = std::fs::File::from(fd);
    file.set_len(bytes.len() as u64)?;
    // Written at offsets (pwrite), so the shared file offset stays 0 for every later reader.
    file.write_all_at(bytes, 0)?;
    let fd = OwnedFd::from(file);
    // SAFETY: F_ADD_SEALS only changes the file's seal set.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, VALUE_SEALS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) fn sealed_value(_bytes: &[u8]) -> io::Result<OwnedFd> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "no memfd on this OS",
    ))
}

/// Checks that `fd` is a memfd sealed against change that holds exactly `len` (> 0) bytes,
/// and returns that length: after this, reading `len` bytes of it can never fault or tear.
/// One `fcntl` and one `fstat` (no `dup`).
fn sealed_len(fd: &OwnedFd, len: u64) -> io::Result<usize> {
    let bad = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    // SAFETY: F_GET_SEALS only reads the seal set.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    if seals < 0 || seals & VALUE_SEALS != VALUE_SEALS {
        return Err(bad(
            "the broker passed a value that is not a sealed memfd".into()
        ));
    }
    // SAFETY: `st` is valid for writes; fstat fills it for an open descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let size = st.st_size as u64;
    if size != len || len == 0 {
        return Err(bad(format!(
            "a memfd value of {size} bytes announced as {len}"
        )));
    }
    usize::try_from(len).map_err(|_| bad("value larger than memory".into()))
}

/// Reads a sealed memfd value of `len` bytes into a new buffer with `pread` (one copy by the
/// kernel, straight into memory nothing has touched: no zeroing, no mapping). Cheaper than
/// [`Mapped`] for a caller that wants an owned copy anyway: mapping costs a page-table entry
/// per 4 KiB on the way in and a TLB flush on the way out (docs/BENCHMARKS.md, "Large
/// values").
pub(crate) fn read_sealed(fd: &OwnedFd, len: u64) -> io::Result<Vec<u8>> {
    let len = sealed_len(fd, len)?;
    let mut buf = Vec::<u8>::with_capacity(len);
    let mut got = 0;
    while got < len {
        // SAFETY: writes at most `len - got` bytes into the buffer's spare capacity, which
        // is allocated and not yet initialised; only the bytes the kernel wrote are exposed
        // (set_len below, after the loop filled all of them).
        let n = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                buf.as_mut_ptr().add(got).cast(),
                len - got,
                got as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            // Cannot happen to a file sealed at `len` bytes; never expose unwritten bytes.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a sealed memfd value ended early",
            ));
        }
        got += n as usize;
    }
    // SAFETY: the loop initialised all `len` bytes.
    unsafe { buf.set_len(len) };
    Ok(buf)
}

/// Map every page of a value at once: the caller reads all of it, and one populate is much
/// cheaper than a page fault per 4 KiB.
#[cfg(any(target_os = "linux", target_os = "android"))]
const MAP_POPULATE: libc::c_int = libc::MAP_POPULATE;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const MAP_POPULATE: libc::c_int = 0;

/// A value the broker passed as a sealed memfd, mapped read-only: the bytes are the
/// kernel's pages, not a copy (docs/PROTOCOL.md §4.1).
#[derive(Debug)]
pub(crate) struct Mapped {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and immutable (sealed): sharing or moving it between
// threads is as safe as for a `Box<[u8]>`.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps `fd` as a value of `len` bytes, after checking it is sealed against change and
    /// holds exactly `len` bytes (so reading it can never fault).
    pub(crate) fn open(fd: &OwnedFd, len: u64) -> io::Result<Mapped> {
        let len = sealed_len(fd, len)?;
        // SAFETY: a fresh read-only shared mapping of a file sealed at `len` bytes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapped {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The value's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable, sealed bytes until drop.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `open` made.
        unsafe { libc::munmap(self.ptr.cast_mut().cast(), self.len) };
    }
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

#[cfg(unix)]
impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// One of a connection's value rings, mapped (docs/PROTOCOL.md §4.2): the up ring read-write
/// (this client writes values into it), the down ring read-only (the broker sealed it against
/// any new writable mapping). The broker sealed both rings' size, so no access can fault.
#[derive(Debug)]
pub(crate) struct RingMapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: plain shared memory; who may touch which bytes when is the ring allocators' job
// (`rings.rs`), which hands each region to one user at a time.
unsafe impl Send for RingMapping {}
unsafe impl Sync for RingMapping {}

impl RingMapping {
    /// Maps the whole of ring `fd` (its size read from the descriptor), writable or not.
    pub(crate) fn map(fd: &OwnedFd, writable: bool) -> io::Result<RingMapping> {
        // SAFETY: fstat fills a zeroed struct for a descriptor we hold.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let len = st.st_size as usize;
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "empty ring"));
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh shared mapping of `len` bytes of a file sealed at that size.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(RingMapping {
            ptr: ptr.cast(),
            len,
        })
    }

    /// Size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes `[off, off + len)` (the caller holds that region).
    pub(crate) fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(off.checked_add(len).is_some_and(|e| e <= self.len));
        // SAFETY: in bounds of a live mapping; the region's holder is the only reader and
        // nobody writes it while it is held.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) }
    }

    /// The bytes `[off, off + len)` to write in place (the caller holds that region of the
    /// up ring, alone).
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn slice_mut(&self, off: usize, len: usize) -> &mut [u8] {
        assert!(off.checked_add(len).is_some_and(|e| e <= self.len));
        // SAFETY: in bounds of a live writable mapping; the region is the caller's alone
        // until it releases it, so no other reference to these bytes exists.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), len) }
    }

    /// Writes `bytes` at `off` (the caller holds that region of the up ring).
    pub(crate) fn write(&self, off: usize, bytes: &[u8]) {
        assert!(off.checked_add(bytes.len()).is_some_and(|e| e <= self.len));
        // SAFETY: in bounds of a live writable mapping; the region is the caller's alone.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(off), bytes.len()) };
    }
}

impl Drop for RingMapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `map` made.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}
