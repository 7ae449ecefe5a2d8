//! Descriptor passing for the raw-bytes tests (docs/PROTOCOL.md §1.3, §4.1, §4.2): sealed
//! memfds, `sendmsg` with `SCM_RIGHTS`, a reply read with the descriptors that came with it,
//! and the broker's memory from `/proc`.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use super::{dec, Reply};

/// Every seal a §4.1 value carries.
pub const ALL_SEALS: libc::c_int =
    libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;

/// A memfd holding `bytes`, with `seals` added.
pub fn memfd(bytes: &[u8], seals: libc::c_int) -> OwnedFd {
    // SAFETY: plain syscalls on a descriptor this function owns.
    unsafe {
        let fd = libc::memfd_create(
            c"xproc-test".as_ptr(),
            libc::MFD_ALLOW_SEALING | libc::MFD_CLOEXEC,
        );
        assert!(fd >= 0);
        let fd = OwnedFd::from_raw_fd(fd);
        let mut f = std::fs::File::from(fd.try_clone().unwrap());
        std::io::Write::write_all(&mut f, bytes).unwrap();
        if seals != 0 {
            assert_eq!(libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals), 0);
        }
        fd
    }
}

/// One `sendmsg` of `bytes` with `fds` attached (`SCM_RIGHTS`), as a client does; returns
/// the bytes sent.
pub fn send_fds(s: &UnixStream, bytes: &[u8], fds: &[RawFd]) -> usize {
    let payload = std::mem::size_of_val(fds);
    let mut control = vec![0u64; 1 + unsafe { libc::CMSG_SPACE(payload as u32) } as usize / 8];
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: the msghdr points at live buffers; the control buffer holds CMSG_SPACE(payload).
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
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), payload);
        libc::sendmsg(s.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    assert!(n > 0, "sendmsg: {}", std::io::Error::last_os_error());
    n as usize
}

/// [`send_fds`] of a whole frame, which must go in that one `sendmsg`.
pub fn send_frame_fds(s: &UnixStream, frame: &[u8], fds: &[RawFd]) {
    assert_eq!(
        send_fds(s, frame, fds),
        frame.len(),
        "the frame in one sendmsg"
    );
}

/// Reads one reply frame with any descriptors that came with its first bytes.
pub fn recv_with_fds(s: &mut UnixStream) -> (Reply, Vec<OwnedFd>) {
    let mut header = [0u8; 4];
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: header.as_mut_ptr().cast(),
        iov_len: 4,
    };
    let mut fds = Vec::new();
    // SAFETY: the msghdr points at live buffers; received descriptors are wrapped at once.
    let n = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(
            s.as_raw_fd(),
            &mut msg,
            libc::MSG_WAITALL | libc::MSG_CMSG_CLOEXEC,
        );
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let len = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            for i in 0..len / 4 {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).add(4 * i).cast::<i32>());
                fds.push(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        n
    };
    assert_eq!(n, 4, "reply header");
    let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
    s.read_exact(&mut payload).unwrap();
    (Reply(dec(&payload)), fds)
}

/// A `/proc/PID/status` memory field in KiB: `"VmRSS"` (resident now), `"VmHWM"` (peak).
pub fn status_kib(pid: i32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}
