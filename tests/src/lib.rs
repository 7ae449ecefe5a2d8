//! Test support for the cross-process tests: start a real `xprocd`, run worker processes,
//! wait for conditions the broker reports.
//!
//! # Layout
//!
//! - [`Broker`]: one `xprocd` process per test, on a unique short socket path, with a
//!   watchdog; stopped with SIGTERM (then SIGKILL) when dropped.
//! - [`Worker`]: a child process (one of this crate's `src/bin/*` programs, or the `xproc`
//!   CLI) pointed at a broker; killed when dropped.
//! - [`eventually`]: polls a condition (such as "the broker shows a client waiting on queue
//!   q") with a generous bound, instead of sleeping and hoping.
//!
//! The worker programs in `src/bin/` are the other half: each takes its role from the command
//! line, connects through `XPROC_SOCKET`, prints its result as one JSON line on stdout and
//! exits 0 (or prints an error on stderr and exits 1).
//!
//! Binaries from other packages (`xprocd`, `xproc`) are found next to the test executable,
//! in `target/<profile>/`; `cargo build --workspace` (which `tests/run_all.sh` runs first)
//! puts them there. `XPROCD` overrides the broker binary's path.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use xproc::Client;

mod os;
pub use os::{
    cpu_time, endpoint_exists, exited, kill_now, request_stop, rss, set_mode, test_endpoint,
    RawStream,
};

/// How long one test may keep a broker before the watchdog kills it. Every call blocked on the
/// broker then fails with `Disconnected`, so a hung test fails instead of hanging CI.
pub const WATCHDOG: Duration = Duration::from_secs(240);

/// How many round trips (or items) the tests that count them make: 10,000 on Unix; 1,000 on
/// Windows, where a named-pipe round trip under Wine costs ~1 ms (about 20 times a Unix
/// socket's here), so that the Windows CI step stays within its time.
pub const ROUNDS: u64 = if cfg!(windows) { 1_000 } else { 10_000 };

/// How long [`eventually`] and broker startup wait before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Finds a binary built by cargo next to the running test executable (`target/<profile>/`).
/// Panics with the command that builds it if it is missing.
pub fn sibling_exe(name: &str, build_hint: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(|deps| {
            if deps.ends_with("deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .expect("the test executable has a directory");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} not found: run `{build_hint}` first (or `cargo build --workspace`)",
        path.display()
    );
    path
}

/// The `xprocd` binary: `$XPROCD` if set, else `target/<profile>/xprocd`.
pub fn xprocd_exe() -> PathBuf {
    match std::env::var_os("XPROCD") {
        Some(p) => PathBuf::from(p),
        None => sibling_exe("xprocd", "cargo build -p xproc-broker"),
    }
}

/// The `xproc` CLI binary, `target/<profile>/xproc`.
pub fn cli_exe() -> PathBuf {
    sibling_exe("xproc", "cargo build -p xproc-cli")
}

/// Polls `check` until it returns true; panics naming `what` after [`PATIENCE`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !check() {
        assert!(
            start.elapsed() < PATIENCE,
            "gave up after {PATIENCE:?} waiting for: {what}"
        );
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// A unique, short temporary directory (sun_path holds ~107 bytes), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("xpt-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends `sig` to `pid` (Unix only: the tests that need a signal other than a stop or a kill
/// are Unix tests).
#[cfg(unix)]
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; a stale pid at worst signals nothing.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Keeps a process stopped (SIGSTOP; every thread suspended on Windows) until dropped, then
/// continues it, so a failing assertion never leaves a broker stopped. `new` returns only once
/// the process is stopped (see [`os::suspend`]).
pub struct Stopped(u32);

impl Stopped {
    /// Stops `pid` and waits until it is stopped.
    pub fn new(pid: u32) -> Stopped {
        os::suspend(pid);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        os::resume(self.0);
    }
}

/// Waits for `child` to exit, at most `limit`; `None` if it is still running.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if start.elapsed() >= limit {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A real `xprocd` on its own socket, for one test.
pub struct Broker {
    child: Option<Child>,
    socket: PathBuf,
    log: PathBuf,
    /// Set when the broker is stopped, so the watchdog stands down.
    done: Arc<AtomicBool>,
    _dir: TempDir,
}

impl Broker {
    /// Starts a broker with default limits and waits until it accepts connections.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts a broker with extra command-line flags (e.g. `["--max-frame", "1024"]`).
    pub fn start_with(args: &[&str]) -> Broker {
        let dir = TempDir::new();
        let socket = os::test_endpoint(&dir.0);
        let log = dir.0.join("xprocd.log");
        let child = Command::new(xprocd_exe())
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .env_remove("XPROC_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create the broker log"))
            .spawn()
            .expect("start xprocd");
        let done = Arc::new(AtomicBool::new(false));
        let mut broker = Broker {
            child: Some(child),
            socket,
            log,
            done: done.clone(),
            _dir: dir,
        };
        broker.arm_watchdog(done);
        let start = Instant::now();
        loop {
            if os::endpoint_exists(&broker.socket) && Client::connect(&broker.socket).is_ok() {
                return broker;
            }
            if let Some(status) = broker.child_mut().try_wait().expect("poll xprocd") {
                panic!(
                    "xprocd exited at startup ({status}); its log:\n{}",
                    broker.log_text()
                );
            }
            assert!(
                start.elapsed() < PATIENCE,
                "xprocd did not accept connections within {PATIENCE:?}; its log:\n{}",
                broker.log_text()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn arm_watchdog(&self, done: Arc<AtomicBool>) {
        let pid = self.pid();
        thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < WATCHDOG {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
            if !done.load(Ordering::Relaxed) {
                eprintln!(
                    "watchdog: the test ran longer than {WATCHDOG:?}; killing xprocd (pid {pid}) \
                     so that blocked calls fail"
                );
                kill_now(pid);
            }
        });
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the broker is running")
    }

    /// The broker's socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The broker's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// A new connection to this broker.
    pub fn client(&self) -> Client {
        Client::connect(&self.socket).unwrap_or_else(|e| panic!("connect to the test broker: {e}"))
    }

    /// What the broker logged so far (stderr).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the broker to exit (SIGKILL after [`PATIENCE`]); returns
    /// its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the broker is running");
        request_stop(child.id());
        let status = match wait_at_most(&mut child, PATIENCE) {
            Some(s) => s,
            None => {
                let _ = child.kill();
                child.wait().expect("reap xprocd")
            }
        };
        self.done.store(true, Ordering::Relaxed);
        status
    }

    /// Kills the broker with SIGKILL (no cleanup: the socket file stays) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.done.store(true, Ordering::Relaxed);
    }

    /// Starts a worker program with `XPROC_SOCKET` pointing at this broker.
    pub fn worker(&self, exe: impl AsRef<Path>, args: &[&str]) -> Worker {
        Worker::spawn(exe.as_ref(), args, &self.socket)
    }

    /// [`worker`](Self::worker) with extra environment variables.
    pub fn worker_env(&self, exe: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> Worker {
        Worker::spawn_env(exe.as_ref(), args, &self.socket, env)
    }

    /// Runs the `xproc` CLI against this broker and returns its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(cli_exe())
            .args(args)
            .env("XPROC_SOCKET", &self.socket)
            .stdin(Stdio::null())
            .output()
            .expect("run xproc")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.child.is_some() {
            let status = self.terminate();
            if !status.success() && !thread::panicking() {
                eprintln!("xprocd exited with {status}; its log:\n{}", self.log_text());
            }
        }
    }
}

/// A worker process. Killed (SIGKILL) if still running when dropped.
pub struct Worker {
    child: Option<Child>,
    label: String,
}

impl Worker {
    /// Starts `exe args...` with `XPROC_SOCKET` set to `socket`; stdout and stderr are captured.
    pub fn spawn(exe: &Path, args: &[&str], socket: &Path) -> Worker {
        Worker::spawn_env(exe, args, socket, &[])
    }

    /// [`spawn`](Self::spawn) with extra environment variables (such as
    /// `XPROC_NO_DIRECT_PIPES`).
    pub fn spawn_env(exe: &Path, args: &[&str], socket: &Path, env: &[(&str, &str)]) -> Worker {
        let label = format!(
            "{} {}",
            exe.file_name().unwrap_or_default().to_string_lossy(),
            args.join(" ")
        );
        let child = Command::new(exe)
            .args(args)
            .env("XPROC_SOCKET", socket)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {label}: {e}"));
        Worker {
            child: Some(child),
            label,
        }
    }

    /// The worker's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the worker with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the worker to exit and returns its output, whatever its exit status.
    pub fn output(mut self) -> Output {
        let child = self.child.take().expect("the worker is running");
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait for {}: {e}", self.label))
    }

    /// Waits for the worker, requires a zero exit status, and returns its stdout.
    pub fn finish(self) -> String {
        let label = self.label.clone();
        let out = self.output();
        assert!(
            out.status.success(),
            "worker `{label}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("worker output is UTF-8")
    }

    /// Like [`finish`](Self::finish), parsing stdout as one JSON value.
    pub fn finish_json<T: serde::de::DeserializeOwned>(self) -> T {
        let label = self.label.clone();
        let text = self.finish();
        serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!("worker `{label}` printed {text:?}, not the JSON expected: {e}")
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether the broker lists a client with `pid` whose `waits` include `what`
/// (e.g. `"queue.get tasks"`; matched as a substring so the exact wording may vary).
pub fn waits_on(client: &Client, pid: u32, what: &str) -> bool {
    client
        .clients()
        .map(|cs| {
            cs.iter()
                .any(|c| c.pid == pid && c.waits.iter().any(|w| w.contains(what)))
        })
        .unwrap_or(false)
}

/// How many clients the broker lists with `waits` containing `what`.
pub fn waiters_on(client: &Client, what: &str) -> usize {
    client
        .clients()
        .map(|cs| {
            cs.iter()
                .filter(|c| c.waits.iter().any(|w| w.contains(what)))
                .count()
        })
        .unwrap_or(0)
}

/// Whether the broker lists any client with `pid`.
pub fn connected(client: &Client, pid: u32) -> bool {
    client
        .clients()
        .map(|cs| cs.iter().any(|c| c.pid == pid))
        .unwrap_or(false)
}

/// A short name for an error's kind, for workers to report: the wire code when there is one
/// (`"Timeout"`, `"ShuttingDown"`, `"BrokenBarrier"`, ...), else `"NoBroker"`,
/// `"Disconnected"`, `"Encode"`, `"Decode"` or `"Protocol"`.
pub fn error_kind(e: &xproc::Error) -> String {
    use xproc::Error as E;
    match (e.code(), e) {
        (Some(code), _) => code.as_str().to_string(),
        (None, E::NoBroker { .. }) => "NoBroker".into(),
        (None, E::Disconnected(_)) => "Disconnected".into(),
        (None, E::Encode(_)) => "Encode".into(),
        (None, E::Decode { .. }) => "Decode".into(),
        (None, _) => "Protocol".into(),
    }
}

/// For worker programs: the command-line arguments after the program name, with a helper to
/// read them by position.
pub struct Args(Vec<String>);

impl Args {
    /// The process's arguments.
    pub fn from_env() -> Args {
        Args(std::env::args().skip(1).collect())
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Argument `i` as text; exits with a message if missing.
    pub fn str(&self, i: usize) -> &str {
        match self.0.get(i) {
            Some(s) => s,
            None => {
                eprintln!("missing argument {i}; got {:?}", self.0);
                std::process::exit(2)
            }
        }
    }

    /// Argument `i` parsed as `T`; exits with a message if missing or malformed.
    pub fn parse<T: std::str::FromStr>(&self, i: usize) -> T {
        let s = self.str(i);
        s.parse().unwrap_or_else(|_| {
            eprintln!("argument {i} ({s:?}) is not valid");
            std::process::exit(2)
        })
    }

    /// Argument `i` as a timeout in milliseconds, or `None` for "forever".
    pub fn timeout(&self, i: usize) -> Option<Duration> {
        match self.str(i) {
            "forever" => None,
            _ => Some(Duration::from_millis(self.parse(i))),
        }
    }
}

/// For worker programs: runs `body`, prints its JSON result on stdout and exits 0, or prints
/// the error on stderr and exits 1.
pub fn worker_main(body: impl FnOnce(Args, Client) -> xproc::Result<serde_json::Value>) -> ! {
    let args = Args::from_env();
    let outcome = Client::connect_default().and_then(|client| body(args, client));
    match outcome {
        Ok(v) => {
            println!("{v}");
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("worker error ({}): {e}", error_kind(&e));
            std::process::exit(1)
        }
    }
}

/// Blocks the calling worker until it is killed.
pub fn park_forever() -> ! {
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}
