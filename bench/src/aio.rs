//! The async and many-object scenarios of issue 15, measured side by side (never asserted):
//!
//! - `xproc-get-one` / `xproc-get-any8`: put then get, unpipelined, on one queue versus put to
//!   one of 8 queues (round robin) then `get_any` over all 8. One op = one put or one get.
//! - `xproc-sync-pipelined`: the blocking client's fastest put+get: `put_many` of 1000 (1000
//!   `queue.put` requests pipelined, written together) then `get_many` of 1000 (one request
//!   for up to 1000 items). One op = one put or one get.
//! - `xproc-sync-pipelined-single`: the blocking client pipelining *single* requests, one
//!   thread: `put_many` of 1000 (1000 `queue.put` requests in one write), then 1000 single
//!   `queue.get` requests started together (`start_get` with deferred starts: one write) and
//!   collected with `poll(2)` on the event descriptor. The same requests per op as the tokio
//!   tasks make; `xproc-sync-pipelined`'s `get_many` takes 1000 items with one request.
//! - `xproc-tokio`: 1000 tasks on one connection (a 2-worker tokio runtime), each looping
//!   `put().await` then `get().await`. One op = one put or one get; the clock runs for `secs`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_bytes::ByteBuf;
use xproc::Client;

use crate::error::BenchError;
use crate::measure::{measure, payload, Bounds, Outcome};

fn name(what: &str) -> String {
    format!("bench.{what}.{}", std::process::id())
}

/// Put then get on one queue (the baseline `get_any` is compared with).
pub fn get_one(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let n = name("getone");
    let q = client.queue::<ByteBuf>(&n)?;
    let value = ByteBuf::from(payload(size));
    let out = measure(
        "xproc_get_one",
        bounds,
        1,
        Some("put, get: 1 queue".into()),
        |i| {
            if i % 2 == 0 {
                q.put(&value)?;
            } else {
                q.get()?;
            }
            Ok(())
        },
    )?;
    client.delete(&n)?;
    Ok(out)
}

/// Put to one of 8 queues (round robin), then `get_any` over all 8.
pub fn get_any8(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let names: Vec<String> = (0..8).map(|i| name(&format!("any{i}"))).collect();
    let queues = names
        .iter()
        .map(|n| client.queue::<ByteBuf>(n))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&xproc::Queue<ByteBuf>> = queues.iter().collect();
    let value = ByteBuf::from(payload(size));
    let note = Some("put to 1 of 8 (round robin), get_any over 8".into());
    let out = measure("xproc_get_any8", bounds, 1, note, |i| {
        if i % 2 == 0 {
            queues[((i / 2) % 8) as usize].put(&value)?;
        } else {
            client.get_any(&refs, None)?;
        }
        Ok(())
    })?;
    for n in &names {
        client.delete(n)?;
    }
    Ok(out)
}

/// The blocking client's pipelined put+get: `put_many` of 1000, then `get_many` of 1000.
pub fn sync_pipelined(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    const BATCH: usize = 1000;
    let client = Client::connect(socket)?;
    let n = name("pipelined");
    let q = client.queue::<ByteBuf>(&n)?;
    let value = ByteBuf::from(payload(size));
    let bounds = Bounds {
        warmup: 4,
        ..*bounds
    };
    let note = Some(format!(
        "put_many {BATCH} (pipelined puts) + get_many {BATCH} (one batch request), 1 thread"
    ));
    let out = measure(
        "xproc_sync_pipelined",
        &bounds,
        2 * BATCH as u64,
        note,
        |_| {
            q.put_many((0..BATCH).map(|_| &value))?;
            let mut got = 0;
            while got < BATCH {
                got += q.get_many(BATCH - got, None)?.len();
            }
            Ok(())
        },
    )?;
    client.delete(&n)?;
    Ok(out)
}

/// The blocking client pipelining single requests: `put_many` of 1000, then 1000 single
/// `queue.get`s started together and collected from the event descriptor, one thread.
pub fn sync_pipelined_single(
    socket: &Path,
    size: usize,
    bounds: &Bounds,
) -> Result<Outcome, BenchError> {
    const BATCH: usize = 1000;
    let client = Client::connect(socket)?;
    let n = name("pipesingle");
    let q = client.queue::<ByteBuf>(&n)?;
    let value = ByteBuf::from(payload(size));
    let fd = client.event_fd()?;
    client.set_defer_starts(true);
    let bounds = Bounds {
        warmup: 4,
        ..*bounds
    };
    let note = Some(format!(
        "put_many {BATCH} (pipelined puts) + {BATCH} pipelined single gets (event-loop API), 1 thread"
    ));
    let mut finished = Vec::with_capacity(BATCH);
    let out = measure(
        "xproc_sync_pipelined_single",
        &bounds,
        2 * BATCH as u64,
        note,
        |_| {
            q.put_many((0..BATCH).map(|_| &value))?;
            let tickets = (0..BATCH)
                .map(|_| q.raw().start_get(None))
                .collect::<Result<Vec<_>, _>>()?;
            client.flush_starts()?;
            let mut got = 0;
            while got < BATCH {
                finished.clear();
                client.process_tickets(&mut finished)?;
                for t in &finished {
                    client.take_completion(*t).transpose()?;
                    got += 1;
                }
                if got < BATCH && finished.is_empty() {
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, 1000) };
                }
            }
            drop(tickets);
            Ok(())
        },
    )?;
    client.delete(&n)?;
    Ok(out)
}

/// 1000 tokio tasks on one connection, each looping put then get.
pub fn tokio_tasks(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    const TASKS: usize = 1000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Child(format!("tokio runtime: {e}")))?;
    let n = name("tokio");
    let secs = bounds.secs.max(0.1);
    let (ops, elapsed, coalesced) = rt.block_on(async {
        let c = xproc::aio::Client::new(Client::connect(socket)?)?;
        // For comparisons only: each put and get its own request, as before coalescing.
        if std::env::var_os("XPROC_BENCH_NO_COALESCE").is_some() {
            c.set_coalesce(false);
        }
        let q = Arc::new(c.queue::<ByteBuf>(&n)?);
        let value = Arc::new(ByteBuf::from(payload(size)));
        let ops = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let counting = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (q, value, ops, stop, counting) = (
                    q.clone(),
                    value.clone(),
                    ops.clone(),
                    stop.clone(),
                    counting.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        q.put(&value).await?;
                        q.get().await?;
                        if counting.load(Ordering::Relaxed) {
                            ops.fetch_add(2, Ordering::Relaxed);
                        }
                    }
                    Ok::<_, xproc::Error>(())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await; // warm-up
        counting.store(true, Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let done = ops.load(Ordering::Relaxed);
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await
                .map_err(|e| BenchError::Child(format!("task: {e}")))??;
        }
        c.blocking().delete(&n)?;
        Ok::<_, BenchError>((done, elapsed, c.coalesced()))
    })?;
    let (batches, members) = coalesced;
    let note = Some(format!(
        "{TASKS} tasks, 1 connection, 2 runtime threads; {batches} coalesced batches, {:.0} calls each",
        members as f64 / batches.max(1) as f64
    ));
    Ok(Outcome::from_count("xproc_tokio", ops, elapsed, note))
}
