//! The socket file: its mode, when it appears, two brokers racing for one path, stale and
//! foreign files at the path, too long paths, and the `$XDG_RUNTIME_DIR` default.
//!
//! Unix only: named pipes have no file, mode, stale leftover or `sun_path` limit (their rules
//! are in docs/PROTOCOL.md §1; a second broker on a live pipe is refused in lifecycle.rs).
#![cfg(unix)]

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn socket_is_mode_0600() {
    let b = Broker::start();
    let mode = std::fs::metadata(&b.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_socket_file_appears_only_once_it_accepts_connections() {
    // What a script does: wait for the file, then connect at once. The broker listens under
    // a staging name and links the finished socket into place, so this never meets a socket
    // that is bound but not yet listening ("connection refused"). And a SIGTERM sent as soon
    // as the file is there (the drop below) stops it: the handlers are in place before.
    for _ in 0..20 {
        let dir = temp_dir();
        let path = dir.join("s.sock");
        let b = Broker::spawn_at(&dir, &path, &[]);
        let start = std::time::Instant::now();
        while std::fs::symlink_metadata(&path).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "{}", b.log());
            std::hint::spin_loop();
        }
        if let Err(e) = std::os::unix::net::UnixStream::connect(&path) {
            panic!("the socket file was there but refused: {e}");
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(".xprocd-")),
            "staging name left behind: {names:?}"
        );
    }
}

#[test]
fn of_two_brokers_started_at_once_on_one_path_exactly_one_serves() {
    let dir = temp_dir();
    let path = dir.join("s.sock");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
            .arg("--socket")
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    // The loser exits with "already listening"; the winner serves until SIGTERM.
    let start = std::time::Instant::now();
    let (mut winner, loser) = loop {
        if let Some(st) = a.try_wait().unwrap() {
            break (b, (a, st));
        }
        if let Some(st) = b.try_wait().unwrap() {
            break (a, (b, st));
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "neither broker exited"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let (loser, status) = loser;
    assert!(!status.success());
    let err = std::io::read_to_string(loser.stderr.unwrap()).unwrap();
    assert!(err.contains("already listening"), "{err}");
    let mut c = Client::connect(&path);
    c.hello().ok();
    c.op("ping", "x").ok();
    unsafe { libc::kill(winner.id() as i32, libc::SIGTERM) };
    assert!(winner.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = temp_dir();
    let path = dir.join("s.sock");
    // A socket file nobody listens on, as a crashed broker leaves.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let b = Broker::spawn_at(&dir, &path, &[]);
    b.wait_ready();
    b.client().op("ping", "x").ok();
}

#[test]
fn refuses_to_replace_a_regular_file_or_a_too_long_path() {
    let dir = temp_dir();
    let path = dir.join("s.sock");
    std::fs::write(&path, b"precious").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .arg("--socket")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a socket"));
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    let long = dir.join("x".repeat(120));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .arg("--socket")
        .arg(&long)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sun_path"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_endpoint_uses_xdg_runtime_dir() {
    let dir = temp_dir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .env_remove("XPROC_SOCKET")
        .env("XDG_RUNTIME_DIR", &dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let path = dir.join("xproc.sock");
    let start = std::time::Instant::now();
    while std::os::unix::net::UnixStream::connect(&path).is_err() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("no socket at {}", path.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut c = Client::connect(&path);
    c.hello();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    assert!(!path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
