//! `xproc::aio` (feature `tokio`) against a real xprocd: futures on the client's event
//! descriptor, producers in other processes, and dropped futures that take nothing — a
//! thousand pending gets cancelled while items arrive, every item counted exactly once.
//!
//! Linux only: `xproc::aio` waits on the epoll descriptor of the event-loop API (and is not
//! compiled on Windows).
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use xproc::aio;
use xproc_tests::Broker;

const WORKER: &str = env!("CARGO_BIN_EXE_queue_worker");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_put_lock_and_a_producer_in_another_process() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = c.queue::<Option<i64>>("q").unwrap();
    q.put(&Some(1)).await.unwrap();
    assert_eq!(q.get().await.unwrap(), Some(1));
    assert!(matches!(
        q.get_timeout(Some(Duration::ZERO)).await,
        Err(xproc::Error::Empty)
    ));
    let p = broker.worker(WORKER, &["produce", "q", "10", "3"]);
    for n in 10..13 {
        assert_eq!(q.get().await.unwrap(), Some(n));
    }
    p.finish();
    // A runtime timeout drops the future: the get is cancelled and takes nothing.
    assert!(tokio::time::timeout(Duration::from_millis(30), q.get())
        .await
        .is_err());
    q.blocking().put(&Some(5)).unwrap();
    assert_eq!(q.blocking().qsize().unwrap(), 1);

    let lock = c.lock("dev").unwrap();
    let other = aio::Client::new(broker.client()).unwrap();
    let lock2 = other.lock("dev").unwrap();
    {
        let _g = lock.lock().await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(30), lock2.lock())
                .await
                .is_err()
        );
    }
    // The guard's release and the dropped acquire left the lock free.
    let g = tokio::time::timeout(Duration::from_secs(5), lock2.lock())
        .await
        .expect("the lock is free")
        .unwrap();
    drop(g);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_dropped_gets_while_items_arrive_lose_and_duplicate_nothing() {
    const GETS: usize = 1000; // below max_blocked (1024 per connection)
    const ITEMS: i64 = 500;
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = std::sync::Arc::new(c.queue::<i64>("work").unwrap());
    let tasks: Vec<_> = (0..GETS)
        .map(|i| {
            let q = q.clone();
            // Each get gives up after its own short while; items arrive meanwhile.
            let after = Duration::from_micros(200 + (i as u64 * 37) % 20_000);
            tokio::spawn(async move { tokio::time::timeout(after, q.get()).await })
        })
        .collect();
    let p = broker.worker(WORKER, &["produce", "work", "0", &ITEMS.to_string()]);
    let mut got = Vec::new();
    let mut dropped = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => got.push(v.unwrap()),
            Err(_) => dropped += 1,
        }
    }
    p.finish();
    // Items that reached dropped gets go back to the queue (queue.unget).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = q.blocking().qsize().unwrap();
    while got.len() as u64 + left < ITEMS as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = q.blocking().qsize().unwrap();
    }
    let mut all = got.clone();
    for _ in 0..left {
        all.push(q.blocking().try_get().unwrap());
    }
    assert_eq!(all.len() as i64, ITEMS, "items lost or duplicated");
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct, (0..ITEMS).collect::<BTreeSet<_>>());
    assert!(dropped > 0, "no get was dropped");
    let st = c.blocking().stat("work").unwrap();
    eprintln!(
        "{} gets completed, {dropped} dropped, {left} items left; stat: {:?}",
        got.len(),
        st.info.0.iter().find(|(k, _)| k == "requeued")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn get_any_and_wait_as_futures() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let a = c.queue::<String>("a").unwrap();
    let b = c.queue::<String>("b").unwrap();
    let ev = c.event("ev").unwrap();
    assert!(c
        .wait(&[&a, &b, &ev], Some(Duration::ZERO))
        .await
        .unwrap()
        .is_empty());
    let p = broker.worker(WORKER, &["produce", "b", "7", "1"]);
    // (the worker puts Option<i64>: read it raw)
    assert_eq!(c.wait(&[&a, &b, &ev], None).await.unwrap(), vec![1]);
    p.finish();
    assert_eq!(b.blocking().raw().get(None).unwrap(), vec![7]);
    b.put(&"x".into()).await.unwrap();
    assert_eq!(c.get_any(&[&a, &b], None).await.unwrap(), (1, "x".into()));
    // A dropped get_any takes nothing.
    assert!(
        tokio::time::timeout(Duration::from_millis(20), c.get_any(&[&a, &b], None))
            .await
            .is_err()
    );
    a.blocking().put(&"y".into()).unwrap();
    assert_eq!(a.blocking().qsize().unwrap(), 1);
    ev.blocking().set().unwrap();
    assert!(ev.wait(None).await.unwrap());
}

/// A value big enough to travel as a sealed memfd (docs/PROTOCOL.md §4.1) reaches a future
/// whole: the event-loop path inlines it, where it used to hand over a reply with no value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_came_as_a_memfd_reaches_a_future_whole() {
    let broker = Broker::start();
    let producer = broker.client();
    assert!(producer.passes_fds(), "a local Unix socket negotiates fds");
    let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 13 % 251) as u8).collect();
    producer
        .queue::<serde_bytes::ByteBuf>("big")
        .unwrap()
        .put(&serde_bytes::ByteBuf::from(big.clone()))
        .unwrap();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = c.queue::<serde_bytes::ByteBuf>("big").unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), q.get())
        .await
        .expect("the get completes")
        .unwrap();
    assert!(got.as_ref() == big.as_slice(), "{} bytes back", got.len());
}
