//! The Rust client and the CLI over TCP with an authkey (docs/PROTOCOL.md §1.2), against a
//! real `xprocd` listening on `tcp://127.0.0.1:0` (the port is read from its log): `tcp://`
//! endpoints wherever a path is accepted, the key from `ConnectOptions` or
//! `XPROC_AUTHKEY_FILE`, clear errors for a wrong or missing key, and `Disconnected` — not a
//! hang — when the broker falls silent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use xproc::{Client, ConnectOptions, Error};
use xproc_tests::{Broker, Stopped};

const KEY: &[u8] = b"worker-key-0123456789";

/// A private key file in a directory of its own (removed on drop).
struct KeyFile(PathBuf);

impl KeyFile {
    fn new(key: &[u8]) -> KeyFile {
        let dir = std::env::temp_dir().join(format!(
            "xproc-tcp-key-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("authkey");
        std::fs::write(&p, key).unwrap();
        xproc_tests::set_mode(&p, 0o600);
        KeyFile(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

/// A broker on a local socket and on TCP, and its `tcp://` endpoint.
fn tcp_broker(key: &KeyFile) -> (Broker, String) {
    let b = Broker::start_with(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--authkey-file",
        key.path(),
    ]);
    let log = b.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("listening on TCP"))
        .unwrap_or_else(|| panic!("no TCP listener in the log:\n{log}"));
    let at = line.find("addr=").unwrap() + 5;
    let addr = line[at..].split_whitespace().next().unwrap().to_string();
    (b, format!("tcp://{addr}"))
}

fn connect(endpoint: &str, key: &[u8]) -> xproc::Result<Client> {
    Client::connect_with(ConnectOptions {
        path: Some(endpoint.into()),
        authkey: Some(key.to_vec()),
        ..ConnectOptions::default()
    })
}

#[test]
fn remote_and_local_clients_share_objects() {
    let key = KeyFile::new(KEY);
    let (b, endpoint) = tcp_broker(&key);
    let remote = connect(&endpoint, KEY).unwrap();
    assert_eq!(remote.path().to_str(), Some(endpoint.as_str()));
    let q = remote.queue::<i64>("tasks").unwrap();
    q.put(&41).unwrap();
    let local = b.client();
    let lq = local.queue::<i64>("tasks").unwrap();
    assert_eq!(lq.get_timeout(Duration::from_secs(5)).unwrap(), 41);
    lq.put(&42).unwrap();
    assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), 42);
    // A blocking get over TCP survives heartbeats (empty frames) arriving meanwhile.
    let t = std::thread::spawn(move || q.get_timeout(Duration::from_secs(20)));
    std::thread::sleep(2 * xproc::protocol::auth::HEARTBEAT_INTERVAL + Duration::from_secs(1));
    lq.put(&43).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), 43);
}

#[test]
fn a_wrong_or_missing_key_is_a_clear_error() {
    let key = KeyFile::new(KEY);
    let (b, endpoint) = tcp_broker(&key);
    match connect(&endpoint, b"nope") {
        Err(Error::Denied(m)) => assert!(m.contains("wrong authkey"), "{m}"),
        other => panic!("expected Denied, got {other:?}"),
    }
    // No key given and no XPROC_AUTHKEY_FILE (this test binary never sets it).
    assert!(std::env::var_os(xproc::AUTHKEY_FILE_ENV).is_none());
    match Client::connect(&endpoint) {
        Err(Error::Denied(m)) => assert!(m.contains("needs an authkey"), "{m}"),
        other => panic!("expected Denied, got {other:?}"),
    }
    // Nothing listening: NoBroker, as for a socket path.
    let mut dead = b;
    dead.terminate();
    assert!(matches!(
        connect(&endpoint, KEY),
        Err(Error::NoBroker { .. })
    ));
}

#[test]
fn the_cli_takes_a_tcp_socket_and_the_key_file_from_the_environment() {
    let key = KeyFile::new(KEY);
    let (b, endpoint) = tcp_broker(&key);
    let run = |args: &[&str]| {
        std::process::Command::new(xproc_tests::cli_exe())
            .args(args)
            .env("XPROC_SOCKET", &endpoint)
            .env(xproc::AUTHKEY_FILE_ENV, key.path())
            .output()
            .unwrap()
    };
    let out = run(&["put", "jobs", "7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["get", "jobs", "--timeout", "5"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "7");
    // --socket too.
    let out = std::process::Command::new(xproc_tests::cli_exe())
        .args(["--socket", &endpoint, "ls"])
        .env_remove("XPROC_SOCKET")
        .env(xproc::AUTHKEY_FILE_ENV, key.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("jobs"));
    drop(b);
}

#[test]
fn a_silent_broker_is_reported_disconnected_instead_of_hanging() {
    let key = KeyFile::new(KEY);
    let (b, endpoint) = tcp_broker(&key);
    let c = connect(&endpoint, KEY).unwrap();
    let q = c.queue::<i64>("never").unwrap();
    // Stopped, the broker sends nothing, not even heartbeats, though its kernel still acks.
    let stopped = Stopped::new(b.pid());
    let start = Instant::now();
    let r = q.get();
    let waited = start.elapsed();
    drop(stopped);
    match r {
        Err(Error::Disconnected(m)) => assert!(m.contains("heartbeat"), "{m}"),
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let limit = xproc::protocol::auth::LINK_TIMEOUT;
    assert!(waited >= limit, "gave up after {waited:?}");
    // Every later call fails the same way.
    assert!(matches!(q.put(&1), Err(Error::Disconnected(_))));
}

#[test]
fn clients_shows_a_remote_peers_address_and_key() {
    let key = KeyFile::new(KEY);
    let (b, endpoint) = tcp_broker(&key);
    let remote = connect(&endpoint, KEY).unwrap();
    let local = b.client();
    let rows = local.clients().unwrap();
    let me = rows
        .iter()
        .find(|c| c.conn_id == remote.conn_id())
        .expect("the remote connection is listed");
    assert!(
        me.addr
            .as_deref()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{me:?}"
    );
    assert_eq!(me.key.as_deref(), Some("default"));
    assert_eq!(me.uid, u32::MAX, "no uid is made up for a TCP peer");
    assert_eq!(me.pid, std::process::id(), "the hello pid stands in");
    let local_row = rows.iter().find(|c| c.conn_id == local.conn_id()).unwrap();
    assert_eq!(
        (local_row.addr.as_ref(), local_row.key.as_ref()),
        (None, None)
    );
    let out = std::process::Command::new(xproc_tests::cli_exe())
        .args(["--socket", b.socket().to_str().unwrap(), "clients"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("key=default"), "{text}");
}

#[test]
fn a_worker_key_limited_to_its_queues_gets_denied_elsewhere() {
    let key = KeyFile::new(KEY);
    let dir = key.0.parent().unwrap().to_path_buf();
    let worker_key = dir.join("worker.key");
    std::fs::write(&worker_key, b"a worker machine's key").unwrap();
    xproc_tests::set_mode(&worker_key, 0o600);
    let cfg = dir.join("xprocd.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = [\"tcp://127.0.0.1:0\"]\nauthkey_file = {:?}\n\n\
             [keys.worker-7]\nfile = {:?}\nread_write = [\"tasks\", \"results\"]\n\
             read_only = [\"settings\"]\n",
            key.path(),
            worker_key.to_str().unwrap()
        ),
    )
    .unwrap();
    let b = Broker::start_with(&["--config", cfg.to_str().unwrap()]);
    let endpoint = {
        let log = b.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("listening on TCP"))
            .unwrap();
        let at = line.find("addr=").unwrap() + 5;
        format!("tcp://{}", line[at..].split_whitespace().next().unwrap())
    };
    let local = b.client();
    local
        .dict::<String, i64>("settings")
        .unwrap()
        .set("batch", &8)
        .unwrap();
    local.queue::<i64>("payroll").unwrap().put(&1).unwrap();

    let w = connect(&endpoint, b"a worker machine's key").unwrap();
    let tasks = w.queue::<i64>("tasks").unwrap();
    tasks.put(&5).unwrap();
    assert_eq!(tasks.get_timeout(Duration::from_secs(5)).unwrap(), 5);
    let settings = w.dict::<String, i64>("settings").unwrap();
    assert_eq!(settings.get("batch").unwrap(), Some(8));
    match settings.set("batch", &9) {
        Err(Error::Denied(m)) => assert!(m.contains("may only read 'settings'"), "{m}"),
        other => panic!("expected Denied, got {other:?}"),
    }
    match w.queue::<i64>("payroll") {
        Err(Error::Denied(m)) => assert!(
            m.contains("key 'worker-7'") && m.contains("no pattern of [keys.worker-7]"),
            "{m}"
        ),
        other => panic!("expected Denied, got {:?}", other.map(|_| ())),
    }
    // Still connected and working after the refusals; the other key's view is whole.
    tasks.put(&6).unwrap();
    assert_eq!(local.queue::<i64>("payroll").unwrap().qsize().unwrap(), 1);
    assert_eq!(settings.get("batch").unwrap(), Some(8));
    let rows = local.clients().unwrap();
    let me = rows.iter().find(|c| c.conn_id == w.conn_id()).unwrap();
    assert_eq!(me.key.as_deref(), Some("worker-7"));
}
