//! A call whose deadline passes while the broker is stopped (SIGSTOP) takes nothing through
//! the C ABI either: the get times out and the item stays queued, the acquire fails and the
//! lock stays free (issue 12, item 5; the Rust client's own test is tests/tests/stall.rs).

use std::ptr::null_mut;
use std::thread;
use std::time::Duration;

use crate::xproc_status_e::*;
use crate::*;
use xproc_tests::{eventually, waiters_on, Broker, Stopped};

use super::{connect, ok, s};

/// The timeout of the stalled call, in milliseconds.
const TIMEOUT_MS: i64 = 500;

/// A handle moved to another thread; each is used by one thread at a time.
struct Sent<T>(*mut T);
// SAFETY: libxproc handles may be used from any thread (xproc.h, "Threads").
unsafe impl<T> Send for Sent<T> {}

/// Past the broker's deadline and the client's own (timeout plus its grace, 1 s).
fn past_every_deadline() {
    thread::sleep(Duration::from_millis(TIMEOUT_MS as u64 + 1300));
}

#[test]
fn a_get_timed_out_while_the_broker_was_stopped_leaves_the_item() {
    let broker = Broker::start();
    let watcher = broker.client();
    unsafe {
        let (consumer, producer) = (connect(&broker), connect(&broker));
        let (n, nl) = s("stalled");
        let (mut qc, mut qp) = (null_mut(), null_mut());
        ok(xproc_queue_open(consumer, n, nl, 0, &mut qc));
        ok(xproc_queue_open(producer, n, nl, 0, &mut qp));
        let qc = Sent(qc);
        let getter = thread::spawn(move || {
            let qc = qc;
            let (mut v, mut len) = (null_mut(), 0);
            let status = xproc_queue_get_raw(qc.0, TIMEOUT_MS, &mut v, &mut len);
            (status, v.is_null(), qc)
        });
        eventually("the get waits", || {
            waiters_on(&watcher, "queue.get stalled") == 1
        });
        let stopped = Stopped::new(broker.pid());
        let qp = Sent(qp);
        let putter = thread::spawn(move || {
            let qp = qp;
            (xproc_queue_put_raw(qp.0, [0x07].as_ptr(), 1, -1), qp)
        });
        past_every_deadline();
        drop(stopped);
        let (status, no_value, qc) = getter.join().unwrap();
        assert_eq!(status, XPROC_TIMEOUT);
        assert!(no_value);
        let (put, qp) = putter.join().unwrap();
        ok(put);
        let q = watcher.queue::<u32>("stalled").unwrap();
        assert_eq!(q.qsize().unwrap(), 1, "the timed-out get took the item");
        assert_eq!(q.try_get().unwrap(), 7);
        xproc_queue_free(qc.0);
        xproc_queue_free(qp.0);
        xproc_client_free(consumer);
        xproc_client_free(producer);
    }
}

#[test]
fn an_acquire_timed_out_while_the_broker_was_stopped_leaves_the_lock_free() {
    let broker = Broker::start();
    let watcher = broker.client();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (n, nl) = s("dev");
        let (mut holder, mut waiter) = (null_mut(), null_mut());
        ok(xproc_lock_open(c1, n, nl, &mut holder));
        ok(xproc_lock_open(c2, n, nl, &mut waiter));
        let mut acquired = false;
        ok(xproc_lock_acquire(holder, -1, &mut acquired, null_mut()));
        assert!(acquired);
        let waiter = Sent(waiter);
        let acquirer = thread::spawn(move || {
            let waiter = waiter;
            let mut acquired = true;
            let status = xproc_lock_acquire(waiter.0, TIMEOUT_MS, &mut acquired, null_mut());
            (status, acquired, waiter)
        });
        eventually("the acquire waits", || {
            waiters_on(&watcher, "lock.acquire dev") == 1
        });
        let stopped = Stopped::new(broker.pid());
        let holder = Sent(holder);
        let releaser = thread::spawn(move || {
            let holder = holder;
            (xproc_lock_release(holder.0), holder)
        });
        past_every_deadline();
        drop(stopped);
        let (status, acquired, waiter) = acquirer.join().unwrap();
        ok(status);
        assert!(!acquired, "the acquire succeeded after its deadline");
        let (released, holder) = releaser.join().unwrap();
        ok(released);
        let third = watcher.lock("dev").unwrap();
        assert!(
            third.try_acquire().unwrap().acquired,
            "the timed-out acquire holds the lock"
        );
        xproc_lock_free(holder.0);
        xproc_lock_free(waiter.0);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}
