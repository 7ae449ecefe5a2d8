//! `xproc::aio` (feature `tokio`) for pipes, barriers, conditions, joinable queues and leased
//! gets, against a real xprocd with peers in other processes — and dropped futures that take
//! nothing: a dropped receive's message is the next one received (order kept), a dropped
//! leased get's delivery goes back to the queue, a dropped condition wait leaves the lock to
//! be released as usual.
//!
//! Linux only, as `xproc::aio` (tests/tests/aio_tokio.rs has the queue, lock and many-object
//! futures).
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use xproc::{aio, End, Error};
use xproc_tests::Broker;

const PIPE_WORKER: &str = env!("CARGO_BIN_EXE_pipe_worker");
const QUEUE_WORKER: &str = env!("CARGO_BIN_EXE_queue_worker");
const SYNC_WORKER: &str = env!("CARGO_BIN_EXE_sync_worker");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipe_send_recv_poll_and_dropped_receives_lose_nothing_and_keep_order() {
    const N: i64 = 300;
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();

    // send: another process receives everything this end sends, then end of file.
    let out = c.pipe::<i64>("out", End::A, Default::default()).unwrap();
    let reader = broker.worker(PIPE_WORKER, &["recv-all", "out", "b"]);
    for i in 0..50 {
        out.send(&i).await.unwrap();
    }
    drop(out); // closes end a: the reader gets end of file after the 50
    let got: Vec<i64> = reader.finish_json();
    assert_eq!(got, (0..50).collect::<Vec<_>>());

    // recv and poll, with every third receive dropped at once (a zero runtime timeout: the
    // request is sent, then cancelled), some of them after the broker had answered.
    let inp = c.pipe::<i64>("in", End::B, Default::default()).unwrap();
    assert!(!inp.poll(Duration::ZERO).await.unwrap());
    let writer = broker.worker(PIPE_WORKER, &["send", "in", "a", &N.to_string()]);
    assert!(inp.poll(Duration::from_secs(30)).await.unwrap());
    let (mut got, mut dropped, mut i) = (Vec::new(), 0, 0u64);
    loop {
        let limit = if i % 3 == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(30)
        };
        i += 1;
        match tokio::time::timeout(limit, inp.recv()).await {
            Ok(Ok(v)) => got.push(v),
            Ok(Err(Error::Closed(_))) => break,
            Ok(Err(e)) => panic!("recv failed: {e}"),
            Err(_) => dropped += 1,
        }
    }
    writer.finish();
    assert_eq!(
        got,
        (0..N).collect::<Vec<_>>(),
        "lost, duplicated or reordered"
    );
    eprintln!("{dropped} receives dropped");

    // One receive dropped for certain after the broker answered it: the message it got is
    // the next one received.
    let solo = c.pipe::<i64>("solo", End::B, Default::default()).unwrap();
    // Dropped while nothing waits: it took nothing.
    assert!(tokio::time::timeout(Duration::ZERO, solo.recv())
        .await
        .is_err());
    let mut pending = Box::pin(solo.recv());
    tokio::select! {
        biased;
        r = &mut pending => panic!("nothing was sent yet: {r:?}"),
        () = std::future::ready(()) => {} // polled once: the request is sent
    }
    broker
        .worker(PIPE_WORKER, &["send", "solo", "a", "1"])
        .finish();
    // The worker's send returned, so the broker answered the receive; a round trip on this
    // connection comes back after that answer.
    c.blocking().ping().unwrap();
    drop(pending);
    assert_eq!(solo.recv().await.unwrap(), 0);
    assert!(matches!(solo.recv().await, Err(Error::Closed(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barrier_wait_and_a_dropped_wait_breaks_the_barrier() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let b = c.barrier("start", 3).unwrap();
    let w1 = broker.worker(SYNC_WORKER, &["barrier", "start", "3", "forever"]);
    let w2 = broker.worker(SYNC_WORKER, &["barrier", "start", "3", "forever"]);
    let mine = b.wait(None).await.unwrap();
    let mut indices: BTreeSet<u64> = [mine].into();
    for w in [w1, w2] {
        let r: serde_json::Value = w.finish_json();
        indices.insert(r["index"].as_u64().expect("an index"));
    }
    assert_eq!(indices, [0, 1, 2].into());

    // A party that stops waiting breaks the barrier for the others (as a timeout does).
    let b2 = c.barrier("pair", 2).unwrap();
    assert!(tokio::time::timeout(Duration::ZERO, b2.wait(None))
        .await
        .is_err());
    assert!(b2.blocking().state().unwrap().broken);
    let late = broker.worker(SYNC_WORKER, &["barrier", "pair", "2", "forever"]);
    let r: serde_json::Value = late.finish_json();
    assert_eq!(r["error"], "BrokenBarrier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condition_wait_notified_by_another_process_and_a_dropped_wait_keeps_the_lock_sane() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let cond = c.condition("state").unwrap();
    assert!(cond.acquire(None).await.unwrap());
    // The producer needs the lock, which the wait gives up while it waits.
    let producer = broker.worker(SYNC_WORKER, &["cond-produce", "state", "d", "1"]);
    let flags = c.blocking().dict::<String, i64>("d").unwrap();
    let available = || Ok(flags.get("available")?.unwrap_or(0) > 0);
    assert!(cond.wait_for(available, None).await.unwrap());
    producer.finish();
    cond.release().await.unwrap();

    // A dropped wait: the broker still gives the lock back to this connection, and the next
    // release waits for that, so the lock ends up free for another process.
    assert!(cond.acquire(None).await.unwrap());
    assert!(tokio::time::timeout(Duration::ZERO, cond.wait(None))
        .await
        .is_err());
    cond.release().await.unwrap();
    let probe = broker.client().condition("state").unwrap();
    assert!(
        probe
            .acquire_timeout(Duration::from_secs(30))
            .unwrap()
            .acquired,
        "the lock stayed held after a dropped wait"
    );
    probe.release().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_completes_when_another_process_is_done() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = c.joinable_queue::<i64>("jobs").unwrap();
    for i in 0..3 {
        q.put(&i).await.unwrap();
    }
    // A dropped join takes nothing (and the queue still counts 3 unfinished).
    assert!(tokio::time::timeout(Duration::ZERO, q.join(None))
        .await
        .is_err());
    assert!(matches!(
        q.join(Some(Duration::ZERO)).await,
        Err(Error::Timeout)
    ));
    let worker = broker.worker(QUEUE_WORKER, &["work", "jobs", "3"]);
    q.join(None).await.unwrap();
    worker.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_leased_gets_while_items_arrive_lose_and_duplicate_nothing() {
    const GETS: usize = 400;
    const ITEMS: i64 = 200;
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = std::sync::Arc::new(c.queue::<Option<i64>>("work").unwrap());
    let tasks: Vec<_> = (0..GETS)
        .map(|i| {
            let q = q.clone();
            let after = Duration::from_micros(200 + (i as u64 * 37) % 20_000);
            tokio::spawn(async move {
                let d =
                    tokio::time::timeout(after, q.get_leased(None, Duration::from_secs(600))).await;
                match d {
                    Ok(Ok(d)) => {
                        let v = d.value.unwrap();
                        d.ack().unwrap();
                        Some(v)
                    }
                    Ok(Err(e)) => panic!("get_leased failed: {e}"),
                    Err(_) => None,
                }
            })
        })
        .collect();
    let p = broker.worker(QUEUE_WORKER, &["produce", "work", "0", &ITEMS.to_string()]);
    let mut got = Vec::new();
    let mut dropped = 0;
    for t in tasks {
        match t.await.unwrap() {
            Some(v) => got.push(v),
            None => dropped += 1,
        }
    }
    p.finish();
    // Deliveries that reached dropped gets are nacked: back in the queue.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = q.blocking().qsize().unwrap();
    while got.len() as u64 + left < ITEMS as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = q.blocking().qsize().unwrap();
    }
    let mut all = got.clone();
    for _ in 0..left {
        all.push(q.blocking().try_get().unwrap().unwrap());
    }
    assert_eq!(all.len() as i64, ITEMS, "items lost or duplicated");
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct, (0..ITEMS).collect::<BTreeSet<_>>());
    assert!(dropped > 0, "no leased get was dropped");
    let st = c.blocking().stat("work").unwrap();
    eprintln!(
        "{} leased gets completed, {dropped} dropped, {left} items left; stat: {:?}",
        got.len(),
        st.info
    );
}
