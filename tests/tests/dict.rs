//! Dicts across processes, against a real xprocd: exact counts under contention (with a lock,
//! and with atomic incr), and every dict operation.

use xproc::{Error, ErrorCode};
use xproc_tests::{Broker, ROUNDS};

const SYNC: &str = env!("CARGO_BIN_EXE_sync_worker");

#[test]
fn two_processes_doing_read_modify_write_under_a_lock_reach_the_exact_count() {
    let broker = Broker::start();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let rounds = ROUNDS.to_string();
            broker.worker(SYNC, &["lock-count", "mutex", "counters", "n", &rounds])
        })
        .collect();
    for w in workers {
        w.finish();
    }
    let d = broker.client().dict::<String, i64>("counters").unwrap();
    assert_eq!(d.get("n").unwrap(), Some(2 * ROUNDS as i64));
}

#[test]
fn two_processes_using_incr_without_a_lock_reach_the_exact_count() {
    let broker = Broker::start();
    let workers: Vec<_> = (0..2)
        .map(|_| broker.worker(SYNC, &["incr", "counters", "hits", &ROUNDS.to_string()]))
        .collect();
    for w in workers {
        w.finish();
    }
    let d = broker.client().dict::<String, i64>("counters").unwrap();
    assert_eq!(d.get("hits").unwrap(), Some(2 * ROUNDS as i64));
}

#[test]
fn every_dict_operation() {
    let broker = Broker::start();
    let client = broker.client();
    let d = client.dict::<String, i64>("d").unwrap();

    assert!(d.is_empty().unwrap());
    assert_eq!(d.get("a").unwrap(), None);
    d.set("a", &1).unwrap();
    d.set("b", &2).unwrap();
    d.set("c", &3).unwrap();
    assert!(d.contains("a").unwrap());
    assert!(!d.contains("z").unwrap());
    assert_eq!(d.len().unwrap(), 3);

    // Insertion order: overwriting keeps the place; delete and set again moves to the end.
    d.set("a", &10).unwrap();
    assert_eq!(d.keys().unwrap(), ["a", "b", "c"]);
    assert!(d.delete("b").unwrap());
    assert!(!d.delete("b").unwrap());
    d.set("b", &20).unwrap();
    assert_eq!(d.keys().unwrap(), ["a", "c", "b"]);
    assert_eq!(d.values().unwrap(), [10, 3, 20]);
    assert_eq!(
        d.items().unwrap(),
        [("a".into(), 10), ("c".into(), 3), ("b".into(), 20)]
    );

    d.update([("x".to_string(), 7), ("y".to_string(), 8)])
        .unwrap();
    d.set_many(vec![(&"z".to_string(), &9)]).unwrap();
    assert_eq!(
        d.get_many(["x", "nope", "z"]).unwrap(),
        [Some(7), None, Some(9)]
    );

    assert_eq!(d.pop("x").unwrap(), Some(7));
    assert_eq!(d.pop("x").unwrap(), None);
    assert_eq!(d.popitem().unwrap(), Some(("z".into(), 9)));
    assert_eq!(d.setdefault("y", &100).unwrap(), 8);
    assert_eq!(d.setdefault("new", &100).unwrap(), 100);

    assert_eq!(d.incr("counter", 5).unwrap(), 5);
    assert_eq!(d.incr("counter", -2).unwrap(), 3);
    assert_eq!(d.get("counter").unwrap(), Some(3));

    assert!(d.compare_and_set("fresh", None, &1).unwrap());
    assert!(!d.compare_and_set("fresh", None, &2).unwrap());
    assert!(!d.compare_and_set("fresh", Some(&5), &2).unwrap());
    assert!(d.compare_and_set("fresh", Some(&1), &2).unwrap());
    assert_eq!(d.get("fresh").unwrap(), Some(2));

    d.clear().unwrap();
    assert_eq!(d.len().unwrap(), 0);
    assert_eq!(d.popitem().unwrap(), None);
}

#[test]
fn incr_refuses_non_integers_and_overflow() {
    let broker = Broker::start();
    let client = broker.client();
    let d = client.dict::<String, String>("d").unwrap();
    d.set("name", &"text".to_string()).unwrap();
    match d.incr("name", 1) {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::WrongType), "{e}"),
        Ok(n) => panic!("incr on a string gave {n}"),
    }
    let n = client.dict::<String, i64>("d").unwrap();
    n.set("big", &i64::MAX).unwrap();
    assert!(matches!(n.incr("big", 1), Err(Error::InvalidArgument(_))));
}

#[test]
fn keys_compare_by_encoding_so_equal_numbers_are_one_key() {
    let broker = Broker::start();
    let client = broker.client();
    // Written with one integer type, read with another: shortest encodings agree.
    client
        .dict::<u8, String>("m")
        .unwrap()
        .set(&1, &"one".into())
        .unwrap();
    let wide = client.dict::<i64, String>("m").unwrap();
    assert_eq!(wide.get(&1).unwrap().as_deref(), Some("one"));
    assert_eq!(wide.len().unwrap(), 1);
    // The raw bytes are what another language would send for 1.
    assert_eq!(
        wide.raw().get(&[0x01]).unwrap(),
        Some(xproc::encode("one").unwrap())
    );
}

#[test]
fn scan_enumerates_a_dict_bigger_than_max_frame() {
    let broker = Broker::start_with(&["--max-frame", "4096"]);
    let client = broker.client();
    let d = client.dict::<String, String>("big").unwrap();
    let want: Vec<(String, String)> = (0..300)
        .map(|i| (format!("key-{i:04}"), "v".repeat(40)))
        .collect();
    for (k, v) in &want {
        d.set(k, v).unwrap();
    }
    // The snapshot would be ~16 KiB: refused, and the connection stays usable.
    assert!(d.items().is_err());
    let got: Vec<(String, String)> = d.scan().collect::<Result<_, _>>().unwrap();
    assert_eq!(got, want);
    let raw = d.raw();
    let (page, cursor) = raw.scan_page(0, Some(7)).unwrap();
    assert_eq!((page.len(), cursor != 0), (7, true));
    assert_eq!(raw.scan_with(Some(1000)).count(), 300);
}

#[test]
fn scan_concurrent_with_writes_returns_every_stable_key_exactly_once() {
    let broker = Broker::start();
    let client = broker.client();
    let d = client.dict::<String, u64>("d").unwrap();
    for i in 0..2000 {
        d.set(&format!("stable-{i}"), &0).unwrap();
        d.set(&format!("churn-{i}"), &0).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let w = broker.client().dict::<String, u64>("d").unwrap();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 200_000 {
                let i = n % 2000;
                // Deletes and re-sets churn keys, overwrites stable ones in place, adds new.
                if n.is_multiple_of(2) {
                    w.delete(&format!("churn-{i}")).unwrap();
                } else {
                    w.set(&format!("churn-{i}"), &n).unwrap();
                }
                w.set(&format!("stable-{i}"), &n).unwrap();
                w.set(&format!("new-{n}"), &n).unwrap();
                n += 1;
            }
            n
        })
    };
    let mut seen = std::collections::HashMap::<String, u32>::new();
    for entry in d.scan() {
        let (k, _) = entry.unwrap();
        *seen.entry(k).or_default() += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    for i in 0..2000 {
        assert_eq!(seen.get(&format!("stable-{i}")), Some(&1), "stable-{i}");
        assert!(seen.get(&format!("churn-{i}")).is_none_or(|n| *n <= 2));
    }
    assert!(seen
        .iter()
        .filter(|(k, _)| k.starts_with("new-"))
        .all(|(_, n)| *n == 1));
}

#[test]
fn scan_of_the_object_list_pages_by_name() {
    let broker = Broker::start();
    let client = broker.client();
    for i in (0..250).rev() {
        client.event(&format!("obj-{i:03}")).unwrap();
    }
    let names: Vec<String> = client.scan().map(|o| o.unwrap().name).collect();
    assert_eq!(
        names,
        (0..250).map(|i| format!("obj-{i:03}")).collect::<Vec<_>>()
    );
    let (page, next) = client.scan_page(Some("obj-100"), Some(3)).unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0].name, "obj-101");
    assert_eq!(next.as_deref(), Some("obj-103"));
}
