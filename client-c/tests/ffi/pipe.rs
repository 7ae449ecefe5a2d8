//! Pipes through the C ABI: both ends, duplex and one-way, capacity, send/recv/poll/close in
//! both flavours, and what a closed end reports.

use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::*;
use xproc_tests::Broker;

use super::{connect, fails, mp, ok, read_str, s, str_value, take_bytes, unmp};

unsafe fn open(
    c: *const xproc_client_t,
    name: &str,
    end: u8,
    duplex: i32,
    capacity: i64,
) -> *mut xproc_pipe_t {
    let (n, nl) = s(name);
    let mut p = null_mut();
    ok(unsafe { xproc_pipe_open(c, n, nl, end as _, duplex, capacity, &mut p) });
    p
}

#[test]
fn duplex_both_ways_and_messages_sent_before_the_other_end_opened() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let a = open(c1, "chan", b'a', -1, -1);
        let early = mp("early".into());
        ok(xproc_pipe_send_raw(a, early.as_ptr(), early.len(), 0));
        let b = open(c2, "chan", b'b', -1, -1);
        let (mut p, mut n) = (null_mut(), 0);
        ok(xproc_pipe_recv_raw(b, 1000, &mut p, &mut n));
        assert_eq!(take_bytes(p, n), early);

        let hello = str_value("hello");
        ok(xproc_pipe_send(b, hello, -1));
        let mut ready = false;
        ok(xproc_pipe_poll(a, 1000, &mut ready));
        assert!(ready);
        let mut got = null_mut();
        ok(xproc_pipe_recv(a, -1, &mut got));
        assert_eq!(read_str(got), "hello");
        xproc_value_free(got);
        ok(xproc_pipe_poll(a, 0, &mut ready));
        assert!(!ready);
        fails(xproc_pipe_recv(a, 0, &mut got), XPROC_EMPTY);
        fails(xproc_pipe_recv_raw(a, 50, &mut p, &mut n), XPROC_TIMEOUT);
        xproc_value_free(hello);

        // An end is held by one connection at a time.
        let (nm, nl) = s("chan");
        let mut again = null_mut();
        let msg = fails(
            xproc_pipe_open(c2, nm, nl, b'a' as _, -1, -1, &mut again),
            XPROC_BUSY,
        );
        assert!(msg.contains("pid"), "{msg}");
        assert!(again.is_null());
        fails(
            xproc_pipe_open(c2, nm, nl, b'c' as _, -1, -1, &mut again),
            XPROC_INVALID_ARGUMENT,
        );
        fails(
            xproc_pipe_open(c2, nm, nl, b'a' as _, 0, -1, &mut again),
            XPROC_OPTION_MISMATCH,
        );

        xproc_pipe_free(a);
        xproc_pipe_free(b);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}

#[test]
fn close_delivers_what_is_left_then_closed() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let a = open(c1, "eof", b'a', 1, -1);
        let b = open(c2, "eof", b'b', 1, -1);
        for i in 0..3 {
            let v = mp(i.into());
            ok(xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 0));
        }
        ok(xproc_pipe_close(a));
        ok(xproc_pipe_close(a)); // closing again is a no-op
        let v = mp(9.into());
        fails(xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 0), XPROC_CLOSED);
        let mut ready = false;
        fails(xproc_pipe_poll(a, 0, &mut ready), XPROC_CLOSED);
        for i in 0..3 {
            let (mut p, mut n) = (null_mut(), 0);
            ok(xproc_pipe_recv_raw(b, 1000, &mut p, &mut n));
            assert_eq!(unmp(&take_bytes(p, n)).as_i64(), Some(i));
        }
        ok(xproc_pipe_poll(b, 0, &mut ready));
        assert!(ready, "a receive would report end of file");
        let (mut p, mut n) = (null_mut(), 0);
        fails(xproc_pipe_recv_raw(b, -1, &mut p, &mut n), XPROC_CLOSED);
        fails(xproc_pipe_send_raw(b, v.as_ptr(), v.len(), 0), XPROC_CLOSED);
        xproc_pipe_free(a);
        xproc_pipe_free(b);

        // Both ends released: the name is free for a fresh pipe.
        let a2 = open(c1, "eof", b'a', 1, -1);
        ok(xproc_pipe_send_raw(a2, v.as_ptr(), v.len(), 0));
        xproc_pipe_free(a2);
        xproc_client_free(c1);
        xproc_client_free(c2);
    }
}

#[test]
fn one_way_pipes_and_capacity() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        // One connection may hold both ends.
        let a = open(c, "oneway", b'a', 0, 2);
        let b = open(c, "oneway", b'b', -1, -1);
        let v = mp(true.into());
        ok(xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 0));
        ok(xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 0));
        fails(xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 0), XPROC_FULL);
        fails(
            xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 30),
            XPROC_TIMEOUT,
        );
        fails(
            xproc_pipe_send_raw(b, v.as_ptr(), v.len(), 0),
            XPROC_INVALID_ARGUMENT,
        );
        let (mut p, mut n) = (null_mut(), 0);
        fails(
            xproc_pipe_recv_raw(a, 0, &mut p, &mut n),
            XPROC_INVALID_ARGUMENT,
        );
        ok(xproc_pipe_recv_raw(b, 0, &mut p, &mut n));
        take_bytes(p, n);
        fails(xproc_pipe_send_raw(a, null(), 1, 0), XPROC_NULL_ARGUMENT);
        fails(xproc_pipe_send(a, null(), 0), XPROC_NULL_ARGUMENT);
        fails(xproc_pipe_poll(b, 0, null_mut()), XPROC_NULL_ARGUMENT);
        fails(xproc_pipe_close(null()), XPROC_NULL_ARGUMENT);
        xproc_pipe_free(a);
        xproc_pipe_free(b);
        xproc_pipe_free(null_mut());
        xproc_client_free(c);
    }
}

#[test]
fn a_peer_that_disconnects_closes_its_end() {
    let broker = Broker::start();
    unsafe {
        let (c1, c2) = (connect(&broker), connect(&broker));
        let a = open(c1, "peer", b'a', -1, -1);
        let b = open(c2, "peer", b'b', -1, -1);
        let v = mp("last words".into());
        ok(xproc_pipe_send_raw(a, v.as_ptr(), v.len(), 0));
        // Freeing the handle and the client drops the connection.
        xproc_pipe_free(a);
        xproc_client_free(c1);
        let (mut p, mut n) = (null_mut(), 0);
        ok(xproc_pipe_recv_raw(b, 1000, &mut p, &mut n));
        assert_eq!(take_bytes(p, n), v);
        fails(xproc_pipe_recv_raw(b, 5000, &mut p, &mut n), XPROC_CLOSED);
        xproc_pipe_free(b);
        xproc_client_free(c2);
    }
}
