//! Locks, rlocks, semaphores, bounded semaphores, events, conditions and barriers through the
//! C ABI, with timeouts, ownership errors and abandoned locks.

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::*;
use xproc_tests::Broker;

use super::{connect, fails, ok, s};

#[test]
fn lock_is_exclusive_and_owned_by_the_connection() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (n, nl) = s("dev");
        let (mut l1, mut l2) = (null_mut(), null_mut());
        ok(xproc_lock_open(c1, n, nl, &mut l1));
        ok(xproc_lock_open(c2, n, nl, &mut l2));
        let (mut acquired, mut by) = (false, 99u32);
        ok(xproc_lock_acquire(l1, -1, &mut acquired, &mut by));
        assert!(acquired);
        assert_eq!(by, 0);
        ok(xproc_lock_acquire(l2, 0, &mut acquired, null_mut()));
        assert!(!acquired);
        ok(xproc_lock_acquire(l2, 50, &mut acquired, null_mut()));
        assert!(!acquired);
        fails(xproc_lock_release(l2), XPROC_NOT_OWNER);
        ok(xproc_lock_release(l1));
        ok(xproc_lock_acquire(l2, 1000, &mut acquired, null_mut()));
        assert!(acquired);
        ok(xproc_lock_release(l2));
        fails(
            xproc_lock_acquire(l1, 0, null_mut(), null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        fails(xproc_lock_release(null()), XPROC_NULL_ARGUMENT);
        let mut ev = null_mut();
        fails(xproc_event_open(c1, n, nl, &mut ev), XPROC_TYPE_MISMATCH);
        xproc_lock_free(l1);
        xproc_lock_free(l2);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}

#[test]
fn an_abandoned_lock_reports_the_dead_owner() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (n, nl) = s("crashy");
        let (mut l1, mut l2) = (null_mut(), null_mut());
        ok(xproc_rlock_open(c1, n, nl, &mut l1));
        ok(xproc_rlock_open(c2, n, nl, &mut l2));
        let mut acquired = false;
        ok(xproc_lock_acquire(l1, -1, &mut acquired, null_mut()));
        // The owner's connection goes away while holding it.
        xproc_lock_free(l1);
        xproc_client_free(c1);
        let mut by = 0u32;
        ok(xproc_lock_acquire(l2, 5000, &mut acquired, &mut by));
        assert!(acquired);
        assert_eq!(
            by,
            std::process::id(),
            "the dead owner's pid (this process)"
        );
        // Reentrant: the owner may take it again, and releases as many times.
        ok(xproc_lock_acquire(l2, 0, &mut acquired, &mut by));
        assert!(acquired);
        assert_eq!(by, 0);
        ok(xproc_lock_release(l2));
        ok(xproc_lock_release(l2));
        fails(xproc_lock_release(l2), XPROC_NOT_OWNER);
        xproc_lock_free(l2);
        xproc_client_free(c2);
    }
}

#[test]
fn semaphores_and_bounded_semaphores() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("slots");
        let mut sem = null_mut();
        ok(xproc_semaphore_open(c, n, nl, 2, &mut sem));
        let mut acquired = false;
        ok(xproc_semaphore_acquire(sem, -1, &mut acquired));
        assert!(acquired);
        ok(xproc_semaphore_acquire(sem, 0, &mut acquired));
        assert!(acquired);
        ok(xproc_semaphore_acquire(sem, 30, &mut acquired));
        assert!(!acquired);
        ok(xproc_semaphore_release(sem, 2));
        ok(xproc_semaphore_release(sem, 1)); // a plain semaphore may go above its initial value
        let mut other = null_mut();
        fails(
            xproc_semaphore_open(c, n, nl, 5, &mut other),
            XPROC_OPTION_MISMATCH,
        );

        let (bn, bl) = s("bounded");
        let mut bs = null_mut();
        ok(xproc_bounded_semaphore_open(c, bn, bl, 1, &mut bs));
        ok(xproc_semaphore_acquire(bs, 0, &mut acquired));
        assert!(acquired);
        ok(xproc_semaphore_release(bs, 1));
        fails(xproc_semaphore_release(bs, 1), XPROC_INVALID_ARGUMENT);
        fails(
            xproc_semaphore_acquire(bs, 0, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        xproc_semaphore_free(bs);
        xproc_semaphore_free(sem);
        xproc_client_free(c);
    }
}

#[test]
fn events_set_clear_wait() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (n, nl) = s("go");
        let (mut e1, mut e2) = (null_mut(), null_mut());
        ok(xproc_event_open(c1, n, nl, &mut e1));
        ok(xproc_event_open(c2, n, nl, &mut e2));
        let mut set = true;
        ok(xproc_event_is_set(e1, &mut set));
        assert!(!set);
        ok(xproc_event_wait(e1, 30, &mut set));
        assert!(!set);
        let waiter = {
            let e2 = e2 as usize;
            std::thread::spawn(move || {
                let mut set = false;
                let st = xproc_event_wait(e2 as *const xproc_event_t, -1, &mut set);
                (st, set)
            })
        };
        ok(xproc_event_set(e1));
        assert_eq!(waiter.join().unwrap(), (XPROC_OK, true));
        ok(xproc_event_wait(e2, 0, &mut set));
        assert!(set);
        ok(xproc_event_clear(e2));
        ok(xproc_event_is_set(e1, &mut set));
        assert!(!set);
        fails(xproc_event_is_set(e1, null_mut()), XPROC_NULL_ARGUMENT);
        fails(xproc_event_set(null()), XPROC_NULL_ARGUMENT);
        xproc_event_free(e1);
        xproc_event_free(e2);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}

/// The predicate for `xproc_condition_wait_for`: reads a flag through the context pointer.
unsafe extern "C" fn flag_is_set(ctx: *mut c_void) -> bool {
    unsafe { *(ctx as *const bool) }
}

#[test]
fn conditions_wait_notify_and_wait_for() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (n, nl) = s("cv");
        let (mut k1, mut k2) = (null_mut(), null_mut());
        ok(xproc_condition_open(c1, n, nl, &mut k1));
        ok(xproc_condition_open(c2, n, nl, &mut k2));
        let mut notified = true;
        fails(xproc_condition_wait(k1, 0, &mut notified), XPROC_NOT_OWNER);
        fails(xproc_condition_notify(k1, 1, null_mut()), XPROC_NOT_OWNER);
        let mut acquired = false;
        ok(xproc_condition_acquire(k1, -1, &mut acquired, null_mut()));
        assert!(acquired);
        ok(xproc_condition_wait(k1, 30, &mut notified));
        assert!(!notified, "nobody notified; the lock is held again");
        let mut woken = 9;
        ok(xproc_condition_notify(k1, 1, &mut woken));
        assert_eq!(woken, 0);

        // Another connection waits; this one notifies.
        ok(xproc_condition_release(k1));
        let waiter = {
            let k2 = k2 as usize;
            std::thread::spawn(move || {
                let k2 = k2 as *const xproc_condition_t;
                let mut acquired = false;
                assert_eq!(
                    xproc_condition_acquire(k2, -1, &mut acquired, null_mut()),
                    XPROC_OK
                );
                let mut notified = false;
                let st = xproc_condition_wait(k2, -1, &mut notified);
                assert_eq!(xproc_condition_release(k2), XPROC_OK);
                (st, notified)
            })
        };
        xproc_tests::eventually("the waiter is waiting", || {
            let mut acquired = false;
            ok(xproc_condition_acquire(k1, -1, &mut acquired, null_mut()));
            let mut woken = 0;
            ok(xproc_condition_notify_all(k1, &mut woken));
            ok(xproc_condition_release(k1));
            woken == 1
        });
        assert_eq!(waiter.join().unwrap(), (XPROC_OK, true));

        // wait_for: true at once, and false after the time runs out.
        let mut flag = true;
        let mut result = false;
        ok(xproc_condition_acquire(k1, -1, &mut acquired, null_mut()));
        ok(xproc_condition_wait_for(
            k1,
            Some(flag_is_set),
            (&mut flag as *mut bool).cast(),
            0,
            &mut result,
        ));
        assert!(result);
        flag = false;
        ok(xproc_condition_wait_for(
            k1,
            Some(flag_is_set),
            (&mut flag as *mut bool).cast(),
            30,
            &mut result,
        ));
        assert!(!result);
        fails(
            xproc_condition_wait_for(k1, None, null_mut(), 0, &mut result),
            XPROC_NULL_ARGUMENT,
        );
        ok(xproc_condition_release(k1));
        fails(xproc_condition_release(k1), XPROC_NOT_OWNER);
        fails(
            xproc_condition_notify_all(null(), null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        xproc_condition_free(k1);
        xproc_condition_free(k2);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}

#[test]
fn barriers_release_together_and_break() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("meet");
        let mut b = null_mut();
        ok(xproc_barrier_open(c, n, nl, 2, &mut b));
        let mut other = null_mut();
        fails(
            xproc_barrier_open(c, n, nl, 3, &mut other),
            XPROC_OPTION_MISMATCH,
        );
        let mut state = xproc_barrier_state_t::default();
        ok(xproc_barrier_state(b, &mut state));
        assert_eq!(
            (state.parties, state.n_waiting, state.broken),
            (2, 0, false)
        );

        // Two parties on two connections (one per thread).
        let b2 = {
            let c2 = connect(&broker);
            let mut b2 = null_mut();
            ok(xproc_barrier_open(c2, n, nl, 2, &mut b2));
            xproc_client_free(c2);
            b2 as usize
        };
        let party = std::thread::spawn(move || {
            let mut index = 99;
            let st = xproc_barrier_wait(b2 as *const xproc_barrier_t, -1, &mut index);
            (st, index)
        });
        let mut index = 99;
        ok(xproc_barrier_wait(b, 5000, &mut index));
        let (st, other_index) = party.join().unwrap();
        assert_eq!(st, XPROC_OK);
        let mut both = [index, other_index];
        both.sort();
        assert_eq!(both, [0, 1]);

        // A lone wait times out and breaks it; it stays broken until reset.
        fails(xproc_barrier_wait(b, 30, &mut index), XPROC_BROKEN_BARRIER);
        ok(xproc_barrier_state(b, &mut state));
        assert!(state.broken);
        fails(xproc_barrier_wait(b, 0, &mut index), XPROC_BROKEN_BARRIER);
        ok(xproc_barrier_reset(b));
        ok(xproc_barrier_state(b, &mut state));
        assert!(!state.broken);
        ok(xproc_barrier_abort(b));
        fails(
            xproc_barrier_wait(b2 as *const _, -1, &mut index),
            XPROC_BROKEN_BARRIER,
        );
        fails(xproc_barrier_state(b, null_mut()), XPROC_NULL_ARGUMENT);
        fails(xproc_barrier_abort(null()), XPROC_NULL_ARGUMENT);
        xproc_barrier_free(b2 as *mut _);
        xproc_barrier_free(b);
        xproc_client_free(c);
    }
}
