//! Locks, rlocks, barriers, conditions, events and semaphores across processes, against a real
//! xprocd, including holders and waiters killed with SIGKILL.

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use serde_json::json;
use xproc::{Error, ErrorCode};
use xproc_tests::{connected, eventually, waiters_on, waits_on, Broker};

const SYNC: &str = env!("CARGO_BIN_EXE_sync_worker");

/// Whether the broker lists a client with `pid` holding something described by `what`.
fn holds(client: &xproc::Client, pid: u32, what: &str) -> bool {
    client
        .clients()
        .map(|cs| {
            cs.iter()
                .any(|c| c.pid == pid && c.holds.iter().any(|h| h.contains(what)))
        })
        .unwrap_or(false)
}

#[test]
fn a_lock_whose_holder_is_killed_goes_to_the_next_waiter_marked_abandoned() {
    let broker = Broker::start();
    let client = broker.client();
    let mut holder = broker.worker(SYNC, &["hold-lock", "dev"]);
    eventually("the holder takes the lock", || {
        holds(&client, holder.pid(), "lock dev")
    });
    let waiter = broker.worker(SYNC, &["acquire", "dev", "forever"]);
    eventually("the waiter blocks", || {
        waits_on(&client, waiter.pid(), "lock.acquire dev")
    });
    let holder_pid = holder.pid();
    holder.kill();
    let out: serde_json::Value = waiter.finish_json();
    assert_eq!(out, json!({ "acquired": true, "abandoned_by": holder_pid }));

    // The waiter released it normally, so the next acquire is a plain one.
    let lock = client.lock("dev").unwrap();
    let a = lock.try_acquire().unwrap();
    assert!(a.acquired);
    assert_eq!(a.abandoned_by, None);
    lock.release().unwrap();
}

#[test]
fn an_abandoned_lock_with_no_waiter_tells_the_next_acquirer() {
    let broker = Broker::start();
    let client = broker.client();
    let mut holder = broker.worker(SYNC, &["hold-lock", "file"]);
    eventually("the holder takes the lock", || {
        holds(&client, holder.pid(), "lock file")
    });
    let pid = holder.pid();
    holder.kill();
    eventually("the broker notices", || !connected(&client, pid));
    let lock = client.lock("file").unwrap();
    let guard = lock.lock().unwrap();
    assert_eq!(guard.abandoned_by(), Some(pid));
    guard.release().unwrap();
}

#[test]
fn locks_belong_to_connections() {
    let broker = Broker::start();
    let (a, b) = (broker.client(), broker.client());
    let la = a.lock("l").unwrap();
    let lb = b.lock("l").unwrap();
    {
        let _guard = la.lock().unwrap();
        assert!(lb.try_lock().unwrap().is_none());
        assert!(
            !lb.acquire_timeout(Duration::from_millis(20))
                .unwrap()
                .acquired
        );
        assert!(matches!(lb.release(), Err(Error::NotOwner(_))));
    }
    // The guard released it.
    let g = lb
        .try_lock()
        .unwrap()
        .expect("free after the guard dropped");
    drop(g);
    assert!(matches!(la.release(), Err(Error::NotOwner(_))));
}

#[test]
fn an_rlock_is_reentrant_for_its_owner() {
    let broker = Broker::start();
    let (a, b) = (broker.client(), broker.client());
    let ra = a.rlock("r").unwrap();
    let rb = b.rlock("r").unwrap();
    assert!(ra.acquire().unwrap().acquired);
    assert!(ra.try_acquire().unwrap().acquired);
    ra.release().unwrap();
    assert!(!rb.try_acquire().unwrap().acquired, "still held once");
    ra.release().unwrap();
    assert!(rb.try_acquire().unwrap().acquired);
    rb.release().unwrap();
    // A plain lock is not reentrant: its owner waits like anyone else.
    let l = a.lock("plain").unwrap();
    l.acquire().unwrap();
    assert!(!l.try_acquire().unwrap().acquired);
    l.release().unwrap();
}

#[test]
fn a_four_party_barrier_releases_four_processes_with_distinct_indices() {
    let broker = Broker::start();
    let parties: Vec<_> = (0..4)
        .map(|_| broker.worker(SYNC, &["barrier", "start", "4", "forever"]))
        .collect();
    let indices: BTreeSet<u64> = parties
        .into_iter()
        .map(|p| {
            let out: serde_json::Value = p.finish_json();
            out["index"]
                .as_u64()
                .unwrap_or_else(|| panic!("no index: {out}"))
        })
        .collect();
    assert_eq!(indices, BTreeSet::from([0, 1, 2, 3]));
}

#[test]
fn a_party_killed_while_waiting_breaks_the_barrier_for_the_others() {
    let broker = Broker::start();
    let client = broker.client();
    // Five parties needed, four arrive; one of them is killed.
    let mut parties: Vec<_> = (0..4)
        .map(|_| broker.worker(SYNC, &["barrier", "gate", "5", "forever"]))
        .collect();
    eventually("four parties wait", || {
        waiters_on(&client, "barrier.wait gate") == 4
    });
    parties[0].kill();
    for p in parties.drain(1..) {
        let out: serde_json::Value = p.finish_json();
        assert_eq!(out, json!({ "error": "BrokenBarrier" }));
    }
    let b = client.barrier("gate", 5).unwrap();
    assert!(b.broken().unwrap());
    assert!(matches!(b.wait(), Err(Error::BrokenBarrier(_))));
    b.reset().unwrap();
    assert_eq!(
        b.state().unwrap(),
        xproc::BarrierState {
            parties: 5,
            n_waiting: 0,
            broken: false
        }
    );
}

#[test]
fn barrier_timeout_and_abort_break_it() {
    let broker = Broker::start();
    let client = broker.client();
    let b = client.barrier("b", 2).unwrap();
    assert_eq!(b.parties(), 2);
    assert!(matches!(
        b.wait_timeout(Duration::from_millis(20)),
        Err(Error::BrokenBarrier(_))
    ));
    assert!(b.broken().unwrap());
    b.reset().unwrap();
    assert!(!b.broken().unwrap());

    let waiter = broker.worker(SYNC, &["barrier", "b", "2", "forever"]);
    eventually("the party waits", || {
        waits_on(&client, waiter.pid(), "barrier.wait b")
    });
    assert_eq!(b.n_waiting().unwrap(), 1);
    b.abort().unwrap();
    let out: serde_json::Value = waiter.finish_json();
    assert_eq!(out, json!({ "error": "BrokenBarrier" }));

    // Reopening with another party count names the option.
    match client.barrier("b", 3) {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::OptionMismatch), "{e}"),
        Ok(_) => panic!("barrier reopened with a different party count"),
    }
}

#[test]
fn condition_producer_and_consumers_move_every_item() {
    let broker = Broker::start();
    let consumers: Vec<_> = (0..3)
        .map(|_| broker.worker(SYNC, &["cond-consume", "ready", "stock", "100"]))
        .collect();
    let producer = broker.worker(SYNC, &["cond-produce", "ready", "stock", "300"]);
    producer.finish();
    for c in consumers {
        let out: serde_json::Value = c.finish_json();
        assert_eq!(out, json!({ "consumed": 100 }));
    }
    let d = broker.client().dict::<String, i64>("stock").unwrap();
    assert_eq!(d.get("available").unwrap(), Some(0));
}

#[test]
fn condition_wait_needs_the_lock_and_reacquires_it() {
    let broker = Broker::start();
    let client = broker.client();
    let cond = client.condition("c").unwrap();
    assert!(matches!(
        cond.wait_timeout(Duration::from_millis(10)),
        Err(Error::NotOwner(_))
    ));
    assert!(matches!(cond.notify(1), Err(Error::NotOwner(_))));
    let guard = cond.lock().unwrap();
    assert!(!cond.wait_timeout(Duration::from_millis(20)).unwrap());
    // Held again after the wait: nobody else can take it.
    let other = broker.client().condition("c").unwrap();
    assert!(
        !other
            .acquire_timeout(Duration::from_millis(10))
            .unwrap()
            .acquired
    );
    assert_eq!(cond.notify_all().unwrap(), 0);
    assert!(!cond
        .wait_for(|| Ok(false), Some(Duration::from_millis(20)))
        .unwrap());
    assert!(cond.wait_for(|| Ok(true), None).unwrap());
    guard.release().unwrap();
}

#[test]
fn a_timed_out_condition_wait_returns_only_with_the_lock_back() {
    let broker = Broker::start();
    let (a, b) = (broker.client(), broker.client());
    let ca = a.condition("cv").unwrap();
    let cb = b.condition("cv").unwrap();
    let guard = ca.lock().unwrap();
    thread::scope(|s| {
        let holder = s.spawn(|| {
            // Takes the lock when the waiter's wait releases it, and keeps it for longer than
            // the client's grace, so the waiter's reacquire outlasts its timeout + grace.
            let g = cb.lock().unwrap();
            thread::sleep(xproc::TIMEOUT_GRACE + Duration::from_millis(500));
            g.release().unwrap();
        });
        eventually("the other client waits for the lock", || {
            waiters_on(&a, "condition.acquire cv") == 1
        });
        // Not a Timeout error: the wait ends when the lock is back, whatever that took.
        assert!(!ca.wait_timeout(Duration::from_millis(10)).unwrap());
        holder.join().unwrap();
    });
    assert!(
        !cb.acquire_timeout(Duration::from_millis(10))
            .unwrap()
            .acquired
    );
    guard.release().unwrap();
}

#[test]
fn event_wait_with_and_without_timeout() {
    let broker = Broker::start();
    let client = broker.client();
    let ev = client.event("go").unwrap();
    assert!(!ev.is_set().unwrap());

    let timed: serde_json::Value = broker
        .worker(SYNC, &["event-wait", "go", "30"])
        .finish_json();
    assert_eq!(timed, json!({ "set": false }));

    let waiter = broker.worker(SYNC, &["event-wait", "go", "forever"]);
    eventually("the waiter blocks", || {
        waits_on(&client, waiter.pid(), "event.wait go")
    });
    ev.set().unwrap();
    let out: serde_json::Value = waiter.finish_json();
    assert_eq!(out, json!({ "set": true }));
    assert!(ev.is_set().unwrap());
    assert!(ev.wait_timeout(Duration::ZERO).unwrap());
    ev.clear().unwrap();
    assert!(!ev.wait_timeout(Duration::from_millis(10)).unwrap());
}

#[test]
fn a_semaphore_limits_concurrent_holders() {
    let broker = Broker::start();
    let workers: Vec<_> = (0..4)
        .map(|_| broker.worker(SYNC, &["semaphore", "slots", "2", "seen", "40"]))
        .collect();
    for w in workers {
        w.finish();
    }
    let d = broker.client().dict::<String, i64>("seen").unwrap();
    let max = d.get("max").unwrap().expect("holders recorded a max");
    assert!(
        (1..=2).contains(&max),
        "{max} holders at once with 2 permits"
    );
    assert_eq!(d.get("current").unwrap(), Some(0));
}

#[test]
fn semaphore_permits_come_back_and_bounded_ones_refuse_over_release() {
    let broker = Broker::start();
    let (a, b) = (broker.client(), broker.client());
    let sa = a.semaphore("s", 1).unwrap();
    let sb = b.semaphore("s", 1).unwrap();
    assert_eq!(sa.initial(), 1);
    let permit = sa.permit().unwrap();
    assert!(!sb.try_acquire().unwrap());
    permit.release().unwrap();
    assert!(sb.acquire_timeout(Duration::from_secs(5)).unwrap());

    // b's connection goes away holding the permit: it comes back.
    drop(sb);
    drop(b);
    eventually("the permit returns", || sa.try_acquire().unwrap());
    sa.release().unwrap();

    let bounded = a.bounded_semaphore("bs", 2).unwrap();
    bounded.acquire().unwrap();
    bounded.release().unwrap();
    assert!(matches!(bounded.release(), Err(Error::InvalidArgument(_))));
    // Opened with a different kind: a type mismatch.
    assert!(matches!(a.semaphore("bs", 2), Err(Error::TypeMismatch(_))));
}
