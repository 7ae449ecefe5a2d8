//! Fuzz target over everything the broker does with bytes it did not produce: the frame
//! check, request parsing (which validates every user value and key), value validation on
//! its own, and — for clients — reply decoding.
//!
//! The input is a byte stream as a connection would deliver it: frames are cut from it with
//! `frame::check` exactly as the broker's read loop does, and each payload goes through
//! `Request::parse` and `ReplyFields::decode`. The whole input is also validated as one user
//! value. Any panic (or abort) is a bug; the properties below are checked with `assert!` so
//! that a wrong answer crashes too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use xproc_protocol::frame::{self, Check, HEADER_LEN};
use xproc_protocol::{value, ReplyFields, Request};

/// A small `max_frame`, so that "too large" is reached often, and the real default.
const LIMITS: [usize; 2] = [64 * 1024, 16 * 1024 * 1024];

fuzz_target!(|data: &[u8]| {
    for max in LIMITS {
        let mut rest = data;
        loop {
            match frame::check(rest, max) {
                Ok(Check::Incomplete) => {
                    // Only when fewer than a header's bytes, or fewer than announced, remain.
                    if rest.len() >= HEADER_LEN {
                        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                        assert!(rest.len() - HEADER_LEN < len as usize);
                    }
                    break;
                }
                Err(_) => {
                    // Refused from the header alone, and only above the limit.
                    assert!(rest.len() >= HEADER_LEN);
                    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
                    assert!(len as usize > max);
                    break;
                }
                Ok(Check::Ready { len }) => {
                    assert!(len <= max && HEADER_LEN + len <= rest.len());
                    let payload = &rest[HEADER_LEN..HEADER_LEN + len];
                    check_request(payload);
                    let _ = ReplyFields::decode(payload).map(|r| r.error_code());
                    rest = &rest[HEADER_LEN + len..];
                }
            }
        }
    }
    let _ = value::validate(data);
});

/// A payload that parses must be a request whose every value is valid on its own; an error
/// is never fatal for a payload that decodes as a request map.
fn check_request(payload: &[u8]) {
    match Request::parse(payload) {
        Ok((_, req)) => {
            if let Request::QueuePut { value, .. } | Request::DictSet { value, .. } = req {
                assert!(value::validate(value).is_ok());
            }
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
}
