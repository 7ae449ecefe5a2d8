//! Interruptible blocking calls: a signal ends a blocked call on that thread with
//! `Interrupted` (after cancelling it at the broker), and only when asked for.
//!
//! Unix only: it sends signals to threads (`pthread_kill`); Windows has no signals, and its
//! console events (Ctrl-C) reach a handler thread, never a blocked read.
#![cfg(unix)]

use std::thread;
use std::time::Duration;

use xproc::{Client, Error};
use xproc_tests::{eventually, waiters_on, Broker};

/// A signal handler that does nothing, installed without `SA_RESTART` (as Python installs its
/// own), so a blocked read fails with `EINTR`.
extern "C" fn ignore_signal(_: libc::c_int) {}

fn install_interrupting_handler(sig: libc::c_int) {
    // SAFETY: a zeroed sigaction with a handler that is async-signal-safe (it does nothing).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
    }
}

/// Starts a thread that blocks in `get` on queue `name` (interruptible or not) and returns its
/// pthread id and handle once the get is blocked at the broker.
fn blocked_getter(
    broker: &Broker,
    watcher: &Client,
    name: &'static str,
    interruptible: bool,
) -> (libc::pthread_t, thread::JoinHandle<xproc::Result<u32>>) {
    let client = broker.client();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        xproc::set_interruptible(interruptible);
        let q = client.queue::<u32>(name).unwrap();
        // SAFETY: pthread_self has no preconditions.
        tx.send(unsafe { libc::pthread_self() }).unwrap();
        q.get()
    });
    let tid = rx.recv().unwrap();
    eventually("the get blocks", || {
        waiters_on(watcher, &format!("queue.get {name}")) == 1
    });
    (tid, handle)
}

#[test]
fn a_signal_ends_an_interruptible_blocking_call_and_it_takes_nothing() {
    install_interrupting_handler(libc::SIGUSR1);
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<u32>("signalled").unwrap();
    let (tid, getter) = blocked_getter(&broker, &client, "signalled", true);
    // SAFETY: the thread is alive, blocked in `get`; SIGUSR1 has a handler.
    assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
    // The get was cancelled at the broker (checked before joining, so that a regression
    // fails here rather than hanging): it waits no more, and takes nothing.
    eventually("the get is gone", || {
        waiters_on(&client, "queue.get signalled") == 0
    });
    match getter.join().unwrap() {
        Err(Error::Interrupted) => {}
        other => panic!("expected Interrupted, got {other:?}"),
    }
    q.put(&5).unwrap();
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.get().unwrap(), 5);
}

#[test]
fn a_signal_does_not_end_a_blocking_call_by_default() {
    install_interrupting_handler(libc::SIGUSR1);
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<u32>("patient").unwrap();
    let (tid, getter) = blocked_getter(&broker, &client, "patient", false);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR1) }, 0);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(waiters_on(&client, "queue.get patient"), 1, "still waiting");
    q.put(&6).unwrap();
    assert_eq!(getter.join().unwrap().unwrap(), 6);
}
