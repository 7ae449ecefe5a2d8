//! The link is cut under a remote worker (issue 14): `xprocd` runs in one network namespace,
//! a worker in another reaches it over TCP through a veth pair, takes a lock and an item on a
//! long lease, and blocks in a get. Then the veth pair is set down — no FIN, no RST, the peer
//! simply goes silent — and:
//!
//! - the broker releases the lock and redelivers the item within the dead-peer bound that
//!   docs/PROTOCOL.md §1.2 documents (about 12 s: the next heartbeat, `TCP_USER_TIMEOUT`);
//! - the worker's blocked get fails with `Disconnected` after `LINK_TIMEOUT` of silence
//!   instead of hanging.
//!
//! Needs root and iproute2. Without them the test fails, saying so: CI runs as root, and a
//! skipped test would hide a broken dead-peer path.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use xproc::protocol::auth::LINK_TIMEOUT;
use xproc::Client;

const WORKER: &str = env!("CARGO_BIN_EXE_link_worker");

/// The bound docs/PROTOCOL.md §1.2 gives for closing a dead peer's connection: up to 4 s to
/// the next heartbeat, then 6 s of unacknowledged retransmission, then the next keepalive
/// probe.
const DEAD_PEER_BOUND: Duration = Duration::from_secs(12);
/// Scheduling slack on a loaded 2-core CI machine, on top of the documented bound.
const SLACK: Duration = Duration::from_secs(2);

/// Addresses that exist only on the veth pair between this test's two namespaces.
const BROKER_ADDR: &str = "10.213.8.1";
const WORKER_ADDR: &str = "10.213.8.2";

/// Runs `ip ARGS`, failing the test with what `ip` said.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("link_cut needs iproute2 (`ip`): {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {} (link_cut needs root and iproute2 to make network namespaces)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two network namespaces joined by a veth pair, and a scratch directory. Dropping it kills
/// every process still in either namespace and deletes both (which deletes the pair).
struct Net {
    broker_ns: String,
    worker_ns: String,
    broker_veth: String,
    worker_veth: String,
    dir: PathBuf,
}

impl Net {
    fn new() -> Net {
        let id = std::process::id();
        let net = Net {
            broker_ns: format!("xproc-lb-{id}"),
            worker_ns: format!("xproc-lw-{id}"),
            // An interface name has at most 15 bytes.
            broker_veth: format!("xlb{id}"),
            worker_veth: format!("xlw{id}"),
            dir: std::env::temp_dir().join(format!("xproc-linkcut-{id}")),
        };
        std::fs::create_dir_all(&net.dir).unwrap();
        let (b, w) = (net.broker_ns.as_str(), net.worker_ns.as_str());
        let (bv, wv) = (net.broker_veth.as_str(), net.worker_veth.as_str());
        ip(&["netns", "add", b]);
        ip(&["netns", "add", w]);
        ip(&["link", "add", bv, "type", "veth", "peer", "name", wv]);
        ip(&["link", "set", bv, "netns", b]);
        ip(&["link", "set", wv, "netns", w]);
        ip(&[
            "-n",
            b,
            "addr",
            "add",
            &format!("{BROKER_ADDR}/24"),
            "dev",
            bv,
        ]);
        ip(&[
            "-n",
            w,
            "addr",
            "add",
            &format!("{WORKER_ADDR}/24"),
            "dev",
            wv,
        ]);
        for (ns, dev) in [(b, "lo"), (w, "lo"), (b, bv), (w, wv)] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        net
    }

    /// Sets both ends of the veth pair down: from here on nothing crosses, in either direction.
    fn cut(&self) {
        ip(&[
            "-n",
            &self.worker_ns,
            "link",
            "set",
            &self.worker_veth,
            "down",
        ]);
        ip(&[
            "-n",
            &self.broker_ns,
            "link",
            "set",
            &self.broker_veth,
            "down",
        ]);
    }

    /// `ip netns exec NS PROGRAM`: `ip` execs the program, so the child's pid is its pid.
    fn exec(&self, ns: &str, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// The pids still running in either namespace.
    fn pids(&self) -> Vec<i32> {
        [&self.broker_ns, &self.worker_ns]
            .iter()
            .filter_map(|ns| Command::new("ip").args(["netns", "pids", ns]).output().ok())
            .flat_map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for sig in [libc::SIGTERM, libc::SIGKILL] {
            for pid in self.pids() {
                unsafe { libc::kill(pid, sig) };
            }
            let start = Instant::now();
            while !self.pids().is_empty() && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.broker_ns])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.worker_ns])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A child process reaped on drop (SIGKILL if still running).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_cut_link_releases_the_lock_and_the_lease_and_the_worker_sees_disconnected() {
    let net = Net::new();
    let key = net.dir.join("authkey");
    std::fs::write(&key, b"link-cut-key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The broker's local socket is a file, reachable from this (root) namespace: the test's
    // own clients watch the broker through it while the worker's TCP link dies.
    let socket = net.dir.join("x.sock");
    let log = net.dir.join("xprocd.log");
    let endpoint = format!("tcp://{BROKER_ADDR}:5000");
    let broker = Reaped(
        net.exec(&net.broker_ns, &xproc_tests::xprocd_exe())
            .arg("--socket")
            .arg(&socket)
            .args(["--listen", &format!("tcp://{BROKER_ADDR}:5000")])
            .arg("--authkey-file")
            .arg(&key)
            .env_remove("XPROC_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start xprocd in its namespace"),
    );
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    xproc_tests::eventually("the broker accepts local connections", || {
        Client::connect(&socket).is_ok()
    });
    let local = Client::connect(&socket).unwrap();
    local.queue::<i64>("jobs").unwrap().put(&7).unwrap();

    let mut worker = Reaped(
        net.exec(&net.worker_ns, Path::new(WORKER))
            .args(["hold", "dev", "jobs", "never"])
            .env("XPROC_SOCKET", &endpoint)
            .env(xproc::AUTHKEY_FILE_ENV, &key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the worker in its namespace"),
    );
    let (tx, lines) = mpsc::channel();
    let stdout = worker.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let held_at = match lines.recv_timeout(Duration::from_secs(30)) {
        Ok(l) if l == "held" => Instant::now(),
        other => {
            let _ = worker.0.kill();
            let out = worker.0.wait_with_output_ref();
            panic!(
                "the worker did not take the lock and the item: {other:?}; {out}\nbroker log:\n{}",
                log_text()
            );
        }
    };
    // Over TCP, from the other namespace: the broker shows a remote peer holding both.
    let lock = local.lock("dev").unwrap();
    assert!(
        !lock.try_acquire().unwrap().acquired,
        "the worker holds dev"
    );
    let jobs = local.queue::<i64>("jobs").unwrap();
    assert!(
        matches!(jobs.try_get(), Err(xproc::Error::Empty)),
        "7 is leased out"
    );
    let remote = local.clients().unwrap().into_iter().find(|c| {
        c.addr
            .as_deref()
            .is_some_and(|a| a.starts_with(WORKER_ADDR))
    });
    assert!(remote.is_some(), "the worker connected from {WORKER_ADDR}");
    xproc_tests::eventually("the worker blocks in its get", || {
        xproc_tests::waiters_on(&local, "never") == 1
    });

    net.cut();
    let cut_at = Instant::now();

    // Both come back to the local side once the broker has given up on the peer.
    let limit = DEAD_PEER_BOUND + SLACK;
    let waiter = std::thread::spawn({
        let socket = socket.clone();
        move || {
            let c = Client::connect(&socket).unwrap();
            let got = c.queue::<i64>("jobs").unwrap().get_timeout(limit);
            (got, cut_at.elapsed())
        }
    });
    let acquired = lock.acquire_timeout(limit).unwrap();
    let lock_after = cut_at.elapsed();
    let (redelivered, item_after) = waiter.join().unwrap();
    assert!(
        acquired.acquired,
        "the lock was not released within {limit:?} of the cut\nbroker log:\n{}",
        log_text()
    );
    assert_eq!(
        redelivered.unwrap_or_else(|e| panic!(
            "the leased item was not redelivered within {limit:?}: {e}\nbroker log:\n{}",
            log_text()
        )),
        7
    );
    eprintln!("cut -> lock released after {lock_after:?}, item redelivered after {item_after:?}");
    assert!(lock_after <= limit && item_after <= limit);
    assert!(
        acquired.abandoned_by.is_some(),
        "the next holder is told the lock was abandoned"
    );

    // The worker's blocked get ends with Disconnected, not a hang: it hears no heartbeat for
    // LINK_TIMEOUT (or its kernel gives up on the link first, whichever comes sooner).
    let start = Instant::now();
    let status = loop {
        if let Some(s) = worker.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the worker still hangs {:?} after the cut",
            cut_at.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let report = lines
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("the worker printed no report (exit {status})"));
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["error"], "Disconnected", "{v}");
    // The get began before `held` reached us, so this overestimates the time from the cut.
    let blocked = Duration::from_millis(v["blocked_ms"].as_u64().unwrap());
    let after_cut = (held_at + blocked).saturating_duration_since(cut_at);
    eprintln!(
        "the worker's get failed with Disconnected at most {after_cut:?} after the cut: {}",
        v["message"]
    );
    assert!(
        after_cut <= LINK_TIMEOUT + SLACK,
        "the worker took {after_cut:?} to notice"
    );
    assert!(status.success(), "{status}");
    drop(broker);
}

/// Reads what a killed child wrote on stderr, for a failure message.
trait StderrText {
    fn wait_with_output_ref(&mut self) -> String;
}

impl StderrText for Child {
    fn wait_with_output_ref(&mut self) -> String {
        let _ = self.wait();
        let mut s = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
        }
        s
    }
}
