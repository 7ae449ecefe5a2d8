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

/// Whether something is at the endpoint yet, without connecting to it: the socket file, or
/// on Windows a pipe of that name (`WaitNamedPipe` fails at once with "not found" when no
/// instance exists, and otherwise returns within its 1 ms without taking one).
pub fn endpoint_exists(path: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        path.exists()
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{GetLastError, ERROR_FILE_NOT_FOUND};
        use windows_sys::Win32::System::Pipes::WaitNamedPipeW;
        let name: Vec<u16> = path
            .to_string_lossy()
            .encode_utf16()
            .chain(Some(0))
            .collect();
        // SAFETY: `name` is NUL-terminated.
        unsafe { WaitNamedPipeW(name.as_ptr(), 1) != 0 || GetLastError() != ERROR_FILE_NOT_FOUND }
    }
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

/// Sets a file's permission bits (a key file's 0600, say). Windows files have no mode bits
/// (their ACL is inherited from the directory) and the broker checks modes on Unix only, so
/// this does nothing there.
pub fn set_mode(path: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
    }
    #[cfg(windows)]
    let _ = (path, mode);
}

/// Whether process `pid` (a child of this one, not yet reaped) has exited: a zombie in
/// `/proc/PID/stat` (or gone) on Unix; an exit code on Windows.
pub fn exited(pid: u32) -> bool {
    #[cfg(unix)]
    {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => true,
        }
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
        use windows_sys::Win32::System::Threading::{
            GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
        };
        // SAFETY: the handle is checked, used once and closed; only `code` is written.
        unsafe {
            let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if h.is_null() {
                return true;
            }
            let mut code = 0u32;
            let ok = GetExitCodeProcess(h, &mut code);
            CloseHandle(h);
            ok != 0 && code != STILL_ACTIVE as u32
        }
    }
}

/// Process `pid`'s resident memory now and at its peak, in bytes: `VmRSS` and `VmHWM` from
/// `/proc/PID/status` on Linux; the working set and its peak (`GetProcessMemoryInfo`) on
/// Windows, which Wine reads from the same Linux fields. Panics if the process is gone.
pub fn rss(pid: u32) -> (u64, u64) {
    #[cfg(unix)]
    {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process alive");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
                * 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::CloseHandle;
        use windows_sys::Win32::System::ProcessStatus::{
            K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
        };
        use windows_sys::Win32::System::Threading::{
            OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_VM_READ,
        };
        // SAFETY: the handle is checked, used once and closed; `counters` is a plain struct
        // the call fills in, sized by `cb`.
        unsafe {
            let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, 0, pid);
            assert!(
                !h.is_null(),
                "process {pid}: {}",
                std::io::Error::last_os_error()
            );
            let mut counters: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
            counters.cb = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
            let ok = K32GetProcessMemoryInfo(h, &mut counters, counters.cb);
            let err = std::io::Error::last_os_error();
            CloseHandle(h);
            assert!(ok != 0, "GetProcessMemoryInfo({pid}): {err}");
            (
                counters.WorkingSetSize as u64,
                counters.PeakWorkingSetSize as u64,
            )
        }
    }
}

/// CPU time (user + system) process `pid` has used so far: `utime` + `stime` from
/// `/proc/PID/stat` on Unix (Linux), `GetProcessTimes` on Windows. Panics if it is gone.
pub fn cpu_time(pid: u32) -> std::time::Duration {
    #[cfg(unix)]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("process alive");
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        std::time::Duration::from_millis((f[11] + f[12]) * 1000 / hz)
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{CloseHandle, FILETIME};
        use windows_sys::Win32::System::Threading::{
            GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
        };
        let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
        // SAFETY: the handle is checked, used once and closed; the FILETIMEs are plain
        // structs the call fills in.
        unsafe {
            let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            assert!(
                !h.is_null(),
                "process {pid}: {}",
                std::io::Error::last_os_error()
            );
            let zero = FILETIME {
                dwLowDateTime: 0,
                dwHighDateTime: 0,
            };
            let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
            let ok = GetProcessTimes(h, &mut created, &mut exited, &mut kernel, &mut user);
            let err = std::io::Error::last_os_error();
            CloseHandle(h);
            assert!(ok != 0, "GetProcessTimes({pid}): {err}");
            // In 100 ns units.
            std::time::Duration::from_nanos((ticks(kernel) + ticks(user)) * 100)
        }
    }
}

/// Stops process `pid` where it stands, as a stalled machine would, and returns once it is
/// stopped. Unix: SIGSTOP, then waits for state `T` in `/proc/PID/stat` (`kill` merely queues
/// the signal, and a process running on another CPU could otherwise still handle a request
/// sent right after). Windows: `NtSuspendProcess`, which suspends every thread (a thread
/// blocked in a wait, as an idle broker is, is not woken again until resumed).
pub fn suspend(pid: u32) {
    #[cfg(unix)]
    {
        // SAFETY: as in `request_stop`.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGSTOP);
        }
        crate::eventually("the process stops", || {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, rest)| rest.trim_start().starts_with('T'))
                })
                .unwrap_or(false)
        });
    }
    #[cfg(windows)]
    {
        let status = with_suspend_handle(pid, |h| {
            // SAFETY: `h` is a process handle with PROCESS_SUSPEND_RESUME access.
            unsafe { nt::NtSuspendProcess(h) }
        });
        assert_eq!(status, 0, "NtSuspendProcess({pid}) failed: {status:#x}");
    }
}

/// Continues a process stopped by [`suspend`]: SIGCONT, or `NtResumeProcess`.
pub fn resume(pid: u32) {
    #[cfg(unix)]
    // SAFETY: as in `request_stop`.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGCONT);
    }
    #[cfg(windows)]
    {
        // No assert: this runs from a destructor, perhaps while a test is already failing.
        // SAFETY: as in `suspend`.
        with_suspend_handle(pid, |h| unsafe { nt::NtResumeProcess(h) });
    }
}

/// Runs `f` on a handle of process `pid` opened for suspending and resuming.
#[cfg(windows)]
fn with_suspend_handle(
    pid: u32,
    f: impl FnOnce(windows_sys::Win32::Foundation::HANDLE) -> i32,
) -> i32 {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Threading::{OpenProcess, PROCESS_SUSPEND_RESUME};
    // SAFETY: the handle is checked, used once and closed.
    unsafe {
        let h = OpenProcess(PROCESS_SUSPEND_RESUME, 0, pid);
        assert!(
            !h.is_null(),
            "OpenProcess({pid}): {}",
            std::io::Error::last_os_error()
        );
        let status = f(h);
        CloseHandle(h);
        status
    }
}

/// The process-wide suspend and resume calls: exported by ntdll since Windows XP (and by
/// Wine), though windows-sys does not declare them.
#[cfg(windows)]
mod nt {
    use windows_sys::Win32::Foundation::HANDLE;
    #[link(name = "ntdll")]
    extern "system" {
        pub fn NtSuspendProcess(process: HANDLE) -> i32;
        pub fn NtResumeProcess(process: HANDLE) -> i32;
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
        let shared = &self.file;
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
                // Shut down meanwhile (by a clone on another thread): end of stream here, and
                // this read's handle goes, so the broker sees the pipe closed. A pipe cannot be
                // half-closed, and the handle this loop holds would otherwise keep it open.
                if shared.lock().unwrap().is_none() {
                    return Ok(0);
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
