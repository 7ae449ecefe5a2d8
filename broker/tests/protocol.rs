//! The connection layer against a real broker: handshake, framing errors, request errors.

mod common;
use common::*;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[test]
fn hello_reports_version_limits_and_conn_id() {
    let b = Broker::start_with(&["--max-objects", "77"]);
    let mut c = b.raw();
    let r = c.hello();
    assert_eq!(r.u64("version"), 1);
    assert!(r.str("server").starts_with("xprocd"));
    assert!(r.u64("conn_id") > 0);
    let limits = r.get("limits").unwrap().as_map().unwrap();
    let max_objects = limits
        .iter()
        .find(|(k, _)| k.as_str() == Some("max_objects"))
        .and_then(|(_, v)| v.as_u64());
    assert_eq!(max_objects, Some(77));
    let d = b.client();
    assert_ne!(d.conn_id, c.conn_id);
    c.op("ping", "x").ok();
}

#[test]
fn hand_written_bytes_work() {
    let b = Broker::start();
    let mut c = b.raw();
    // {"id": 1, "op": "hello", "version": 1}
    let hello = [
        0x83, 0xa2, b'i', b'd', 0x01, 0xa2, b'o', b'p', 0xa5, b'h', b'e', b'l', b'l', b'o', 0xa7,
        b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x01,
    ];
    c.send_raw(&frame(&hello));
    let r = c.recv().ok();
    assert_eq!(r.id(), 1);
    // {"id": 2, "op": "ping"}
    c.send_raw(&frame(&[
        0x82, 0xa2, b'i', b'd', 0x02, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g',
    ]));
    let r = c.recv().ok();
    assert_eq!(r.id(), 2);
    assert_eq!(
        r.0.as_map().unwrap().len(),
        1,
        "ping replies with just the id"
    );
}

#[test]
fn wrong_version_is_refused_and_the_connection_closed() {
    let b = Broker::start();
    let mut c = b.raw();
    let r = c.call(RequestFields {
        version: Some(99),
        ..RequestFields::new(0, "hello")
    });
    let m = r.err("BadVersion");
    assert!(m.contains("99") && m.contains("version 1"), "{m}");
    c.expect_eof();
}

#[test]
fn request_before_hello_is_refused_and_closed() {
    let b = Broker::start();
    let mut c = b.raw();
    c.op("queue.qsize", "q").err("HelloRequired");
    c.expect_eof();
}

#[test]
fn too_large_frame_closes_only_that_connection() {
    let b = Broker::start_with(&["--max-frame", "1024"]);
    let mut other = b.client();
    let mut c = b.client();
    // Only the header: the broker must refuse without waiting for the payload.
    c.send_raw(&2000u32.to_be_bytes());
    let r = c.recv();
    assert_eq!(r.id(), 0);
    let m = r.err("TooLarge");
    assert!(m.contains("max_frame (1024 bytes)"), "{m}");
    c.expect_eof();
    other.op("ping", "x").ok();
    other.open("q", "queue").ok();
}

#[test]
fn garbage_bytes_are_refused() {
    let b = Broker::start();
    // Text where a header should be reads as a huge length.
    let mut c = b.client();
    c.send_raw(b"GET / HTTP/1.1\r\n\r\n");
    c.recv().err("TooLarge");
    c.expect_eof();
    // A frame whose payload is not MessagePack.
    let mut c = b.client();
    c.send_raw(&frame(b"\xc1\xc1\xc1 not msgpack"));
    c.recv().err("BadRequest");
    c.expect_eof();
    b.client().op("ping", "x").ok();
}

#[test]
fn non_map_payload_is_refused() {
    let b = Broker::start();
    let mut c = b.client();
    c.send_raw(&frame(&enc(Value::Array(vec![1.into(), 2.into()]))));
    c.recv().err("BadRequest");
    c.expect_eof();
}

#[test]
fn mistyped_field_is_refused_with_the_id() {
    let b = Broker::start();
    let mut c = b.client();
    // {"id": 5, "op": 1}
    c.send_raw(&frame(&[
        0x82, 0xa2, b'i', b'd', 0x05, 0xa2, b'o', b'p', 0x01,
    ]));
    let r = c.recv();
    assert_eq!(r.id(), 5);
    assert!(r.err("BadRequest").contains("'op'"));
    // The frame was a well-formed request map, so the stream is fine: the connection stays.
    c.op("ping", "x").ok();
}

#[test]
fn truncated_frame_then_disconnect_leaves_the_broker_running() {
    let b = Broker::start();
    let mut c = b.client();
    let mut bytes = 100u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0x82; 10]);
    c.send_raw(&bytes);
    drop(c);
    let mut d = b.client();
    d.op("ping", "x").ok();
    d.op("list", "x").ok();
}

#[test]
fn unknown_op_keeps_the_connection() {
    let b = Broker::start();
    let mut c = b.client();
    let r = c.op("queue.frobnicate", "q");
    assert!(r.err("UnknownOp").contains("queue.frobnicate"));
    c.op("ping", "x").ok();
}

#[test]
fn missing_field_is_bad_request_and_keeps_the_connection() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    let m = c.op("queue.put", "q").err("BadRequest");
    assert!(m.contains("value"), "{m}");
    c.op("ping", "x").ok();
}

#[test]
fn malformed_value_is_refused() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    for bad in [
        &[0xc1][..],
        &[0x92, 0x01][..],
        &[0x01, 0x02][..],
        &[0xa2, 0xff, 0xfe][..],
    ] {
        c.put("q", bad, None).err("InvalidValue");
    }
    assert_eq!(c.op("queue.qsize", "q").ok().u64("len"), 0);
}

#[test]
fn names_are_checked() {
    let b = Broker::start();
    let mut c = b.client();
    let long = "n".repeat(256);
    let ok = "n".repeat(255);
    assert!(c.open("", "queue").err("InvalidName").contains("empty"));
    assert!(c.open(&long, "queue").err("InvalidName").contains("255"));
    // {"id": 9, "op": "open", "kind": "queue", "name": <a str whose bytes are not UTF-8>}
    let mut open = vec![0x84, 0xa2, b'i', b'd', 0x09, 0xa2, b'o', b'p', 0xa4];
    open.extend_from_slice(b"open\xa4kind\xa5queue\xa4name\xa3\xff\xfe\x41");
    c.send_raw(&frame(&open));
    let r = c.recv();
    assert_eq!(r.id(), 9);
    assert!(r.err("InvalidName").contains("UTF-8"));
    c.open(&ok, "queue").ok();
    c.open("名前", "queue").ok();
    c.put("名前", &enc(1), None).ok();
}

#[test]
fn unknown_kind_is_invalid_argument() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("x", "teapot").err("InvalidArgument");
}

// docs/PROTOCOL.md §2–§3 as a clean-room client read them (issue 12, item 10).

#[test]
fn positional_request_is_refused_with_id_0_and_not_executed() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    let mut bad = b.client();
    // [9, "queue.put", "q", bin(01)]
    let positional = enc(Value::Array(vec![
        9.into(),
        "queue.put".into(),
        "q".into(),
        Value::Binary(vec![1]),
    ]));
    bad.send_raw(&frame(&positional));
    let r = bad.recv();
    assert_eq!(r.id(), 0);
    assert!(r.err("BadRequest").contains("positional"));
    bad.expect_eof();
    assert_eq!(c.op("queue.qsize", "q").ok().u64("len"), 0);
}

#[test]
fn request_without_id_or_with_trailing_bytes_closes() {
    let b = Broker::start();
    for payload in [
        // {"op": "ping"}
        vec![0x81, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g'],
        // {"id": 3, "op": "ping"} 00
        vec![
            0x82, 0xa2, b'i', b'd', 0x03, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g', 0x00,
        ],
    ] {
        let mut c = b.client();
        c.send_raw(&frame(&payload));
        let r = c.recv();
        assert_eq!(r.id(), 0);
        r.err("BadRequest");
        c.expect_eof();
    }
}

#[test]
fn str_value_is_bad_request_not_stored() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    // {"id": 4, "op": "queue.put", "name": "q", "value": "x"}
    let mut put = vec![0x84, 0xa2, b'i', b'd', 0x04, 0xa2, b'o', b'p', 0xa9];
    put.extend_from_slice(b"queue.put\xa4name\xa1q\xa5value\xa1x");
    c.send_raw(&frame(&put));
    let r = c.recv();
    assert_eq!(r.id(), 4);
    assert!(r.err("BadRequest").contains("bin"));
    assert_eq!(c.op("queue.qsize", "q").ok().u64("len"), 0);
}

#[test]
fn fields_the_op_does_not_read_are_ignored_whatever_their_type() {
    let b = Broker::start();
    let mut c = b.client();
    // {"id": 2, "op": "ping", "name": 5}
    c.send_raw(&frame(&[
        0x83, 0xa2, b'i', b'd', 0x02, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g', 0xa4, b'n',
        b'a', b'm', b'e', 0x05,
    ]));
    c.recv().ok();
    c.op("ping", "x").ok();
}

#[test]
fn unknown_op_before_hello_is_hello_required() {
    let b = Broker::start();
    let mut c = b.raw();
    c.op("frobnicate", "x").err("HelloRequired");
    c.expect_eof();
}

#[test]
fn second_hello_is_refused_and_the_connection_stays() {
    let b = Broker::start();
    let mut c = b.client();
    let r = c.call(RequestFields {
        version: Some(1),
        ..RequestFields::new(0, "hello")
    });
    assert!(r.err("BadRequest").contains("already"));
    c.op("ping", "x").ok();
}
