//! `queue.get_any` and `wait` (docs/PROTOCOL.md §6.9) against a real broker, in raw frames.

mod common;
use common::*;

fn get_any_req<'a>(names: &[&'a str], timeout_ms: Option<u64>) -> RequestFields<'a> {
    RequestFields {
        names: Some(names.to_vec()),
        timeout_ms,
        ..RequestFields::new(0, "queue.get_any")
    }
}

fn wait_req<'a>(names: &[&'a str], ends: &[&'a str], timeout_ms: Option<u64>) -> RequestFields<'a> {
    RequestFields {
        names: Some(names.to_vec()),
        ends: (!ends.is_empty()).then(|| ends.to_vec()),
        timeout_ms,
        ..RequestFields::new(0, "wait")
    }
}

fn indices(r: &Reply) -> Vec<u64> {
    r.get("indices")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no indices in {r:?}"))
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

fn qsize(c: &mut Client, name: &str) -> u64 {
    c.op("queue.qsize", name).ok().u64("len")
}

fn getters(c: &mut Client, name: &str) -> u64 {
    c.op("stat", name).ok().info("getters").as_u64().unwrap()
}

#[test]
fn get_any_takes_from_the_first_queue_that_has_an_item() {
    let b = Broker::start();
    let mut c = b.client();
    for q in ["a", "b", "c"] {
        c.open(q, "queue").ok();
    }
    c.put("b", &enc("b1"), None).ok();
    c.put("c", &enc("c1"), None).ok();
    let r = c.call(get_any_req(&["a", "b", "c"], Some(0))).ok();
    assert_eq!((r.u64("index"), r.value("value")), (1, Value::from("b1")));
    c.put("a", &enc("a1"), None).ok();
    let r = c.call(get_any_req(&["a", "b", "c"], None)).ok();
    assert_eq!((r.u64("index"), r.value("value")), (0, Value::from("a1")));
    let r = c.call(get_any_req(&["a", "b", "c"], None)).ok();
    assert_eq!((r.u64("index"), r.value("value")), (2, Value::from("c1")));
    let m = c.call(get_any_req(&["a", "b", "c"], Some(0))).err("Empty");
    assert!(m.contains("'a', 'b', 'c'"), "{m}");
    let m = c.call(get_any_req(&["a", "b"], Some(30))).err("Timeout");
    assert!(m.contains("30 ms"), "{m}");
}

#[test]
fn a_blocked_get_any_takes_exactly_one_item_and_leaves_no_registration() {
    let b = Broker::start();
    let mut w = b.client();
    let mut p = b.client();
    w.open("a", "queue").ok();
    w.open("b", "queue").ok();
    let id = w.send(get_any_req(&["a", "b"], None));
    w.op("ping", "x").ok();
    assert_eq!((getters(&mut p, "a"), getters(&mut p, "b")), (1, 1));
    p.put("b", &enc(7), None).ok();
    let r = w.recv().ok();
    assert_eq!(
        (r.id(), r.u64("index"), r.value("value")),
        (id, 1, Value::from(7))
    );
    assert_eq!((getters(&mut p, "a"), getters(&mut p, "b")), (0, 0));
    p.put("a", &enc(8), None).ok();
    w.expect_silence(50);
    assert_eq!(qsize(&mut p, "a"), 1);
}

#[test]
fn get_any_waits_in_each_queues_fifo_with_plain_getters() {
    let b = Broker::start();
    let mut first = b.client();
    let mut any = b.client();
    let mut third = b.client();
    let mut p = b.client();
    p.open("a", "queue").ok();
    p.open("b", "queue").ok();
    first.send_get("a", None);
    first.op("ping", "x").ok();
    any.send(get_any_req(&["b", "a"], None));
    any.op("ping", "x").ok();
    third.send_get("a", None);
    third.op("ping", "x").ok();
    for v in ["x", "y", "z"] {
        p.put("a", &enc(v), None).ok();
    }
    assert_eq!(first.recv().ok().value("value"), Value::from("x"));
    let r = any.recv().ok();
    assert_eq!((r.u64("index"), r.value("value")), (1, Value::from("y")));
    assert_eq!(third.recv().ok().value("value"), Value::from("z"));
}

#[test]
fn two_queues_refilled_at_once_by_a_dying_consumer_give_a_get_any_one_item() {
    // A consumer holding leases on both queues dies: both items come back in one broker
    // operation. The waiting get_any takes exactly one; the other stays in its queue.
    let b = Broker::start();
    let mut dying = b.client();
    let mut w = b.client();
    dying.open("a", "queue").ok();
    dying.open("b", "queue").ok();
    dying.put("a", &enc("a1"), None).ok();
    dying.put("b", &enc("b1"), None).ok();
    dying.get_leased("a", None, Some(60_000)).ok();
    dying.get_leased("b", None, Some(60_000)).ok();
    let id = w.send(get_any_req(&["a", "b"], None));
    w.op("ping", "x").ok();
    drop(dying);
    let r = w.recv().ok();
    assert_eq!(r.id(), id);
    let took = r.u64("index");
    w.expect_silence(50);
    let (qa, qb) = (qsize(&mut w, "a"), qsize(&mut w, "b"));
    assert_eq!(qa + qb, 1, "exactly one item left, got a={qa} b={qb}");
    assert_eq!(if took == 0 { qb } else { qa }, 1);
    assert_eq!((getters(&mut w, "a"), getters(&mut w, "b")), (0, 0));
}

#[test]
fn a_dead_producers_blocked_put_never_reaches_a_get_any() {
    let b = Broker::start();
    let mut producer = b.client();
    let mut c = b.client();
    producer
        .open_with("a", "queue", |r| r.maxsize = Some(1))
        .ok();
    producer.open("b", "queue").ok();
    producer.put("a", &enc(1), None).ok();
    producer.send(RequestFields {
        value: Some(Bytes::new(&enc(2))),
        ..Client::req("queue.put", "a")
    });
    producer.op("ping", "x").ok();
    drop(producer);
    c.op("ping", "x").ok();
    let r = c.call(get_any_req(&["a", "b"], None)).ok();
    assert_eq!(r.value("value"), Value::from(1));
    c.call(get_any_req(&["a", "b"], Some(50))).err("Timeout");
}

#[test]
fn cancel_and_disconnect_take_nothing() {
    let b = Broker::start();
    let mut w = b.client();
    let mut p = b.client();
    w.open("a", "queue").ok();
    w.open("b", "queue").ok();
    let id = w.send(get_any_req(&["a", "b"], None));
    let cancel = w.send(RequestFields {
        target: Some(id),
        ..RequestFields::new(0, "cancel")
    });
    let r = w.recv();
    assert_eq!(r.id(), id);
    r.err("Timeout");
    let r = w.recv().ok();
    assert_eq!((r.id(), r.bool("cancelled")), (cancel, true));
    w.send(get_any_req(&["a", "b"], None));
    w.op("ping", "x").ok();
    drop(w);
    p.op("ping", "x").ok();
    p.put("a", &enc(1), None).ok();
    p.put("b", &enc(2), None).ok();
    assert_eq!((qsize(&mut p, "a"), qsize(&mut p, "b")), (1, 1));
    assert_eq!((getters(&mut p, "a"), getters(&mut p, "b")), (0, 0));
}

#[test]
fn bad_sets_are_refused_before_anything_happens() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("a", "queue").ok();
    c.open("d", "dict").ok();
    c.put("a", &enc(1), None).ok();
    let m = c.call(get_any_req(&["a", "nope"], None)).err("NotFound");
    assert!(m.contains("nope"), "{m}");
    let m = c.call(get_any_req(&["a", "d"], None)).err("TypeMismatch");
    assert!(m.contains("'d' is a dict"), "{m}");
    let m = c
        .call(get_any_req(&["a", "a"], None))
        .err("InvalidArgument");
    assert!(m.contains("names[1] repeats names[0]"), "{m}");
    c.call(get_any_req(&[], None)).err("InvalidArgument");
    let m = c.call(get_any_req(&["a", ""], None)).err("InvalidName");
    assert!(m.contains("names[1]"), "{m}");
    // Nothing was taken by any of them.
    assert_eq!(qsize(&mut c, "a"), 1);
    let m = c.call(wait_req(&["d"], &[], None)).err("TypeMismatch");
    assert!(m.contains("names[0] 'd' is a dict"), "{m}");
    let m = c
        .call(wait_req(&["a"], &["a", "b"], None))
        .err("InvalidArgument");
    assert!(m.contains("ends holds 2"), "{m}");
    let m = c
        .call(wait_req(&["a"], &["a"], None))
        .err("InvalidArgument");
    assert!(m.contains("not a pipe"), "{m}");
}

#[test]
fn a_queue_deleted_under_a_blocked_wait_answers_not_found() {
    let b = Broker::start();
    let mut w = b.client();
    let mut admin = b.client();
    for q in ["a", "b"] {
        w.open(q, "queue").ok();
    }
    w.open("e", "event").ok();
    let any = w.send(get_any_req(&["a", "b"], None));
    w.op("ping", "x").ok();
    assert!(admin.op("delete", "b").ok().bool("deleted"));
    let r = w.recv();
    assert_eq!(r.id(), any);
    let m = r.err("NotFound");
    assert!(m.contains("names[1] 'b'"), "{m}");
    assert_eq!(getters(&mut admin, "a"), 0);
    let rw = w.send(wait_req(&["a", "e"], &[], None));
    w.op("ping", "x").ok();
    admin.op("delete", "e").ok();
    let r = w.recv();
    assert_eq!(r.id(), rw);
    assert!(r.err("NotFound").contains("names[1] 'e'"));
}

#[test]
fn ten_thousand_queues_in_one_wait_and_a_named_limit_above_16384() {
    let b = Broker::start();
    let mut c = b.client();
    let names: Vec<String> = (0..10_000).map(|i| format!("q{i}")).collect();
    for n in &names {
        c.send(RequestFields {
            name: Some(n.as_str().into()),
            kind: Some("queue"),
            ..RequestFields::new(0, "open")
        });
    }
    for _ in &names {
        c.recv().ok();
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut p = b.client();
    let id = c.send(get_any_req(&refs, None));
    let wid = {
        c.op("ping", "x").ok();
        p.put("q9999", &enc("last"), None).ok();
        let r = c.recv().ok();
        assert_eq!((r.id(), r.u64("index")), (id, 9999));
        c.send(wait_req(&refs, &[], Some(10_000)))
    };
    c.op("ping", "x").ok();
    p.put("q5000", &enc("mid"), None).ok();
    let r = c.recv().ok();
    assert_eq!((r.id(), indices(&r)), (wid, vec![5000]));
    assert_eq!(getters(&mut p, "q0"), 0);
    let many: Vec<String> = (0..16_385).map(|i| format!("x{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let m = c.call(get_any_req(&refs, None)).err("LimitExceeded");
    assert!(m.contains("max_wait_objects is 16384"), "{m}");
}

#[test]
fn wait_reports_every_ready_object_and_takes_nothing() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.open("e", "event").ok();
    c.open("l", "lock").ok();
    c.open_with("s", "semaphore", |r| r.initial = Some(0)).ok();
    c.open_with("p", "pipe", |r| r.end = Some("a")).ok();
    let mut other = b.client();
    other.open_with("p", "pipe", |r| r.end = Some("b")).ok();
    let all = ["q", "e", "l", "s", "p"];
    let ends = ["", "", "", "", "a"];
    // A free lock is ready; nothing else is.
    let r = c.call(wait_req(&all, &ends, Some(0))).ok();
    assert_eq!(indices(&r), vec![2]);
    c.with_timeout("lock.acquire", "l", None).ok();
    let r = c.call(wait_req(&all, &ends, Some(0))).ok();
    assert_eq!(indices(&r), Vec::<u64>::new());
    c.call(wait_req(&all, &ends, Some(30))).ok();
    c.put("q", &enc(1), None).ok();
    c.op("event.set", "e").ok();
    c.op("semaphore.release", "s").ok();
    other
        .call(RequestFields {
            end: Some("b"),
            value: Some(Bytes::new(&enc("m"))),
            ..Client::req("pipe.send", "p")
        })
        .ok();
    let r = c.call(wait_req(&all, &ends, None)).ok();
    assert_eq!(indices(&r), vec![0, 1, 3, 4]);
    // It took nothing.
    assert_eq!(qsize(&mut c, "q"), 1);
    assert_eq!(c.op("stat", "s").ok().info("value").as_u64(), Some(1));
    let m = c.call(wait_req(&["p"], &["b"], Some(0))).err("NotOwner");
    assert!(m.contains("end b"), "{m}");
    c.call(wait_req(&["p"], &[], Some(0)))
        .err("InvalidArgument");
}

#[test]
fn a_blocked_wait_wakes_on_set_release_close_and_holder_death() {
    let b = Broker::start();
    let mut w = b.client();
    let mut other = b.client();
    w.open("e", "event").ok();
    w.open("l", "lock").ok();
    w.open_with("p", "pipe", |r| r.end = Some("a")).ok();
    other.open_with("p", "pipe", |r| r.end = Some("b")).ok();
    other.with_timeout("lock.acquire", "l", None).ok();
    let all = ["e", "l", "p"];
    let ends = ["", "", "a"];

    let id = w.send(wait_req(&all, &ends, None));
    w.expect_silence(30);
    other.op("event.set", "e").ok();
    let r = w.recv().ok();
    assert_eq!((r.id(), indices(&r)), (id, vec![0]));
    other.op("event.clear", "e").ok();

    let id = w.send(wait_req(&all, &ends, None));
    w.expect_silence(30);
    other
        .call(RequestFields {
            end: Some("b"),
            ..Client::req("pipe.close", "p")
        })
        .ok();
    let r = w.recv().ok();
    assert_eq!((r.id(), indices(&r)), (id, vec![2]), "end of file is ready");

    let id = w.send(wait_req(&["e", "l"], &[], None));
    w.expect_silence(30);
    drop(other); // its lock is released
    let r = w.recv().ok();
    assert_eq!((r.id(), indices(&r)), (id, vec![1]));

    // A timed-out wait answers an empty list; cancel does the same.
    w.with_timeout("lock.acquire", "l", None).ok();
    let mut third = b.client();
    third.open("e", "event").ok();
    let id = w.send(wait_req(&["e"], &[], None));
    let cancel = w.send(RequestFields {
        target: Some(id),
        ..RequestFields::new(0, "cancel")
    });
    let r = w.recv().ok();
    assert_eq!((r.id(), indices(&r)), (id, vec![]));
    assert_eq!(w.recv().ok().id(), cancel);
    let r = w.call(wait_req(&["e"], &[], Some(20))).ok();
    assert_eq!(indices(&r), Vec::<u64>::new());
}

#[test]
fn unget_puts_a_value_back_at_the_head_past_maxsize_or_to_a_waiting_getter() {
    let b = Broker::start();
    let mut c = b.client();
    let mut w = b.client();
    c.open_with("q", "queue", |r| r.maxsize = Some(1)).ok();
    c.put("q", &enc(1), None).ok();
    let unget = |c: &mut Client, v: i64| {
        c.call(RequestFields {
            value: Some(Bytes::new(&enc(v))),
            ..Client::req("queue.unget", "q")
        })
    };
    unget(&mut c, 0).ok();
    assert_eq!(qsize(&mut c, "q"), 2, "past maxsize");
    assert_eq!(c.get("q", None).ok().value("value"), Value::from(0));
    assert_eq!(c.get("q", None).ok().value("value"), Value::from(1));
    let id = w.send_get("q", None);
    w.op("ping", "x").ok();
    unget(&mut c, 5).ok();
    let r = w.recv().ok();
    assert_eq!((r.id(), r.value("value")), (id, Value::from(5)));
    assert_eq!(qsize(&mut c, "q"), 0);
    unget(&mut c, 0).ok();
    let m = c
        .call(RequestFields {
            value: Some(Bytes::new(&[0xc1])),
            ..Client::req("queue.unget", "q")
        })
        .err("InvalidValue");
    assert!(!m.is_empty());
    c.open("d", "dict").ok();
    c.call(RequestFields {
        value: Some(Bytes::new(&enc(1))),
        ..Client::req("queue.unget", "d")
    })
    .err("TypeMismatch");
}
