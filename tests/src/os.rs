//! The harness's OS specifics, one function per job with the same name on every OS, so the
//! tests themselves are written once: where a test broker listens, how to stop it (as a
//! supervisor would) and how to kill a process outright.

use std::path::PathBuf;

/// A unique endpoint for one test broker: a socket in the test's temp dir on Unix, a pipe
/// name of this test process on Windows (named pipes live in their own namespace).
pub fn test_endpoint(dir: &std::path::Path) -> PathBuf {
    #[cfg(unix)]
    {
        dir.join("x.sock")
    }
    #[cfg(windows)]
    {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let _ = dir;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        PathBuf::from(format!(r"\\.\pipe\xpt-{}-{n}", std::process::id()))
    }
}

/// Whether something is at the endpoint yet (the socket file; a pipe is only seen by
/// connecting).
pub fn endpoint_exists(path: &std::path::Path) -> bool {
    cfg!(windows) || path.exists()
}

/// Asks broker `pid` to shut down cleanly: SIGTERM on Unix; on Windows, its stop event
/// (`xprocd-stop-<pid>`), since a process without a console gets no Ctrl-C.
pub fn request_stop(pid: u32) {
    #[cfg(unix)]
    // SAFETY: kill has no memory-safety preconditions; a stale pid at worst signals nothing.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::CloseHandle;
        use windows_sys::Win32::System::Threading::{OpenEventW, SetEvent, EVENT_MODIFY_STATE};
        let name: Vec<u16> = format!("xprocd-stop-{pid}")
            .encode_utf16()
            .chain(Some(0))
            .collect();
        // SAFETY: `name` is NUL-terminated; the handle is checked, used once and closed.
        unsafe {
            let h = OpenEventW(EVENT_MODIFY_STATE, 0, name.as_ptr());
            if !h.is_null() {
                SetEvent(h);
                CloseHandle(h);
            }
        }
    }
}

/// Kills process `pid` outright, without a chance to clean up: SIGKILL, or TerminateProcess.
pub fn kill_now(pid: u32) {
    #[cfg(unix)]
    // SAFETY: as in `request_stop`.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::CloseHandle;
        use windows_sys::Win32::System::Threading::{
            OpenProcess, TerminateProcess, PROCESS_TERMINATE,
        };
        // SAFETY: the handle is checked, used once and closed.
        unsafe {
            let h = OpenProcess(PROCESS_TERMINATE, 0, pid);
            if !h.is_null() {
                TerminateProcess(h, 137);
                CloseHandle(h);
            }
        }
    }
}

/// A raw byte stream to a broker, for tests that write frames by hand: a `UnixStream` on Unix.
#[cfg(unix)]
pub type RawStream = std::os::unix::net::UnixStream;

/// A raw byte stream to a broker, for tests that write frames by hand: on Windows, the pipe
/// opened as a synchronous file, with a read timeout made by polling `PeekNamedPipe` (a
/// synchronous pipe read cannot time out). Its methods mirror `UnixStream`'s.
#[cfg(windows)]
#[derive(Debug)]
pub struct RawStream {
    file: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
    read_timeout: std::sync::Mutex<Option<std::time::Duration>>,
}

#[cfg(windows)]
impl RawStream {
    /// Opens the pipe `path`.
    pub fn connect(path: impl AsRef<std::path::Path>) -> std::io::Result<RawStream> {
        use windows_sys::Win32::Foundation::ERROR_PIPE_BUSY;
        use windows_sys::Win32::System::Pipes::WaitNamedPipeW;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let file = loop {
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path.as_ref())
            {
                // Every instance taken at this moment: wait for the broker to make the next.
                Err(e)
                    if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                        && std::time::Instant::now() < deadline =>
                {
                    let name: Vec<u16> = path
                        .as_ref()
                        .to_string_lossy()
                        .encode_utf16()
                        .chain(Some(0))
                        .collect();
                    // SAFETY: `name` is NUL-terminated.
                    unsafe { WaitNamedPipeW(name.as_ptr(), 1000) };
                }
                other => break other?,
            }
        };
        Ok(RawStream {
            file: std::sync::Arc::new(std::sync::Mutex::new(Some(file))),
            read_timeout: std::sync::Mutex::new(None),
        })
    }

    /// Reads give up with `TimedOut` after `t` (`None`: never).
    pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
        *self.read_timeout.lock().unwrap() = t;
        Ok(())
    }

    /// Writes block until the broker reads (a synchronous pipe write cannot time out).
    pub fn set_write_timeout(&self, _: Option<std::time::Duration>) -> std::io::Result<()> {
        Ok(())
    }

    /// Another handle on the same pipe (shares the timeout-less write side).
    pub fn try_clone(&self) -> std::io::Result<RawStream> {
        Ok(RawStream {
            file: self.file.clone(),
            read_timeout: std::sync::Mutex::new(*self.read_timeout.lock().unwrap()),
        })
    }

    /// Closes the pipe (both directions: a pipe cannot be half-closed).
    pub fn shutdown(&self, _: std::net::Shutdown) -> std::io::Result<()> {
        drop(self.file.lock().unwrap().take());
        Ok(())
    }

    fn with_file<T>(
        &self,
        f: impl FnOnce(&std::fs::File) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        // The file is only locked to check it is open; the I/O runs on a clone of the handle's
        // owner so a blocked write does not hold the lock.
        let file = self
            .file
            .lock()
            .unwrap()
            .as_ref()
            .map(std::fs::File::try_clone)
            .transpose()?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))?;
        f(&file)
    }
}

#[cfg(windows)]
impl std::io::Read for RawStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::windows::io::AsRawHandle;
        use windows_sys::Win32::Foundation::ERROR_BROKEN_PIPE;
        use windows_sys::Win32::System::Pipes::PeekNamedPipe;
        let deadline = self
            .read_timeout
            .lock()
            .unwrap()
            .map(|t| std::time::Instant::now() + t);
        self.with_file(|file| {
            let mut file = file;
            loop {
                let mut avail = 0u32;
                // SAFETY: the handle is open (owned by `file`); only `avail` is written.
                let ok = unsafe {
                    PeekNamedPipe(
                        file.as_raw_handle(),
                        std::ptr::null_mut(),
                        0,
                        std::ptr::null_mut(),
                        &mut avail,
                        std::ptr::null_mut(),
                    )
                };
                if ok == 0 {
                    let e = std::io::Error::last_os_error();
                    return if e.raw_os_error() == Some(ERROR_BROKEN_PIPE as i32) {
                        Ok(0)
                    } else {
                        Err(e)
                    };
                }
                if avail > 0 || buf.is_empty() {
                    let n = buf.len().min(avail as usize);
                    return std::io::Read::read(&mut file, &mut buf[..n]);
                }
                if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                    return Err(std::io::ErrorKind::TimedOut.into());
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    }
}

#[cfg(windows)]
impl std::io::Write for RawStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with_file(|mut file| std::io::Write::write(&mut file, buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
