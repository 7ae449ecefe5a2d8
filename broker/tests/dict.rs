//! Dicts against a real broker.

mod common;
use common::*;

fn kv<'a>(op: &'a str, key: &'a [u8], value: Option<&'a [u8]>) -> RequestFields<'a> {
    RequestFields {
        key: Some(Bytes::new(key)),
        value: value.map(Bytes::new),
        ..Client::req(op, "d")
    }
}

fn bins(r: &Reply, field: &str) -> Vec<Value> {
    r.get(field)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| match v.as_slice() {
            Some(b) => dec(b),
            None => Value::Nil,
        })
        .collect()
}

#[test]
fn get_set_delete_contains_len() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("d", "dict").ok();
    let (k, v) = (enc("k"), enc(Value::Array(vec![1.into()])));
    c.call(kv("dict.get", &k, None)).err("KeyNotFound");
    c.call(kv("dict.set", &k, Some(&v))).ok();
    assert_eq!(
        c.call(kv("dict.get", &k, None)).ok().value("value"),
        dec(&v)
    );
    assert!(c.call(kv("dict.contains", &k, None)).ok().bool("found"));
    assert_eq!(c.op("dict.len", "d").ok().u64("len"), 1);
    c.call(kv("dict.delete", &k, None)).ok();
    c.call(kv("dict.delete", &k, None)).err("KeyNotFound");
    assert!(!c.call(kv("dict.contains", &k, None)).ok().bool("found"));
    assert_eq!(c.op("dict.len", "d").ok().u64("len"), 0);
    c.call(kv("dict.set", &[0xc1], Some(&v)))
        .err("InvalidValue");
}

#[test]
fn snapshots_keep_insertion_order() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("d", "dict").ok();
    for k in ["a", "b", "c"] {
        c.call(kv("dict.set", &enc(k), Some(&enc(k.to_uppercase()))))
            .ok();
    }
    c.call(kv("dict.set", &enc("a"), Some(&enc("A2")))).ok(); // keeps its place
    c.call(kv("dict.delete", &enc("b"), None)).ok();
    c.call(kv("dict.set", &enc("b"), Some(&enc("B2")))).ok(); // moves to the end
    let keys = bins(&c.op("dict.keys", "d").ok(), "keys");
    assert_eq!(keys, vec![Value::from("a"), "c".into(), "b".into()]);
    let values = bins(&c.op("dict.values", "d").ok(), "values");
    assert_eq!(values, vec![Value::from("A2"), "C".into(), "B2".into()]);
    let r = c.op("dict.items", "d").ok();
    let items = r.get("items").unwrap().as_array().unwrap();
    let first = items[0].as_array().unwrap();
    assert_eq!(dec(first[0].as_slice().unwrap()), Value::from("a"));
    assert_eq!(dec(first[1].as_slice().unwrap()), Value::from("A2"));
    assert_eq!(items.len(), 3);
    let r = c.op("dict.popitem", "d").ok();
    assert_eq!(
        (r.value("key"), r.value("value")),
        ("b".into(), "B2".into())
    );
    c.op("dict.clear", "d").ok();
    c.op("dict.popitem", "d").err("KeyNotFound");
}

#[test]
fn update_get_many_pop_setdefault() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("d", "dict").ok();
    let (k1, k2, v1, v2) = (enc(1), enc(2), enc("one"), enc("two"));
    c.call(RequestFields {
        items: Some(vec![
            (Bytes::new(&k1), Bytes::new(&v1)),
            (Bytes::new(&k2), Bytes::new(&v2)),
        ]),
        ..Client::req("dict.update", "d")
    })
    .ok();
    let missing = enc(3);
    let r = c
        .call(RequestFields {
            keys: Some(vec![Bytes::new(&k2), Bytes::new(&missing), Bytes::new(&k1)]),
            ..Client::req("dict.get_many", "d")
        })
        .ok();
    assert_eq!(
        bins(&r, "values"),
        vec![Value::from("two"), Value::Nil, "one".into()]
    );
    assert_eq!(
        c.call(kv("dict.pop", &k1, None)).ok().value("value"),
        "one".into()
    );
    c.call(kv("dict.pop", &k1, None)).err("KeyNotFound");
    let r = c.call(kv("dict.setdefault", &k2, Some(&enc("x")))).ok();
    assert_eq!(r.value("value"), "two".into());
    let r = c.call(kv("dict.setdefault", &k1, Some(&enc("x")))).ok();
    assert_eq!(r.value("value"), "x".into());
    assert_eq!(c.op("dict.len", "d").ok().u64("len"), 2);
}

#[test]
fn update_over_the_memory_budget_sets_nothing() {
    // One entry is charged 1 + 42 + 256 (per-entry overhead) = 299 bytes; two do not fit.
    let b = Broker::start_with(&["--memory-limit", "300"]);
    let mut c = b.client();
    c.open("d", "dict").ok();
    let (k1, k2) = (enc(1), enc(2));
    let big = enc(Value::Binary(vec![0; 40]));
    let m = c
        .call(RequestFields {
            items: Some(vec![
                (Bytes::new(&k1), Bytes::new(&big)),
                (Bytes::new(&k2), Bytes::new(&big)),
            ]),
            ..Client::req("dict.update", "d")
        })
        .err("LimitExceeded");
    assert!(m.contains("memory_limit"), "{m}");
    assert_eq!(c.op("dict.len", "d").ok().u64("len"), 0);
    c.call(kv("dict.set", &k1, Some(&big))).ok();
    c.call(kv("dict.set", &k2, Some(&big))).err("LimitExceeded");
}

#[test]
fn incr_and_compare_and_set() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("d", "dict").ok();
    let k = enc("n");
    let incr = |c: &mut Client, delta: Option<i64>| {
        c.call(RequestFields {
            key: Some(Bytes::new(&k)),
            delta,
            ..Client::req("dict.incr", "d")
        })
    };
    assert_eq!(incr(&mut c, None).ok().i64("n"), 1);
    assert_eq!(incr(&mut c, Some(200)).ok().i64("n"), 201);
    // Stored in the shortest form any client would send for 201.
    let r = c.call(kv("dict.get", &k, None)).ok();
    assert_eq!(r.get("value").unwrap().as_slice().unwrap(), &[0xcc, 201]);
    assert_eq!(incr(&mut c, Some(-300)).ok().i64("n"), -99);
    incr(&mut c, Some(i64::MAX)).ok();
    incr(&mut c, Some(i64::MAX)).err("InvalidArgument");
    c.call(kv("dict.set", &k, Some(&enc("text")))).ok();
    incr(&mut c, Some(1)).err("WrongType");

    let cas = |c: &mut Client, expected: Option<&[u8]>, value: &[u8]| {
        c.call(RequestFields {
            key: Some(Bytes::new(&enc("lock"))),
            expected: expected.map(Bytes::new),
            value: Some(Bytes::new(value)),
            ..Client::req("dict.compare_and_set", "d")
        })
        .ok()
        .bool("swapped")
    };
    assert!(cas(&mut c, None, &enc("me")));
    assert!(!cas(&mut c, None, &enc("you")));
    assert!(!cas(&mut c, Some(&enc("you")), &enc("x")));
    assert!(cas(&mut c, Some(&enc("me")), &enc("free")));
    let r = c.call(kv("dict.get", &enc("lock"), None)).ok();
    assert_eq!(r.value("value"), "free".into());
}

#[test]
fn dict_ops_on_other_kinds_are_type_mismatches() {
    let b = Broker::start();
    let mut c = b.client();
    c.open("q", "queue").ok();
    c.op("dict.len", "q").err("TypeMismatch");
    c.op("dict.len", "nothing").err("NotFound");
}
