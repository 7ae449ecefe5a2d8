//! Queues across processes, against a real xprocd: many producers and consumers, blocking and
//! waking, timeouts, bounded queues, join/task_done, killed consumers, broker shutdown, and one
//! client shared by many threads.

use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

use xproc::{Error, QueueOptions};
use xproc_tests::{connected, eventually, waiters_on, waits_on, Broker, ROUNDS};

const WORKER: &str = env!("CARGO_BIN_EXE_queue_worker");

#[test]
fn four_producers_and_four_consumers_move_ten_thousand_items_exactly_once() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<Option<i64>>("work").unwrap();

    let consumers: Vec<_> = (0..4)
        .map(|_| broker.worker(WORKER, &["consume", "work"]))
        .collect();
    // (ROUNDS: 10,000 items but under Windows.)
    let per = (ROUNDS / 4) as i64;
    let producers: Vec<_> = (0..4)
        .map(|i| {
            let start = (i * per).to_string();
            broker.worker(WORKER, &["produce", "work", &start, &per.to_string()])
        })
        .collect();
    for p in producers {
        p.finish();
    }
    // One stop sentinel per consumer, after every item.
    for _ in 0..4 {
        q.put(&None).unwrap();
    }

    let mut all = Vec::new();
    for c in consumers {
        let got: Vec<i64> = c.finish_json();
        // Each producer's items arrive in the order it put them (FIFO).
        for producer in 0..4 {
            let mine: Vec<i64> = got
                .iter()
                .copied()
                .filter(|n| n / per == producer)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "out of order: {mine:?}"
            );
        }
        all.extend(got);
    }
    assert_eq!(all.len() as u64, ROUNDS, "items lost or duplicated");
    let distinct: BTreeSet<i64> = all.into_iter().collect();
    assert_eq!(distinct, (0..ROUNDS as i64).collect::<BTreeSet<i64>>());
    assert_eq!(q.qsize().unwrap(), 0);
}

#[test]
fn a_blocked_get_is_woken_by_a_put_from_another_process() {
    let broker = Broker::start();
    let client = broker.client();
    let getter = broker.worker(WORKER, &["get", "wake", "forever"]);
    eventually("the getter blocks in queue.get", || {
        waits_on(&client, getter.pid(), "queue.get wake")
    });
    client.queue::<i64>("wake").unwrap().put(&42).unwrap();
    let out: serde_json::Value = getter.finish_json();
    assert_eq!(out, serde_json::json!({ "value": 42 }));
}

#[test]
fn timeouts_and_non_blocking_calls_report_empty_full_and_timeout() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client
        .queue_with::<String>(
            "small",
            QueueOptions {
                maxsize: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(q.maxsize(), 1);

    assert!(matches!(q.try_get(), Err(Error::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    q.put(&"one".to_string()).unwrap();
    assert!(q.is_full().unwrap());
    assert!(matches!(q.try_put(&"two".into()), Err(Error::Full)));
    assert!(matches!(
        q.put_timeout(&"two".into(), Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    assert_eq!(q.qsize().unwrap(), 1, "a refused put adds nothing");
    assert_eq!(q.try_get().unwrap(), "one");
    assert!(q.is_empty().unwrap());

    // The same from another process.
    let out: serde_json::Value = broker.worker(WORKER, &["get", "small", "50"]).finish_json();
    assert_eq!(out, serde_json::json!({ "error": "Timeout" }));

    // Reopening with another maxsize names the option.
    match client.queue_with::<String>(
        "small",
        QueueOptions {
            maxsize: Some(5),
            ..Default::default()
        },
    ) {
        Err(Error::Broker { code, message }) => {
            assert_eq!(code, "OptionMismatch");
            assert!(message.contains("maxsize"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Reopening without options accepts the existing one.
    assert_eq!(client.queue::<String>("small").unwrap().maxsize(), 1);
}

#[test]
fn a_full_queue_blocks_put_until_a_get() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client
        .queue_with::<Option<i64>>(
            "narrow",
            QueueOptions {
                maxsize: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    q.put(&Some(0)).unwrap();
    let producer = broker.worker(WORKER, &["produce", "narrow", "1", "1"]);
    eventually("the producer blocks in queue.put", || {
        waits_on(&client, producer.pid(), "queue.put narrow")
    });
    assert_eq!(q.qsize().unwrap(), 1);
    assert_eq!(q.get().unwrap(), Some(0));
    producer.finish();
    assert_eq!(q.get().unwrap(), Some(1));
}

#[test]
fn join_returns_once_every_item_is_done() {
    let broker = Broker::start();
    let client = broker.client();
    let jq = client.joinable_queue::<i64>("jobs").unwrap();
    jq.put_many([1, 2, 3, 4, 5]).unwrap();
    assert_eq!(jq.raw().qsize().unwrap().unfinished, 5);
    assert!(matches!(
        jq.join_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));

    let joiner = broker.worker(WORKER, &["join", "jobs"]);
    eventually("the joiner blocks in queue.join", || {
        waits_on(&client, joiner.pid(), "queue.join jobs")
    });
    broker.worker(WORKER, &["work", "jobs", "5"]).finish();
    let out: serde_json::Value = joiner.finish_json();
    assert_eq!(out, serde_json::json!({ "joined": true }));
    jq.join().unwrap();

    // More task_done calls than items: ValueError in Python.
    assert!(matches!(jq.task_done(), Err(Error::InvalidArgument(_))));
    // task_done and join belong to joinable queues.
    let plain = client.queue::<i64>("plain").unwrap();
    assert!(matches!(plain.task_done(), Err(Error::TypeMismatch(_))));
    // Opening a joinable queue as a plain one is a type mismatch too.
    assert!(matches!(
        client.queue::<i64>("jobs"),
        Err(Error::TypeMismatch(_))
    ));
}

#[test]
fn a_consumer_killed_while_blocked_leaves_the_queue_working() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<String>("victim").unwrap();

    // The first waiter will be killed; a live consumer waits behind it.
    let mut doomed = broker.worker(WORKER, &["get", "victim", "forever"]);
    eventually("the first consumer blocks", || {
        waits_on(&client, doomed.pid(), "queue.get victim")
    });
    let live = broker.worker(WORKER, &["get", "victim", "forever"]);
    eventually("the second consumer blocks", || {
        waits_on(&client, live.pid(), "queue.get victim")
    });

    let doomed_pid = doomed.pid();
    doomed.kill();
    eventually("the broker notices the killed consumer", || {
        !connected(&client, doomed_pid)
    });

    q.put(&"first".to_string()).unwrap();
    let out: serde_json::Value = live.finish_json();
    assert_eq!(out, serde_json::json!({ "value": "first" }));
    // Nothing was taken by the dead consumer, and the queue keeps working.
    assert_eq!(q.qsize().unwrap(), 0);
    q.put(&"second".to_string()).unwrap();
    assert_eq!(q.try_get().unwrap(), "second");
}

#[test]
fn sigterm_answers_blocked_waiters_with_shutting_down_and_removes_the_socket() {
    let mut broker = Broker::start();
    let client = broker.client();
    client.queue::<i64>("idle").unwrap();

    let worker = broker.worker(WORKER, &["get", "idle", "forever"]);
    let in_process = {
        let c = broker.client();
        thread::spawn(move || c.queue::<i64>("idle").unwrap().get())
    };
    eventually("both waiters block", || {
        waiters_on(&client, "queue.get idle") == 2
    });

    let status = broker.terminate();
    assert!(status.success(), "xprocd exited with {status}");
    assert!(!broker.socket().exists(), "socket file left behind");

    let out: serde_json::Value = worker.finish_json();
    assert_eq!(out, serde_json::json!({ "error": "ShuttingDown" }));
    assert!(
        matches!(in_process.join().unwrap(), Err(Error::ShuttingDown(_))),
        "the in-process waiter was not told"
    );
    // The connection is gone afterwards.
    assert!(matches!(client.ping(), Err(Error::Disconnected(_))));
}

#[test]
fn one_client_shared_by_threads_doing_blocking_and_non_blocking_calls() {
    let broker = Broker::start();
    let client = broker.client();
    let items = client.queue::<u32>("shared").unwrap();
    let idle = client.queue::<u32>("never").unwrap();

    thread::scope(|s| {
        // Four consumers block on the same connection at once.
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let q = items.clone();
                s.spawn(move || {
                    (0..500)
                        .map(|_| q.get_timeout(Duration::from_secs(60)).unwrap())
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        // Two producers put one by one, checking qsize between puts.
        for p in 0..2u32 {
            let q = items.clone();
            s.spawn(move || {
                for n in 0..1000 {
                    q.put(&(p * 1000 + n)).unwrap();
                    q.qsize().unwrap();
                }
            });
        }
        // Two threads make quick calls that must not be held up by the blocked ones.
        for _ in 0..2 {
            let (c, q) = (client.clone(), idle.clone());
            s.spawn(move || {
                for _ in 0..300 {
                    c.ping().unwrap();
                    assert!(matches!(q.try_get(), Err(Error::Empty)));
                    c.list().unwrap();
                }
            });
        }
        let mut all: Vec<u32> = consumers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..2000).collect::<Vec<u32>>());
    });
    assert_eq!(items.qsize().unwrap(), 0);
}

#[test]
fn put_many_pipelines_and_keeps_order() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<u32>("bulk").unwrap();
    let n = 10_000u32;
    assert_eq!(q.put_many(0..n).unwrap(), n as usize);
    assert_eq!(q.qsize().unwrap(), n as u64);
    for i in 0..n {
        assert_eq!(q.try_get().unwrap(), i);
    }
}
