//! Who may connect: the `--config` file, the allow-lists, `--group`, and the socket's modes,
//! against a real `xprocd`.
//!
//! The tests that need another user (a peer with a different uid and groups) run a copy of
//! this test binary as that user — `probe_child` below, started with `pre_exec` dropping
//! privileges — which only works as root; run as another user they say so on stderr and
//! check the rest.
//!
//! Unix only: it checks socket file modes, groups, and peers of other uids made with setuid.
//! On Windows the pipe's DACL admits its owner only; tests/windows/run.sh covers that side.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// The uid and primary gid the probe runs as (not root, not in any group we use).
const PROBE_UID: u32 = 40123;
const PROBE_GID: u32 = 40123;
/// A group the probe is a supplementary member of.
const SHARED_GID: u32 = 40999;

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("xprocd.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn config_file_sets_limits_and_flags_win() {
    let dir = temp_dir();
    let cfg = write_config(
        &dir,
        "max_objects = 1\nmax_clients = 2\nmemory_limit = \"1K\"\nlog_level = \"debug\"\n",
    );
    let cfg = cfg.to_str().unwrap();
    // The flag wins over the file's max_objects; the file's max_clients applies.
    let b = Broker::start_with(&["--config", cfg, "--max-objects", "2"]);
    let mut c = b.raw();
    let limits = c.hello();
    assert_eq!(
        limits.get("limits").unwrap()["max_objects"].as_u64(),
        Some(2)
    );
    assert_eq!(
        limits.get("limits").unwrap()["max_clients"].as_u64(),
        Some(2)
    );
    assert_eq!(
        limits.get("limits").unwrap()["memory_limit"].as_u64(),
        Some(1024)
    );
    c.open("a", "queue").ok();
    c.open("b", "queue").ok();
    assert!(c
        .open("c", "queue")
        .err("LimitExceeded")
        .contains("max_objects (2)"));
    let _second = b.client();
    let mut third = b.raw();
    assert!(third
        .recv()
        .err("LimitExceeded")
        .contains("max_clients (2)"));
    third.expect_eof();
}

#[test]
fn a_bad_config_file_stops_the_broker_with_a_clear_message() {
    let dir = temp_dir();
    for (text, want) in [
        ("allow_uid = [1]\n", "unknown field"),
        ("max_frame = \"lots\"\n", "not a byte count"),
        (
            "output_soft_limit = \"2M\"\noutput_hard_limit = \"1M\"\n",
            "below",
        ),
    ] {
        let cfg = write_config(&dir, text);
        let out = Command::new(env!("CARGO_BIN_EXE_xprocd"))
            .arg("--config")
            .arg(&cfg)
            .arg("--socket")
            .arg(dir.join("s.sock"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{text}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .arg("--config")
        .arg(dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_peer_off_the_allow_lists_is_denied_with_an_error_frame_and_a_log_line() {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let dir = temp_dir();
    let cfg = write_config(
        &dir,
        &format!("allow_uids = [{}]\nallow_gids = [{}]\n", uid + 1, gid + 1),
    );
    let b = Broker::spawn_at(
        &dir,
        &dir.join("s.sock"),
        &["--config", cfg.to_str().unwrap()],
    );
    b.wait_ready();
    let mut c = b.raw();
    let r = c.recv();
    assert_eq!(r.id(), 0);
    let m = r.err("Denied");
    assert!(m.contains(&format!("uid {uid}")), "{m}");
    c.expect_eof();
    let log = b.log();
    assert!(log.contains("refused connection"), "{log}");

    // The Rust client reports the refusal as Denied, not as a disconnect.
    let e = xproc::Client::connect(&b.path).unwrap_err();
    assert!(matches!(e, xproc::Error::Denied(_)), "{e:?}");
    assert!(e.to_string().contains("allow_uids"), "{e}");
}

#[test]
fn the_allow_lists_let_in_a_listed_uid_or_gid() {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let by_uid = Broker::start_with(&["--allow-uid", &format!("{},{uid}", uid + 7)]);
    by_uid.client().op("ping", "x").ok();
    let by_gid = Broker::start_with(&[
        "--allow-uid",
        &(uid + 1).to_string(),
        "--allow-gid",
        &gid.to_string(),
    ]);
    by_gid.client().op("ping", "x").ok();
}

#[test]
fn group_makes_the_socket_0660_for_that_group() {
    // Our own primary group, which even an unprivileged user may chgrp to.
    // SAFETY: getgid cannot fail.
    let gid = unsafe { libc::getgid() };
    let b = Broker::start_with(&["--group", &gid.to_string()]);
    let md = std::fs::metadata(&b.path).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o660);
    assert_eq!(md.gid(), gid);
    b.client().op("ping", "x").ok();

    let out = Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .args([
            "--group",
            "no-such-group-xyz",
            "--socket",
            "/tmp/xpt-nogroup.sock",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no group named"));
}

#[test]
fn default_directory_with_a_group_is_0710() {
    // SAFETY: getgid/getuid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let dir = Path::new("/tmp").join(format!("xproc-{uid}"));
    if dir.exists() {
        // Someone's real default directory: leave it alone, and test nothing here.
        eprintln!(
            "{} exists (a real broker's?); not touching it",
            dir.display()
        );
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .env_remove("XPROC_SOCKET")
        .env_remove("XDG_RUNTIME_DIR")
        .args(["--group", &gid.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sock = dir.join("xproc.sock");
    let start = std::time::Instant::now();
    while UnixStream::connect(&sock).is_err() {
        assert!(
            start.elapsed().as_secs() < 10,
            "no socket at {}",
            sock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let md = std::fs::metadata(&dir).unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((md.mode() & 0o777, md.gid()), (0o710, gid));
}

/// What the probe saw, as it printed it: `refused <errno>` when it could not connect,
/// otherwise `reply <code or ok>`.
fn probe(socket: &Path, supplementary: &[u32]) -> String {
    let groups: Vec<libc::gid_t> = supplementary.to_vec();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "probe_child",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("XPROC_PROBE_SOCKET", socket);
    // SAFETY: only async-signal-safe system calls run between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(PROBE_GID) != 0
                || libc::setuid(PROBE_UID) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run the probe");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.split_once("PROBE: ").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "the probe printed no result: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string()
}

/// Not a test of its own: the other-user half of the tests below, run by [`probe`]. It does
/// nothing unless `XPROC_PROBE_SOCKET` is set.
#[test]
fn probe_child() {
    let Some(socket) = std::env::var_os("XPROC_PROBE_SOCKET") else {
        return;
    };
    let result = match UnixStream::connect(&socket) {
        Err(e) => format!("refused {:?}", e.kind()),
        Ok(mut s) => {
            let mut out = Vec::new();
            RequestFields {
                version: Some(1),
                ..RequestFields::new(1, "hello")
            }
            .encode_into(&mut out);
            let _ = s.write_all(&out);
            let mut header = [0u8; 4];
            match s.read_exact(&mut header) {
                Err(e) => format!("reply none ({e})"),
                Ok(()) => {
                    let mut payload = vec![0; u32::from_be_bytes(header) as usize];
                    s.read_exact(&mut payload).unwrap();
                    let r = Reply(dec(&payload));
                    format!("reply {}", r.error().unwrap_or("ok"))
                }
            }
        }
    };
    println!("PROBE: {result}");
}

#[test]
fn other_users_need_the_group_and_the_allow_lists() {
    if !is_root() {
        eprintln!(
            "other_users_need_the_group_and_the_allow_lists: NOT RUN — needs root to act as \
             another user; the socket modes are checked by the other tests"
        );
        return;
    }
    // The probe must be able to reach the socket's directory.
    let open_dir = |b: &Broker| {
        std::fs::set_permissions(&b.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    };

    // Default: mode 0600, so another user cannot even connect.
    let b = Broker::start();
    open_dir(&b);
    assert_eq!(probe(&b.path, &[SHARED_GID]), "refused PermissionDenied");
    drop(b);

    // --group: members of the group connect; others still cannot.
    let g = SHARED_GID.to_string();
    let b = Broker::start_with(&["--group", &g]);
    open_dir(&b);
    assert_eq!(probe(&b.path, &[SHARED_GID]), "reply ok");
    assert_eq!(probe(&b.path, &[]), "refused PermissionDenied");
    drop(b);

    // The allow-lists match supplementary groups too, and refuse everyone else with Denied.
    let b = Broker::start_with(&["--group", &g, "--allow-uid", "0", "--allow-gid", &g]);
    open_dir(&b);
    assert_eq!(probe(&b.path, &[SHARED_GID]), "reply ok");
    drop(b);
    let b = Broker::start_with(&["--group", &g, "--allow-uid", "0"]);
    open_dir(&b);
    assert_eq!(probe(&b.path, &[SHARED_GID]), "reply Denied");
    assert!(b.log().contains(&format!("uid={PROBE_UID}")), "{}", b.log());
    b.client().op("ping", "x").ok();
}
