//! Windows named pipes (docs/PROTOCOL.md §1).
//!
//! The pipe is opened with `FILE_FLAG_OVERLAPPED`: one thread may wait in a read while another
//! writes (on a synchronous handle Windows serialises the two, so a blocked read would block
//! every request), and a read can give up after a timeout. Each `Stream` (the original and
//! each `try_clone`) has its own event, and each is used by one thread at a time, as `conn.rs`
//! does (one reader, one writer under a lock). A read that times out is cancelled with
//! `CancelIoEx` and then waited for: bytes that arrived in the meantime are returned, never
//! lost.
//!
//! The pipe is opened with `SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION`, so whatever
//! serves the name can learn who we are but never act as us.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    ERROR_BROKEN_PIPE, ERROR_IO_PENDING, ERROR_OPERATION_ABORTED, ERROR_PIPE_BUSY,
    ERROR_SEM_TIMEOUT, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
    WAIT_TIMEOUT,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, ReadFile, WriteFile, FILE_FLAG_OVERLAPPED, OPEN_EXISTING, SECURITY_IDENTIFICATION,
    SECURITY_SQOS_PRESENT,
};
use windows_sys::Win32::System::Pipes::{PeekNamedPipe, WaitNamedPipeW};
use windows_sys::Win32::System::Threading::{CreateEventW, WaitForSingleObject, INFINITE};
use windows_sys::Win32::System::WindowsProgramming::GetUserNameW;
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};

/// Where every pipe name lives.
const PIPE_PREFIX: &str = r"\\.\pipe\";

/// How long `connect` waits for a free pipe instance when every one is taken at that moment
/// (the broker creates the next as soon as it sees one taken).
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// A connected stream to the broker: one pipe handle shared by the clones, and this clone's
/// event and read timeout.
#[derive(Debug)]
pub(crate) struct Stream {
    pipe: Arc<OwnedHandle>,
    event: OwnedHandle,
    timeout: Mutex<Option<Duration>>,
}

/// The broker's end of [`Stream::pair`] in unit tests: the pipe's server end.
#[cfg(test)]
pub(crate) type PairPeer = std::fs::File;

impl Stream {
    /// Connects to the broker's pipe `path` (a bare name gets the `\\.\pipe\` prefix).
    pub(crate) fn connect(path: &Path) -> io::Result<Stream> {
        let name = wide(pipe_name(path).as_os_str());
        let deadline = std::time::Instant::now() + BUSY_WAIT;
        loop {
            // SAFETY: `name` is NUL-terminated; the handle is checked before it is owned.
            let h = unsafe {
                CreateFileW(
                    name.as_ptr(),
                    GENERIC_READ | GENERIC_WRITE,
                    0,
                    std::ptr::null(),
                    OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                    std::ptr::null_mut(),
                )
            };
            if h != INVALID_HANDLE_VALUE {
                // SAFETY: a fresh handle nothing else owns.
                let pipe = unsafe { OwnedHandle::from_raw_handle(h as RawHandle) };
                return Stream::wrap(Arc::new(pipe));
            }
            let e = io::Error::last_os_error();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if e.raw_os_error() != Some(ERROR_PIPE_BUSY as i32) || left.is_zero() {
                return Err(e);
            }
            // Every instance is taken: wait for one (or give up), then try again.
            // SAFETY: `name` is NUL-terminated.
            let ok = unsafe { WaitNamedPipeW(name.as_ptr(), left.as_millis().max(1) as u32) };
            if ok == 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(ERROR_SEM_TIMEOUT as i32) {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "every instance of the pipe stayed busy",
                    ));
                }
            }
        }
    }

    fn wrap(pipe: Arc<OwnedHandle>) -> io::Result<Stream> {
        // SAFETY: an unnamed manual-reset event; checked before it is owned.
        let event = unsafe { CreateEventW(std::ptr::null(), 1, 0, std::ptr::null()) };
        if event.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(Stream {
            pipe,
            // SAFETY: a fresh handle nothing else owns.
            event: unsafe { OwnedHandle::from_raw_handle(event as RawHandle) },
            timeout: Mutex::new(None),
        })
    }

    /// A second handle on the same connection (the reader's, beside the writer's), with its
    /// own event.
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Stream::wrap(self.pipe.clone())
    }

    /// Makes reads give up with `TimedOut` after `timeout` (`None`: never).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        *self.timeout.lock().unwrap_or_else(|e| e.into_inner()) = timeout;
        Ok(())
    }

    /// Writes all of `buf` (a broken pipe is an error, never a signal).
    pub(crate) fn send_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let len = buf.len().min(u32::MAX as usize) as u32;
            let n = self.overlapped(None, |h, ov| {
                // SAFETY: `buf` is live for `len` bytes until the operation completes, which
                // `overlapped` waits for before returning.
                unsafe { WriteFile(h, buf.as_ptr(), len, std::ptr::null_mut(), ov) }
            })?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Reads what the pipe holds now, without waiting (`WouldBlock` when nothing): asks
    /// `PeekNamedPipe` how much is there, then reads no more than that, which completes at once.
    pub(crate) fn recv_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        let h = self.pipe.as_raw_handle() as HANDLE;
        let mut avail = 0u32;
        // SAFETY: only the out-parameter for the byte count is given; the handle is open.
        let ok = unsafe {
            PeekNamedPipe(
                h,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                &mut avail,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error().map(|c| c as u32) {
                Some(ERROR_BROKEN_PIPE) => Ok(0),
                _ => Err(e),
            };
        }
        if avail == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let len = buf.len().min(avail as usize) as u32;
        let ptr = buf.as_mut_ptr();
        eof_if_broken(self.overlapped(None, |h, ov| {
            // SAFETY: `buf` is live for `len` bytes until the operation completes, which
            // `overlapped` waits for before returning.
            unsafe { ReadFile(h, ptr, len, std::ptr::null_mut(), ov) }
        }))
    }

    /// Runs one overlapped operation on the pipe and waits for it, at most `timeout` (then it
    /// is cancelled; what it transferred before that counts). Returns the bytes transferred.
    fn overlapped(
        &self,
        timeout: Option<Duration>,
        start: impl FnOnce(HANDLE, *mut OVERLAPPED) -> i32,
    ) -> io::Result<usize> {
        let h = self.pipe.as_raw_handle() as HANDLE;
        let event = self.event.as_raw_handle() as HANDLE;
        // SAFETY: OVERLAPPED is plain data; all-zero is its documented initial state.
        let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
        ov.hEvent = event;
        if start(h, &mut ov) == 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(ERROR_IO_PENDING as i32) {
                return Err(e);
            }
            let ms = timeout.map_or(INFINITE, |t| {
                t.as_millis().clamp(1, u128::from(INFINITE - 1)) as u32
            });
            // SAFETY: `event` is ours and live.
            let waited = unsafe { WaitForSingleObject(event, ms) };
            if waited == WAIT_TIMEOUT {
                // SAFETY: cancels only this operation; it must still be waited for below,
                // since the kernel owns `ov` and the buffer until it completes.
                unsafe { CancelIoEx(h, &ov) };
            } else if waited != WAIT_OBJECT_0 {
                let e = io::Error::last_os_error();
                // SAFETY: as above; then wait for it to finish, whatever it did.
                unsafe { CancelIoEx(h, &ov) };
                let mut n = 0;
                unsafe { GetOverlappedResult(h, &ov, &mut n, 1) };
                return Err(e);
            }
        }
        let mut n = 0u32;
        // SAFETY: `ov` describes the operation just started; wait = TRUE, so on return the
        // kernel is done with `ov` and the buffer.
        if unsafe { GetOverlappedResult(h, &ov, &mut n, 1) } == 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error().map(|c| c as u32) {
                Some(ERROR_OPERATION_ABORTED) => {
                    Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"))
                }
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }

    /// Both ends of a connected pair, for unit tests that play the broker: a fresh pipe name
    /// with its server end as a `std::fs::File`.
    #[cfg(test)]
    pub(crate) fn pair() -> io::Result<(Stream, PairPeer)> {
        use std::sync::atomic::{AtomicU32, Ordering};
        use windows_sys::Win32::Storage::FileSystem::{
            FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_ACCESS_DUPLEX,
        };
        use windows_sys::Win32::System::Pipes::{CreateNamedPipeW, PIPE_TYPE_BYTE};
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            r"\\.\pipe\xproc-test-pair-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let w = wide(OsStr::new(&name));
        // SAFETY: `w` is NUL-terminated; the handle is checked before it is owned.
        let server = unsafe {
            CreateNamedPipeW(
                w.as_ptr(),
                PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                PIPE_TYPE_BYTE,
                1,
                65536,
                65536,
                0,
                std::ptr::null(),
            )
        };
        if server == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh handle nothing else owns.
        let server = unsafe { std::fs::File::from_raw_handle(server as RawHandle) };
        let client = Stream::connect(Path::new(&name))?;
        Ok((client, server))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = *self.timeout.lock().unwrap_or_else(|e| e.into_inner());
        let len = buf.len().min(u32::MAX as usize) as u32;
        let ptr = buf.as_mut_ptr();
        eof_if_broken(self.overlapped(timeout, |h, ov| {
            // SAFETY: `buf` is live for `len` bytes until the operation completes, which
            // `overlapped` waits for before returning.
            unsafe { ReadFile(h, ptr, len, std::ptr::null_mut(), ov) }
        }))
    }
}

/// A read's `ERROR_BROKEN_PIPE` is the end of the stream, as a closed socket's `read` returns
/// 0. Whether `ReadFile` reports it at once (the broker was gone before the read started) or
/// on completion (it went while the read waited) depends on timing; both are the same EOF.
/// (Writes keep the error: a write to a closed pipe fails.)
fn eof_if_broken(r: io::Result<usize>) -> io::Result<usize> {
    match r {
        Err(e) if e.raw_os_error() == Some(ERROR_BROKEN_PIPE as i32) => Ok(0),
        other => other,
    }
}

/// Windows has no `fork`: a connection always belongs to the process that made it.
pub(crate) fn fork_generation() -> u64 {
    0
}

/// Where this user's broker listens when `$XPROC_SOCKET` does not say: `\\.\pipe\xproc-<user>`.
pub(crate) fn default_local_endpoint() -> PathBuf {
    PathBuf::from(format!("{PIPE_PREFIX}xproc-{}", user_name()))
}

/// A pipe name in full: a bare name gets the `\\.\pipe\` prefix.
fn pipe_name(p: &Path) -> PathBuf {
    let s = p.as_os_str().to_string_lossy();
    if s.len() >= PIPE_PREFIX.len() && s[..PIPE_PREFIX.len()].eq_ignore_ascii_case(PIPE_PREFIX) {
        p.to_path_buf()
    } else {
        PathBuf::from(format!("{PIPE_PREFIX}{s}"))
    }
}

/// This process's user name, with `\` (not allowed in a pipe name) as `_`; as the broker
/// names its default pipe.
fn user_name() -> String {
    let mut buf = [0u16; 257];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` is writable for `len` characters.
    if unsafe { GetUserNameW(buf.as_mut_ptr(), &mut len) } == 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf16_lossy(&buf[..end]).replace('\\', "_")
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(Some(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peer wrote and closed before the client's reads: the bytes, then EOF (`Ok(0)`),
    /// not an error; a write then fails instead of looping. Before, a `ReadFile` that failed
    /// at once with `ERROR_BROKEN_PIPE` was an error ("cannot read from the broker: Broken
    /// pipe") where a broker's close should read as "closed the connection".
    #[test]
    fn a_pipe_closed_before_the_read_is_end_of_stream() {
        let (mut s, mut peer) = Stream::pair().unwrap();
        io::Write::write_all(&mut peer, b"last words").unwrap();
        drop(peer);
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"last words");
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        assert_eq!(s.recv_now(&mut buf).unwrap(), 0);
        assert!(s.send_all(b"anyone?").is_err());
    }
}
