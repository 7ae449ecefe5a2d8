//! Dicts through the C ABI: every operation in both flavours, including incr and
//! compare_and_set with "expected absent", and their error paths.

use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::*;
use rmpv::Value as V;
use xproc_tests::Broker;

use super::{connect, encode, fails, mp, ok, read_i64, read_str, s, str_value, take_bytes, unmp};

unsafe fn open(c: *const xproc_client_t, name: &str) -> *mut xproc_dict_t {
    let (n, nl) = s(name);
    let mut d = null_mut();
    ok(unsafe { xproc_dict_open(c, n, nl, &mut d) });
    d
}

/// Calls a `_raw` function that returns one buffer and decodes it.
fn raw_out(f: impl FnOnce(*mut *mut u8, *mut usize) -> xproc_status_e) -> V {
    let (mut p, mut n) = (null_mut(), 0);
    ok(f(&mut p, &mut n));
    unmp(&take_bytes(p, n))
}

#[test]
fn raw_flavour_every_operation() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let d = open(c, "cfg");
        let (ka, va) = (mp("a".into()), mp(1.into()));
        let (kb, vb) = (mp("b".into()), mp(V::Array(vec![true.into()])));
        ok(xproc_dict_set_raw(
            d,
            ka.as_ptr(),
            ka.len(),
            va.as_ptr(),
            va.len(),
        ));
        ok(xproc_dict_set_raw(
            d,
            kb.as_ptr(),
            kb.len(),
            vb.as_ptr(),
            vb.len(),
        ));
        let got = raw_out(|p, n| xproc_dict_get_raw(d, ka.as_ptr(), ka.len(), p, n));
        assert_eq!(got, V::from(1));
        let mut found = false;
        ok(xproc_dict_contains_raw(
            d,
            kb.as_ptr(),
            kb.len(),
            &mut found,
        ));
        assert!(found);
        let mut len = 0;
        ok(xproc_dict_len(d, &mut len));
        assert_eq!(len, 2);
        assert_eq!(
            raw_out(|p, n| xproc_dict_keys_raw(d, p, n)),
            V::Array(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            raw_out(|p, n| xproc_dict_values_raw(d, p, n)),
            V::Array(vec![1.into(), V::Array(vec![true.into()])])
        );
        assert_eq!(
            raw_out(|p, n| xproc_dict_items_raw(d, p, n)),
            V::Array(vec![
                V::Array(vec!["a".into(), 1.into()]),
                V::Array(vec!["b".into(), V::Array(vec![true.into()])]),
            ])
        );

        // update: several entries at once.
        let (kc, vc, kd, vd) = (mp("c".into()), mp(3.into()), mp(4.into()), mp(V::Nil));
        let keys = [kc.as_ptr(), kd.as_ptr()];
        let key_lens = [kc.len(), kd.len()];
        let vals = [vc.as_ptr(), vd.as_ptr()];
        let val_lens = [vc.len(), vd.len()];
        ok(xproc_dict_update_raw(
            d,
            keys.as_ptr(),
            key_lens.as_ptr(),
            vals.as_ptr(),
            val_lens.as_ptr(),
            2,
        ));
        ok(xproc_dict_len(d, &mut len));
        assert_eq!(len, 4);

        // get_many: nil for a missing key.
        let kz = mp("zzz".into());
        let keys = [ka.as_ptr(), kz.as_ptr(), kc.as_ptr()];
        let key_lens = [ka.len(), kz.len(), kc.len()];
        assert_eq!(
            raw_out(|p, n| xproc_dict_get_many_raw(d, keys.as_ptr(), key_lens.as_ptr(), 3, p, n)),
            V::Array(vec![1.into(), V::Nil, 3.into()])
        );

        // pop, popitem (the most recent entry), setdefault.
        assert_eq!(
            raw_out(|p, n| xproc_dict_pop_raw(d, kc.as_ptr(), kc.len(), p, n)),
            V::from(3)
        );
        let (mut kp, mut kn, mut vp, mut vn) = (null_mut(), 0, null_mut(), 0);
        ok(xproc_dict_popitem_raw(
            d, &mut kp, &mut kn, &mut vp, &mut vn,
        ));
        assert_eq!(
            (unmp(&take_bytes(kp, kn)), unmp(&take_bytes(vp, vn))),
            (V::from(4), V::Nil)
        );
        let dflt = mp("dflt".into());
        assert_eq!(
            raw_out(|p, n| xproc_dict_setdefault_raw(
                d,
                kz.as_ptr(),
                kz.len(),
                dflt.as_ptr(),
                dflt.len(),
                p,
                n
            )),
            V::from("dflt")
        );
        assert_eq!(
            raw_out(|p, n| xproc_dict_setdefault_raw(
                d,
                ka.as_ptr(),
                ka.len(),
                dflt.as_ptr(),
                dflt.len(),
                p,
                n
            )),
            V::from(1),
            "an existing value is kept"
        );

        // incr: a missing key counts from 0.
        let kn_ = mp("hits".into());
        let mut count = 0;
        ok(xproc_dict_incr_raw(
            d,
            kn_.as_ptr(),
            kn_.len(),
            5,
            &mut count,
        ));
        assert_eq!(count, 5);
        ok(xproc_dict_incr_raw(
            d,
            kn_.as_ptr(),
            kn_.len(),
            -2,
            &mut count,
        ));
        assert_eq!(count, 3);
        fails(
            xproc_dict_incr_raw(d, kb.as_ptr(), kb.len(), 1, &mut count),
            XPROC_WRONG_TYPE,
        );

        // compare_and_set: absent, then by bytes.
        let kl = mp("leader".into());
        let (me, you) = (mp("me".into()), mp("you".into()));
        let mut swapped = false;
        ok(xproc_dict_compare_and_set_raw(
            d,
            kl.as_ptr(),
            kl.len(),
            null(),
            0,
            me.as_ptr(),
            me.len(),
            &mut swapped,
        ));
        assert!(swapped);
        ok(xproc_dict_compare_and_set_raw(
            d,
            kl.as_ptr(),
            kl.len(),
            null(),
            0,
            you.as_ptr(),
            you.len(),
            &mut swapped,
        ));
        assert!(!swapped, "the key is no longer absent");
        ok(xproc_dict_compare_and_set_raw(
            d,
            kl.as_ptr(),
            kl.len(),
            you.as_ptr(),
            you.len(),
            you.as_ptr(),
            you.len(),
            &mut swapped,
        ));
        assert!(!swapped, "it holds 'me', not 'you'");
        ok(xproc_dict_compare_and_set_raw(
            d,
            kl.as_ptr(),
            kl.len(),
            me.as_ptr(),
            me.len(),
            you.as_ptr(),
            you.len(),
            &mut swapped,
        ));
        assert!(swapped);

        // delete, then the missing-key errors.
        ok(xproc_dict_delete_raw(d, ka.as_ptr(), ka.len()));
        fails(
            xproc_dict_delete_raw(d, ka.as_ptr(), ka.len()),
            XPROC_KEY_NOT_FOUND,
        );
        let (mut p, mut n) = (null_mut(), 0);
        fails(
            xproc_dict_get_raw(d, ka.as_ptr(), ka.len(), &mut p, &mut n),
            XPROC_KEY_NOT_FOUND,
        );
        assert!(p.is_null());
        fails(
            xproc_dict_pop_raw(d, ka.as_ptr(), ka.len(), &mut p, &mut n),
            XPROC_KEY_NOT_FOUND,
        );
        ok(xproc_dict_clear(d));
        ok(xproc_dict_len(d, &mut len));
        assert_eq!(len, 0);
        fails(
            xproc_dict_popitem_raw(d, &mut kp, &mut kn, &mut vp, &mut vn),
            XPROC_KEY_NOT_FOUND,
        );
        assert!(kp.is_null() && vp.is_null());
        let bad = [0xc1u8];
        fails(
            xproc_dict_set_raw(d, bad.as_ptr(), 1, va.as_ptr(), va.len()),
            XPROC_INVALID_VALUE,
        );
        fails(xproc_dict_len(d, null_mut()), XPROC_NULL_ARGUMENT);
        fails(
            xproc_dict_update_raw(d, null(), null(), null(), null(), 1),
            XPROC_NULL_ARGUMENT,
        );
        xproc_dict_free(d);
        xproc_client_free(c);
    }
}

#[test]
fn value_flavour_every_operation() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let d = open(c, "vals");
        let ka = str_value("a");
        let one = xproc_value_new_int64(1);
        ok(xproc_dict_set(d, ka, one));
        let mut got = null_mut();
        ok(xproc_dict_get(d, ka, &mut got));
        assert_eq!(read_i64(got), 1);
        xproc_value_free(got);
        let mut found = false;
        ok(xproc_dict_contains(d, ka, &mut found));
        assert!(found);

        // Integer keys are the same whatever built them (shortest form).
        let k7 = xproc_value_new_uint64(7);
        ok(xproc_dict_set(d, k7, ka));
        let k7i = xproc_value_new_int64(7);
        ok(xproc_dict_get(d, k7i, &mut got));
        assert_eq!(read_str(got), "a");
        xproc_value_free(got);

        let entries = xproc_value_new_map();
        ok(xproc_value_map_insert(
            entries,
            str_value("x"),
            xproc_value_new_double(0.5),
        ));
        ok(xproc_value_map_insert(
            entries,
            str_value("y"),
            xproc_value_new_nil(),
        ));
        ok(xproc_dict_update(d, entries));
        fails(xproc_dict_update(d, ka), XPROC_WRONG_TYPE);

        let mut keys = null_mut();
        ok(xproc_dict_keys(d, &mut keys));
        assert_eq!(
            unmp(&encode(keys)),
            V::Array(vec!["a".into(), 7.into(), "x".into(), "y".into()])
        );
        xproc_value_free(keys);
        let mut values = null_mut();
        ok(xproc_dict_values(d, &mut values));
        assert_eq!(
            unmp(&encode(values)),
            V::Array(vec![1.into(), "a".into(), V::F64(0.5), V::Nil])
        );
        xproc_value_free(values);
        let mut items = null_mut();
        ok(xproc_dict_items(d, &mut items));
        assert_eq!(
            unmp(&encode(items)),
            V::Map(vec![
                ("a".into(), 1.into()),
                (7.into(), "a".into()),
                ("x".into(), V::F64(0.5)),
                ("y".into(), V::Nil)
            ])
        );
        xproc_value_free(items);

        let want = xproc_value_new_array();
        ok(xproc_value_array_push(want, str_value("x")));
        ok(xproc_value_array_push(want, str_value("nope")));
        let mut many = null_mut();
        ok(xproc_dict_get_many(d, want, &mut many));
        assert_eq!(unmp(&encode(many)), V::Array(vec![V::F64(0.5), V::Nil]));
        xproc_value_free(many);
        fails(xproc_dict_get_many(d, ka, &mut many), XPROC_WRONG_TYPE);
        xproc_value_free(want);

        let ky = str_value("y");
        ok(xproc_dict_pop(d, ky, &mut got));
        xproc_value_free(got);
        fails(xproc_dict_pop(d, ky, &mut got), XPROC_KEY_NOT_FOUND);
        let (mut pk, mut pv) = (null_mut(), null_mut());
        ok(xproc_dict_popitem(d, &mut pk, &mut pv));
        assert_eq!(read_str(pk), "x");
        xproc_value_free(pk);
        xproc_value_free(pv);
        let dflt = str_value("d");
        ok(xproc_dict_setdefault(d, ky, dflt, &mut got));
        assert_eq!(read_str(got), "d");
        xproc_value_free(got);

        let hits = str_value("hits");
        let mut n = 0;
        ok(xproc_dict_incr(d, hits, 2, &mut n));
        ok(xproc_dict_incr(d, hits, 2, &mut n));
        assert_eq!(n, 4);
        fails(xproc_dict_incr(d, ky, 1, &mut n), XPROC_WRONG_TYPE);
        let mut over = 0;
        ok(xproc_dict_incr(d, hits, i64::MAX - 4, &mut over));
        fails(
            xproc_dict_incr(d, hits, 1, &mut over),
            XPROC_INVALID_ARGUMENT,
        );

        let lead = str_value("leader");
        let mut swapped = false;
        ok(xproc_dict_compare_and_set(
            d,
            lead,
            null(),
            one,
            &mut swapped,
        ));
        assert!(swapped);
        ok(xproc_dict_compare_and_set(
            d,
            lead,
            null(),
            one,
            &mut swapped,
        ));
        assert!(!swapped);
        ok(xproc_dict_compare_and_set(d, lead, one, dflt, &mut swapped));
        assert!(swapped);

        ok(xproc_dict_delete(d, lead));
        fails(xproc_dict_delete(d, lead), XPROC_KEY_NOT_FOUND);
        fails(xproc_dict_get(d, lead, &mut got), XPROC_KEY_NOT_FOUND);
        assert!(got.is_null());
        fails(xproc_dict_get(d, null(), &mut got), XPROC_NULL_ARGUMENT);
        fails(xproc_dict_set(d, lead, null()), XPROC_NULL_ARGUMENT);

        for v in [ka, one, k7, k7i, entries, ky, dflt, hits, lead] {
            xproc_value_free(v);
        }
        xproc_dict_free(d);
        xproc_client_free(c);
    }
}

#[test]
fn scan_reads_a_dict_bigger_than_max_frame_page_by_page() {
    let broker = Broker::start_with(&["--max-frame", "4096"]);
    unsafe {
        let c = connect(&broker);
        let d = open(c, "big");
        for i in 0..300 {
            let k = mp(V::from(format!("key-{i:04}")));
            let v = mp(V::from("v".repeat(40)));
            ok(xproc_dict_set_raw(
                d,
                k.as_ptr(),
                k.len(),
                v.as_ptr(),
                v.len(),
            ));
        }
        let mut snapshot = null_mut();
        fails(xproc_dict_items(d, &mut snapshot), XPROC_LIMIT);
        assert!(snapshot.is_null());
        let (mut cursor, mut pages, mut keys) = (0u64, 0, Vec::new());
        loop {
            let mut page = null_mut();
            let mut next = 99;
            ok(xproc_dict_scan(d, cursor, 40, &mut next, &mut page));
            pages += 1;
            let mut n = 0;
            ok(xproc_value_map_len(page, &mut n));
            assert!(n <= 40 && (n > 0 || next == 0));
            let bytes = encode(page);
            xproc_value_free(page);
            let V::Map(entries) = unmp(&bytes) else {
                panic!("a page is a map")
            };
            keys.extend(
                entries
                    .into_iter()
                    .map(|(k, _)| k.as_str().unwrap().to_string()),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(
            keys,
            (0..300).map(|i| format!("key-{i:04}")).collect::<Vec<_>>()
        );
        assert!(pages > 300 / 40);
        let mut next = 7;
        let mut page = null_mut();
        fails(
            xproc_dict_scan(d, 0, 1, null_mut(), &mut page),
            XPROC_NULL_ARGUMENT,
        );
        fails(
            xproc_dict_scan(null(), 0, 1, &mut next, &mut page),
            XPROC_NULL_ARGUMENT,
        );
        assert!(page.is_null() && next == 0);
        xproc_dict_free(d);
        xproc_client_free(c);
    }
}
