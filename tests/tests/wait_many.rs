//! `Client::get_any` and `Client::wait` across processes, against a real xprocd: producers in
//! other processes, a consumer killed while it waits on many queues, mixed readiness.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use xproc::{Error, Waitable};
use xproc_tests::{eventually, waits_on, Broker};

const WORKER: &str = env!("CARGO_BIN_EXE_queue_worker");

#[test]
fn get_any_over_two_queues_fed_by_two_processes_takes_every_item_once_in_order() {
    let broker = Broker::start();
    let client = broker.client();
    let a = client.queue::<Option<i64>>("a").unwrap();
    let b = client.queue::<Option<i64>>("b").unwrap();
    let producers = [
        broker.worker(WORKER, &["produce", "a", "0", "1000"]),
        broker.worker(WORKER, &["produce", "b", "1000", "1000"]),
    ];
    let mut got = [Vec::new(), Vec::new()];
    for _ in 0..2000 {
        let (index, v) = client
            .get_any(&[&a, &b], Some(Duration::from_secs(10)))
            .unwrap();
        let v = v.unwrap();
        assert_eq!(
            index,
            (v / 1000) as usize,
            "value {v} came from the wrong queue"
        );
        got[index].push(v);
    }
    for p in producers {
        p.finish();
    }
    assert_eq!(got[0], (0..1000).collect::<Vec<_>>());
    assert_eq!(got[1], (1000..2000).collect::<Vec<_>>());
    assert!(matches!(
        client.get_any(&[&a, &b], Some(Duration::ZERO)),
        Err(Error::Empty)
    ));
    let t = Instant::now();
    assert!(matches!(
        client.get_any(&[&a, &b], Some(Duration::from_millis(50))),
        Err(Error::Timeout)
    ));
    assert!(t.elapsed() >= Duration::from_millis(50));
}

#[test]
fn a_consumer_killed_in_get_any_takes_nothing() {
    let broker = Broker::start();
    let client = broker.client();
    let a = client.queue::<i64>("a").unwrap();
    let b = client.queue::<i64>("b").unwrap();
    let mut w = broker.worker(WORKER, &["get_any", "a,b", "forever"]);
    let pid = w.pid();
    eventually("the worker waits", || {
        waits_on(&client, pid, "queue.get_any a")
    });
    w.kill();
    eventually("the worker is gone", || {
        !waits_on(&client, pid, "queue.get_any")
    });
    a.put(&1).unwrap();
    b.put(&2).unwrap();
    assert_eq!((a.qsize().unwrap(), b.qsize().unwrap()), (1, 1));
    // A live one gets the first, from the queue that has it.
    let w = broker.worker(WORKER, &["get_any", "b,a", "5000"]);
    let r: serde_json::Value = w.finish_json();
    assert_eq!(r, serde_json::json!({ "index": 0, "value": 2 }));
}

#[test]
fn wait_reports_ready_objects_of_mixed_kinds_and_takes_nothing() {
    let broker = Broker::start();
    let client = broker.client();
    let other = broker.client();
    let q = client.queue::<i64>("q").unwrap();
    let ev = client.event("ev").unwrap();
    let lock = client.lock("l").unwrap();
    let sem = client.semaphore("s", 0).unwrap();
    let held = other.lock("l").unwrap();
    let _g = held.lock().unwrap();
    let objects: [&dyn Waitable; 4] = [&q, &ev, &lock, &sem];
    assert_eq!(
        client.wait(&objects, Some(Duration::ZERO)).unwrap(),
        Vec::<usize>::new()
    );
    let t = Instant::now();
    assert!(client
        .wait(&objects, Some(Duration::from_millis(40)))
        .unwrap()
        .is_empty());
    assert!(t.elapsed() >= Duration::from_millis(40));

    // A producer in another process makes the queue ready while we wait.
    let p = broker.worker(WORKER, &["produce", "q", "5", "1"]);
    assert_eq!(client.wait(&objects, None).unwrap(), vec![0]);
    p.finish();
    assert_eq!(q.qsize().unwrap(), 1, "wait takes nothing");
    other.event("ev").unwrap().set().unwrap();
    assert_eq!(client.wait(&objects, None).unwrap(), vec![0, 1]);

    // Readiness is a hint: another consumer may be faster.
    let set: BTreeSet<usize> = client.wait(&objects, None).unwrap().into_iter().collect();
    assert!(set.contains(&0));
    other.queue::<i64>("q").unwrap().get().unwrap();
    assert!(matches!(q.try_get(), Err(Error::Empty)));
}
