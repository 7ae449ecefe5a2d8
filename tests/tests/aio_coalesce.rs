//! Coalescing in `xproc::aio` against a real xprocd: the puts and gets tasks start on one
//! queue in one turn leave as one `queue.put_many` / `queue.get_many` probe, and every task
//! still gets exactly its own outcome — items exactly once, in order, a bounded queue's `Full`
//! and timeouts to the right puts, an invalid value refused for its own put only, and a
//! member dropped while its batch is on the way taking nothing.
//!
//! Linux only, as `xproc::aio`.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use xproc::{aio, QueueOptions};
use xproc_tests::Broker;

const WORKER: &str = env!("CARGO_BIN_EXE_queue_worker");

/// Polls `f` once.
async fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx))).await
}

/// Asserts that coalescing sent batches of more than one member on `c`.
fn assert_coalesced(c: &aio::Client) {
    let (batches, members) = c.coalesced();
    eprintln!("{batches} batches carried {members} puts and gets");
    assert!(
        batches > 0 && members >= 2 * batches,
        "no batch was sent ({batches} batches, {members} members)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_putting_and_getting_coalesced_see_every_item_exactly_once() {
    const TASKS: i64 = 1000; // below max_blocked (1024 per connection): reissued gets may wait
    const ROUNDS: i64 = 20;
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = Arc::new(c.queue::<i64>("q").unwrap());
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for j in 0..ROUNDS {
                    q.put(&(i * ROUNDS + j)).await.unwrap();
                    got.push(q.get().await.unwrap());
                }
                got
            })
        })
        .collect();
    let mut seen: BTreeMap<i64, u32> = BTreeMap::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        for t in tasks {
            for v in t.await.unwrap() {
                *seen.entry(v).or_default() += 1;
            }
        }
    })
    .await
    .expect("every task finished");
    assert_eq!(q.blocking().qsize().unwrap(), 0);
    assert_eq!(seen.len() as i64, TASKS * ROUNDS, "items lost");
    assert!(seen.values().all(|&n| n == 1), "items duplicated");
    assert_coalesced(&c);
}

/// Gets of one batch take the oldest items in the order they joined; a member dropped while
/// the batch is on its way takes nothing (its item goes to the next member, and the item
/// nobody wants goes back to the head of the queue), and so does a member dropped after its
/// item came but before it took it.
#[tokio::test(flavor = "current_thread")]
async fn members_dropped_while_their_batch_is_on_its_way_take_nothing_and_order_holds() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = c.queue::<i64>("q").unwrap();
    for v in 1..=4 {
        q.blocking().put(&v).unwrap();
    }
    let mut g1 = Box::pin(q.get());
    let mut g2 = Box::pin(q.get());
    let mut g3 = Box::pin(q.get());
    assert!(poll_once(&mut g1).await.is_pending()); // opens the batch, yields
    assert!(poll_once(&mut g2).await.is_pending());
    assert!(poll_once(&mut g3).await.is_pending());
    assert!(poll_once(&mut g1).await.is_pending()); // sends get_many(max 3)
    assert_eq!(c.coalesced(), (1, 3));
    drop(g2); // on its way: its item goes to g3, the third item back to the head
    let a = tokio::time::timeout(Duration::from_secs(10), g1)
        .await
        .unwrap()
        .unwrap();
    let b = tokio::time::timeout(Duration::from_secs(10), g3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a, b), (1, 2));
    // The unget is sent; a blocking call after it sees it.
    let left: Vec<i64> = std::iter::from_fn(|| q.blocking().try_get().ok()).collect();
    assert_eq!(
        left,
        vec![3, 4],
        "the dropped member's item went back to the head"
    );

    // Dropped after its item came (settled by the other member), before taking it.
    for v in 10..=12 {
        q.blocking().put(&v).unwrap();
    }
    let mut g1 = Box::pin(q.get());
    let mut g2 = Box::pin(q.get());
    assert!(poll_once(&mut g1).await.is_pending());
    assert!(poll_once(&mut g2).await.is_pending());
    let a = tokio::time::timeout(Duration::from_secs(10), g1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a, 10);
    drop(g2); // its outcome (11) was filed when g1 settled the batch
    let left: Vec<i64> = std::iter::from_fn(|| q.blocking().try_get().ok()).collect();
    assert_eq!(left, vec![11, 12]);
    assert_eq!(c.coalesced(), (2, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_coalesced_gets_dropped_while_items_arrive_lose_and_duplicate_nothing() {
    const GETS: usize = 1000;
    const FIRST: i64 = 300; // in the queue before: the first batches find items
    const ITEMS: i64 = 800;
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = Arc::new(c.queue::<i64>("work").unwrap());
    q.blocking().put_many(0..FIRST).unwrap();
    let p = broker.worker(
        WORKER,
        &[
            "produce",
            "work",
            &FIRST.to_string(),
            &(ITEMS - FIRST).to_string(),
        ],
    );
    let tasks: Vec<_> = (0..GETS)
        .map(|i| {
            let q = q.clone();
            // Each gives up after its own short while (some at once, some while their batch
            // is on its way); each that gets an item gets again.
            let after = Duration::from_micros((i as u64 * 37) % 3_000);
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut dropped = 0;
                for _ in 0..3 {
                    match tokio::time::timeout(after, q.get()).await {
                        Ok(v) => got.push(v.unwrap()),
                        Err(_) => dropped += 1,
                    }
                }
                (got, dropped)
            })
        })
        .collect();
    let mut got = Vec::new();
    let mut dropped = 0;
    for t in tasks {
        let (g, d) = t.await.unwrap();
        got.extend(g);
        dropped += d;
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
    all.sort_unstable();
    assert_eq!(
        all,
        (0..ITEMS).collect::<Vec<_>>(),
        "items lost or duplicated"
    );
    assert!(dropped > 0, "no get was dropped");
    eprintln!(
        "{} gets completed, {dropped} dropped, {left} items left",
        got.len()
    );
    assert_coalesced(&c);
}

/// Runs `n` futures made by `f` as tasks started in the same turn, and returns their outputs
/// in order.
async fn together<T, F>(n: usize, f: impl Fn(usize) -> F) -> Vec<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn coalesced_puts_to_a_bounded_queue_each_get_their_own_full_or_timeout() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let opts = QueueOptions {
        maxsize: Some(5),
        ..QueueOptions::default()
    };
    c.blocking().queue_with::<i64>("b", opts).unwrap();
    let q = Arc::new(c.queue::<i64>("b").unwrap());

    // Not waiting: the first five go in (in order), the other five are told Full.
    let outcomes = together(10, |i| {
        let q = q.clone();
        async move { q.put_timeout(&(i as i64), Some(Duration::ZERO)).await }
    })
    .await;
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(()) => assert!(i < 5, "put {i} went in past maxsize"),
            Err(xproc::Error::Full) => assert!(i >= 5, "put {i} was refused with room left"),
            Err(e) => panic!("put {i}: {e}"),
        }
    }
    assert_eq!(c.coalesced(), (1, 10));

    // Waiting at most 300 ms: room for three frees after 50 ms; exactly three go in, in
    // the order they joined, and the other seven time out.
    let q2 = q.clone();
    let consumer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut taken = Vec::new();
        for _ in 0..3 {
            taken.push(q2.get().await.unwrap());
        }
        taken
    });
    let outcomes = together(10, |i| {
        let q = q.clone();
        async move {
            q.put_timeout(&(100 + i as i64), Some(Duration::from_millis(300)))
                .await
        }
    })
    .await;
    assert_eq!(consumer.await.unwrap(), vec![0, 1, 2]);
    let ok: Vec<usize> = (0..10).filter(|&i| outcomes[i].is_ok()).collect();
    assert_eq!(ok, vec![0, 1, 2], "{outcomes:?}");
    assert!(outcomes[3..]
        .iter()
        .all(|o| matches!(o, Err(xproc::Error::Timeout))));
    let left: Vec<i64> = std::iter::from_fn(|| q.blocking().try_get().ok()).collect();
    assert_eq!(left, vec![3, 4, 100, 101, 102]);
    assert_coalesced(&c);
}

/// A value nested deeper than the broker accepts (100 levels, docs/PROTOCOL.md §4).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Nest(Vec<Nest>);

fn nest(depth: usize) -> Nest {
    (0..depth).fold(Nest(Vec::new()), |inner, _| Nest(vec![inner]))
}

#[tokio::test(flavor = "current_thread")]
async fn an_invalid_value_in_a_coalesced_batch_fails_only_its_own_put() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = Arc::new(c.queue::<Nest>("n").unwrap());
    let outcomes = together(8, |i| {
        let q = q.clone();
        async move { q.put(&nest(if i == 3 { 150 } else { i })).await }
    })
    .await;
    for (i, o) in outcomes.iter().enumerate() {
        if i == 3 {
            let e = o.as_ref().expect_err("the invalid value was put");
            assert_eq!(
                e.code(),
                Some(xproc_protocol::ErrorCode::InvalidValue),
                "{e}"
            );
        } else {
            assert!(o.is_ok(), "put {i}: {o:?}");
        }
    }
    let left: Vec<Nest> = std::iter::from_fn(|| q.blocking().try_get().ok()).collect();
    let want: Vec<Nest> = [0, 1, 2, 4, 5, 6, 7].into_iter().map(nest).collect();
    assert_eq!(left, want);
    assert_eq!(c.coalesced(), (1, 8));
}

#[tokio::test(flavor = "current_thread")]
async fn coalesced_gets_take_what_is_there_in_order_and_the_rest_wait_or_are_told_empty() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    let q = Arc::new(c.queue::<i64>("g").unwrap());
    q.blocking().put_many(0..3).unwrap();

    // Not waiting: the first three take the three items, in order; the others are Empty.
    let got = together(5, |_| {
        let q = q.clone();
        async move { q.get_timeout(Some(Duration::ZERO)).await }
    })
    .await;
    assert!(matches!(got[..3], [Ok(0), Ok(1), Ok(2)]), "{got:?}");
    assert!(got[3..]
        .iter()
        .all(|g| matches!(g, Err(xproc::Error::Empty))));
    assert_eq!(c.coalesced(), (1, 5));
    // An empty queue: every member is told Empty by the batch itself.
    let got = together(4, |_| {
        let q = q.clone();
        async move { q.get_timeout(Some(Duration::ZERO)).await }
    })
    .await;
    assert!(got.iter().all(|g| matches!(g, Err(xproc::Error::Empty))));
    assert_eq!(c.coalesced(), (2, 9));

    // Waiting at most 300 ms on an empty queue: two items come after 50 ms; the first two
    // gets (in the order they started) take them, the other two time out.
    let q2 = q.clone();
    let producer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        q2.blocking().put_many([10, 11]).unwrap();
    });
    let got = together(4, |_| {
        let q = q.clone();
        async move { q.get_timeout(Some(Duration::from_millis(300))).await }
    })
    .await;
    producer.await.unwrap();
    assert!(matches!(got[..2], [Ok(10), Ok(11)]), "{got:?}");
    assert!(got[2..]
        .iter()
        .all(|g| matches!(g, Err(xproc::Error::Timeout))));
    assert_eq!(q.blocking().qsize().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_coalescing_off_every_call_is_its_own_request() {
    let broker = Broker::start();
    let c = aio::Client::new(broker.client()).unwrap();
    c.set_coalesce(false);
    let q = Arc::new(c.queue::<i64>("off").unwrap());
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let q = q.clone();
            tokio::spawn(async move {
                for j in 0..5 {
                    q.put(&(i * 5 + j)).await.unwrap();
                    q.get().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(q.blocking().qsize().unwrap(), 0);
    assert_eq!(
        c.coalesced(),
        (0, 0),
        "a batch was sent with coalescing off"
    );
}
