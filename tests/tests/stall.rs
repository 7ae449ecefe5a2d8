//! A request whose client gave up takes nothing, whatever the timing (issue 12, item 5): the
//! broker is stopped (SIGSTOP) while a get and a lock acquire wait, so that their deadlines —
//! the broker's and the client's own, timeout plus grace — pass before the broker sees the put
//! or the release that would satisfy them. When it continues (SIGCONT), it must answer them
//! with their timeout outcome and leave the item in the queue and the lock free.

use std::thread;
use std::time::Duration;

use xproc::{Error, TIMEOUT_GRACE};
use xproc_tests::{eventually, waiters_on, Broker, Stopped};

/// The timeout of the call that is stalled over.
const TIMEOUT: Duration = Duration::from_millis(500);

/// Long enough for the client's own deadline (timeout plus grace) to pass as well.
fn past_every_deadline() {
    thread::sleep(TIMEOUT + TIMEOUT_GRACE + Duration::from_millis(300));
}

#[test]
fn a_get_whose_deadline_passed_while_the_broker_was_stopped_takes_nothing() {
    let broker = Broker::start();
    let watcher = broker.client();
    let consumer = broker.client().queue::<u32>("stalled").unwrap();
    let producer = broker.client().queue::<u32>("stalled").unwrap();
    // The thread hands its handle back, so its connection outlives the call (a closed
    // connection's waiters are forgotten, which would hide the bug).
    let getter = thread::spawn(move || (consumer.get_timeout(TIMEOUT), consumer));
    eventually("the get waits", || {
        waiters_on(&watcher, "queue.get stalled") == 1
    });
    let stopped = Stopped::new(broker.pid());
    let putter = thread::spawn(move || producer.put(&7));
    past_every_deadline();
    drop(stopped);
    let (got, _consumer) = getter.join().unwrap();
    assert!(matches!(got, Err(Error::Timeout)), "{got:?}");
    putter.join().unwrap().unwrap();
    let q = watcher.queue::<u32>("stalled").unwrap();
    assert_eq!(q.qsize().unwrap(), 1, "the timed-out get took the item");
    assert_eq!(q.try_get().unwrap(), 7);
}

#[test]
fn an_acquire_whose_deadline_passed_while_the_broker_was_stopped_leaves_the_lock_free() {
    let broker = Broker::start();
    let watcher = broker.client();
    let holder = broker.client().lock("dev").unwrap();
    let waiter = broker.client().lock("dev").unwrap();
    assert!(holder.acquire().unwrap().acquired);
    let acquirer =
        thread::spawn(move || (waiter.acquire_timeout(TIMEOUT).map(|a| a.acquired), waiter));
    eventually("the acquire waits", || {
        waiters_on(&watcher, "lock.acquire dev") == 1
    });
    let stopped = Stopped::new(broker.pid());
    let releaser = thread::spawn(move || holder.release());
    past_every_deadline();
    drop(stopped);
    let (got, _waiter) = acquirer.join().unwrap();
    assert!(matches!(got, Ok(false)), "{got:?}");
    releaser.join().unwrap().unwrap();
    let third = watcher.lock("dev").unwrap();
    assert!(
        third.try_acquire().unwrap().acquired,
        "the timed-out acquire holds the lock"
    );
}

#[test]
fn a_get_sent_while_the_broker_was_stopped_reports_what_it_really_did() {
    // The broker reads the get only after the client's deadline: it measures the timeout from
    // then (docs/PROTOCOL.md §5), so the get may take the put's item before the client's
    // `cancel` arrives. Whatever it did, the client reports it: the item, or a timeout with
    // the item left in the queue — never a timeout with the item gone.
    let broker = Broker::start();
    let watcher = broker.client();
    watcher.queue::<u32>("late").unwrap();
    let consumer = broker.client().queue::<u32>("late").unwrap();
    let producer = broker.client().queue::<u32>("late").unwrap();
    let stopped = Stopped::new(broker.pid());
    // The thread hands its handle back, so its connection outlives the call (a closed
    // connection's waiters are forgotten, which would hide the bug).
    let getter = thread::spawn(move || (consumer.get_timeout(TIMEOUT), consumer));
    let putter = thread::spawn(move || producer.put(&8));
    past_every_deadline();
    drop(stopped);
    let (got, _consumer) = getter.join().unwrap();
    putter.join().unwrap().unwrap();
    let left = watcher.queue::<u32>("late").unwrap().qsize().unwrap();
    match got {
        Ok(8) => assert_eq!(left, 0),
        Err(Error::Timeout) => assert_eq!(left, 1, "a timeout, and the item is gone"),
        other => panic!("{other:?}"),
    }
}
