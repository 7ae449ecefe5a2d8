//! Readiness for service managers: systemd's `Type=notify` protocol (`READY=1` once the
//! socket accepts connections, `STOPPING=1` on shutdown), against a real `xprocd`. Unix only:
//! systemd and its datagram socket do not exist on Windows, where `notify` does nothing.
#![cfg(unix)]

mod common;
use common::*;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Receives one notification datagram.
fn recv_state(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("a notification from xprocd");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn notified_broker(notify: &std::path::Path) -> (Broker, std::path::PathBuf) {
    let dir = temp_dir();
    let path = dir.join("s.sock");
    let target = notify.to_path_buf();
    let b = Broker::spawn_with(&dir, &path, &[], move |cmd| {
        cmd.env("NOTIFY_SOCKET", &target);
    });
    (b, path)
}

#[test]
fn ready_is_sent_once_the_socket_accepts_and_stopping_on_sigterm() {
    let dir = temp_dir();
    let notify = dir.join("notify");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut b, path) = notified_broker(&notify);
    assert_eq!(recv_state(&sock), "READY=1");
    // Ready means ready: the first connection after the notification is served.
    let mut c = Client::connect(&path);
    c.hello();
    c.call(RequestFields::new(0, "ping")).ok();
    assert!(b.terminate().success());
    assert_eq!(recv_state(&sock), "STOPPING=1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_notify_socket_is_logged_not_fatal() {
    let dir = temp_dir();
    let (b, path) = notified_broker(&dir.join("nobody-listens"));
    b.wait_ready();
    let mut c = Client::connect(&path);
    c.hello();
    c.call(RequestFields::new(0, "ping")).ok();
    assert!(
        b.log().contains("cannot notify the service manager"),
        "{}",
        b.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[test]
fn an_abstract_notify_socket_is_reached() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("xproc-notify-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let dir = temp_dir();
    let path = dir.join("s.sock");
    let target = format!("@{name}");
    let _b = Broker::spawn_with(&dir, &path, &[], move |cmd| {
        cmd.env("NOTIFY_SOCKET", &target);
    });
    assert_eq!(recv_state(&sock), "READY=1");
}
