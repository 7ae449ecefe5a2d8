//! Direct pipes (docs/PROTOCOL.md §6.5.1) across processes, against a real xprocd: once both
//! ends are held by clients that take descriptors, messages go peer to peer on a socketpair
//! the broker handed out — with the brokered pipe's semantics: messages sent before the reader
//! opened come first and in order (and the pipe then runs direct, even after a burst past
//! `capacity`), end of file after the rest on close and on SIGKILL, `poll`, an inbox bounded at
//! exactly `capacity` messages, one holder per end, `stat` with exact inbox counts, `wait`; a
//! peer that cannot take descriptors (or opted out) keeps the pipe brokered and interoperates;
//! and the broker's descriptors return to where they were.

// Descriptor passing (a socketpair handed out) is Unix-only; on Windows pipes stay brokered.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use xproc::{End, Error, InfoValue, PipeOptions};
use xproc_protocol::frame::HEADER_LEN;
use xproc_protocol::{ReplyFields, RequestFields};
use xproc_tests::{eventually, Broker};

const PIPE: &str = env!("CARGO_BIN_EXE_pipe_worker");

fn stat(client: &xproc::Client, name: &str, field: &str) -> InfoValue {
    client
        .stat(name)
        .unwrap()
        .info
        .get(field)
        .cloned()
        .unwrap_or_else(|| panic!("stat {name} has no {field}"))
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The broker's descriptor count once `client` is its only connection (the probe that
/// `Broker::start` made may still be closing).
fn baseline(broker: &Broker, client: &xproc::Client) -> usize {
    eventually("the start-up probe to be gone", || {
        client.clients().unwrap().len() == 1
    });
    fd_count(broker.pid())
}

#[test]
fn ping_pong_between_two_processes_runs_direct() {
    let broker = Broker::start();
    let echo = broker.worker(PIPE, &["echo", "pp", "b"]);
    let ping = broker.worker(PIPE, &["ping-report", "pp", "a", "2000"]);
    let out: serde_json::Value = ping.finish_json();
    assert_eq!(out, json!({ "rounds": 2000, "direct": true }));
    let out: serde_json::Value = echo.finish_json();
    assert_eq!(out, json!({ "echoed": 2000 }));
}

#[test]
fn backlog_sent_before_the_reader_opened_comes_first_and_in_order() {
    let broker = Broker::start();
    let client = broker.client();
    let a = client.pipe::<i64>("feed", End::A).unwrap();
    for i in 0..50 {
        a.send(&i).unwrap();
    }
    assert_eq!(stat(&client, "feed", "b_inbox"), InfoValue::Int(50));
    assert_eq!(stat(&client, "feed", "direct"), InfoValue::Bool(false));
    let reader = broker.worker(PIPE, &["recv-report", "feed", "b"]);
    // The broker hands the backlog over in the socketpair when the reader opens: the pipe
    // goes direct, and what follows travels on the socket, after the backlog.
    eventually("the pipe to go direct", || {
        stat(&client, "feed", "direct") == InfoValue::Bool(true)
    });
    for i in 50..1000 {
        a.send(&i).unwrap();
    }
    assert!(a.raw().is_direct(), "the writer sends on the socket");
    a.close().unwrap();
    let out: serde_json::Value = reader.finish_json();
    let want: Vec<i64> = (0..1000).collect();
    assert_eq!(out, json!({ "got": want, "direct": true }));
}

#[test]
fn a_killed_direct_sender_is_end_of_file_after_its_messages() {
    let broker = Broker::start();
    let client = broker.client();
    let b = client.pipe::<i64>("wire", End::B).unwrap();
    let mut sender = broker.worker(PIPE, &["send", "wire", "a", "5", "hang"]);
    let mut got = Vec::new();
    while got.len() < 5 {
        got.push(b.recv_timeout(Duration::from_secs(30)).unwrap());
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert!(b.raw().is_direct());
    sender.kill();
    assert!(matches!(b.recv(), Err(Error::Closed(_))));
    assert!(b.poll(Duration::ZERO).unwrap(), "end of file is ready");
    assert!(matches!(b.send(&1), Err(Error::Closed(_))));
    eventually("the broker to see the pipe finished", || {
        stat(&client, "wire", "finished") == InfoValue::Bool(true)
    });
}

#[test]
fn poll_stat_and_one_holder_per_end_on_a_direct_pipe() {
    let broker = Broker::start();
    let (c1, c2, c3) = (broker.client(), broker.client(), broker.client());
    let a = c1.pipe::<String>("p", End::A).unwrap();
    let b = c2.pipe::<String>("p", End::B).unwrap();
    // Both ends are held: the first op of each end takes its socket.
    assert!(!b.poll(Duration::ZERO).unwrap());
    assert!(b.raw().is_direct());
    assert!(!b.poll(Duration::from_millis(50)).unwrap());
    a.send(&"x".into()).unwrap();
    assert!(a.raw().is_direct());
    assert!(b.poll(Duration::from_secs(5)).unwrap());
    assert_eq!(b.try_recv().unwrap(), "x");
    assert!(matches!(b.try_recv(), Err(Error::Empty)));
    assert!(matches!(
        b.recv_timeout(Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    // The broker still records the holders, and says the pipe runs direct.
    let me = std::process::id() as i64;
    assert_eq!(stat(&c3, "p", "direct"), InfoValue::Bool(true));
    assert_eq!(stat(&c3, "p", "a_holder_pid"), InfoValue::Int(me));
    assert_eq!(stat(&c3, "p", "b_holder_pid"), InfoValue::Int(me));
    match c3.pipe::<String>("p", End::A) {
        Err(Error::Busy(m)) => assert!(m.contains(&me.to_string()), "{m}"),
        other => panic!("{other:?}"),
    }
    // Duplex: b answers on the same socket.
    b.send(&"y".into()).unwrap();
    assert_eq!(a.recv().unwrap(), "y");
    b.close().unwrap();
    assert!(matches!(a.recv(), Err(Error::Closed(_))));
    assert!(matches!(a.send(&"z".into()), Err(Error::Closed(_))));
    a.close().unwrap();
    // Both released: the name is free, and a fresh pipe starts brokered again.
    let a = c1.pipe::<String>("p", End::A).unwrap();
    assert_eq!(stat(&c3, "p", "direct"), InfoValue::Bool(false));
    drop(a);
}

#[test]
fn the_inbox_of_a_direct_pipe_is_bounded_and_one_way_is_enforced() {
    let broker = Broker::start();
    let (c1, c2) = (broker.client(), broker.client());
    let opts = PipeOptions {
        duplex: Some(false),
        capacity: None,
    };
    let a = c1.pipe_with::<i64>("oneway", End::A, opts).unwrap();
    let b = c2.pipe_with::<i64>("oneway", End::B, opts).unwrap();
    assert!(!b.poll(Duration::ZERO).unwrap());
    let mut sent = 0i64;
    loop {
        match a.try_send(&sent) {
            Ok(()) => sent += 1,
            Err(Error::Full) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 1_000_000, "a direct inbox without bound");
    }
    assert!(a.raw().is_direct());
    // Bounded in messages, as through the broker: the default capacity, not the socket's
    // buffer.
    assert_eq!(sent, 1024);
    assert!(matches!(
        a.send_timeout(&sent, Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert!(matches!(b.send(&9), Err(Error::InvalidArgument(_))));
    assert!(matches!(a.recv(), Err(Error::InvalidArgument(_))));
    for i in 0..sent {
        assert_eq!(b.recv().unwrap(), i);
    }
    assert!(matches!(b.try_recv(), Err(Error::Empty)));
}

/// A client written from the spec without descriptor passing: `hello` without `caps`.
struct Plain(UnixStream, u64);

impl Plain {
    fn connect(broker: &Broker) -> Plain {
        let mut p = Plain(UnixStream::connect(broker.socket()).unwrap(), 0);
        let r = p.call(RequestFields {
            version: Some(1),
            ..RequestFields::new(0, "hello")
        });
        assert!(ReplyFields::decode(&r).unwrap().error.is_none());
        p
    }

    fn call(&mut self, mut req: RequestFields<'_>) -> Vec<u8> {
        self.1 += 1;
        req.id = self.1;
        let mut out = Vec::new();
        req.encode_into(&mut out);
        self.0.write_all(&out).unwrap();
        let mut h = [0u8; HEADER_LEN];
        self.0.read_exact(&mut h).unwrap();
        let mut p = vec![0u8; u32::from_be_bytes(h) as usize];
        self.0.read_exact(&mut p).unwrap();
        p
    }

    fn pipe(op: &'static str, end: &'static str) -> RequestFields<'static> {
        RequestFields {
            name: Some("mixed".into()),
            end: Some(end),
            ..RequestFields::new(0, op)
        }
    }
}

#[test]
fn a_peer_without_descriptor_passing_keeps_the_pipe_brokered_and_interoperates() {
    let broker = Broker::start();
    let client = broker.client();
    let base = baseline(&broker, &client);
    let mut plain = Plain::connect(&broker);
    let r = plain.call(RequestFields {
        kind: Some("pipe"),
        ..Plain::pipe("open", "b")
    });
    assert!(ReplyFields::decode(&r).unwrap().error.is_none());
    let a = client
        .raw_pipe("mixed", End::A, Default::default())
        .unwrap();
    for i in 0u8..20 {
        a.send(&[i], None).unwrap();
        let r = plain.call(RequestFields {
            timeout_ms: Some(5000),
            ..Plain::pipe("pipe.recv", "b")
        });
        let r = ReplyFields::decode(&r).unwrap();
        assert_eq!(r.direct, None);
        assert_eq!(r.value.map(|v| v.to_vec()), Some(vec![i]));
        let v = [i + 100];
        let r = plain.call(RequestFields {
            value: Some(serde_bytes::Bytes::new(&v)),
            ..Plain::pipe("pipe.send", "b")
        });
        assert!(ReplyFields::decode(&r).unwrap().error.is_none());
        assert_eq!(a.recv(Some(Duration::from_secs(5))).unwrap(), vec![i + 100]);
    }
    assert!(!a.is_direct());
    assert_eq!(stat(&client, "mixed", "direct"), InfoValue::Bool(false));
    drop(a);
    drop(plain);
    eventually("the broker's descriptors back to where they were", || {
        fd_count(broker.pid()) == base
    });
}

#[test]
fn the_brokers_descriptors_return_to_baseline_after_direct_pipes() {
    let broker = Broker::start();
    let client = broker.client();
    let base = baseline(&broker, &client);
    for round in 0..5 {
        let name = format!("d{round}");
        let echo = broker.worker(PIPE, &["echo", &name, "b"]);
        let ping = broker.worker(PIPE, &["ping-report", &name, "a", "50"]);
        let out: serde_json::Value = ping.finish_json();
        assert_eq!(out, json!({ "rounds": 50, "direct": true }));
        let _: serde_json::Value = echo.finish_json();
    }
    // A direct pipe whose reader never takes its socket: the broker holds that side until
    // the end is released, then closes it.
    let a = client.pipe::<i64>("held", End::A).unwrap();
    let c2 = broker.client();
    let b = c2.pipe::<i64>("held", End::B).unwrap();
    a.send(&1).unwrap();
    assert!(a.raw().is_direct());
    drop(b);
    assert!(matches!(a.send(&2), Err(Error::Closed(_))));
    drop(a);
    drop(c2);
    eventually("the broker's descriptors back to where they were", || {
        fd_count(broker.pid()) == base
    });
}

#[test]
fn a_holder_killed_before_taking_its_socket_is_end_of_file_too() {
    let broker = Broker::start();
    let client = broker.client();
    let b = client.pipe::<i64>("idle", End::B).unwrap();
    // The worker claims end a and sends nothing: it never asks for its socket, so the broker
    // holds it.
    let mut holder = broker.worker(PIPE, &["send", "idle", "a", "0", "hang"]);
    let pid = holder.pid() as i64;
    eventually("the worker to hold end a", || {
        stat(&client, "idle", "a_holder_pid") == InfoValue::Int(pid)
    });
    assert!(!b.poll(Duration::ZERO).unwrap());
    assert!(b.raw().is_direct(), "b took its socket");
    holder.kill();
    // The broker released the dead holder's end and closed the socket it held for it.
    assert!(matches!(
        b.recv_timeout(Duration::from_secs(30)),
        Err(Error::Closed(_))
    ));
}

/// `Client::wait` over a pipe end that runs direct (and over one that is about to: the broker
/// switched the pipe, this end has not taken its socket yet) reports it ready exactly when a
/// message is there, beside a brokered queue; the broker alone cannot see the socket.
#[test]
fn wait_sees_a_direct_pipe_end_and_times_out_without_a_message() {
    let broker = Broker::start();
    let (c1, c2) = (broker.client(), broker.client());
    let a = c1.pipe::<i64>("w", End::A).unwrap();
    let b = c2.pipe::<i64>("w", End::B).unwrap();
    let q = c2.queue::<i64>("wq").unwrap();
    // The writer's first op switches the pipe; b has not taken its socket when it waits.
    a.send(&1).unwrap();
    assert!(a.raw().is_direct());
    assert!(!b.raw().is_direct());
    let ready = c2.wait(&[&q, &b], Some(Duration::from_secs(5))).unwrap();
    assert_eq!(ready, vec![1], "the message on the socket makes b ready");
    assert!(b.raw().is_direct());
    assert_eq!(b.recv().unwrap(), 1);
    // Nothing there: the wait runs its time out, with no false readiness.
    assert_eq!(
        c2.wait(&[&q, &b], Some(Duration::from_millis(60))).unwrap(),
        Vec::<usize>::new()
    );
    // A message sent while the wait blocks wakes it; so does an item on the queue.
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        a.send(&2).unwrap();
        a
    });
    assert_eq!(
        c2.wait(&[&q, &b], Some(Duration::from_secs(5))).unwrap(),
        vec![1]
    );
    let a = sender.join().unwrap();
    assert_eq!(b.recv().unwrap(), 2);
    c1.queue::<i64>("wq").unwrap().put(&3).unwrap();
    assert_eq!(
        c2.wait(&[&q, &b], Some(Duration::from_secs(5))).unwrap(),
        vec![0]
    );
    drop(a);
}

/// `capacity` is exact on a direct pipe: 4 sends go, the 5th is `Full` (and times out when
/// it waits), one receive makes room for one send, a blocking send waits until the reader
/// takes one; `stat` counts the messages in flight from the counters page.
#[test]
fn capacity_is_exact_on_a_direct_pipe_and_stat_counts_its_inbox() {
    let broker = Broker::start();
    let (c1, c2, c3) = (broker.client(), broker.client(), broker.client());
    let opts = PipeOptions {
        duplex: None,
        capacity: Some(4),
    };
    let a = c1.pipe_with::<i64>("cap", End::A, opts).unwrap();
    let b = c2.pipe_with::<i64>("cap", End::B, opts).unwrap();
    for i in 0..4 {
        a.try_send(&i).unwrap();
    }
    assert!(a.raw().is_direct());
    assert_eq!(stat(&c3, "cap", "direct"), InfoValue::Bool(true));
    assert!(matches!(a.try_send(&4), Err(Error::Full)), "the 5th send");
    assert!(matches!(
        a.send_timeout(&4, Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert_eq!(stat(&c3, "cap", "b_inbox"), InfoValue::Int(4));
    assert_eq!(stat(&c3, "cap", "a_inbox"), InfoValue::Int(0));
    assert_eq!(b.recv().unwrap(), 0);
    assert!(b.raw().is_direct());
    assert_eq!(stat(&c3, "cap", "b_inbox"), InfoValue::Int(3));
    a.try_send(&4).unwrap();
    assert!(matches!(a.try_send(&5), Err(Error::Full)));
    // A blocking send waits for the reader.
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = done.clone();
        std::thread::spawn(move || {
            // Bounded, so a lost wake-up fails the test instead of hanging it.
            a.send_timeout(&5, Duration::from_secs(30)).unwrap();
            done.store(true, Ordering::SeqCst);
            a
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !done.load(Ordering::SeqCst),
        "a send into a full inbox returned"
    );
    assert_eq!(stat(&c3, "cap", "b_inbox"), InfoValue::Int(4));
    assert_eq!(b.recv().unwrap(), 1);
    let a = sender.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    assert_eq!(stat(&c3, "cap", "b_inbox"), InfoValue::Int(4));
    for want in 2..=5 {
        assert_eq!(b.recv().unwrap(), want);
    }
    assert_eq!(stat(&c3, "cap", "b_inbox"), InfoValue::Int(0));
    // Duplex: b's sends are bounded the same way, counted in a_inbox.
    for i in 0..4 {
        b.try_send(&i).unwrap();
    }
    assert!(matches!(b.try_send(&4), Err(Error::Full)));
    assert_eq!(stat(&c3, "cap", "a_inbox"), InfoValue::Int(4));
    a.close().unwrap();
    // The closed end's unread messages do not matter; b sees end of file.
    assert!(matches!(b.recv(), Err(Error::Closed(_))));
}

/// A writer (another process) bursts past `capacity` before the reader opens: it blocks in
/// the broker; once the reader takes one, the broker hands the backlog over in the socketpair
/// and the pipe runs direct; the reader gets every message once, in order, then end of file.
#[test]
fn a_burst_past_capacity_before_the_reader_opens_comes_in_order_and_then_runs_direct() {
    let broker = Broker::start();
    let client = broker.client();
    let writer = broker.worker(PIPE, &["send-report", "burst", "a", "300", "8"]);
    eventually("the writer to fill the inbox and block", || {
        client
            .stat("burst")
            .is_ok_and(|s| s.info.get("b_inbox") == Some(&InfoValue::Int(8)))
            && stat(&client, "burst", "waiters") == InfoValue::Int(1)
    });
    let b = client.pipe::<i64>("burst", End::B).unwrap();
    let mut got = Vec::new();
    loop {
        match b.recv_timeout(Duration::from_secs(30)) {
            Ok(v) => got.push(v),
            Err(Error::Closed(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, (0..300).collect::<Vec<i64>>());
    assert!(b.raw().is_direct(), "the reader ran direct");
    let out: serde_json::Value = writer.finish_json();
    assert_eq!(out, json!({ "sent": 300, "direct": true }));
}

/// A holder that opted out (`XPROC_NO_DIRECT_PIPES`) keeps the pipe brokered; a direct-capable
/// peer works with it through the broker, with the same capacity and order.
#[test]
fn an_opted_out_holder_keeps_the_pipe_brokered_and_interoperates() {
    let broker = Broker::start();
    let client = broker.client();
    let opts = PipeOptions {
        duplex: None,
        capacity: Some(4),
    };
    let a = client.pipe_with::<i64>("opt", End::A, opts).unwrap();
    let reader = broker.worker_env(
        PIPE,
        &["recv-report", "opt", "b"],
        &[(xproc::NO_DIRECT_PIPES_ENV, "1")],
    );
    for i in 0..200 {
        a.send(&i).unwrap();
    }
    assert!(!a.raw().is_direct());
    assert_eq!(stat(&client, "opt", "direct"), InfoValue::Bool(false));
    a.close().unwrap();
    let out: serde_json::Value = reader.finish_json();
    let want: Vec<i64> = (0..200).collect();
    assert_eq!(out, json!({ "got": want, "direct": false }));
}

/// The switch happens when the reader opens, backlog and all: the messages sent before are
/// written into the socketpair by the broker, counted as sent by the writer (so `stat` still
/// shows them in b's inbox), and received first, in order, on the socket.
#[test]
fn the_backlog_is_handed_over_in_the_socketpair_when_the_reader_opens() {
    let broker = Broker::start();
    let (c1, c2, c3) = (broker.client(), broker.client(), broker.client());
    let a = c1.pipe::<i64>("handover", End::A).unwrap();
    for i in 0..50 {
        a.send(&i).unwrap();
    }
    assert_eq!(stat(&c3, "handover", "direct"), InfoValue::Bool(false));
    let b = c2.pipe::<i64>("handover", End::B).unwrap();
    assert_eq!(stat(&c3, "handover", "direct"), InfoValue::Bool(true));
    assert_eq!(stat(&c3, "handover", "b_inbox"), InfoValue::Int(50));
    assert_eq!(stat(&c3, "handover", "bytes"), InfoValue::Int(0));
    a.send(&50).unwrap();
    assert!(a.raw().is_direct());
    for i in 0..=50 {
        assert_eq!(b.recv().unwrap(), i);
    }
    assert!(b.raw().is_direct());
    assert_eq!(stat(&c3, "handover", "b_inbox"), InfoValue::Int(0));
}
