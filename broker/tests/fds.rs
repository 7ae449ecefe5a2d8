//! Descriptor passing (docs/PROTOCOL.md §1.3) against a real `xprocd`: `hello` negotiates it,
//! and every descriptor a request brings that it cannot take is refused with a clear error
//! and closed — the broker's `/proc/PID/fd` is back where it was after each attack.
#![cfg(target_os = "linux")]

mod common;
use common::*;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// `n` fresh descriptors to send (the ends of pipes).
fn some_fds(n: usize) -> Vec<OwnedFd> {
    (0..n / 2 + 1)
        .flat_map(|_| {
            let (r, w) = std::io::pipe().unwrap();
            [OwnedFd::from(r), OwnedFd::from(w)]
        })
        .take(n)
        .collect()
}

fn raw_fds(fds: &[OwnedFd]) -> Vec<RawFd> {
    fds.iter().map(|f| f.as_raw_fd()).collect()
}

/// A connection whose `hello` listed `caps` (or none).
fn hello_with(b: &Broker, caps: Option<Vec<&str>>) -> (Client, Reply) {
    let mut c = b.raw();
    let r = c.call(RequestFields {
        version: Some(1),
        caps,
        ..RequestFields::new(0, "hello")
    });
    (c, r)
}

/// A framed request with this `fds` field.
fn frame(id: u64, op: &str, fds: Option<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    RequestFields {
        fds,
        ..RequestFields::new(id, op)
    }
    .encode_into(&mut out);
    out
}

#[test]
fn hello_grants_fds_on_the_local_socket_only_when_asked() {
    let b = Broker::start();
    let (_c, r) = hello_with(&b, Some(vec!["fds"]));
    let r = r.ok();
    assert_eq!(
        r.get("caps").cloned().unwrap(),
        Value::from(vec![Value::from("fds")])
    );
    assert_eq!(r.u64("max_fds"), 8);

    // Unknown capabilities are ignored; the reply lists what was granted.
    let (_c, r) = hello_with(&b, Some(vec!["telepathy"]));
    let r = r.ok();
    assert_eq!(r.get("caps").cloned().unwrap(), Value::Array(vec![]));
    assert!(r.get("max_fds").is_none());

    // A client that says nothing gets the reply it always did.
    let (_c, r) = hello_with(&b, None);
    let r = r.ok();
    assert!(r.get("caps").is_none() && r.get("max_fds").is_none());

    // A mistyped caps is a bad hello, which closes the connection.
    let mut c = b.raw();
    let mut out = Vec::new();
    let bad = Value::Map(vec![
        (Value::from("id"), Value::from(0)),
        (Value::from("op"), Value::from("hello")),
        (Value::from("version"), Value::from(1)),
        (Value::from("caps"), Value::from("fds")),
    ]);
    let payload = enc(bad);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    c.send_raw(&out);
    let r = c.recv();
    assert!(r.err("BadRequest").contains("caps"), "{r:?}");
    c.expect_eof();
}

#[test]
fn descriptors_a_request_cannot_take_are_refused_and_closed() {
    let b = Broker::start();
    let pid = b.pid();
    let (mut c, r) = hello_with(&b, Some(vec!["fds"]));
    r.ok();
    let before = fd_baseline(pid);

    // Announced and sent, on an op that takes none.
    let fds = some_fds(2);
    send_fds(&c.stream, &frame(7, "ping", Some(2)), &raw_fds(&fds));
    let r = c.recv();
    assert_eq!(r.id(), 7);
    assert!(
        r.err("BadRequest").contains("ping takes no descriptors"),
        "{r:?}"
    );

    // Sent without the field that announces them.
    send_fds(&c.stream, &frame(8, "ping", None), &raw_fds(&fds));
    let r = c.recv();
    assert!(r.err("BadRequest").contains("announces 0"), "{r:?}");

    // Announced, but fewer arrived (or none).
    send_fds(&c.stream, &frame(9, "ping", Some(2)), &raw_fds(&fds[..1]));
    let r = c.recv();
    assert!(r.err("BadRequest").contains("announces 2"), "{r:?}");
    c.send_raw(&frame(10, "ping", Some(1)));
    let r = c.recv();
    assert!(r.err("BadRequest").contains("but 0 arrived"), "{r:?}");

    // Descriptors sent with a frame's first bytes belong to that frame, however it is split.
    let whole = frame(11, "ping", Some(1));
    send_fds(&c.stream, &whole[..3], &raw_fds(&fds[..1]));
    std::thread::sleep(Duration::from_millis(20));
    c.send_raw(&whole[3..]);
    let r = c.recv();
    assert!(r.err("BadRequest").contains("ping takes no"), "{r:?}");

    // The connection stays usable and the broker kept none of them.
    c.call(RequestFields::new(0, "ping")).ok();
    fds_settle_at(pid, before);
}

#[test]
fn descriptors_without_negotiation_are_refused() {
    let b = Broker::start();
    let pid = b.pid();
    let mut c = b.client();
    let before = fd_baseline(pid);
    let fds = some_fds(1);
    send_fds(&c.stream, &frame(5, "ping", Some(1)), &raw_fds(&fds));
    let r = c.recv();
    assert!(r.err("BadRequest").contains("did not negotiate"), "{r:?}");
    c.call(RequestFields::new(0, "ping")).ok();
    fds_settle_at(pid, before);

    // Before hello, a frame with descriptors is refused like any other non-hello frame.
    let mut c = b.raw();
    send_fds(&c.stream, &frame(1, "ping", Some(1)), &raw_fds(&fds));
    let r = c.recv();
    r.err("HelloRequired");
    c.expect_eof();
    fds_settle_at(pid, before);
}

#[test]
fn too_many_descriptors_in_one_message_close_the_connection() {
    let b = Broker::start();
    let pid = b.pid();
    let (mut c, r) = hello_with(&b, Some(vec!["fds"]));
    r.ok();
    let before = fd_baseline(pid);
    let fds = some_fds(20);
    send_fds(&c.stream, &frame(3, "ping", Some(20)), &raw_fds(&fds));
    let r = c.recv();
    assert_eq!(r.id(), 0);
    assert!(
        r.err("LimitExceeded").contains("MAX_FDS_PER_FRAME"),
        "{r:?}"
    );
    c.expect_eof();
    fds_settle_at(pid, before - 1);
    // Others are served as before.
    b.client().call(RequestFields::new(0, "ping")).ok();
}

#[test]
fn descriptors_sprayed_ahead_of_a_frame_are_bounded() {
    let b = Broker::start();
    let pid = b.pid();
    let (mut c, r) = hello_with(&b, Some(vec!["fds"]));
    r.ok();
    let before = fd_baseline(pid);
    // The header of a 1 MiB frame, then one byte at a time, each with a descriptor.
    send_fds(&c.stream, &(1u32 << 20).to_be_bytes(), &[]);
    let fds = some_fds(1);
    let mut refused = None;
    for _ in 0..64 {
        send_fds(&c.stream, &[0x80], &raw_fds(&fds));
        std::thread::sleep(Duration::from_millis(2));
        c.stream
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let mut header = [0u8; 4];
        use std::io::Read;
        if c.stream.read_exact(&mut header).is_ok() {
            c.stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
            c.stream.read_exact(&mut payload).unwrap();
            refused = Some(Reply(dec(&payload)));
            break;
        }
    }
    let r = refused.expect("the broker kept taking descriptors");
    assert!(r.err("LimitExceeded").contains("MAX_FDS_PENDING"), "{r:?}");
    c.expect_eof();
    fds_settle_at(pid, before - 1);
}

#[test]
fn descriptors_with_no_request_leak_nothing() {
    let b = Broker::start();
    let pid = b.pid();
    let before = fd_baseline(pid);
    {
        let (c, r) = hello_with(&b, Some(vec!["fds"]));
        r.ok();
        // Descriptors with the start of a frame that never completes, then the client goes.
        let fds = some_fds(4);
        send_fds(&c.stream, &frame(2, "ping", Some(4))[..2], &raw_fds(&fds));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            fd_count(pid),
            before + 1 + 4,
            "the broker holds them meanwhile"
        );
    }
    fds_settle_at(pid, before);
}

/// The bytes of the dump under `#### {title}` in docs/PROTOCOL.md.
fn doc_dump(title: &str) -> Vec<u8> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .unwrap();
    let heading = format!("\n#### {title}\n```\n");
    let at = doc.find(&heading).expect("the example is in the spec") + heading.len();
    let end = at + doc[at..].find("```").unwrap();
    doc[at..end]
        .split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

#[test]
fn the_specs_hello_with_caps_example_is_what_the_broker_says() {
    let request = doc_dump("hello with caps request");
    let mut encoded = Vec::new();
    RequestFields {
        version: Some(1),
        client: Some("demo"),
        lang: Some("c"),
        pid: Some(4242),
        caps: Some(vec!["fds"]),
        ..RequestFields::new(0, "hello")
    }
    .encode_into(&mut encoded);
    assert_eq!(
        encoded, request,
        "the reference encoder writes the spec's bytes"
    );

    let b = Broker::start();
    let mut c = b.raw();
    c.send_raw(&request);
    let got = c.recv();
    // Everything but the connection id is as the spec shows it.
    let want = Reply(dec(&doc_dump("hello with caps reply")[4..]));
    let strip = |r: &Reply| match &r.0 {
        Value::Map(m) => m
            .iter()
            .filter(|(k, _)| k.as_str() != Some("conn_id"))
            .cloned()
            .collect::<Vec<_>>(),
        other => panic!("not a map: {other:?}"),
    };
    assert_eq!(strip(&got), strip(&want));
}
