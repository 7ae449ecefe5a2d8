//! Queues and joinable queues against a real broker.

mod common;
use common::*;

#[test]
fn put_get_fifo_and_qsize() {
    let b = Broker::start();
    let mut c = b.client();
    let r = c.open("q", "queue").ok();
    assert!(r.bool("created"));
    assert_eq!(r.u64("maxsize"), 0);
    assert!(!c.open("q", "queue").ok().bool("created"));
    for i in 0..5 {
        c.put("q", &enc(i), None).ok();
    }
    let r = c.op("queue.qsize", "q").ok();
    assert_eq!(
        (r.u64("len"), r.u64("maxsize"), r.u64("unfinished")),
        (5, 0, 0)
    );
    for i in 0..5 {
        assert_eq!(c.get("q", None).ok().value("value"), Value::from(i));
    }
    c.get("q", Some(0)).err("Empty");
}

#[test]
fn values_come_back_byte_for_byte() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    let values = [
        enc(Value::Nil),
        enc(true),
        enc(u64::MAX),
        enc(i64::MIN),
        enc(1.5f64),
        enc("héllo"),
        enc(Value::Binary(vec![0, 1, 2, 255])),
        enc(Value::Array(vec![1.into(), "x".into()])),
        enc(Value::Map(vec![(1.into(), Value::Nil)])),
        vec![0xd6, 0xff, 0, 0, 0, 1], // timestamp 32
        vec![0xc7, 3, 42, 1, 2, 3],   // opaque extension
    ];
    for v in &values {
        c.put("q", v, None).ok();
    }
    for v in &values {
        let r = c.get("q", None).ok();
        assert_eq!(r.get("value").unwrap().as_slice().unwrap(), &v[..]);
    }
}

#[test]
fn get_timeouts() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    assert!(c.get("q", Some(0)).err("Empty").contains("empty"));
    let m = c.get("q", Some(30)).err("Timeout");
    assert!(m.contains("30 ms"), "{m}");
}

#[test]
fn blocking_get_is_woken_by_a_put_from_another_connection() {
    let b = Broker::start();
    let mut getter = b.client();
    let mut putter = b.client();
    getter.open("q", "queue").ok();
    let id = getter.send_get("q", None);
    getter.op("ping", "x").ok(); // the get is now blocked
    putter.put("q", &enc("hi"), None).ok();
    let r = getter.recv().ok();
    assert_eq!(r.id(), id);
    assert_eq!(r.value("value"), Value::from("hi"));
    assert_eq!(putter.op("queue.qsize", "q").ok().u64("len"), 0);
}

#[test]
fn full_queue_blocks_put_until_a_get() {
    let b = Broker::start();
    let mut p = b.client();
    let mut g = b.client();
    let r = p.open_with("q", "queue", |r| r.maxsize = Some(2)).ok();
    assert_eq!(r.u64("maxsize"), 2);
    p.put("q", &enc(1), None).ok();
    p.put("q", &enc(2), None).ok();
    assert!(p
        .put("q", &enc(3), Some(0))
        .err("Full")
        .contains("maxsize 2"));
    p.put("q", &enc(3), Some(20)).err("Timeout");
    let id = p.send(RequestFields {
        value: Some(Bytes::new(&enc(3))),
        ..Client::req("queue.put", "q")
    });
    p.op("ping", "x").ok();
    assert_eq!(g.get("q", None).ok().value("value"), Value::from(1));
    assert_eq!(p.recv().ok().id(), id);
    assert_eq!(g.get("q", None).ok().value("value"), Value::from(2));
    assert_eq!(g.get("q", None).ok().value("value"), Value::from(3));
    assert_eq!(g.op("queue.qsize", "q").ok().u64("len"), 0);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let b = Broker::start();
    let mut getters: Vec<Client> = (0..3).map(|_| b.client()).collect();
    let mut p = b.client();
    p.open("q", "queue").ok();
    for g in getters.iter_mut() {
        g.send_get("q", None);
        g.op("ping", "x").ok();
    }
    for i in 0..3 {
        p.put("q", &enc(i), None).ok();
    }
    for (i, g) in getters.iter_mut().enumerate() {
        assert_eq!(g.recv().ok().value("value"), Value::from(i as u64));
    }
}

#[test]
fn pipelined_requests_with_an_out_of_order_reply() {
    let b = Broker::start();
    let mut c = b.client();
    let mut p = b.client();
    c.open("q", "queue").ok();
    // One write: a blocking get, then puts to another queue, then qsize.
    let mut bytes = Vec::new();
    let mut ids = Vec::new();
    for (i, req) in [
        RequestFields {
            ..Client::req("queue.get", "q")
        },
        RequestFields {
            kind: Some("queue"),
            ..Client::req("open", "r")
        },
        RequestFields {
            value: Some(Bytes::new(&[0x07])),
            ..Client::req("queue.put", "r")
        },
        Client::req("queue.qsize", "r"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = req;
        req.id = 100 + i as u64;
        ids.push(req.id);
        req.encode_into(&mut bytes);
    }
    c.send_raw(&bytes);
    assert_eq!(c.recv().ok().id(), 101);
    assert_eq!(c.recv().ok().id(), 102);
    let r = c.recv().ok();
    assert_eq!((r.id(), r.u64("len")), (103, 1));
    p.put("q", &enc("late"), None).ok();
    let r = c.recv().ok();
    assert_eq!(r.id(), 100);
    assert_eq!(r.value("value"), Value::from("late"));
}

#[test]
fn join_and_task_done() {
    let b = Broker::start();
    let mut w = b.client();
    let mut j = b.client();
    w.open("plain", "queue").ok();
    w.op("queue.task_done", "plain").err("TypeMismatch");
    w.with_timeout("queue.join", "plain", Some(0))
        .err("TypeMismatch");
    w.open("jq", "joinable_queue").ok();
    w.with_timeout("queue.join", "jq", Some(0)).ok();
    w.put("jq", &enc(1), None).ok();
    w.put("jq", &enc(2), None).ok();
    assert_eq!(w.op("queue.qsize", "jq").ok().u64("unfinished"), 2);
    j.with_timeout("queue.join", "jq", Some(0)).err("Timeout");
    j.with_timeout("queue.join", "jq", Some(20)).err("Timeout");
    let id = j.send_with_timeout("queue.join", "jq", None);
    j.op("ping", "x").ok();
    w.get("jq", None).ok();
    w.op("queue.task_done", "jq").ok();
    j.expect_silence(50);
    w.get("jq", None).ok();
    w.op("queue.task_done", "jq").ok();
    assert_eq!(j.recv().ok().id(), id);
    let m = w.op("queue.task_done", "jq").err("InvalidArgument");
    assert!(m.contains("task_done"), "{m}");
}

#[test]
fn missing_and_mistyped_objects() {
    let b = Broker::start();
    let mut c = b.client();
    assert!(c
        .put("nope", &enc(1), None)
        .err("NotFound")
        .contains("nope"));
    c.open("d", "dict").ok();
    let m = c.put("d", &enc(1), None).err("TypeMismatch");
    assert!(m.contains("'d' is a dict") && m.contains("queue"), "{m}");
    let m = c.open("d", "queue").err("TypeMismatch");
    assert!(m.contains("dict") && m.contains("queue"), "{m}");
    let m = c
        .open_with("q", "queue", |r| r.maxsize = Some(3))
        .ok()
        .u64("maxsize");
    assert_eq!(m, 3);
    let m = c
        .open_with("q", "queue", |r| r.maxsize = Some(4))
        .err("OptionMismatch");
    assert!(m.contains("maxsize"), "{m}");
}

#[test]
fn memory_limit_refuses_puts() {
    // One item is charged 62 value bytes + 64 overhead = 126 bytes; two do not fit.
    let b = Broker::start_with(&["--memory-limit", "200"]);
    let mut c = b.client();
    c.open("q", "queue").ok();
    let big = enc(Value::Binary(vec![7; 60]));
    c.put("q", &big, None).ok();
    assert_eq!(c.op("stat", "q").ok().info("bytes"), Value::from(126));
    let m = c.put("q", &big, None).err("LimitExceeded");
    assert!(m.contains("memory_limit (200 bytes)"), "{m}");
    c.get("q", None).ok();
    c.put("q", &big, None).ok();
}

#[test]
fn a_flood_of_tiny_values_is_charged_its_overhead() {
    let b = Broker::start_with(&["--memory-limit", "1K"]);
    let mut c = b.client();
    c.open("q", "queue").ok();
    let one = enc(1);
    let mut n = 0u64;
    loop {
        let r = c.put("q", &one, Some(0));
        if r.error().is_some() {
            assert!(r.err("LimitExceeded").contains("memory_limit (1024 bytes)"));
            break;
        }
        n += 1;
        assert!(
            n < 1024,
            "1-byte values must not fill a 1 KiB budget a byte at a time"
        );
    }
    // 1 value byte + 64 overhead each.
    assert_eq!(n, 1024 / 65);
    assert_eq!(c.op("stat", "q").ok().info("bytes"), Value::from(n * 65));
}

#[test]
fn max_blocked_caps_blocked_requests_per_connection() {
    let b = Broker::start_with(&["--max-blocked", "3"]);
    let mut c = b.client();
    c.open("q", "queue").ok();
    for _ in 0..3 {
        c.send_get("q", None);
    }
    let m = c.get("q", None).err("LimitExceeded");
    assert!(m.contains("max_blocked (3)"), "{m}");
    // Requests that cannot block still work, and so does a non-waiting get.
    c.get("q", Some(0)).err("Empty");
    c.op("queue.qsize", "q").ok();
    // Another connection has its own allowance, and its put serves the first blocked get.
    let mut p = b.client();
    p.send_get("q", None);
    p.put("q", &enc(1), None);
    let r = c.recv();
    assert_eq!(r.value("value"), Value::from(1));
}

#[test]
fn a_disconnected_getter_takes_no_item() {
    let b = Broker::start();
    let mut g = b.client();
    let mut p = b.client();
    g.open("q", "queue").ok();
    g.send_get("q", None);
    g.op("ping", "x").ok();
    drop(g);
    // The broker notices the disconnect before it handles p's next request only if it has
    // read the EOF; wait until it no longer lists the waiter.
    let start = std::time::Instant::now();
    while p.op("stat", "q").ok().info("getters") != Value::from(0) {
        assert!(start.elapsed().as_secs() < 5);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    p.put("q", &enc(9), None).ok();
    assert_eq!(p.op("queue.qsize", "q").ok().u64("len"), 1);
    assert_eq!(p.get("q", None).ok().value("value"), Value::from(9));
}

#[test]
fn cancel_answers_a_blocked_request_as_a_timeout_and_loses_nothing() {
    let b = Broker::start();
    let mut c = b.client();
    let mut other = b.client();
    c.open("q", "queue").ok();
    let first = c.send_get("q", None);
    let second = c.send_get("q", None);
    let cancel = c.send(RequestFields {
        target: Some(first),
        ..RequestFields::new(0, "cancel")
    });
    // The target is answered first, as a timeout, then the cancel itself.
    let r = c.recv();
    assert_eq!(r.id(), first);
    r.err("Timeout");
    let r = c.recv();
    assert_eq!(r.id(), cancel);
    assert!(r.ok().bool("cancelled"));
    // A request that is no longer blocked (or never was) is not cancelled.
    let again = c.call(RequestFields {
        target: Some(first),
        ..RequestFields::new(0, "cancel")
    });
    assert!(!again.ok().bool("cancelled"));
    // The other blocked get is still in line and gets the next item; nothing is lost.
    other.put("q", &enc(7), None).ok();
    let r = c.recv();
    assert_eq!(r.id(), second);
    assert_eq!(r.ok().value("value"), Value::from(7));
    other.put("q", &enc(8), None).ok();
    assert_eq!(other.op("queue.qsize", "q").ok().u64("len"), 1);
}

#[test]
fn cancel_without_a_target_is_a_bad_request() {
    let b = Broker::start();
    let mut c = b.client();
    c.op("cancel", "x").err("BadRequest");
}
