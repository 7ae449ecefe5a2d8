//! Acknowledged delivery across processes: consumers that are real processes lease items,
//! die holding them (SIGKILL), let leases run out, nack with a delay; the test checks where
//! each item goes next, through the Rust client.

use std::time::Duration;

use serde_json::Value;
use xproc::{Error, QueueOptions};
use xproc_tests::{eventually, sibling_exe, Broker};

fn consumer() -> std::path::PathBuf {
    sibling_exe("soak_consumer", "cargo build -p xproc-tests")
}

/// Whether the broker lists a client with `pid` holding a lease on `queue`.
fn holds_lease(client: &xproc::Client, pid: u32, queue: &str) -> bool {
    client
        .clients()
        .map(|cs| {
            cs.iter().any(|c| {
                c.pid == pid
                    && c.holds
                        .iter()
                        .any(|h| h.starts_with(&format!("lease {queue}")))
            })
        })
        .unwrap_or(false)
}

fn stat_u64(client: &xproc::Client, name: &str, field: &str) -> u64 {
    match client.stat(name).unwrap().info.get(field) {
        Some(xproc::InfoValue::Int(n)) => *n as u64,
        other => panic!("{field} of {name}: {other:?}"),
    }
}

#[test]
fn a_killed_consumers_item_goes_to_the_next_consumer_at_once() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<u64>("jobs").unwrap();
    q.put(&1).unwrap();
    let mut holder = broker.worker(consumer(), &["hold", "jobs", "3600000"]);
    eventually("the worker to hold the item", || {
        holds_lease(&client, holder.pid(), "jobs")
    });
    // `xproc stat` shows the item in flight, its attempt and its holder's pid.
    let out = broker.cli(&["stat", "jobs"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let row = text
        .lines()
        .skip_while(|l| !l.starts_with("DELIVERY"))
        .nth(1)
        .unwrap_or_else(|| panic!("no deliveries table in:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "1", "attempt: {row}");
    assert_eq!(cells[3], holder.pid().to_string(), "holder pid: {row}");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["in_flight", "1"]),
        "{text}"
    );
    q.put(&2).unwrap();
    holder.kill();
    eventually("the broker to take the item back", || {
        stat_u64(&client, "jobs", "abandoned") == 1
    });
    // Back at the head (before 2), on its second attempt.
    let d = q.try_get_leased(Duration::from_secs(60)).unwrap();
    assert_eq!((d.value, d.attempt), (1, 2));
    d.ack().unwrap();
}

#[test]
fn an_expired_lease_is_redelivered_while_its_holder_lives_and_its_ack_is_stale() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<String>("jobs").unwrap();
    q.put(&"slow".to_string()).unwrap();
    let holder = broker.worker(consumer(), &["hold", "jobs", "200"]);
    eventually("the worker to hold the item", || {
        stat_u64(&client, "jobs", "in_flight") == 1
    });
    // The worker is alive but never acks: the lease runs out and a waiting getter gets it.
    let d = q
        .get_leased_timeout(Duration::from_secs(30), Duration::from_secs(60))
        .unwrap();
    assert_eq!((d.value.as_str(), d.attempt), ("slow", 2));
    assert_eq!(stat_u64(&client, "jobs", "expired"), 1);
    // The second delivery is ours until we ack it, once.
    let raw = q.raw().clone();
    let id = d.id;
    d.ack().unwrap();
    assert!(matches!(raw.ack(id), Err(Error::UnknownDelivery(_))));

    // A stale ack: our own lease ran out before we acked; the item went back.
    q.put(&"again".to_string()).unwrap();
    let late = q.try_get_leased(Duration::from_millis(50)).unwrap();
    eventually("our lease to run out", || {
        stat_u64(&client, "jobs", "expired") == 2
    });
    let id = late.id;
    assert!(matches!(late.ack(), Err(Error::UnknownDelivery(_))));
    let d = q.try_get_leased(Duration::from_secs(60)).unwrap();
    assert_ne!(d.id, id);
    assert_eq!((d.value.as_str(), d.attempt), ("again", 2));
    d.ack().unwrap();
    drop(holder);
}

#[test]
fn a_nack_with_a_delay_comes_back_to_another_process() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<u64>("jobs").unwrap();
    q.put(&7).unwrap();
    let out: Value = broker
        .worker(consumer(), &["nack", "jobs", "300"])
        .finish_json();
    assert_eq!(out["nacked"], 7);
    assert_eq!(out["attempt"], 1);
    let d = q
        .get_leased_timeout(Duration::from_secs(30), Duration::from_secs(60))
        .unwrap();
    assert_eq!((d.value, d.attempt), (7, 2));
    assert_eq!(stat_u64(&client, "jobs", "nacked"), 1);
    d.ack().unwrap();
}

#[test]
fn a_poison_item_reaches_the_dead_letter_queue_after_max_attempts() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client
        .queue_with::<String>(
            "jobs",
            QueueOptions {
                max_attempts: Some(3),
                ..QueueOptions::default()
            },
        )
        .unwrap();
    assert_eq!(q.raw().max_attempts(), 3);
    q.put(&"poison".to_string()).unwrap();
    // Three consumers in turn take it and crash.
    for attempt in 1..=3u64 {
        let mut w = broker.worker(consumer(), &["hold", "jobs", "3600000"]);
        eventually("a worker to hold the item", || {
            holds_lease(&client, w.pid(), "jobs")
        });
        w.kill();
        eventually("the broker to take it back", || {
            stat_u64(&client, "jobs", "abandoned") == attempt
        });
    }
    assert_eq!(q.qsize().unwrap(), 0);
    assert_eq!(stat_u64(&client, "jobs", "dead_lettered"), 1);
    let dead = client.queue::<String>("jobs.dead").unwrap();
    assert_eq!(dead.try_get().unwrap(), "poison");
}

#[test]
fn join_waits_for_acks_not_for_gets() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.joinable_queue::<u64>("jobs").unwrap();
    q.put_many([1u64, 2, 3]).unwrap();
    // A consumer takes one and dies: join must still wait for it.
    let mut w = broker.worker(consumer(), &["hold", "jobs", "3600000"]);
    eventually("the worker to hold an item", || {
        holds_lease(&client, w.pid(), "jobs")
    });
    w.kill();
    assert!(matches!(
        q.join_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    let out: Value = broker
        .worker(consumer(), &["ack", "jobs", "3"])
        .finish_json();
    let mut got: Vec<(u64, u64)> = out["acked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
        .collect();
    got.sort();
    assert_eq!(got, vec![(1, 2), (2, 1), (3, 1)]);
    q.join_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(q.raw().qsize().unwrap().unfinished, 0);
}

#[test]
fn a_value_that_does_not_decode_is_nacked_at_once() {
    let broker = Broker::start();
    let client = broker.client();
    let strings = client.queue::<String>("mixed").unwrap();
    strings.put(&"not a number".to_string()).unwrap();
    let numbers = client.queue::<u64>("mixed").unwrap();
    assert!(matches!(
        numbers.try_get_leased(Duration::from_secs(60)),
        Err(Error::Decode { .. })
    ));
    // Back in the queue at once, on its way to the dead letters after max_attempts.
    let d = strings.try_get_leased(Duration::from_secs(60)).unwrap();
    assert_eq!((d.value.as_str(), d.attempt), ("not a number", 2));
    d.ack().unwrap();
}
