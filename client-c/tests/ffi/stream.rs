//! Streaming through the C ABI: put_async + flush, get_many batches, leased batches and
//! ack_many, a refused batch reported by flush with its position, and the argument checks.

use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::*;
use xproc_tests::Broker;

use super::{connect, fails, ok, s};

unsafe fn open(c: *const xproc_client_t, name: &str) -> *mut xproc_queue_t {
    let (n, nl) = s(name);
    let mut q = null_mut();
    ok(unsafe { xproc_queue_open(c, n, nl, 0, &mut q) });
    q
}

/// Item `i` of a batch, copied.
unsafe fn item(b: *const xproc_batch_t, i: usize) -> Vec<u8> {
    let (mut p, mut n) = (null(), 0);
    ok(unsafe { xproc_batch_item(b, i, &mut p, &mut n) });
    unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
}

#[test]
fn put_async_flush_and_get_many_move_values_in_order() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "stream");
        for n in 0..100u8 {
            // Positive fixints are one byte each.
            ok(xproc_queue_put_async_raw(q, [n].as_ptr(), 1));
        }
        let mut failed_at = 0;
        ok(xproc_queue_flush(q, &mut failed_at));
        assert_eq!(failed_at, u64::MAX);
        let mut got = Vec::new();
        while got.len() < 100 {
            let mut b = null_mut();
            ok(xproc_queue_get_many(q, 30, 0, &mut b));
            let len = xproc_batch_len(b);
            assert!((1..=30).contains(&len));
            for i in 0..len {
                got.extend(item(b, i));
            }
            let (mut p, mut n) = (null(), 0);
            fails(xproc_batch_item(b, len, &mut p, &mut n), XPROC_OUT_OF_RANGE);
            let mut d = 0;
            fails(
                xproc_batch_delivery(b, 0, &mut d, null_mut()),
                XPROC_OUT_OF_RANGE,
            );
            xproc_batch_free(b);
        }
        assert_eq!(got, (0..100).collect::<Vec<u8>>());
        let mut b = null_mut();
        fails(xproc_queue_get_many(q, 10, 0, &mut b), XPROC_EMPTY);
        assert!(b.is_null());
        fails(
            xproc_queue_get_many(q, 0, 0, &mut b),
            XPROC_INVALID_ARGUMENT,
        );
        fails(
            xproc_queue_get_many(q, 10, 0, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn leased_batches_are_acked_together() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "jobs");
        for n in 0..5u8 {
            ok(xproc_queue_put_async_raw(q, [n].as_ptr(), 1));
        }
        ok(xproc_queue_flush(q, null_mut()));
        let mut b = null_mut();
        ok(xproc_queue_get_many_leased(q, 10, -1, 60_000, &mut b));
        assert_eq!(xproc_batch_len(b), 5);
        let mut ids = Vec::new();
        for i in 0..5 {
            let (mut d, mut a) = (0, 0);
            ok(xproc_batch_delivery(b, i, &mut d, &mut a));
            assert_eq!(a, 1);
            ids.push(d);
            let mut v = null_mut();
            ok(xproc_batch_value(b, i, &mut v));
            xproc_value_free(v);
        }
        xproc_batch_free(b);
        let mut acked = 0;
        ok(xproc_queue_ack_many(q, ids.as_ptr(), ids.len(), &mut acked));
        assert_eq!(acked, 5);
        ok(xproc_queue_ack_many(q, ids.as_ptr(), ids.len(), &mut acked));
        assert_eq!(acked, 0, "acked twice");
        fails(
            xproc_queue_ack_many(q, null(), 3, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn a_refused_batch_is_reported_by_flush_with_its_position() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let q = open(c, "gone");
        ok(xproc_queue_put_async_raw(q, [1].as_ptr(), 1));
        ok(xproc_queue_flush(q, null_mut()));
        let (n, nl) = s("gone");
        let mut deleted = false;
        ok(xproc_client_delete(c, n, nl, &mut deleted));
        assert!(deleted);
        ok(xproc_queue_put_async_raw(q, [2].as_ptr(), 1));
        let mut failed_at = 0;
        let msg = fails(xproc_queue_flush(q, &mut failed_at), XPROC_NOT_FOUND);
        assert_eq!(failed_at, 1, "{msg}");
        assert!(msg.contains("put_async item 1"), "{msg}");
        ok(xproc_queue_flush(q, &mut failed_at));
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}
