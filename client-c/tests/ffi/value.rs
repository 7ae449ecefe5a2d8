//! The value API: building, reading, encoding and decoding every value type, ownership rules
//! and error paths. No broker needed.

use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::xproc_value_type_e::*;
use crate::*;

use super::{encode, fails, mp, ok, read_i64, read_str, s, str_value, unmp};

#[test]
fn scalars_round_trip_through_messagepack() {
    unsafe {
        let cases: Vec<(*mut xproc_value_t, xproc_value_type_e, rmpv::Value)> = vec![
            (xproc_value_new_nil(), XPROC_VALUE_NIL, rmpv::Value::Nil),
            (xproc_value_new_bool(true), XPROC_VALUE_BOOL, true.into()),
            (xproc_value_new_int64(-5), XPROC_VALUE_INT, (-5).into()),
            (
                xproc_value_new_int64(1 << 40),
                XPROC_VALUE_INT,
                (1i64 << 40).into(),
            ),
            (xproc_value_new_uint64(7), XPROC_VALUE_INT, 7.into()),
            (
                xproc_value_new_uint64(u64::MAX),
                XPROC_VALUE_UINT,
                u64::MAX.into(),
            ),
            (
                xproc_value_new_double(2.5),
                XPROC_VALUE_DOUBLE,
                rmpv::Value::F64(2.5),
            ),
            (
                xproc_value_new_float(1.5),
                XPROC_VALUE_FLOAT,
                rmpv::Value::F32(1.5),
            ),
            (str_value("héllo"), XPROC_VALUE_STRING, "héllo".into()),
        ];
        for (v, ty, want) in cases {
            assert_eq!(xproc_value_type(v), ty);
            let bytes = encode(v);
            assert_eq!(unmp(&bytes), want);
            let mut back = null_mut();
            ok(xproc_value_decode(bytes.as_ptr(), bytes.len(), &mut back));
            assert_eq!(xproc_value_type(back), ty);
            assert_eq!(encode(back), bytes);
            xproc_value_free(back);
            xproc_value_free(v);
        }
    }
}

#[test]
fn integers_encode_in_their_shortest_form() {
    unsafe {
        let v = xproc_value_new_int64(1);
        assert_eq!(encode(v), vec![0x01]);
        xproc_value_free(v);
        let v = xproc_value_new_uint64(200);
        assert_eq!(encode(v), vec![0xcc, 200]);
        xproc_value_free(v);
        let v = xproc_value_new_int64(-1);
        assert_eq!(encode(v), vec![0xff]);
        xproc_value_free(v);
    }
}

#[test]
fn readers_check_the_type_and_range() {
    unsafe {
        let i = xproc_value_new_int64(-3);
        let mut b = false;
        let msg = fails(xproc_value_as_bool(i, &mut b), XPROC_WRONG_TYPE);
        assert!(msg.contains("integer"), "{msg}");
        let mut u = 9u64;
        fails(xproc_value_as_uint64(i, &mut u), XPROC_OUT_OF_RANGE);
        assert_eq!(u, 0, "out-parameters are cleared on failure");
        let mut d = 0.0;
        fails(xproc_value_as_double(i, &mut d), XPROC_WRONG_TYPE);
        assert_eq!(read_i64(i), -3);
        xproc_value_free(i);

        let big = xproc_value_new_uint64(u64::MAX);
        let mut n = 0i64;
        fails(xproc_value_as_int64(big, &mut n), XPROC_OUT_OF_RANGE);
        ok(xproc_value_as_uint64(big, &mut u));
        assert_eq!(u, u64::MAX);
        xproc_value_free(big);

        let f = xproc_value_new_float(0.25);
        ok(xproc_value_as_double(f, &mut d));
        assert_eq!(d, 0.25);
        xproc_value_free(f);

        let t = xproc_value_new_bool(true);
        ok(xproc_value_as_bool(t, &mut b));
        assert!(b);
        let (mut p, mut len) = (null(), 0);
        fails(xproc_value_as_string(t, &mut p, &mut len), XPROC_WRONG_TYPE);
        fails(
            xproc_value_as_bytes(t, &mut p.cast(), &mut len),
            XPROC_WRONG_TYPE,
        );
        xproc_value_free(t);
    }
}

#[test]
fn strings_are_nul_terminated_and_checked_for_utf8() {
    unsafe {
        let v = str_value("abc");
        let (mut p, mut n) = (null(), 0);
        ok(xproc_value_as_string(v, &mut p, &mut n));
        assert_eq!(n, 3);
        assert_eq!(std::ffi::CStr::from_ptr(p).to_str().unwrap(), "abc");
        xproc_value_free(v);

        let bad = [0xffu8, 0xfe];
        let mut out = null_mut();
        let msg = fails(
            xproc_value_new_string(bad.as_ptr().cast(), 2, &mut out),
            XPROC_INVALID_ARGUMENT,
        );
        assert!(msg.contains("UTF-8"), "{msg}");
        assert!(out.is_null());

        // An empty string may be given as NULL with length 0, but not NULL with a length.
        ok(xproc_value_new_string(null(), 0, &mut out));
        assert_eq!(read_str(out), "");
        xproc_value_free(out);
        fails(
            xproc_value_new_string(null(), 3, &mut out),
            XPROC_NULL_ARGUMENT,
        );
        fails(
            xproc_value_new_string(s("x").0, 1, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
    }
}

#[test]
fn bytes_and_extensions() {
    unsafe {
        let data = [0u8, 1, 2, 255];
        let mut b = null_mut();
        ok(xproc_value_new_bytes(data.as_ptr(), data.len(), &mut b));
        assert_eq!(xproc_value_type(b), XPROC_VALUE_BYTES);
        let (mut p, mut n) = (null(), 0);
        ok(xproc_value_as_bytes(b, &mut p, &mut n));
        assert_eq!(std::slice::from_raw_parts(p, n), &data);
        assert_eq!(unmp(&encode(b)), rmpv::Value::Binary(data.to_vec()));
        xproc_value_free(b);

        // A timestamp: extension type -1 with 4 bytes of seconds.
        let secs = 1_700_000_000u32.to_be_bytes();
        let mut t = null_mut();
        ok(xproc_value_new_ext(-1, secs.as_ptr(), 4, &mut t));
        assert_eq!(xproc_value_type(t), XPROC_VALUE_EXT);
        let mut ty = 0i8;
        ok(xproc_value_as_ext(t, &mut ty, &mut p, &mut n));
        assert_eq!((ty, std::slice::from_raw_parts(p, n)), (-1, &secs[..]));
        let bytes = encode(t);
        assert_eq!(bytes[0], 0xd6, "fixext 4");
        let mut back = null_mut();
        ok(xproc_value_decode(bytes.as_ptr(), bytes.len(), &mut back));
        assert_eq!(encode(back), bytes);
        xproc_value_free(back);
        xproc_value_free(t);
    }
}

#[test]
fn arrays_and_maps_take_ownership_of_their_children() {
    unsafe {
        let arr = xproc_value_new_array();
        ok(xproc_value_array_push(arr, xproc_value_new_int64(1)));
        ok(xproc_value_array_push(arr, str_value("two")));
        let inner = xproc_value_new_map();
        ok(xproc_value_map_insert(
            inner,
            str_value("k"),
            xproc_value_new_bool(false),
        ));
        ok(xproc_value_map_insert(
            inner,
            xproc_value_new_int64(3),
            xproc_value_new_nil(),
        ));
        ok(xproc_value_array_push(arr, inner));

        let mut n = 0;
        ok(xproc_value_array_len(arr, &mut n));
        assert_eq!(n, 3);
        let mut e = null();
        ok(xproc_value_array_get(arr, 1, &mut e));
        assert_eq!(read_str(e), "two");
        fails(xproc_value_array_get(arr, 3, &mut e), XPROC_OUT_OF_RANGE);
        assert!(e.is_null());
        ok(xproc_value_array_get(arr, 2, &mut e));
        ok(xproc_value_map_len(e, &mut n));
        assert_eq!(n, 2);
        let mut k = null();
        ok(xproc_value_map_key_at(e, 1, &mut k));
        assert_eq!(read_i64(k), 3);
        let mut v = null();
        ok(xproc_value_map_value_at(e, 1, &mut v));
        assert_eq!(xproc_value_type(v), XPROC_VALUE_NIL);
        fails(xproc_value_map_key_at(e, 2, &mut k), XPROC_OUT_OF_RANGE);
        let (kp, kn) = s("k");
        ok(xproc_value_map_find(e, kp, kn, &mut v));
        assert_eq!(xproc_value_type(v), XPROC_VALUE_BOOL);
        let (kp, kn) = s("missing");
        fails(xproc_value_map_find(e, kp, kn, &mut v), XPROC_KEY_NOT_FOUND);
        fails(xproc_value_map_len(arr, &mut n), XPROC_WRONG_TYPE);
        fails(xproc_value_array_len(e, &mut n), XPROC_WRONG_TYPE);

        let want = rmpv::Value::Array(vec![
            1.into(),
            "two".into(),
            rmpv::Value::Map(vec![
                ("k".into(), false.into()),
                (3.into(), rmpv::Value::Nil),
            ]),
        ]);
        assert_eq!(unmp(&encode(arr)), want);

        // Elements are borrowed: they cannot be freed, pushed or changed on their own.
        let child = e.cast_mut();
        fails(
            xproc_value_map_insert(child, str_value("x"), xproc_value_new_nil()),
            XPROC_INVALID_ARGUMENT,
        );
        let other = xproc_value_new_array();
        fails(xproc_value_array_push(other, child), XPROC_INVALID_ARGUMENT);
        xproc_value_free(child); // refused: a no-op with a message
        assert!(super::last_error().contains("element"));
        // A clone is the caller's own.
        let mut copy = null_mut();
        ok(xproc_value_clone(child, &mut copy));
        ok(xproc_value_array_push(other, copy));
        ok(xproc_value_array_len(other, &mut n));
        assert_eq!(n, 1);
        xproc_value_free(other);

        assert_eq!(unmp(&encode(arr)), want, "the parent is intact");
        xproc_value_free(arr);
    }
}

#[test]
fn push_and_insert_consume_the_child_even_when_they_fail() {
    unsafe {
        // Pushing into a non-array fails, but the item is consumed (no leak, no double free
        // under valgrind in the C tests).
        let not_array = xproc_value_new_int64(1);
        fails(
            xproc_value_array_push(not_array, str_value("lost")),
            XPROC_WRONG_TYPE,
        );
        fails(
            xproc_value_map_insert(not_array, str_value("k"), str_value("v")),
            XPROC_WRONG_TYPE,
        );
        fails(
            xproc_value_array_push(null_mut(), str_value("lost")),
            XPROC_NULL_ARGUMENT,
        );
        fails(
            xproc_value_array_push(not_array, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        xproc_value_free(not_array);
    }
}

#[test]
fn nesting_is_bounded() {
    unsafe {
        let mut v = xproc_value_new_array();
        for _ in 1..100 {
            let outer = xproc_value_new_array();
            ok(xproc_value_array_push(outer, v));
            v = outer;
        }
        let outer = xproc_value_new_array();
        fails(xproc_value_array_push(outer, v), XPROC_OUT_OF_RANGE);
        xproc_value_free(outer);

        let deep: Vec<u8> = std::iter::repeat_n(0x91u8, 200).chain([0xc0]).collect();
        let mut out = null_mut();
        fails(
            xproc_value_decode(deep.as_ptr(), deep.len(), &mut out),
            XPROC_INVALID_VALUE,
        );
    }
}

#[test]
fn decode_refuses_malformed_messagepack() {
    unsafe {
        let mut out = null_mut();
        for bad in [
            &[][..],
            &[0xc1],
            &[0x01, 0x02],
            &[0xa3, b'a'],
            &[0xa1, 0xff],
        ] {
            fails(
                xproc_value_decode(bad.as_ptr(), bad.len(), &mut out),
                XPROC_INVALID_VALUE,
            );
            assert!(out.is_null());
        }
        let good = mp(rmpv::Value::Map(vec![("n".into(), 7.into())]));
        ok(xproc_value_decode(good.as_ptr(), good.len(), &mut out));
        let mut n = null();
        let (kp, kn) = s("n");
        ok(xproc_value_map_find(out, kp, kn, &mut n));
        assert_eq!(read_i64(n), 7);
        xproc_value_free(out);
    }
}

#[test]
fn null_and_foreign_pointers_are_refused() {
    unsafe {
        assert_eq!(xproc_value_type(null()), XPROC_VALUE_INVALID);
        let mut b = false;
        fails(xproc_value_as_bool(null(), &mut b), XPROC_NULL_ARGUMENT);
        let v = xproc_value_new_bool(true);
        fails(xproc_value_as_bool(v, null_mut()), XPROC_NULL_ARGUMENT);
        let (mut p, mut n) = (null_mut(), 0);
        fails(
            xproc_value_encode(null(), &mut p, &mut n),
            XPROC_NULL_ARGUMENT,
        );
        fails(
            xproc_value_encode(v, &mut p, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        // Something that is not a value at all (an aligned buffer of zeros).
        let junk = [0u64; 4];
        let junk = junk.as_ptr().cast::<xproc_value_t>();
        assert_eq!(xproc_value_type(junk), XPROC_VALUE_INVALID);
        fails(xproc_value_as_bool(junk, &mut b), XPROC_INVALID_ARGUMENT);
        xproc_value_free(v);
        // Freeing NULL is a no-op.
        xproc_value_free(null_mut());
        xproc_bytes_free(null_mut(), 0);
    }
}

#[test]
fn status_names_and_version() {
    unsafe {
        let name = |s: i32| {
            std::ffi::CStr::from_ptr(xproc_status_str(s))
                .to_str()
                .unwrap()
        };
        assert_eq!(name(XPROC_OK as i32), "XPROC_OK");
        assert_eq!(name(XPROC_TIMEOUT as i32), "XPROC_TIMEOUT");
        assert_eq!(name(XPROC_PANIC as i32), "XPROC_PANIC");
        assert_eq!(name(1000), "XPROC_UNKNOWN_STATUS");
        let v = std::ffi::CStr::from_ptr(xproc_version()).to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
