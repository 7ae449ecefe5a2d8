//! Windows named pipes (docs/PROTOCOL.md §1, docs/SECURITY.md "Windows").
//!
//! A named pipe has no listening socket: each client takes one *instance* of the name, so the
//! listener keeps a rolling set of [`PENDING_INSTANCES`] unconnected instances, each with a
//! `ConnectNamedPipe` in flight, registered with the event loop under the listener's token.
//! When one is taken, `accept` hands it out as the connection and creates the next in its
//! place. The handed-out instance is still registered (under the listener's token);
//! [`register`] moves it to the connection's token, and mio replays any readiness it missed
//! meanwhile.
//!
//! Instances are created by hand (not `NamedPipe::new`) to give them:
//! - an owner-only DACL (`D:P(A;;GA;;;<our SID>)`): the default security descriptor lets
//!   Everyone read and other users of the machine open the pipe;
//! - `PIPE_REJECT_REMOTE_CLIENTS`: no connections over SMB from another machine;
//! - `FILE_FLAG_FIRST_PIPE_INSTANCE` for the first one: if anything owns the name already (a
//!   second broker, or a squatter waiting for clients), `bind` fails instead of joining it.
//!
//! mio's named pipes are an emulation over IOCP: a read copies from a buffer filled by an
//! overlapped read and the next overlapped read starts only once that buffer is emptied, so a
//! short read (less than asked) means the buffer is drained and an event follows any new byte,
//! exactly as the event loop assumes of a socket. A write is copied and submitted whole;
//! `WouldBlock` while one is in flight, and writable once it completes.
//!
//! The peer's identity: its pid from `GetNamedPipeClientProcessId`, and the user and primary
//! group SIDs from that process's token. Windows has no uid or gid; the allow-lists match the
//! last sub-authority (the RID) of those SIDs, which for a local account is the number shown
//! by `whoami /user` after the last dash (docs/SECURITY.md).
//!
//! Shutdown: Ctrl-C, Ctrl-Break, closing the console and logoff/shutdown (console control
//! events), and the named event `xprocd-stop-<pid>` (what a supervisor or a test sets, since
//! a process without a console gets no control events) all wake the event loop through a
//! `mio::Waker`.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{FromRawHandle, OwnedHandle, RawHandle};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mio::windows::NamedPipe;
use mio::{Interest, Registry, Token, Waker};
use windows_sys::Win32::Foundation::{
    LocalFree, ERROR_ACCESS_DENIED, ERROR_NO_DATA, ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, HANDLE,
    INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, TokenPrimaryGroup, TokenUser,
    PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES, TOKEN_QUERY,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, PIPE_ACCESS_DUPLEX,
};
use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
use windows_sys::Win32::System::Pipes::{
    CreateNamedPipeW, GetNamedPipeClientProcessId, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS,
    PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};
use windows_sys::Win32::System::Threading::{
    CreateEventW, GetCurrentProcess, OpenProcess, OpenProcessToken, WaitForSingleObject, INFINITE,
    PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows_sys::Win32::System::WindowsProgramming::GetUserNameW;

use super::TransportError;
use crate::state::PeerCred;

/// Where every pipe name lives.
pub const PIPE_PREFIX: &str = r"\\.\pipe\";

/// Unconnected pipe instances kept ready, so a burst of clients rarely finds none free (one
/// that does waits with `WaitNamedPipe` and retries).
pub const PENDING_INSTANCES: usize = 4;

/// Pipe buffer sizes asked of the OS (a hint: writes beyond them still complete, later).
const PIPE_BUFFER: u32 = 64 * 1024;

/// Longest pipe name in UTF-16 units, `\\.\pipe\` included (the documented limit is 256
/// characters).
pub const MAX_PIPE_NAME: usize = 256;

/// A connected client: one pipe instance. In a `RefCell` because mio's `Source` wants `&mut`
/// while the event loop hands the transport a shared reference.
#[derive(Debug)]
pub struct Stream(RefCell<NamedPipe>);

impl io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        io::Read::read(&mut &*self.0.borrow(), buf)
    }
}

impl io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut &*self.0.borrow(), buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An accepted connection, with what the OS says about its peer.
#[derive(Debug)]
pub struct Accepted {
    /// The connection.
    pub stream: Stream,
    /// The peer's pid, and the RIDs of its user and primary group SIDs.
    pub peer: io::Result<PeerCred>,
    /// The primary group's RID (Windows reports no supplementary groups here).
    pub gids: Vec<u32>,
}

/// `--group`: not available on Windows (the pipe's DACL names the owner only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The name as configured.
    pub name: String,
    /// Unused on Windows.
    pub gid: u32,
}

impl Group {
    /// Refuses: sharing the pipe with a group would need that group's SID in the DACL, which
    /// is not implemented.
    pub fn resolve(name: &str) -> Result<Group, TransportError> {
        Err(TransportError::Setup {
            what: "--group is not supported on Windows (the pipe admits its owner only)",
            source: io::Error::new(io::ErrorKind::Unsupported, format!("group {name:?}")),
        })
    }
}

/// No supplementary groups on Windows.
pub fn supplementary_groups(_: &Stream) -> Vec<u32> {
    Vec::new()
}

/// The pipe's name and security, and the instances waiting for a client.
#[derive(Debug)]
pub struct Listener {
    name: PathBuf,
    wide: Vec<u16>,
    security: SecurityDescriptor,
    pending: RefCell<Vec<NamedPipe>>,
    /// Where new instances are registered; set by [`Listener::register`].
    registry: OnceLock<(Registry, Token)>,
}

impl Listener {
    /// Takes the pipe name `path` (a bare name gets the `\\.\pipe\` prefix). Refuses if
    /// anything holds the name already. `group` must be `None` (see [`Group::resolve`]).
    pub fn bind(path: &Path, _group: Option<&Group>) -> Result<Self, TransportError> {
        let name = pipe_name(path);
        // Windows counts UTF-16 units (the OsStr's own length is WTF-8 bytes).
        let len = name.as_os_str().encode_wide().count();
        if len > MAX_PIPE_NAME {
            return Err(TransportError::PipeNameTooLong {
                name,
                len,
                max: MAX_PIPE_NAME,
            });
        }
        let wide = wide(name.as_os_str());
        let io_err = |what, source| TransportError::Io {
            what,
            path: name.clone(),
            source,
        };
        probe_for_holder(&name)?;
        let security = SecurityDescriptor::owner_only()
            .map_err(|e| io_err("cannot build the owner-only security descriptor for", e))?;
        let first = create_instance(&wide, &security, true).map_err(|e| {
            if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) {
                TransportError::AlreadyRunning { path: name.clone() }
            } else {
                io_err("cannot create the pipe", e)
            }
        })?;
        let mut pending = vec![first];
        for _ in 1..PENDING_INSTANCES {
            pending.push(
                create_instance(&wide, &security, false)
                    .map_err(|e| io_err("cannot create the pipe", e))?,
            );
        }
        Ok(Listener {
            name,
            wide,
            security,
            pending: RefCell::new(pending),
            registry: OnceLock::new(),
        })
    }

    /// The pipe name.
    pub fn path(&self) -> &Path {
        &self.name
    }

    /// Accepts one connection and reads its peer's identity; `None` when no instance has
    /// been taken. A client that connected and left already is `ConnectionAborted`.
    pub fn accept(&self) -> io::Result<Option<Accepted>> {
        let mut pending = self.pending.borrow_mut();
        for i in 0..pending.len() {
            match pending[i].connect() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => {
                    let fresh = self.fresh_instance()?;
                    let pipe = std::mem::replace(&mut pending[i], fresh);
                    return match result.and_then(|()| connect_error(&pipe)) {
                        Ok(()) => {
                            let (peer, gids) = match peer_identity(&pipe) {
                                Ok((p, g)) => (Ok(p), g),
                                Err(e) => (Err(e), Vec::new()),
                            };
                            Ok(Some(Accepted {
                                stream: Stream(RefCell::new(pipe)),
                                peer,
                                gids,
                            }))
                        }
                        Err(e) if e.raw_os_error() == Some(ERROR_NO_DATA as i32) => {
                            Err(io::ErrorKind::ConnectionAborted.into())
                        }
                        Err(e) => Err(e),
                    };
                }
            }
        }
        Ok(None)
    }

    /// A new unconnected instance, registered and with its connect in flight.
    fn fresh_instance(&self) -> io::Result<NamedPipe> {
        let mut pipe = create_instance(&self.wide, &self.security, false)?;
        if let Some((registry, token)) = self.registry.get() {
            registry.register(&mut pipe, *token, Interest::READABLE | Interest::WRITABLE)?;
            start_connect(&pipe)?;
        }
        Ok(pipe)
    }

    /// Registers the waiting instances with the event loop and starts their connects; a
    /// connect's completion is reported under `token`.
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        let registry = registry.try_clone()?;
        for pipe in self.pending.borrow_mut().iter_mut() {
            registry.register(pipe, token, Interest::READABLE | Interest::WRITABLE)?;
            start_connect(pipe)?;
        }
        let _ = self.registry.set((registry, token));
        Ok(())
    }

    /// Closes the waiting instances: no client can connect any more.
    pub fn deregister(&self, registry: &Registry) -> io::Result<()> {
        for mut pipe in self.pending.borrow_mut().drain(..) {
            let _ = registry.deregister(&mut pipe);
        }
        Ok(())
    }

    /// Named pipes leave no file behind: the name goes with its last instance.
    pub fn remove_socket_file(&self) {}
}

/// Refuses a name that something serves already, by connecting to it as a client would.
/// `FILE_FLAG_FIRST_PIPE_INSTANCE` makes the same check atomically on Windows; this probe also
/// works where that flag is not enforced (Wine 8 ignores it) and gives a clearer message.
fn probe_for_holder(name: &Path) -> Result<(), TransportError> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name)
    {
        // Someone serves the name: a broker (this probe shows up in its log as a client that
        // connected and left at once) or a squatter.
        Ok(_) => Err(TransportError::AlreadyRunning {
            path: name.to_path_buf(),
        }),
        Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) => {
            Err(TransportError::AlreadyRunning {
                path: name.to_path_buf(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TransportError::Io {
            what: "refusing to take a pipe name held by a process this user cannot reach:",
            path: name.to_path_buf(),
            source: e,
        }),
    }
}

/// Starts an instance's `ConnectNamedPipe`; `WouldBlock` (in flight) is the normal outcome.
fn start_connect(pipe: &NamedPipe) -> io::Result<()> {
    match pipe.connect() {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        other => other,
    }
}

/// A finished connect may have failed; mio keeps that error for `take_error`.
fn connect_error(pipe: &NamedPipe) -> io::Result<()> {
    match pipe.take_error()? {
        Some(e) if e.raw_os_error() == Some(ERROR_PIPE_CONNECTED as i32) => Ok(()),
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Creates one instance of the pipe `name` (NUL-terminated UTF-16).
fn create_instance(
    name: &[u16],
    security: &SecurityDescriptor,
    first: bool,
) -> io::Result<NamedPipe> {
    let attrs = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: security.0,
        bInheritHandle: 0,
    };
    let first_flag = if first {
        FILE_FLAG_FIRST_PIPE_INSTANCE
    } else {
        0
    };
    // SAFETY: `name` is NUL-terminated, `attrs` and the descriptor it points to outlive the
    // call; the returned handle is checked before it is owned.
    let h = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | first_flag,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            PIPE_BUFFER,
            PIPE_BUFFER,
            0,
            &attrs,
        )
    };
    if h == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `h` is a fresh, valid, overlapped pipe handle that nothing else owns.
    Ok(unsafe { NamedPipe::from_raw_handle(h as RawHandle) })
}

/// A self-relative security descriptor from `ConvertStringSecurityDescriptorToSecurityDescriptorW`,
/// freed with `LocalFree`.
#[derive(Debug)]
struct SecurityDescriptor(PSECURITY_DESCRIPTOR);

impl SecurityDescriptor {
    /// Full access for the current user's SID, nothing for anyone else (`P`: no inherited
    /// entries).
    fn owner_only() -> io::Result<Self> {
        let (sid, _, _) = process_identity(None)?;
        let sddl = wide(OsStr::new(&format!("D:P(A;;GA;;;{sid})")));
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated; on success `sd` receives a LocalAlloc'ed
        // descriptor that `Drop` frees.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SecurityDescriptor(sd))
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
        unsafe { LocalFree(self.0) };
    }
}

/// The peer process's pid, and the RIDs of its user and primary group.
fn peer_identity(pipe: &NamedPipe) -> io::Result<(PeerCred, Vec<u32>)> {
    use std::os::windows::io::AsRawHandle;
    let mut pid = 0u32;
    // SAFETY: the handle is a live server end of a connected pipe.
    if unsafe { GetNamedPipeClientProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let (sid, uid, gid) = process_identity(Some(pid))?;
    tracing::debug!(pid, %sid, "peer identity");
    Ok((PeerCred { pid, uid, gid }, vec![gid]))
}

/// The user SID (as a string) and the user's and primary group's RIDs of process `pid`, or of
/// this process.
fn process_identity(pid: Option<u32>) -> io::Result<(String, u32, u32)> {
    let process = match pid {
        Some(pid) => {
            // SAFETY: plain call; the handle is checked, then owned.
            let h = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
            if h.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: a fresh handle nothing else owns.
            Some(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
        }
        None => None,
    };
    use std::os::windows::io::AsRawHandle;
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing.
    let ph = process.as_ref().map_or_else(
        || unsafe { GetCurrentProcess() },
        |h| h.as_raw_handle() as HANDLE,
    );
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `ph` is a live process handle; `token` receives a handle we then own.
    if unsafe { OpenProcessToken(ph, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh handle nothing else owns.
    let token = unsafe { OwnedHandle::from_raw_handle(token as RawHandle) };
    let th = token.as_raw_handle() as HANDLE;
    let user = token_info(th, TokenUser)?;
    let group = token_info(th, TokenPrimaryGroup)?;
    // Both TOKEN_USER and TOKEN_PRIMARY_GROUP start with the SID pointer.
    let user_sid = read_sid_ptr(&user);
    let group_sid = read_sid_ptr(&group);
    Ok((sid_string(user_sid)?, rid(user_sid), rid(group_sid)))
}

/// One `GetTokenInformation` class, in a buffer aligned for the pointers it holds.
fn token_info(token: HANDLE, class: i32) -> io::Result<Vec<usize>> {
    let mut len = 0u32;
    // SAFETY: a size query: no buffer, `len` receives the size needed.
    unsafe { GetTokenInformation(token, class, std::ptr::null_mut(), 0, &mut len) };
    let mut buf = vec![0usize; (len as usize).div_ceil(std::mem::size_of::<usize>()).max(1)];
    let size = (buf.len() * std::mem::size_of::<usize>()) as u32;
    // SAFETY: `buf` is writable for `size` bytes.
    if unsafe { GetTokenInformation(token, class, buf.as_mut_ptr().cast(), size, &mut len) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(buf)
}

fn read_sid_ptr(info: &[usize]) -> PSID {
    info[0] as PSID
}

/// The last sub-authority of a SID: the RID, which tells accounts of one machine apart.
fn rid(sid: PSID) -> u32 {
    // SAFETY: `sid` points into a live token information buffer; a valid SID has its
    // sub-authority count and that many sub-authorities.
    unsafe {
        let n = *GetSidSubAuthorityCount(sid);
        if n == 0 {
            return 0;
        }
        *GetSidSubAuthority(sid, u32::from(n) - 1)
    }
}

/// `S-1-5-21-...`.
fn sid_string(sid: PSID) -> io::Result<String> {
    let mut s: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid; on success `s` is a LocalAlloc'ed NUL-terminated string.
    if unsafe { ConvertSidToStringSidW(sid, &mut s) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` is NUL-terminated; freed right after copying.
    let text = unsafe {
        let len = (0..).take_while(|&i| *s.add(i) != 0).count();
        let text = String::from_utf16_lossy(std::slice::from_raw_parts(s, len));
        LocalFree(s.cast());
        text
    };
    Ok(text)
}

/// The Waker that console control events and the stop event use; one broker per process.
static SHUTDOWN_WAKER: OnceLock<Waker> = OnceLock::new();

/// Console control events and the named stop event, delivered to the event loop as one
/// readiness event under the signal token.
#[derive(Debug)]
pub struct ShutdownSignal(());

impl ShutdownSignal {
    /// Installs the console control handler and the `xprocd-stop-<pid>` event's watcher.
    pub fn install(registry: &Registry, token: Token) -> Result<Self, TransportError> {
        let setup = |what| move |source| TransportError::Setup { what, source };
        let waker =
            Waker::new(registry, token).map_err(setup("cannot create the shutdown waker"))?;
        if SHUTDOWN_WAKER.set(waker).is_err() {
            return Err(TransportError::Setup {
                what: "cannot install the shutdown handlers",
                source: io::Error::new(io::ErrorKind::AlreadyExists, "installed already"),
            });
        }
        // SAFETY: `on_console_event` is a valid handler for the process's lifetime.
        if unsafe { SetConsoleCtrlHandler(Some(on_console_event), 1) } == 0 {
            return Err(setup("cannot install the console control handler")(
                io::Error::last_os_error(),
            ));
        }
        let name = wide(OsStr::new(&stop_event_name(std::process::id())));
        // SAFETY: `name` is NUL-terminated; default security (the owner, SYSTEM, admins).
        let event = unsafe { CreateEventW(std::ptr::null(), 1, 0, name.as_ptr()) };
        if event.is_null() {
            return Err(setup("cannot create the stop event")(
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: a fresh handle, moved into the watcher thread which owns it from now on.
        let event = unsafe { OwnedHandle::from_raw_handle(event as RawHandle) };
        std::thread::Builder::new()
            .name("xprocd-stop-event".into())
            .spawn(move || {
                use std::os::windows::io::AsRawHandle;
                // SAFETY: the handle stays open for the thread's life.
                unsafe { WaitForSingleObject(event.as_raw_handle() as HANDLE, INFINITE) };
                wake_for_shutdown();
            })
            .map_err(setup("cannot start the stop event's watcher"))?;
        Ok(ShutdownSignal(()))
    }

    /// Nothing to empty: a Waker's event carries no data.
    pub fn drain(&mut self) {}
}

/// The name of the event that stops broker `pid` (set it with `SetEvent`).
pub fn stop_event_name(pid: u32) -> String {
    format!("xprocd-stop-{pid}")
}

fn wake_for_shutdown() {
    if let Some(w) = SHUTDOWN_WAKER.get() {
        let _ = w.wake();
    }
}

/// Ctrl-C, Ctrl-Break, console close, logoff and shutdown: all stop the broker. Runs on a
/// thread the OS creates; returning TRUE says the event is handled (for the close events the
/// process is ended after a grace period, which shutdown's bounded flush fits into).
unsafe extern "system" fn on_console_event(_kind: u32) -> i32 {
    wake_for_shutdown();
    1
}

/// The default endpoint (docs/PROTOCOL.md §1): `$XPROC_SOCKET`, else `\\.\pipe\xproc-<user>`.
pub fn default_socket_path(_group: Option<&Group>) -> Result<PathBuf, TransportError> {
    if let Some(p) = std::env::var_os("XPROC_SOCKET").filter(|p| !p.is_empty()) {
        return Ok(pipe_name(Path::new(&p)));
    }
    let user = user_name().map_err(|source| TransportError::Setup {
        what: "cannot read the user name for the default pipe name",
        source,
    })?;
    Ok(PathBuf::from(format!("{PIPE_PREFIX}xproc-{user}")))
}

/// A pipe name in full: a bare name gets the `\\.\pipe\` prefix.
pub fn pipe_name(p: &Path) -> PathBuf {
    let s = p.as_os_str().to_string_lossy();
    if s.len() >= PIPE_PREFIX.len() && s[..PIPE_PREFIX.len()].eq_ignore_ascii_case(PIPE_PREFIX) {
        p.to_path_buf()
    } else {
        PathBuf::from(format!("{PIPE_PREFIX}{s}"))
    }
}

/// This process's user name (`GetUserNameW`), with `\` (not allowed in a pipe name) as `_`.
fn user_name() -> io::Result<String> {
    let mut buf = [0u16; 257];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` is writable for `len` characters.
    if unsafe { GetUserNameW(buf.as_mut_ptr(), &mut len) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    Ok(String::from_utf16_lossy(&buf[..end]).replace('\\', "_"))
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(Some(0)).collect()
}

/// Named pipes need no directory.
pub fn prepare_socket_dir(_: &Path, _: Option<&Group>) -> Result<(), TransportError> {
    Ok(())
}

/// Moves an accepted instance from the listener's token to its connection's.
pub fn register(
    registry: &Registry,
    s: &Stream,
    token: Token,
    interest: Interest,
) -> io::Result<()> {
    registry.reregister(&mut *s.0.borrow_mut(), token, interest)
}

/// Changes the token or interest a connection is registered for.
pub fn reregister(
    registry: &Registry,
    s: &Stream,
    token: Token,
    interest: Interest,
) -> io::Result<()> {
    registry.reregister(&mut *s.0.borrow_mut(), token, interest)
}

/// Removes a connection from the event loop (before it is closed).
pub fn deregister(registry: &Registry, s: &Stream) -> io::Result<()> {
    registry.deregister(&mut *s.0.borrow_mut())
}

/// Descriptor limits do not apply to named pipe handles: nothing to raise.
pub fn raise_fd_limit(_want: u64) -> io::Result<u64> {
    Ok(u64::MAX)
}

/// Windows has no per-process descriptor limit that `accept` hits.
pub fn out_of_descriptors(_: &io::Error) -> bool {
    false
}

/// No reserve is needed on Windows (see [`out_of_descriptors`]).
#[derive(Debug)]
pub struct FdReserve(());

impl FdReserve {
    /// A reserve that holds nothing.
    pub fn new() -> io::Result<Self> {
        Ok(FdReserve(()))
    }
    /// Nothing to give up.
    pub fn release(&mut self) -> bool {
        false
    }
    /// Nothing to take back.
    pub fn restore(&mut self) {}
}

/// mio re-arms a Windows socket's readiness only after an operation returns `WouldBlock`: TCP
/// streams are read until then (see `Link::short_read_drains`).
pub const TCP_SHORT_READ_DRAINS: bool = false;

/// No service-manager notification on Windows (the service control manager is a later job).
pub fn notify(_state: &str) {}

/// Gives the heap's free pages back to the OS: the Windows heap decommits free blocks on its
/// own, so there is nothing to do (unix.rs says why Linux needs it).
pub fn trim_heap() {}
