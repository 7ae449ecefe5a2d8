//! Locks, rlocks, conditions, semaphores, events and barriers against a real broker,
//! including what happens when a holder or waiter disconnects.

mod common;
use common::*;

fn acquire(c: &mut Client, op: &str, name: &str, timeout_ms: Option<u64>) -> Reply {
    c.with_timeout(op, name, timeout_ms)
}

/// Waits until the broker has noticed a disconnect (the `clients` count drops to `n`).
fn wait_clients(c: &mut Client, n: usize) {
    let start = std::time::Instant::now();
    loop {
        let r = c.op("clients", "x").ok();
        if r.get("clients").unwrap().as_array().unwrap().len() == n {
            return;
        }
        assert!(start.elapsed().as_secs() < 5, "disconnect not noticed");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn lock_excludes_and_hands_over_in_order() {
    let b = Broker::start();
    let mut a = b.client();
    let mut w1 = b.client();
    let mut w2 = b.client();
    a.open("l", "lock").ok();
    let r = acquire(&mut a, "lock.acquire", "l", None).ok();
    assert!(r.bool("acquired"));
    assert!(r.get("abandoned_by").is_none());
    // A plain lock is not reentrant: its owner waits too.
    assert!(!acquire(&mut a, "lock.acquire", "l", Some(0))
        .ok()
        .bool("acquired"));
    assert!(!acquire(&mut w1, "lock.acquire", "l", Some(20))
        .ok()
        .bool("acquired"));
    let m = w1.op("lock.release", "l").err("NotOwner");
    assert!(m.contains("held by another connection"), "{m}");
    let id1 = w1.send_with_timeout("lock.acquire", "l", None);
    w1.op("ping", "x").ok();
    let id2 = w2.send_with_timeout("lock.acquire", "l", None);
    w2.op("ping", "x").ok();
    a.op("lock.release", "l").ok();
    let r = w1.recv().ok();
    assert_eq!((r.id(), r.bool("acquired")), (id1, true));
    w2.expect_silence(30);
    w1.op("lock.release", "l").ok();
    let r = w2.recv().ok();
    assert_eq!((r.id(), r.bool("acquired")), (id2, true));
    a.op("lock.release", "l").err("NotOwner");
    a.open("l", "rlock").err("TypeMismatch");
}

#[test]
fn abandoned_lock_reports_the_dead_holder() {
    let b = Broker::start();
    let mut a = b.client();
    let mut w = b.client();
    a.open("l", "lock").ok();
    acquire(&mut a, "lock.acquire", "l", None).ok();
    let id = w.send_with_timeout("lock.acquire", "l", None);
    w.op("ping", "x").ok();
    drop(a);
    let r = w.recv().ok();
    assert_eq!(r.id(), id);
    assert!(r.bool("acquired"));
    assert_eq!(r.u64("abandoned_by"), std::process::id() as u64);
    w.op("lock.release", "l").ok();
    let r = acquire(&mut w, "lock.acquire", "l", None).ok();
    assert!(r.get("abandoned_by").is_none(), "reported once: {r:?}");

    // With nobody waiting, the next acquire learns it.
    let mut h = b.client();
    h.open("m", "lock").ok();
    acquire(&mut h, "lock.acquire", "m", None).ok();
    drop(h);
    wait_clients(&mut w, 1);
    let s = w.op("stat", "m").ok();
    assert_eq!(s.info("abandoned_by"), Value::from(std::process::id()));
    assert_eq!(s.info("holder_pid"), Value::Nil);
    let r = acquire(&mut w, "lock.acquire", "m", Some(0)).ok();
    assert_eq!(r.u64("abandoned_by"), std::process::id() as u64);
}

#[test]
fn rlock_is_reentrant_for_its_owner() {
    let b = Broker::start();
    let mut a = b.client();
    let mut o = b.client();
    a.open("r", "rlock").ok();
    for _ in 0..3 {
        assert!(acquire(&mut a, "lock.acquire", "r", Some(0))
            .ok()
            .bool("acquired"));
    }
    assert_eq!(a.op("stat", "r").ok().info("depth"), Value::from(3));
    assert!(!acquire(&mut o, "lock.acquire", "r", Some(0))
        .ok()
        .bool("acquired"));
    a.op("lock.release", "r").ok();
    a.op("lock.release", "r").ok();
    assert!(!acquire(&mut o, "lock.acquire", "r", Some(0))
        .ok()
        .bool("acquired"));
    a.op("lock.release", "r").ok();
    assert!(acquire(&mut o, "lock.acquire", "r", Some(0))
        .ok()
        .bool("acquired"));
    a.op("lock.release", "r").err("NotOwner");
}

#[test]
fn semaphores_count_permits_per_connection() {
    let b = Broker::start();
    let mut a = b.client();
    let mut w = b.client();
    let r = a.open_with("s", "semaphore", |r| r.initial = Some(2)).ok();
    assert_eq!(r.u64("initial"), 2);
    a.open_with("s", "semaphore", |r| r.initial = Some(3))
        .err("OptionMismatch");
    assert!(acquire(&mut a, "semaphore.acquire", "s", None)
        .ok()
        .bool("acquired"));
    assert!(acquire(&mut a, "semaphore.acquire", "s", None)
        .ok()
        .bool("acquired"));
    assert!(!acquire(&mut w, "semaphore.acquire", "s", Some(0))
        .ok()
        .bool("acquired"));
    assert!(!acquire(&mut w, "semaphore.acquire", "s", Some(20))
        .ok()
        .bool("acquired"));
    let id = w.send_with_timeout("semaphore.acquire", "s", None);
    w.op("ping", "x").ok();
    a.call(RequestFields {
        n: Some(1),
        ..Client::req("semaphore.release", "s")
    })
    .ok();
    let r = w.recv().ok();
    assert_eq!((r.id(), r.bool("acquired")), (id, true));
    // a still holds one permit; it is returned when a disconnects.
    let s = w.op("stat", "s").ok();
    assert_eq!(s.info("value"), Value::from(0));
    drop(a);
    wait_clients(&mut w, 1);
    assert_eq!(w.op("stat", "s").ok().info("value"), Value::from(1));
    // A plain semaphore may go above its initial value.
    w.call(RequestFields {
        n: Some(5),
        ..Client::req("semaphore.release", "s")
    })
    .ok();
    assert_eq!(w.op("stat", "s").ok().info("value"), Value::from(6));
}

#[test]
fn bounded_semaphore_refuses_over_release() {
    let b = Broker::start();
    let mut c = b.client();
    c.open_with("s", "bounded_semaphore", |r| r.initial = Some(1))
        .ok();
    let m = c.op("semaphore.release", "s").err("InvalidArgument");
    assert!(m.contains("initial value 1"), "{m}");
    acquire(&mut c, "semaphore.acquire", "s", None).ok();
    c.op("semaphore.release", "s").ok();
    c.op("semaphore.release", "s").err("InvalidArgument");
}

#[test]
fn events() {
    let b = Broker::start();
    let mut a = b.client();
    let mut w1 = b.client();
    let mut w2 = b.client();
    a.open("e", "event").ok();
    assert!(!a.op("event.is_set", "e").ok().bool("set"));
    assert!(!acquire(&mut a, "event.wait", "e", Some(0)).ok().bool("set"));
    assert!(!acquire(&mut a, "event.wait", "e", Some(20))
        .ok()
        .bool("set"));
    let id1 = w1.send_with_timeout("event.wait", "e", None);
    let id2 = w2.send_with_timeout("event.wait", "e", Some(10_000));
    w1.op("ping", "x").ok();
    w2.op("ping", "x").ok();
    a.op("event.set", "e").ok();
    let r = w1.recv().ok();
    assert_eq!((r.id(), r.bool("set")), (id1, true));
    let r = w2.recv().ok();
    assert_eq!((r.id(), r.bool("set")), (id2, true));
    assert!(acquire(&mut a, "event.wait", "e", None).ok().bool("set"));
    a.op("event.clear", "e").ok();
    assert!(!a.op("event.is_set", "e").ok().bool("set"));
}

#[test]
fn condition_wait_notify() {
    let b = Broker::start();
    let mut w = b.client();
    let mut n = b.client();
    w.open("c", "condition").ok();
    w.with_timeout("condition.wait", "c", Some(0))
        .err("NotOwner");
    n.op("condition.notify", "c").err("NotOwner");
    acquire(&mut w, "condition.acquire", "c", None).ok();
    acquire(&mut w, "condition.acquire", "c", None).ok(); // depth 2
    let id = w.send_with_timeout("condition.wait", "c", None);
    w.op("ping", "x").ok();
    // The wait released the lock fully.
    assert!(acquire(&mut n, "condition.acquire", "c", Some(0))
        .ok()
        .bool("acquired"));
    let r = n.call(RequestFields {
        n: Some(1),
        ..Client::req("condition.notify", "c")
    });
    assert_eq!(r.ok().i64("n"), 1);
    w.expect_silence(30); // it must reacquire first
    n.op("condition.release", "c").ok();
    let r = w.recv().ok();
    assert_eq!((r.id(), r.bool("notified")), (id, true));
    let s = w.op("stat", "c").ok();
    assert_eq!(s.info("depth"), Value::from(2));
    assert_eq!(s.info("holder_conn"), Value::from(w.conn_id));
    // A timed-out wait answers notified: false once it holds the lock again.
    let r = w.with_timeout("condition.wait", "c", Some(20)).ok();
    assert!(!r.bool("notified"));
    let r = w.with_timeout("condition.wait", "c", Some(0)).ok();
    assert!(!r.bool("notified"));
    w.op("condition.release", "c").ok();
    w.op("condition.release", "c").ok();
    w.op("condition.release", "c").err("NotOwner");
}

#[test]
fn condition_notify_all_wakes_everyone() {
    let b = Broker::start();
    let mut waiters: Vec<Client> = (0..3).map(|_| b.client()).collect();
    let mut n = b.client();
    n.open("c", "condition").ok();
    for w in waiters.iter_mut() {
        acquire(w, "condition.acquire", "c", None).ok();
        w.send_with_timeout("condition.wait", "c", None);
        w.op("ping", "x").ok();
    }
    acquire(&mut n, "condition.acquire", "c", None).ok();
    assert_eq!(n.op("condition.notify_all", "c").ok().i64("n"), 3);
    n.op("condition.release", "c").ok();
    // They reacquire one after another, each releasing after it is answered.
    for w in waiters.iter_mut() {
        assert!(w.recv().ok().bool("notified"));
        w.op("condition.release", "c").ok();
    }
}

#[test]
fn barrier_indices_and_breaking() {
    let b = Broker::start();
    let mut c: Vec<Client> = (0..3).map(|_| b.client()).collect();
    c[0].open("b", "barrier").err("BadRequest");
    c[0].open_with("b", "barrier", |r| r.parties = Some(0))
        .err("InvalidArgument");
    let r = c[0].open_with("b", "barrier", |r| r.parties = Some(3)).ok();
    assert_eq!(r.u64("parties"), 3);
    c[0].open_with("b", "barrier", |r| r.parties = Some(2))
        .err("OptionMismatch");
    c[0].send_with_timeout("barrier.wait", "b", None);
    c[0].op("ping", "x").ok();
    c[1].send_with_timeout("barrier.wait", "b", None);
    c[1].op("ping", "x").ok();
    let s = c[2].op("barrier.state", "b").ok();
    assert_eq!(
        (s.u64("parties"), s.u64("n_waiting"), s.bool("broken")),
        (3, 2, false)
    );
    let last = c[2]
        .with_timeout("barrier.wait", "b", None)
        .ok()
        .u64("index");
    let mut indices = vec![
        last,
        c[0].recv().ok().u64("index"),
        c[1].recv().ok().u64("index"),
    ];
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2]);

    // A timeout breaks it for everyone.
    c[0].send_with_timeout("barrier.wait", "b", None);
    c[0].op("ping", "x").ok();
    c[1].with_timeout("barrier.wait", "b", Some(20))
        .err("BrokenBarrier");
    c[0].recv().err("BrokenBarrier");
    c[2].with_timeout("barrier.wait", "b", None)
        .err("BrokenBarrier");
    assert!(c[2].op("barrier.state", "b").ok().bool("broken"));
    c[2].op("barrier.reset", "b").ok();
    assert!(!c[2].op("barrier.state", "b").ok().bool("broken"));

    // Abort, and reset with a waiter.
    c[0].send_with_timeout("barrier.wait", "b", None);
    c[0].op("ping", "x").ok();
    c[1].op("barrier.reset", "b").ok();
    c[0].recv().err("BrokenBarrier");
    c[0].send_with_timeout("barrier.wait", "b", None);
    c[0].op("ping", "x").ok();
    c[1].op("barrier.abort", "b").ok();
    c[0].recv().err("BrokenBarrier");
    c[1].with_timeout("barrier.wait", "b", Some(0))
        .err("BrokenBarrier");

    // A waiting party's disconnect breaks it.
    c[1].op("barrier.reset", "b").ok();
    c[0].send_with_timeout("barrier.wait", "b", None);
    c[0].op("ping", "x").ok();
    c[1].send_with_timeout("barrier.wait", "b", None);
    c[1].op("ping", "x").ok();
    let gone = c.remove(0);
    drop(gone);
    c[0].recv().err("BrokenBarrier");
}

#[test]
fn sync_ops_check_kinds() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("e", "event").ok();
    c.op("lock.release", "e").err("TypeMismatch");
    c.op("barrier.state", "e").err("TypeMismatch");
    c.op("event.set", "none").err("NotFound");
}

#[test]
fn a_hang_up_right_after_the_last_bytes_is_noticed() {
    // A few bytes that produce no reply, then the FIN, often arrive together: one read sees
    // both, and no later event reports the hang-up. The broker must still notice it and
    // abandon the lock, every time.
    let b = Broker::start();
    let mut w = b.client();
    w.open("l", "lock").ok();
    for _ in 0..20 {
        let mut c = b.client();
        assert!(acquire(&mut c, "lock.acquire", "l", None)
            .ok()
            .bool("acquired"));
        c.send_raw(&[0, 0, 0]);
        c.stream.shutdown(std::net::Shutdown::Both).unwrap();
        drop(c);
        let r = acquire(&mut w, "lock.acquire", "l", Some(3_000)).ok();
        assert!(r.bool("acquired"), "the hang-up was missed");
        assert_eq!(r.u64("abandoned_by"), std::process::id() as u64);
        w.op("lock.release", "l").ok();
    }
}
