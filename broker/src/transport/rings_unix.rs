//! A connection's two value rings (docs/PROTOCOL.md §4.2) as the OS holds them: memfds the
//! broker creates, sizes, seals and maps `MAP_SHARED`. The up ring is written by the client
//! and read here; the down ring is written here and only readable by the client. Each mapping
//! lives as long as its [`RingMap`]; the descriptors are handed to the client (and closed here
//! once sent), so a connection's rings hold no descriptor of the broker's.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::Descriptor;

/// Up ring seals: its size is fixed (the client can never shrink it under the broker's
/// mapping, which would make the broker's reads fault), its bytes stay writable by the client.
const UP_SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// Down ring seals: as the up ring, and no new writable mapping (the broker mapped it
/// read-write before sealing; the client can only map it read-only, so the broker's bytes
/// are the broker's).
const DOWN_SEALS: libc::c_int = UP_SEALS | libc::F_SEAL_FUTURE_WRITE;

/// One ring's shared mapping (read-write, `len` bytes).
#[derive(Debug)]
pub struct RingMap {
    ptr: *mut u8,
    len: usize,
}

impl RingMap {
    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the ring has no bytes (never: sizes are at least a page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `len` bytes from offset `off` out (the caller checked the bounds). The client
    /// may be writing them at the same moment: the copy is what the broker then validates and
    /// keeps, so a racing writer only ever spoils its own value.
    pub fn copy_out(&self, off: usize, len: usize) -> Box<[u8]> {
        assert!(off.checked_add(len).is_some_and(|end| end <= self.len));
        let mut v = Vec::with_capacity(len);
        // SAFETY: the range is inside the mapping, which lives as long as `self`; the bytes
        // are plain memory (a racing write by the client can tear them, never fault: the
        // size is sealed). `v` has room for `len` bytes, all written before `set_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.add(off), v.as_mut_ptr(), len);
            v.set_len(len);
        }
        v.into_boxed_slice()
    }

    /// The bytes at `[off, off + len)` of a ring only the broker writes (the down ring), for
    /// a value placed there: stable while the region is held.
    pub fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(off.checked_add(len).is_some_and(|end| end <= self.len));
        // SAFETY: in bounds of a live mapping; only the broker writes the down ring, and not
        // into a region it handed out.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) }
    }

    /// Copies `len` bytes at `from` in `src` to `to` in this ring (bounds checked by the
    /// caller): the up-ring-to-down-ring handoff.
    pub fn copy_from(&self, to: usize, src: &RingMap, from: usize, len: usize) {
        assert!(to.checked_add(len).is_some_and(|end| end <= self.len));
        assert!(from.checked_add(len).is_some_and(|end| end <= src.len));
        // SAFETY: both ranges are inside live mappings; they are different rings (an up ring
        // and a down ring), so they never overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.ptr.add(from), self.ptr.add(to), len) };
    }

    /// Writes `bytes` at offset `off` (the caller checked the bounds and that no region the
    /// client holds overlaps).
    pub fn write(&self, off: usize, bytes: &[u8]) {
        assert!(off
            .checked_add(bytes.len())
            .is_some_and(|end| end <= self.len));
        // SAFETY: in bounds of a live read-write mapping; no Rust reference to it exists.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(off), bytes.len()) };
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `ring` made; nothing borrows it any more.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// One sealed ring of `size` bytes, mapped read-write, and its descriptor.
fn ring(name: &std::ffi::CStr, size: usize, seals: libc::c_int) -> io::Result<(RingMap, OwnedFd)> {
    // SAFETY: a NUL-terminated name and flags; the result is a fresh descriptor.
    let raw =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just created, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: a plain call on a descriptor we own.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh shared mapping of a file of this size, sealed against shrinking below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let map = RingMap {
        ptr: ptr.cast(),
        len: size,
    };
    // Sealed after mapping: F_SEAL_FUTURE_WRITE forbids new writable mappings, not ours.
    // SAFETY: a plain call on a descriptor we own.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((map, fd))
}

/// A connection's rings: `(up, down, up_fd, down_fd)`, each `size` bytes. The descriptors go
/// to the client (`ring.open`'s reply, up ring first).
pub fn ring_pair(size: usize) -> io::Result<(RingMap, RingMap, Descriptor, Descriptor)> {
    let (up, up_fd) = ring(c"xproc-ring-up", size, UP_SEALS)?;
    let (down, down_fd) = ring(c"xproc-ring-down", size, DOWN_SEALS)?;
    Ok((up, down, up_fd, down_fd))
}
