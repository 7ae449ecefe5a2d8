//! Acknowledged delivery, raw frames against a real `xprocd`: `queue.get_leased`, `queue.ack`,
//! `queue.nack`, lease expiry, holder disconnect, dead-lettering, and what `stat` shows.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Polls `stat` of `name` until `check` holds (the broker acts on disconnects and timers
/// between requests; this waits for it without assuming how long it takes).
fn until_stat(c: &mut Client, name: &str, what: &str, check: impl Fn(&Reply) -> bool) -> Reply {
    let start = Instant::now();
    loop {
        let r = c.op("stat", name).ok();
        if check(&r) {
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waited in vain for {what}: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn info_u64(r: &Reply, field: &str) -> u64 {
    r.info(field)
        .as_u64()
        .unwrap_or_else(|| panic!("{field} in {r:?}"))
}

#[test]
fn leased_get_then_ack_and_what_stat_shows() {
    let b = Broker::start();
    let mut c = b.client();
    let r = c.open("q", "joinable_queue").ok();
    assert_eq!(r.u64("max_attempts"), 5, "the default");
    c.put("q", &enc("job"), None).ok();
    let r = c.get_leased("q", Some(0), Some(60_000)).ok();
    assert_eq!(r.value("value"), Value::from("job"));
    assert_eq!(r.u64("attempt"), 1);
    let d = r.u64("delivery");
    assert_ne!(d, 0, "delivery ids start at 1, even on a fresh broker");

    // In flight: not ready (qsize 0), still unfinished, still charged, shown with its holder.
    let q = c.op("queue.qsize", "q").ok();
    assert_eq!((q.u64("len"), q.u64("unfinished")), (0, 1));
    let s = c.op("stat", "q").ok();
    assert_eq!(info_u64(&s, "in_flight"), 1);
    assert!(info_u64(&s, "bytes") > 0);
    let rows = s.info("deliveries");
    let row = rows.as_array().unwrap()[0].as_array().unwrap().clone();
    assert_eq!(row[0].as_u64(), Some(d));
    assert_eq!(row[1].as_u64(), Some(1));
    assert!(row[2].as_u64().is_some(), "age_ms");
    assert_eq!(
        row[3].as_u64(),
        Some(std::process::id() as u64),
        "holder pid"
    );
    let clients = c.op("clients", "-").ok();
    let holds = format!("{:?}", clients.get("clients"));
    assert!(holds.contains("lease q"), "{holds}");

    c.ack("q", d).ok();
    let s = c.op("stat", "q").ok();
    assert_eq!((info_u64(&s, "in_flight"), info_u64(&s, "bytes")), (0, 0));
    assert_eq!(info_u64(&s, "acked"), 1);
    // The ack counted as task_done: join returns at once.
    c.with_timeout("queue.join", "q", Some(0)).ok();
    // A repeated ack, and an ack of an id never issued, are refused.
    let m = c.ack("q", d).err("UnknownDelivery");
    assert!(m.contains(&format!("delivery {d}")), "{m}");
    c.ack("q", 999_999).err("UnknownDelivery");
    c.ack("missing", d).err("NotFound");
}

#[test]
fn another_connections_delivery_cannot_be_acked_or_nacked() {
    let b = Broker::start();
    let mut owner = b.client();
    let mut other = b.client();
    owner.open("q", "queue").ok();
    owner.put("q", &enc(1), None).ok();
    let d = owner.get_leased("q", None, None).ok().u64("delivery");
    other.ack("q", d).err("UnknownDelivery");
    other.nack("q", d, None).err("UnknownDelivery");
    owner.ack("q", d).ok();
}

#[test]
fn an_expired_lease_puts_the_item_back_at_the_head_and_its_ack_is_stale() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.put("q", &enc("first"), None).ok();
    c.put("q", &enc("second"), None).ok();
    let d1 = c.get_leased("q", Some(0), Some(50)).ok().u64("delivery");
    until_stat(&mut c, "q", "the lease to run out", |r| {
        info_u64(r, "expired") == 1
    });
    // Back at the head, on its second attempt, under a new delivery id.
    let r = c.get_leased("q", Some(0), None).ok();
    assert_eq!(r.value("value"), Value::from("first"));
    assert_eq!(r.u64("attempt"), 2);
    let d2 = r.u64("delivery");
    assert_ne!(d1, d2);
    c.ack("q", d1).err("UnknownDelivery");
    c.ack("q", d2).ok();
}

#[test]
fn a_holders_disconnect_returns_its_items_at_once_to_a_waiting_getter() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.put("q", &enc(1), None).ok();
    c.put("q", &enc(2), None).ok();
    let mut dying = b.client();
    let r = dying.get_leased("q", None, Some(3_600_000)).ok();
    assert_eq!(r.value("value"), Value::from(1));
    c.put("q", &enc(3), None).ok();
    // Queue: [2, 3]. The holder dies; item 1 goes to the head.
    drop(dying);
    until_stat(&mut c, "q", "the holder's disconnect", |r| {
        info_u64(r, "abandoned") == 1
    });
    let r = c.get_leased("q", Some(0), None).ok();
    assert_eq!((r.value("value"), r.u64("attempt")), (Value::from(1), 2));

    // With a getter already waiting, the returning item goes straight to it.
    let mut waiter = b.client();
    let mut dying = b.client();
    let mut c2 = b.client();
    // Drain 2 and 3 so the queue is empty and the waiter blocks.
    for _ in 0..2 {
        let d = c2.get_leased("q", Some(0), None).ok().u64("delivery");
        c2.ack("q", d).ok();
    }
    c.put("q", &enc(4), None).ok();
    let held = dying.get_leased("q", Some(0), None).ok();
    assert_eq!(held.value("value"), Value::from(4));
    let id = waiter.send_get_leased("q", None, Some(60_000));
    until_stat(&mut c, "q", "the waiter to block", |r| {
        info_u64(r, "getters") == 1
    });
    drop(dying);
    let r = waiter.recv();
    assert_eq!(r.id(), id);
    assert_eq!((r.value("value"), r.u64("attempt")), (Value::from(4), 2));
    waiter.ack("q", r.u64("delivery")).ok();
}

#[test]
fn nack_returns_at_once_or_after_its_delay() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.put("q", &enc("a"), None).ok();
    c.put("q", &enc("b"), None).ok();
    let d = c.get_leased("q", None, None).ok().u64("delivery");
    c.nack("q", d, None).ok();
    let r = c.get_leased("q", None, None).ok();
    assert_eq!((r.value("value"), r.u64("attempt")), (Value::from("a"), 2));
    c.nack("q", d, None).err("UnknownDelivery");

    // A long delay: the item is out of the queue, held by nobody, shown as delayed.
    let d = r.u64("delivery");
    c.nack("q", d, Some(3_600_000)).ok();
    let s = c.op("stat", "q").ok();
    assert_eq!(
        (
            info_u64(&s, "len"),
            info_u64(&s, "in_flight"),
            info_u64(&s, "delayed")
        ),
        (1, 0, 1)
    );
    c.ack("q", d).err("UnknownDelivery");
    let r = c.get_leased("q", Some(0), None).ok();
    assert_eq!(r.value("value"), Value::from("b"));
    c.ack("q", r.u64("delivery")).ok();
    c.get_leased("q", Some(0), None).err("Empty");

    // A short delay: it comes back by itself, at the head.
    c.put("q", &enc("c"), None).ok();
    let d = c.get_leased("q", None, None).ok().u64("delivery");
    c.nack("q", d, Some(100)).ok();
    c.put("q", &enc("d"), None).ok();
    // ("a" still waits out its hour: one delayed item remains.)
    until_stat(&mut c, "q", "the delay to pass", |r| {
        info_u64(r, "len") == 2
    });
    assert_eq!(info_u64(&c.op("stat", "q").ok(), "delayed"), 1);
    let r = c.get_leased("q", Some(0), None).ok();
    assert_eq!((r.value("value"), r.u64("attempt")), (Value::from("c"), 2));
}

#[test]
fn after_max_attempts_the_item_moves_to_the_dead_letter_queue() {
    let b = Broker::start();
    let mut c = b.client();
    let r = c
        .open_with("jobs", "joinable_queue", |r| r.max_attempts = Some(2))
        .ok();
    assert_eq!(r.u64("max_attempts"), 2);
    c.open_with("jobs", "joinable_queue", |r| r.max_attempts = Some(3))
        .err("OptionMismatch");
    c.put("jobs", &enc("poison"), None).ok();
    let d = c.get_leased("jobs", None, None).ok().u64("delivery");
    c.nack("jobs", d, None).ok();
    let r = c.get_leased("jobs", None, Some(50)).ok();
    assert_eq!(r.u64("attempt"), 2);
    // The second lease runs out: that was its last attempt.
    until_stat(&mut c, "jobs", "the dead-lettering", |r| {
        info_u64(r, "dead_lettered") == 1
    });
    let s = c.op("stat", "jobs").ok();
    assert_eq!((info_u64(&s, "len"), info_u64(&s, "bytes")), (0, 0));
    // It counts as done for join.
    c.with_timeout("queue.join", "jobs", Some(0)).ok();
    let dead = c.op("stat", "jobs.dead").ok();
    assert_eq!(dead.str("kind"), "queue");
    assert_eq!(info_u64(&dead, "max_attempts"), 0);
    assert_eq!(
        c.get("jobs.dead", Some(0)).ok().value("value"),
        Value::from("poison")
    );

    // max_attempts 0 never dead-letters.
    c.open_with("forever", "queue", |r| r.max_attempts = Some(0))
        .ok();
    c.put("forever", &enc(1), None).ok();
    for attempt in 1..=7 {
        let r = c.get_leased("forever", Some(0), None).ok();
        assert_eq!(r.u64("attempt"), attempt);
        c.nack("forever", r.u64("delivery"), None).ok();
    }
}

#[test]
fn when_name_dead_holds_another_kind_the_item_goes_back_instead() {
    let b = Broker::start();
    let mut c = b.client();
    c.open_with("q", "queue", |r| r.max_attempts = Some(1)).ok();
    c.open("q.dead", "dict").ok();
    c.put("q", &enc(7), None).ok();
    let d = c.get_leased("q", None, None).ok().u64("delivery");
    c.nack("q", d, None).ok();
    let r = c.get_leased("q", Some(0), None).ok();
    assert_eq!((r.value("value"), r.u64("attempt")), (Value::from(7), 2));
    assert!(b.log().contains("cannot dead-letter"), "{}", b.log());
}

#[test]
fn a_blocked_leased_get_is_served_by_a_put_and_times_out_like_a_get() {
    let b = Broker::start();
    let mut c = b.client();
    let mut p = b.client();
    c.open("q", "queue").ok();
    c.get_leased("q", Some(30), None).err("Timeout");
    let id = c.send_get_leased("q", None, None);
    until_stat(&mut p, "q", "the getter to block", |r| {
        info_u64(r, "getters") == 1
    });
    let clients = format!("{:?}", p.op("clients", "-").ok().get("clients"));
    assert!(clients.contains("queue.get_leased q"), "{clients}");
    p.put("q", &enc("x"), None).ok();
    let r = c.recv();
    assert_eq!(r.id(), id);
    assert_eq!((r.value("value"), r.u64("attempt")), (Value::from("x"), 1));
    let s = p.op("stat", "q").ok();
    assert_eq!(info_u64(&s, "in_flight"), 1);
    c.ack("q", r.u64("delivery")).ok();
}

#[test]
fn deleting_a_queue_drops_its_deliveries() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.put("q", &enc(1), None).ok();
    c.put("q", &enc(2), None).ok();
    let d1 = c.get_leased("q", None, None).ok().u64("delivery");
    let d2 = c.get_leased("q", None, None).ok().u64("delivery");
    c.nack("q", d2, Some(3_600_000)).ok();
    c.op("delete", "q").ok();
    c.ack("q", d1).err("NotFound");
    c.open("q", "queue").ok();
    c.ack("q", d1).err("UnknownDelivery");
    let clients = format!("{:?}", c.op("clients", "-").ok().get("clients"));
    assert!(!clients.contains("lease"), "{clients}");
}

#[test]
fn in_flight_items_count_against_the_memory_budget() {
    // One item: 62 value bytes + 64 overhead = 126; the budget holds one.
    let b = Broker::start_with(&["--memory-limit", "200"]);
    let mut c = b.client();
    c.open("q", "queue").ok();
    let big = enc(Value::Binary(vec![1; 60]));
    c.put("q", &big, None).ok();
    let d = c.get_leased("q", None, None).ok().u64("delivery");
    assert!(c
        .put("q", &big, None)
        .err("LimitExceeded")
        .contains("memory_limit"));
    c.ack("q", d).ok();
    c.put("q", &big, None).ok();
}

#[test]
fn bad_lease_requests_are_refused() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.open("d", "dict").ok();
    c.get_leased("q", Some(0), Some(0)).err("InvalidArgument");
    c.get_leased("d", Some(0), None).err("TypeMismatch");
    c.call(Client::req("queue.ack", "q")).err("BadRequest");
}

#[test]
fn shutdown_leaves_deliveries_unanswered_and_answers_waiters() {
    let mut b = Broker::start();
    let mut c = b.client();
    let mut w = b.client();
    c.open("q", "queue").ok();
    c.put("q", &enc(1), None).ok();
    c.get_leased("q", None, None).ok();
    let id = w.send_get_leased("q", None, None);
    until_stat(&mut c, "q", "the getter to block", |r| {
        info_u64(r, "getters") == 1
    });
    assert!(b.terminate().success());
    let r = w.recv();
    assert_eq!(r.id(), id);
    r.err("ShuttingDown");
}
