//! Queues and joinable queues through the C ABI: raw and value flavours, timeouts, bounds,
//! pipelined puts, task_done/join, leases and dead-lettering, and their error paths.

use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::*;
use xproc_tests::Broker;

use super::{connect, encode, fails, mp, ok, read_i64, read_str, s, str_value, take_bytes, unmp};

unsafe fn open(c: *const xproc_client_t, name: &str, maxsize: i64) -> *mut xproc_queue_t {
    let (n, nl) = s(name);
    let mut q = null_mut();
    ok(unsafe { xproc_queue_open(c, n, nl, maxsize, &mut q) });
    q
}

#[test]
fn raw_values_come_back_byte_for_byte_in_order() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "raw", -1);
        let values = [
            mp(rmpv::Value::Map(vec![("n".into(), 7.into())])),
            mp("text".into()),
            mp(rmpv::Value::Binary(vec![0, 1, 2])),
        ];
        for v in &values {
            ok(xproc_queue_put_raw(q, v.as_ptr(), v.len(), -1));
        }
        let mut len = 0;
        ok(xproc_queue_qsize(q, &mut len));
        assert_eq!(len, 3);
        for v in &values {
            let (mut p, mut n) = (null_mut(), 0);
            ok(xproc_queue_get_raw(q, 1000, &mut p, &mut n));
            assert_eq!(&take_bytes(p, n), v);
        }
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn value_flavour_between_two_clients() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (q1, q2) = (open(c1, "tasks", -1), open(c2, "tasks", -1));
        let task = xproc_value_new_map();
        ok(xproc_value_map_insert(
            task,
            str_value("n"),
            xproc_value_new_int64(12),
        ));
        ok(xproc_value_map_insert(
            task,
            str_value("label"),
            str_value("twelve"),
        ));
        ok(xproc_queue_put(q1, task, -1));
        // The value is borrowed, not consumed: it can be put again.
        ok(xproc_queue_put(q1, task, 0));
        let mut got = null_mut();
        ok(xproc_queue_get(q2, -1, &mut got));
        assert_eq!(encode(got), encode(task));
        let (kp, kn) = s("label");
        let mut label = null();
        ok(xproc_value_map_find(got, kp, kn, &mut label));
        assert_eq!(read_str(label), "twelve");
        xproc_value_free(got);
        ok(xproc_queue_get(q2, 0, &mut got));
        let (kp, kn) = s("n");
        let mut n = null();
        ok(xproc_value_map_find(got, kp, kn, &mut n));
        assert_eq!(read_i64(n), 12);
        xproc_value_free(got);
        xproc_value_free(task);
        for q in [q1, q2] {
            xproc_queue_free(q);
        }
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}

#[test]
fn empty_full_and_timeouts() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "bounded", 1);
        let (mut p, mut n) = (null_mut(), 0);
        fails(
            xproc_queue_get_raw(q, XPROC_NO_WAIT, &mut p, &mut n),
            XPROC_EMPTY,
        );
        assert!(p.is_null() && n == 0);
        fails(xproc_queue_get_raw(q, 50, &mut p, &mut n), XPROC_TIMEOUT);
        let mut v = null_mut();
        fails(xproc_queue_get(q, 0, &mut v), XPROC_EMPTY);
        assert!(v.is_null());
        let one = [0x01u8];
        ok(xproc_queue_put_raw(q, one.as_ptr(), 1, 0));
        fails(xproc_queue_put_raw(q, one.as_ptr(), 1, 0), XPROC_FULL);
        fails(xproc_queue_put_raw(q, one.as_ptr(), 1, 50), XPROC_TIMEOUT);
        let mut size = xproc_queue_size_t::default();
        ok(xproc_queue_size(q, &mut size));
        assert_eq!((size.len, size.maxsize, size.unfinished), (1, 1, 0));

        // Reopening with another bound is refused; without one it is accepted.
        let (nm, nl) = s("bounded");
        let mut q2 = null_mut();
        fails(
            xproc_queue_open(c, nm, nl, 5, &mut q2),
            XPROC_OPTION_MISMATCH,
        );
        assert!(q2.is_null());
        ok(xproc_queue_open(c, nm, nl, -1, &mut q2));
        // And as another kind, it is a type mismatch.
        let mut d = null_mut();
        fails(xproc_dict_open(c, nm, nl, &mut d), XPROC_TYPE_MISMATCH);
        fails(
            xproc_joinable_queue_open(c, nm, nl, -1, &mut q2.cast()),
            XPROC_TYPE_MISMATCH,
        );
        xproc_queue_free(q2);
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn invalid_values_are_refused_before_or_by_the_broker() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "strict", -1);
        let bad = [0xc1u8];
        fails(
            xproc_queue_put_raw(q, bad.as_ptr(), 1, 0),
            XPROC_INVALID_VALUE,
        );
        let two = [0x01u8, 0x02];
        fails(
            xproc_queue_put_raw(q, two.as_ptr(), 2, 0),
            XPROC_INVALID_VALUE,
        );
        fails(xproc_queue_put_raw(q, null(), 4, 0), XPROC_NULL_ARGUMENT);
        fails(xproc_queue_put(q, null(), 0), XPROC_NULL_ARGUMENT);
        let mut n = 0;
        fails(xproc_queue_qsize(q, null_mut()), XPROC_NULL_ARGUMENT);
        fails(xproc_queue_qsize(null(), &mut n), XPROC_NULL_ARGUMENT);
        // A NULL out-parameter is refused before the request is sent: the item stays.
        ok(xproc_queue_put_raw(q, [0x05].as_ptr(), 1, 0));
        fails(
            xproc_queue_get_raw(q, 0, null_mut(), &mut 0),
            XPROC_NULL_ARGUMENT,
        );
        fails(xproc_queue_get(q, 0, null_mut()), XPROC_NULL_ARGUMENT);
        ok(xproc_queue_qsize(q, &mut n));
        assert_eq!(n, 1);
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn put_many_is_pipelined_and_ordered() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "many", -1);
        let values: Vec<Vec<u8>> = (0..2000).map(|i| mp(i.into())).collect();
        let ptrs: Vec<*const u8> = values.iter().map(|v| v.as_ptr()).collect();
        let lens: Vec<usize> = values.iter().map(Vec::len).collect();
        let mut done = 0;
        ok(xproc_queue_put_many_raw(
            q,
            ptrs.as_ptr(),
            lens.as_ptr(),
            values.len(),
            &mut done,
        ));
        assert_eq!(done, 2000);
        ok(xproc_queue_put_many_raw(q, null(), null(), 0, null_mut()));
        fails(
            xproc_queue_put_many_raw(q, null(), lens.as_ptr(), 3, &mut done),
            XPROC_NULL_ARGUMENT,
        );
        for i in 0..2000i64 {
            let (mut p, mut n) = (null_mut(), 0);
            ok(xproc_queue_get_raw(q, 0, &mut p, &mut n));
            assert_eq!(unmp(&take_bytes(p, n)).as_i64(), Some(i));
        }
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn joinable_queue_task_done_and_join() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("jq");
        let mut q = null_mut();
        ok(xproc_joinable_queue_open(c, n, nl, 0, &mut q));
        ok(xproc_queue_join(q, 0));
        ok(xproc_queue_put_raw(q, [0x01].as_ptr(), 1, 0));
        ok(xproc_queue_put_raw(q, [0x02].as_ptr(), 1, 0));
        let mut size = xproc_queue_size_t::default();
        ok(xproc_queue_size(q, &mut size));
        assert_eq!(size.unfinished, 2);
        fails(xproc_queue_join(q, 50), XPROC_TIMEOUT);
        let (mut p, mut len) = (null_mut(), 0);
        ok(xproc_queue_get_raw(q, 0, &mut p, &mut len));
        take_bytes(p, len);
        ok(xproc_queue_task_done(q));
        ok(xproc_queue_task_done(q));
        ok(xproc_queue_join(q, 1000));
        fails(xproc_queue_task_done(q), XPROC_INVALID_ARGUMENT);

        // A plain queue has neither.
        let plain = open(c, "plain", -1);
        fails(xproc_queue_task_done(plain), XPROC_TYPE_MISMATCH);
        fails(xproc_queue_join(plain, 0), XPROC_TYPE_MISMATCH);
        xproc_queue_free(plain);
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn a_blocked_get_is_served_by_a_put_from_another_thread() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "handoff", -1);
        // Handles are shared across threads (as C would share the pointer).
        let qa = q as usize;
        let getter = std::thread::spawn(move || {
            let (mut p, mut n) = (null_mut(), 0);
            let st = xproc_queue_get_raw(qa as *const xproc_queue_t, -1, &mut p, &mut n);
            (st, take_bytes(p, n))
        });
        xproc_tests::eventually("the get waits at the broker", || {
            let mut v = null_mut();
            ok(xproc_client_clients(c, &mut v));
            let waiting = format!("{:?}", unmp(&encode(v))).contains("queue.get handoff");
            xproc_value_free(v);
            waiting
        });
        ok(xproc_queue_put_raw(q, [0x2a].as_ptr(), 1, 0));
        let (st, got) = getter.join().unwrap();
        assert_eq!(st, XPROC_OK);
        assert_eq!(got, vec![0x2a]);
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn leased_gets_ack_nack_and_their_errors() {
    let broker = Broker::start();
    unsafe {
        let (c, other) = (connect(&broker), connect(&broker));
        let q = open(c, "leased", -1);
        let q2 = open(other, "leased", -1);
        for n in [1i64, 2] {
            let v = xproc_value_new_int64(n);
            ok(xproc_queue_put(q, v, -1));
            xproc_value_free(v);
        }
        // Value flavour.
        let (mut v, mut d, mut attempt) = (null_mut(), 0u64, 0u32);
        ok(xproc_queue_get_leased(
            q,
            1000,
            60_000,
            &mut v,
            &mut d,
            &mut attempt,
        ));
        assert_eq!((read_i64(v), attempt), (1, 1));
        xproc_value_free(v);
        let m = fails(xproc_queue_ack(q2, d), XPROC_UNKNOWN_DELIVERY);
        assert!(m.contains("not held by this connection"), "{m}");
        ok(xproc_queue_nack(q, d, 0));
        fails(xproc_queue_nack(q, d, 0), XPROC_UNKNOWN_DELIVERY);
        // Raw flavour: the nacked item is first again, on attempt 2.
        let (mut p, mut n, mut d2) = (null_mut(), 0, 0u64);
        ok(xproc_queue_get_leased_raw(
            q,
            1000,
            0,
            &mut p,
            &mut n,
            &mut d2,
            &mut attempt,
        ));
        assert_eq!(unmp(&take_bytes(p, n)), rmpv::Value::from(1));
        assert_eq!(attempt, 2);
        assert_ne!(d2, d);
        ok(xproc_queue_ack(q, d2));
        fails(xproc_queue_ack(q, d2), XPROC_UNKNOWN_DELIVERY);
        // The owner disconnects holding a lease: the item comes back to the other client.
        ok(xproc_queue_get_leased(
            q,
            1000,
            3_600_000,
            &mut v,
            &mut d,
            null_mut(),
        ));
        assert_eq!(read_i64(v), 2);
        xproc_value_free(v);
        xproc_queue_free(q);
        xproc_client_free(c);
        ok(xproc_queue_get_leased(
            q2,
            10_000,
            0,
            &mut v,
            &mut d,
            &mut attempt,
        ));
        assert_eq!((read_i64(v), attempt), (2, 2));
        xproc_value_free(v);
        ok(xproc_queue_ack(q2, d));
        // Empty, timeout and NULL arguments.
        fails(
            xproc_queue_get_leased(q2, 0, 0, &mut v, &mut d, null_mut()),
            XPROC_EMPTY,
        );
        assert!(v.is_null() && d == 0);
        fails(
            xproc_queue_get_leased(q2, 10, 0, &mut v, &mut d, null_mut()),
            XPROC_TIMEOUT,
        );
        fails(
            xproc_queue_get_leased_raw(q2, 0, 0, &mut p, &mut n, null_mut(), null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        fails(xproc_queue_ack(null(), 1), XPROC_NULL_ARGUMENT);
        xproc_queue_free(q2);
        xproc_client_free(other);
    }
}

#[test]
fn max_attempts_dead_letters_and_must_match_on_reopen() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (nm, nl) = s("once");
        let mut q = null_mut();
        ok(xproc_queue_open_with(c, nm, nl, -1, 1, &mut q));
        ok(xproc_queue_put_raw(q, [0x07].as_ptr(), 1, 0));
        // The first nack is the last attempt: the item moves to "once.dead".
        let (mut p, mut n, mut d) = (null_mut(), 0, 0u64);
        ok(xproc_queue_get_leased_raw(
            q,
            1000,
            0,
            &mut p,
            &mut n,
            &mut d,
            null_mut(),
        ));
        take_bytes(p, n);
        ok(xproc_queue_nack(q, d, 0));
        fails(
            xproc_queue_get_leased_raw(q, 0, 0, &mut p, &mut n, &mut d, null_mut()),
            XPROC_EMPTY,
        );
        let dead = open(c, "once.dead", -1);
        ok(xproc_queue_get_raw(dead, 1000, &mut p, &mut n));
        assert_eq!(take_bytes(p, n), [0x07]);

        // Reopening: the same value or none is accepted, another one is refused.
        let mut q2 = null_mut();
        ok(xproc_queue_open_with(c, nm, nl, -1, 1, &mut q2));
        xproc_queue_free(q2);
        ok(xproc_queue_open_with(c, nm, nl, -1, -1, &mut q2));
        xproc_queue_free(q2);
        q2 = null_mut();
        let m = fails(
            xproc_queue_open_with(c, nm, nl, -1, 5, &mut q2),
            XPROC_OPTION_MISMATCH,
        );
        assert!(m.contains("max_attempts"), "{m}");
        assert!(q2.is_null());
        // A queue opened without it was created with the default, 5.
        let plain = open(c, "default", -1);
        let (pn, pl) = s("default");
        fails(
            xproc_queue_open_with(c, pn, pl, -1, 0, &mut q2),
            XPROC_OPTION_MISMATCH,
        );
        ok(xproc_queue_open_with(c, pn, pl, -1, 5, &mut q2));
        xproc_queue_free(q2);

        // The joinable form, and its argument checks.
        let (jn, jl) = s("jonce");
        let mut jq = null_mut();
        ok(xproc_joinable_queue_open_with(c, jn, jl, 0, 0, &mut jq));
        fails(
            xproc_joinable_queue_open_with(c, jn, jl, 0, 2, &mut q2),
            XPROC_OPTION_MISMATCH,
        );
        fails(
            xproc_queue_open_with(c, jn, jl, -1, -1, &mut q2),
            XPROC_TYPE_MISMATCH,
        );
        fails(
            xproc_queue_open_with(c, jn, jl, -1, 1, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        fails(
            xproc_joinable_queue_open_with(null(), jn, jl, -1, 1, &mut q2),
            XPROC_NULL_ARGUMENT,
        );
        for h in [jq, plain, dead, q] {
            xproc_queue_free(h);
        }
        xproc_client_free(c);
    }
}

#[cfg(unix)]
extern "C" fn ignore_signal(_: libc::c_int) {}

/// Unix only: signals and EINTR (Windows has neither; Ctrl-C runs a handler on a new thread).
#[cfg(unix)]
#[test]
fn a_signal_ends_a_get_on_an_interruptible_thread_which_takes_nothing() {
    // A handler without SA_RESTART, as Python installs its own: the blocked read gets EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, null_mut()), 0);
    }
    let broker = Broker::start();
    let watcher = broker.client();
    let (tx, rx) = std::sync::mpsc::channel();
    let socket = broker.socket().to_path_buf();
    let getter = std::thread::spawn(move || unsafe {
        let (p, pl) = s(socket.to_str().unwrap());
        let mut c = null_mut();
        ok(xproc_client_connect(p, pl, 5000, &mut c));
        let q = open(c, "interrupted", -1);
        xproc_set_interruptible(1);
        tx.send(libc::pthread_self()).unwrap();
        let (mut v, mut n) = (null_mut(), 0);
        let status = xproc_queue_get_raw(q, -1, &mut v, &mut n);
        let message = super::last_error();
        xproc_set_interruptible(0);
        xproc_queue_free(q);
        xproc_client_free(c);
        (status, message, v.is_null())
    });
    let tid = rx.recv().unwrap();
    xproc_tests::eventually("the get blocks", || {
        xproc_tests::waiters_on(&watcher, "queue.get interrupted") == 1
    });
    assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR2) }, 0);
    xproc_tests::eventually("the get is cancelled", || {
        xproc_tests::waiters_on(&watcher, "queue.get interrupted") == 0
    });
    let (status, message, no_value) = getter.join().unwrap();
    assert_eq!(status, XPROC_INTERRUPTED, "{message}");
    assert!(message.contains("interrupted"), "{message}");
    assert!(no_value, "an interrupted get hands out no buffer");
    // It took nothing: an item put now is still there.
    let q = watcher.queue::<u32>("interrupted").unwrap();
    q.put(&9).unwrap();
    assert_eq!(q.qsize().unwrap(), 1);
}
