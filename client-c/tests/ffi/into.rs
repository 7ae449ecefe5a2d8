//! The `_into` reads (`xproc_queue_get_into`, `xproc_dict_get_into`, `xproc_pipe_recv_into`):
//! values copied into the caller's buffer, and the too-small path, where a taken queue item or
//! received pipe message is held by the handle for the next call instead of being lost.

use std::ptr::null_mut;

use crate::xproc_status_e::*;
use crate::*;
use xproc_tests::Broker;

use super::{connect, fails, mp, ok, s};

/// Calls an `_into` function with a buffer of `cap` bytes; returns the status and the bytes
/// written (or, on `XPROC_BUFFER_TOO_SMALL`, an empty vector) and `*len`.
fn into(
    cap: usize,
    f: impl FnOnce(*mut u8, usize, *mut usize) -> xproc_status_e,
) -> (xproc_status_e, Vec<u8>, usize) {
    let mut buf = vec![0xAAu8; cap];
    let mut len = usize::MAX;
    let st = f(buf.as_mut_ptr(), cap, &mut len);
    let got = if st == XPROC_OK {
        buf[..len].to_vec()
    } else {
        Vec::new()
    };
    (st, got, len)
}

#[test]
fn queue_get_into_copies_and_holds_what_does_not_fit() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("into");
        let mut q = null_mut();
        ok(xproc_queue_open(c, n, nl, -1, &mut q));
        let small = mp("hi".into());
        let big = mp(rmpv::Value::Binary(vec![7; 100]));
        let last = mp(42.into());
        for v in [&small, &big, &last] {
            ok(xproc_queue_put_raw(q, v.as_ptr(), v.len(), -1));
        }

        let (st, got, len) = into(16, |b, cap, l| xproc_queue_get_into(q, 1000, b, cap, l));
        ok(st);
        assert_eq!((got, len), (small.clone(), small.len()));

        // Too small: the item leaves the queue but is held, and *len says what is needed.
        let (st, _, len) = into(16, |b, cap, l| xproc_queue_get_into(q, 1000, b, cap, l));
        let msg = fails(st, XPROC_BUFFER_TOO_SMALL);
        assert!(msg.contains(&big.len().to_string()), "{msg}");
        assert_eq!(len, big.len());
        let mut left = 0;
        ok(xproc_queue_qsize(q, &mut left));
        assert_eq!(left, 1, "the big item left the broker's queue");
        // Still too small: held again, still first.
        let (st, _, len) = into(0, |_, _, l| {
            xproc_queue_get_into(q, 0, std::ptr::null_mut(), 0, l)
        });
        fails(st, XPROC_BUFFER_TOO_SMALL);
        assert_eq!(len, big.len());
        // Big enough: the held item comes first, then the queue resumes in order.
        let (st, got, _) = into(len, |b, cap, l| xproc_queue_get_into(q, 0, b, cap, l));
        ok(st);
        assert_eq!(got, big);
        let (st, got, _) = into(len, |b, cap, l| xproc_queue_get_into(q, 0, b, cap, l));
        ok(st);
        assert_eq!(got, last);
        let (st, _, len) = into(16, |b, cap, l| xproc_queue_get_into(q, 0, b, cap, l));
        fails(st, XPROC_EMPTY);
        assert_eq!(len, 0);

        // Argument checks.
        let mut len = 9;
        let st = xproc_queue_get_into(q, 0, std::ptr::null_mut(), 4, &mut len);
        fails(st, XPROC_NULL_ARGUMENT);
        let mut b = [0u8; 4];
        let st = xproc_queue_get_into(q, 0, b.as_mut_ptr(), 4, std::ptr::null_mut());
        fails(st, XPROC_NULL_ARGUMENT);
        let st = xproc_queue_get_into(std::ptr::null(), 0, b.as_mut_ptr(), 4, &mut len);
        fails(st, XPROC_NULL_ARGUMENT);

        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn dict_get_into_copies_and_leaves_a_too_big_value_in_the_dict() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("into");
        let mut d = null_mut();
        ok(xproc_dict_open(c, n, nl, &mut d));
        let key = mp("k".into());
        let value = mp(rmpv::Value::Binary(vec![1; 50]));
        ok(xproc_dict_set_raw(
            d,
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
        ));

        let get = |cap| {
            into(cap, |b, cap, l| {
                xproc_dict_get_into(d, key.as_ptr(), key.len(), b, cap, l)
            })
        };
        let (st, _, len) = get(8);
        fails(st, XPROC_BUFFER_TOO_SMALL);
        assert_eq!(len, value.len());
        // Nothing was taken: a big enough buffer reads the key again.
        let (st, got, len) = get(len);
        ok(st);
        assert_eq!((got, len), (value.clone(), value.len()));

        let other = mp("nope".into());
        let (st, _, len) = into(64, |b, cap, l| {
            xproc_dict_get_into(d, other.as_ptr(), other.len(), b, cap, l)
        });
        fails(st, XPROC_KEY_NOT_FOUND);
        assert_eq!(len, 0);

        xproc_dict_free(d);
        xproc_client_free(c);
    }
}

#[test]
fn pipe_recv_into_holds_a_message_that_does_not_fit() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let (n, nl) = s("into");
        let (mut a, mut b) = (null_mut(), null_mut());
        ok(xproc_pipe_open(c1, n, nl, b'a' as _, -1, -1, &mut a));
        ok(xproc_pipe_open(c2, n, nl, b'b' as _, -1, -1, &mut b));
        let big = mp("a message longer than eight bytes".into());
        let small = mp(1.into());
        for m in [&big, &small] {
            ok(xproc_pipe_send_raw(a, m.as_ptr(), m.len(), -1));
        }

        let (st, _, len) = into(8, |p, cap, l| xproc_pipe_recv_into(b, 1000, p, cap, l));
        fails(st, XPROC_BUFFER_TOO_SMALL);
        assert_eq!(len, big.len());
        let (st, got, _) = into(len, |p, cap, l| xproc_pipe_recv_into(b, 1000, p, cap, l));
        ok(st);
        assert_eq!(got, big, "the held message comes first");
        let (st, got, _) = into(8, |p, cap, l| xproc_pipe_recv_into(b, 1000, p, cap, l));
        ok(st);
        assert_eq!(got, small);

        // End of file once the other end closes; a closed end says so too.
        ok(xproc_pipe_close(a));
        let (st, _, _) = into(8, |p, cap, l| xproc_pipe_recv_into(b, 1000, p, cap, l));
        fails(st, XPROC_CLOSED);
        ok(xproc_pipe_close(b));
        let (st, _, _) = into(8, |p, cap, l| xproc_pipe_recv_into(b, 0, p, cap, l));
        fails(st, XPROC_CLOSED);

        xproc_pipe_free(a);
        xproc_pipe_free(b);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}
