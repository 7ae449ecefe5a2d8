//! Pipes against a real broker.

mod common;
use common::*;

fn open_end(c: &mut Client, name: &str, end: &'static str) -> Reply {
    c.open_with(name, "pipe", |r| r.end = Some(end))
}

fn send(c: &mut Client, name: &str, end: &str, v: &[u8], timeout_ms: Option<u64>) -> Reply {
    c.call(RequestFields {
        end: Some(end),
        value: Some(Bytes::new(v)),
        timeout_ms,
        ..Client::req("pipe.send", name)
    })
}

fn recv_req<'a>(name: &'a str, end: &'a str, timeout_ms: Option<u64>) -> RequestFields<'a> {
    RequestFields {
        end: Some(end),
        timeout_ms,
        ..Client::req("pipe.recv", name)
    }
}

fn recv(c: &mut Client, name: &str, end: &str, timeout_ms: Option<u64>) -> Reply {
    c.call(recv_req(name, end, timeout_ms))
}

fn poll(c: &mut Client, name: &str, end: &str, timeout_ms: Option<u64>) -> Reply {
    c.call(RequestFields {
        end: Some(end),
        timeout_ms,
        ..Client::req("pipe.poll", name)
    })
}

fn close(c: &mut Client, name: &str, end: &str) -> Reply {
    c.call(RequestFields {
        end: Some(end),
        ..Client::req("pipe.close", name)
    })
}

#[test]
fn messages_flow_both_ways_and_early_ones_are_kept() {
    let b = Broker::start();
    let mut a = b.client();
    let mut bb = b.client();
    let r = open_end(&mut a, "p", "a").ok();
    assert!(r.bool("duplex"));
    assert_eq!(r.u64("capacity"), 1024);
    send(&mut a, "p", "a", &enc(1), None).ok();
    send(&mut a, "p", "a", &enc(2), None).ok();
    open_end(&mut bb, "p", "b").ok();
    assert_eq!(recv(&mut bb, "p", "b", None).ok().value("value"), 1.into());
    assert_eq!(recv(&mut bb, "p", "b", None).ok().value("value"), 2.into());
    send(&mut bb, "p", "b", &enc("back"), None).ok();
    assert_eq!(
        recv(&mut a, "p", "a", None).ok().value("value"),
        "back".into()
    );
    recv(&mut a, "p", "a", Some(0)).err("Empty");
    recv(&mut a, "p", "a", Some(20)).err("Timeout");
    assert!(!poll(&mut a, "p", "a", None).ok().bool("ready"));
}

#[test]
fn ends_are_owned() {
    let b = Broker::start();
    let mut a = b.client();
    let mut other = b.client();
    open_end(&mut a, "p", "a").ok();
    let m = open_end(&mut other, "p", "a").err("Busy");
    assert!(
        m.contains(&std::process::id().to_string()),
        "names the holder pid: {m}"
    );
    send(&mut other, "p", "a", &enc(1), None).err("NotOwner");
    send(&mut other, "p", "b", &enc(1), None).err("NotOwner");
    open_end(&mut a, "p", "a").ok(); // reclaiming your own end is fine
    open_end(&mut a, "p", "b").ok(); // one connection may hold both
    send(&mut a, "p", "b", &enc(5), None).ok();
    assert_eq!(recv(&mut a, "p", "a", None).ok().value("value"), 5.into());
}

#[test]
fn blocking_recv_and_poll_are_woken_by_a_send() {
    let b = Broker::start();
    let mut a = b.client();
    let mut r = b.client();
    open_end(&mut a, "p", "a").ok();
    open_end(&mut r, "p", "b").ok();
    let id = r.send(recv_req("p", "b", None));
    r.op("ping", "x").ok();
    send(&mut a, "p", "a", &enc("x"), None).ok();
    let got = r.recv().ok();
    assert_eq!((got.id(), got.value("value")), (id, "x".into()));
    let id = r.send(RequestFields {
        end: Some("b"),
        timeout_ms: Some(10_000),
        ..Client::req("pipe.poll", "p")
    });
    r.op("ping", "x").ok();
    send(&mut a, "p", "a", &enc("y"), None).ok();
    let got = r.recv().ok();
    assert_eq!(got.id(), id);
    assert!(got.bool("ready"));
    assert!(poll(&mut r, "p", "b", None).ok().bool("ready"));
    assert_eq!(recv(&mut r, "p", "b", None).ok().value("value"), "y".into());
    assert!(!poll(&mut r, "p", "b", Some(20)).ok().bool("ready"));
}

#[test]
fn capacity_blocks_sends() {
    let b = Broker::start();
    let mut a = b.client();
    let mut r = b.client();
    let o = a
        .open_with("p", "pipe", |r| {
            r.end = Some("a");
            r.capacity = Some(1)
        })
        .ok();
    assert_eq!(o.u64("capacity"), 1);
    a.open_with("p", "pipe", |r| r.capacity = Some(2))
        .err("OptionMismatch");
    a.open_with("q", "pipe", |r| r.capacity = Some(0))
        .err("InvalidArgument");
    open_end(&mut r, "p", "b").ok();
    send(&mut a, "p", "a", &enc(1), None).ok();
    assert!(send(&mut a, "p", "a", &enc(2), Some(0))
        .err("Full")
        .contains("capacity 1"));
    send(&mut a, "p", "a", &enc(2), Some(20)).err("Timeout");
    let id = a.send(RequestFields {
        end: Some("a"),
        value: Some(Bytes::new(&enc(2))),
        ..Client::req("pipe.send", "p")
    });
    a.op("ping", "x").ok();
    assert_eq!(recv(&mut r, "p", "b", None).ok().value("value"), 1.into());
    assert_eq!(a.recv().ok().id(), id);
    assert_eq!(recv(&mut r, "p", "b", None).ok().value("value"), 2.into());
}

#[test]
fn one_way_pipes() {
    let b = Broker::start();
    let mut c = b.client();
    let r = c
        .open_with("p", "pipe", |r| {
            r.duplex = Some(false);
            r.end = Some("a")
        })
        .ok();
    assert!(!r.bool("duplex"));
    open_end(&mut c, "p", "b").ok();
    send(&mut c, "p", "b", &enc(1), None).err("InvalidArgument");
    recv(&mut c, "p", "a", Some(0)).err("InvalidArgument");
    send(&mut c, "p", "a", &enc(1), None).ok();
    recv(&mut c, "p", "b", None).ok();
}

#[test]
fn close_gives_the_rest_then_closed_and_frees_the_name() {
    let b = Broker::start();
    let mut a = b.client();
    let mut r = b.client();
    open_end(&mut a, "p", "a").ok();
    open_end(&mut r, "p", "b").ok();
    send(&mut a, "p", "a", &enc(1), None).ok();
    close(&mut a, "p", "a").ok();
    close(&mut a, "p", "a").err("NotOwner");
    send(&mut r, "p", "b", &enc(1), None).err("Closed");
    assert!(poll(&mut r, "p", "b", None).ok().bool("ready"));
    assert_eq!(recv(&mut r, "p", "b", None).ok().value("value"), 1.into());
    recv(&mut r, "p", "b", None).err("Closed");
    assert!(r.op("stat", "p").ok().info("finished").as_bool().unwrap());
    close(&mut r, "p", "b").ok();
    // Both ends released: the next open makes a fresh pipe.
    assert!(open_end(&mut a, "p", "a").ok().bool("created"));
    send(&mut a, "p", "a", &enc(2), None).ok();
}

#[test]
fn a_blocked_recv_gets_closed() {
    let b = Broker::start();
    let mut a = b.client();
    let mut r = b.client();
    open_end(&mut a, "p", "a").ok();
    open_end(&mut r, "p", "b").ok();
    let id = r.send(recv_req("p", "b", None));
    r.op("ping", "x").ok();
    close(&mut a, "p", "a").ok();
    let got = r.recv();
    assert_eq!(got.id(), id);
    got.err("Closed");
}

#[test]
fn holder_disconnect_is_end_of_file() {
    let b = Broker::start();
    let mut a = b.client();
    let mut r = b.client();
    open_end(&mut a, "p", "a").ok();
    open_end(&mut r, "p", "b").ok();
    send(&mut a, "p", "a", &enc("last words"), None).ok();
    let id = r.send(recv_req("p", "b", Some(10_000)));
    let got = r.recv().ok();
    assert_eq!((got.id(), got.value("value")), (id, "last words".into()));
    drop(a);
    recv(&mut r, "p", "b", Some(10_000)).err("Closed");
    // The dead end is free to claim again on the finished pipe.
    let mut late = b.client();
    open_end(&mut late, "p", "a").ok();
}

#[test]
fn send_and_close_before_the_reader_opens() {
    let b = Broker::start();
    let mut w = b.client();
    open_end(&mut w, "p", "a").ok();
    send(&mut w, "p", "a", &enc("early"), None).ok();
    close(&mut w, "p", "a").ok();
    drop(w);
    let mut r = b.client();
    assert!(!open_end(&mut r, "p", "b").ok().bool("created"));
    assert_eq!(
        recv(&mut r, "p", "b", None).ok().value("value"),
        "early".into()
    );
    recv(&mut r, "p", "b", None).err("Closed");
}
