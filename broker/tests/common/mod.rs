//! Test support: a real `xprocd` per test on a unique short socket path, with a watchdog, and
//! a raw-bytes client that speaks frames built with `xproc-protocol`.
#![allow(dead_code, unused_imports)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use rmpv::Value;
pub use xproc_protocol::{Bytes, Name, RequestFields};
/// The raw byte stream of the tests: a `UnixStream`, or a named pipe on Windows.
pub use xproc_tests::RawStream;
use xproc_tests::{kill_now, request_stop};

#[cfg(unix)]
mod fds;
#[cfg(unix)]
pub use fds::*;

/// How long one test may run before the watchdog kills its broker (which makes every pending
/// read fail, so a hung test fails instead of hanging).
const WATCHDOG: Duration = Duration::from_secs(60);
/// How long a client read may block.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh short directory (sun_path is ~107 bytes).
pub fn temp_dir() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base = if cfg!(unix) {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("xpt-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running broker. Stopped (SIGTERM, then SIGKILL) on drop.
pub struct Broker {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub path: PathBuf,
    /// Its resident memory once ready (set by `start_with`; 0 otherwise): the process image,
    /// which memory-bound tests subtract (a debug `xprocd` is 5-10 MiB on Linux, ~85 MiB
    /// under Wine, which loads PE images into anonymous memory).
    pub start_rss: u64,
    cancel_watchdog: Option<mpsc::Sender<()>>,
}

impl Broker {
    pub fn start() -> Broker {
        Self::start_with(&[])
    }

    /// Starts `xprocd` with extra flags and waits until it accepts connections.
    pub fn start_with(args: &[&str]) -> Broker {
        let dir = temp_dir();
        let path = xproc_tests::test_endpoint(&dir);
        let mut b = Self::spawn_at(&dir, &path, args);
        b.wait_ready();
        b.start_rss = xproc_tests::rss(b.pid() as u32).0;
        b
    }

    /// Spawns `xprocd` at `path` without waiting.
    pub fn spawn_at(dir: &Path, path: &Path, args: &[&str]) -> Broker {
        Self::spawn_with(dir, path, args, |_| {})
    }

    /// Spawns `xprocd` at `path` without waiting, after `setup` adjusts its command (to set
    /// resource limits, say).
    pub fn spawn_with(
        dir: &Path,
        path: &Path,
        args: &[&str],
        setup: impl FnOnce(&mut Command),
    ) -> Broker {
        let log = std::fs::File::create(dir.join("xprocd.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xprocd"));
        setup(&mut cmd);
        let child = cmd
            .arg("--socket")
            .arg(path)
            .arg("--log-level")
            .arg("debug")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn xprocd");
        let pid = child.id();
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
                eprintln!("watchdog: test ran over {WATCHDOG:?}; killing xprocd {pid}");
                kill_now(pid);
            }
        });
        Broker {
            child: Some(child),
            dir: dir.to_path_buf(),
            path: path.to_path_buf(),
            start_rss: 0,
            cancel_watchdog: Some(tx),
        }
    }

    pub fn wait_ready(&self) {
        let start = Instant::now();
        while RawStream::connect(&self.path).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "xprocd did not start; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("xprocd.log")).unwrap_or_default()
    }

    /// A connected client that has done `hello`.
    pub fn client(&self) -> Client {
        let mut c = self.raw();
        c.hello();
        c
    }

    /// A connected client without `hello`.
    pub fn raw(&self) -> Client {
        Client::connect(&self.path)
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        request_stop(child.id());
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("xprocd did not stop on SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
        drop(self.cancel_watchdog.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A reply, decoded as a generic MessagePack map.
#[derive(Debug, Clone)]
pub struct Reply(pub Value);

impl Reply {
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0
            .as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(field))
            .map(|(_, v)| v)
    }
    pub fn id(&self) -> u64 {
        self.get("id").and_then(Value::as_u64).expect("reply id")
    }
    pub fn error(&self) -> Option<&str> {
        self.get("error").and_then(Value::as_str)
    }
    pub fn message(&self) -> &str {
        self.get("message").and_then(Value::as_str).unwrap_or("")
    }
    pub fn u64(&self, field: &str) -> u64 {
        self.get(field)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("no uint {field} in {self:?}"))
    }
    pub fn i64(&self, field: &str) -> i64 {
        self.get(field)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("no int {field} in {self:?}"))
    }
    pub fn bool(&self, field: &str) -> bool {
        self.get(field)
            .and_then(Value::as_bool)
            .unwrap_or_else(|| panic!("no bool {field} in {self:?}"))
    }
    pub fn str(&self, field: &str) -> &str {
        self.get(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no str {field} in {self:?}"))
    }
    /// A `bin` field holding one MessagePack value, decoded.
    pub fn value(&self, field: &str) -> Value {
        let bytes = self
            .get(field)
            .and_then(Value::as_slice)
            .unwrap_or_else(|| panic!("no bin {field} in {self:?}"));
        dec(bytes)
    }
    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.error().is_none(), "expected success, got {self:?}");
        self
    }
    /// Asserts an error with this code and returns the message.
    #[track_caller]
    pub fn err(&self, code: &str) -> String {
        assert_eq!(self.error(), Some(code), "reply: {self:?}");
        self.message().to_string()
    }
    /// A field of the `info` map of `stat`.
    pub fn info(&self, field: &str) -> Value {
        let info = self.get("info").expect("info");
        info.as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() == Some(field))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no info field {field} in {self:?}"))
    }
}

/// Encodes a value as MessagePack.
pub fn enc(v: impl Into<Value>) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &v.into()).unwrap();
    out
}

pub fn dec(mut bytes: &[u8]) -> Value {
    rmpv::decode::read_value(&mut bytes).unwrap()
}

/// A raw client: frames in, frames out.
pub struct Client {
    pub stream: RawStream,
    next_id: u64,
    pub conn_id: u64,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let stream = RawStream::connect(path).expect("connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client {
            stream,
            next_id: 1,
            conn_id: 0,
        }
    }

    pub fn hello(&mut self) -> Reply {
        let r = self.call(RequestFields {
            version: Some(1),
            client: Some("test"),
            lang: Some("rust"),
            pid: Some(std::process::id()),
            ..RequestFields::new(0, "hello")
        });
        let r = r.ok();
        self.conn_id = r.u64("conn_id");
        r
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a request with a fresh id (the `id` in `req` is replaced); returns the id.
    pub fn send(&mut self, mut req: RequestFields) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        req.id = id;
        let mut out = Vec::new();
        req.encode_into(&mut out);
        self.send_raw(&out);
        id
    }

    /// Reads one reply frame.
    pub fn recv(&mut self) -> Reply {
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .expect("read reply header");
        let len = u32::from_be_bytes(header) as usize;
        let mut payload = vec![0u8; len];
        self.stream
            .read_exact(&mut payload)
            .expect("read reply payload");
        Reply(dec(&payload))
    }

    /// Sends and waits for the reply to that request.
    pub fn call(&mut self, req: RequestFields) -> Reply {
        let id = self.send(req);
        let r = self.recv();
        assert_eq!(r.id(), id, "reply out of order: {r:?}");
        r
    }

    /// Asserts that the broker closed the connection (after any pending frames, returned).
    pub fn expect_eof(&mut self) {
        let mut buf = [0u8; 1];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(_) => panic!("expected EOF, got data"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected EOF, got {e}"),
        }
    }

    /// Asserts no reply arrives within `ms` milliseconds.
    pub fn expect_silence(&mut self, ms: u64) {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        let mut buf = [0u8; 1];
        let r = self.stream.read(&mut buf);
        self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        match r {
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            other => panic!("expected no reply, got {other:?}"),
        }
    }

    // Request builders for the common ops.

    pub fn open(&mut self, name: &str, kind: &str) -> Reply {
        self.call(RequestFields {
            name: Some(name.into()),
            kind: Some(kind),
            ..RequestFields::new(0, "open")
        })
    }

    pub fn open_with(
        &mut self,
        name: &str,
        kind: &str,
        f: impl FnOnce(&mut RequestFields),
    ) -> Reply {
        let mut r = RequestFields {
            name: Some(name.into()),
            kind: Some(kind),
            ..RequestFields::new(0, "open")
        };
        f(&mut r);
        self.call(r)
    }

    /// A request on object `name`.
    pub fn req<'a>(op: &'a str, name: &'a str) -> RequestFields<'a> {
        RequestFields {
            name: Some(name.into()),
            ..RequestFields::new(0, op)
        }
    }

    pub fn op(&mut self, op: &str, name: &str) -> Reply {
        self.call(Self::req(op, name))
    }

    pub fn put(&mut self, name: &str, v: &[u8], timeout_ms: Option<u64>) -> Reply {
        self.call(RequestFields {
            value: Some(Bytes::new(v)),
            timeout_ms,
            ..Self::req("queue.put", name)
        })
    }

    pub fn get(&mut self, name: &str, timeout_ms: Option<u64>) -> Reply {
        self.call(RequestFields {
            timeout_ms,
            ..Self::req("queue.get", name)
        })
    }

    pub fn send_get(&mut self, name: &str, timeout_ms: Option<u64>) -> u64 {
        self.send(RequestFields {
            timeout_ms,
            ..Self::req("queue.get", name)
        })
    }

    pub fn with_timeout(&mut self, op: &str, name: &str, timeout_ms: Option<u64>) -> Reply {
        self.call(RequestFields {
            timeout_ms,
            ..Self::req(op, name)
        })
    }

    pub fn get_leased(
        &mut self,
        name: &str,
        timeout_ms: Option<u64>,
        lease_ms: Option<u64>,
    ) -> Reply {
        self.call(RequestFields {
            timeout_ms,
            lease_ms,
            ..Self::req("queue.get_leased", name)
        })
    }

    pub fn send_get_leased(
        &mut self,
        name: &str,
        timeout_ms: Option<u64>,
        lease_ms: Option<u64>,
    ) -> u64 {
        self.send(RequestFields {
            timeout_ms,
            lease_ms,
            ..Self::req("queue.get_leased", name)
        })
    }

    pub fn ack(&mut self, name: &str, delivery: u64) -> Reply {
        self.call(RequestFields {
            delivery: Some(delivery),
            ..Self::req("queue.ack", name)
        })
    }

    pub fn nack(&mut self, name: &str, delivery: u64, delay_ms: Option<u64>) -> Reply {
        self.call(RequestFields {
            delivery: Some(delivery),
            delay_ms,
            ..Self::req("queue.nack", name)
        })
    }

    pub fn send_with_timeout(&mut self, op: &str, name: &str, timeout_ms: Option<u64>) -> u64 {
        self.send(RequestFields {
            timeout_ms,
            ..Self::req(op, name)
        })
    }
}

/// Descriptors process `pid` has open now (Linux: `/proc/PID/fd`; for the descriptor-leak
/// checks of fds.rs and shared_values.rs).
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("broker alive")
        .count()
}

/// The broker's descriptor count once connections closed before now are reaped (the probe
/// connection of `wait_ready`, say).
pub fn fd_baseline(pid: i32) -> usize {
    std::thread::sleep(Duration::from_millis(50));
    fd_count(pid)
}

/// Waits (up to 5 s) for the broker's descriptor count to come back to `want`.
pub fn fds_settle_at(pid: i32, want: usize) {
    let start = Instant::now();
    loop {
        let now = fd_count(pid);
        if now == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "broker holds {now} descriptors, {want} expected: a descriptor leaked"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
