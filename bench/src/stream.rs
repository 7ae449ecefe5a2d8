//! The streaming and load scenarios of issue 10: a `put_async` producer process streaming to a
//! `get_many` consumer process, many connections at once, the latency of a ping while a
//! producer streams, and the broker memory a queued item costs (the fill half; `run.py` reads
//! the broker's RSS around it).

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_bytes::ByteBuf;
use xproc::{Client, Kind, QueueOptions};

use crate::child::{say, Peer};
use crate::error::BenchError;
use crate::measure::{payload, Bounds, Outcome};

/// Values the consumer takes per `get_many` (the client's `put_async` batch is 1024 too).
const BATCH: usize = 1024;

/// Bound on the streamed queue, as in the plain producer → consumer scenario: a producer that
/// runs ahead waits in the broker instead of growing it.
const STREAM_MAXSIZE: u64 = 10_000;

/// How long a helper waits for the next item before giving up (a dead parent).
const PEER_IDLE: Duration = Duration::from_secs(30);

fn object_name(what: &str) -> String {
    format!("bench.{what}.{}", std::process::id())
}

fn open_stream_queue(client: &Client, name: &str) -> Result<xproc::RawQueue, BenchError> {
    Ok(client.raw_queue(
        name,
        Kind::Queue,
        QueueOptions {
            maxsize: Some(STREAM_MAXSIZE),
            ..QueueOptions::default()
        },
    )?)
}

/// The value as the typed client would encode a `ByteBuf`: a MessagePack `bin`.
fn bin(size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 5);
    match size {
        0..=255 => v.extend_from_slice(&[0xc4, size as u8]),
        256..=65_535 => v.extend_from_slice(&[0xc5, (size >> 8) as u8, size as u8]),
        _ => {
            v.push(0xc6);
            v.extend_from_slice(&(size as u32).to_be_bytes());
        }
    }
    v.extend_from_slice(&payload(size));
    v
}

/// This process streams with `put_async` (then `flush`) while a consumer process takes
/// batches with `get_many`. One op = one item the consumer received; the clock runs from the
/// first put until the consumer has the end marker (an empty `bin`).
pub fn stream(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("stream");
    let q = open_stream_queue(&client, &name)?;
    let value = bin(size);
    let mut peer = Peer::spawn("stream-consumer", socket, &name)?;
    let cap = Duration::from_secs_f64(bounds.secs.max(0.001));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < bounds.iters {
        q.put_async(&value)?;
        sent += 1;
        if sent & 0xfff == 0 && start.elapsed() >= cap {
            break;
        }
    }
    q.put_async(&bin(0))?;
    q.flush()?;
    let line = peer.read_line()?;
    let elapsed = start.elapsed();
    peer.finish()?;
    let received: u64 = line
        .strip_prefix("done ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| BenchError::Child(format!("consumer said {line:?}")))?;
    if received != sent {
        return Err(BenchError::Child(format!(
            "sent {sent} items, consumer got {received}"
        )));
    }
    client.delete(&name)?;
    let note = Some(format!(
        "put_async -> get_many({BATCH}), queue maxsize {STREAM_MAXSIZE}, 2 processes"
    ));
    Ok(Outcome::from_count("xproc_stream", received, elapsed, note))
}

/// The consumer process of [`stream`] (and of [`ping_while_streaming`]'s stream): takes
/// batches until the empty end marker, then prints `done <items>`.
pub fn stream_consumer(socket: &Path, name: &str) -> Result<(), BenchError> {
    let client = Client::connect(socket)?;
    let q = open_stream_queue(&client, name)?;
    say("ready")?;
    let mut n = 0u64;
    loop {
        let mut end = false;
        q.get_many_with(BATCH, Some(PEER_IDLE), |values| {
            for v in values {
                // An empty bin (0xc4 0x00) ends the stream.
                if v.len() == 2 {
                    end = true;
                } else {
                    n += 1;
                }
            }
            Ok(())
        })?;
        if end {
            break;
        }
    }
    say(&format!("done {n}"))
}

/// The producer process of [`ping_while_streaming`]: streams with `put_async` until its
/// stdin closes or `PEER_IDLE` passes, then sends the end marker.
pub fn stream_producer(socket: &Path, name: &str) -> Result<(), BenchError> {
    use std::io::Read;
    let client = Client::connect(socket)?;
    let q = open_stream_queue(&client, name)?;
    let value = bin(64);
    // The parent closes our stdin to stop us; a thread notices.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        let _ = std::io::stdin().read(&mut [0u8; 1]);
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    say("ready")?;
    let start = Instant::now();
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) && start.elapsed() < PEER_IDLE {
        for _ in 0..256 {
            q.put_async(&value)?;
        }
        n += 256;
    }
    q.put_async(&bin(0))?;
    q.flush()?;
    say(&format!("done {n}"))
}

/// `conns` connections (one thread and one `Client` each), each doing unpipelined put then
/// get on a queue of its own, all at once. One op = one put or one get; the rate is the
/// aggregate over every connection.
pub fn many_connections(
    socket: &Path,
    size: usize,
    conns: usize,
    bounds: &Bounds,
) -> Result<Outcome, BenchError> {
    let conns = conns.max(1);
    let per_conn = (bounds.iters / conns as u64).max(2);
    let cap = Duration::from_secs_f64(bounds.secs.max(0.001));
    let warmup = (bounds.warmup / conns as u64).max(2);
    let start_line = Arc::new(Barrier::new(conns + 1));
    let mut threads = Vec::with_capacity(conns);
    for t in 0..conns {
        let socket = socket.to_path_buf();
        let start_line = Arc::clone(&start_line);
        threads.push(std::thread::spawn(move || -> Result<u64, BenchError> {
            let client = Client::connect(&socket)?;
            let name = object_name(&format!("conns.{t}"));
            let q = client.queue::<ByteBuf>(&name)?;
            let value = ByteBuf::from(payload(size));
            for _ in 0..warmup {
                q.put(&value)?;
                q.get()?;
            }
            start_line.wait();
            let start = Instant::now();
            let mut ops = 0u64;
            while ops < per_conn {
                q.put(&value)?;
                if q.get()?.len() != size {
                    return Err(BenchError::Child("get returned another value".into()));
                }
                ops += 2;
                if ops & 0x3f == 0 && start.elapsed() >= cap {
                    break;
                }
            }
            client.delete(&name)?;
            Ok(ops)
        }));
    }
    start_line.wait();
    let start = Instant::now();
    let mut total = 0;
    for t in threads {
        total += t
            .join()
            .map_err(|_| BenchError::Child("a connection thread panicked".into()))??;
    }
    let note = Some(format!(
        "{conns} connections (a thread each), unpipelined put+get, aggregate"
    ));
    Ok(Outcome::from_count(
        &format!("xproc_conns{conns}"),
        total,
        start.elapsed(),
        note,
    ))
}

/// The latency of `ping` on this connection, first with the broker idle, then while a
/// producer process streams `put_async` batches to a consumer process. Prints the idle row
/// and returns the streaming one (one op = one ping; p50/p99 per ping).
pub fn ping_while_streaming(socket: &Path, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let pings = bounds.iters.clamp(100, 20_000);
    let half = Duration::from_secs_f64((bounds.secs / 2.0).max(0.05));
    let idle = time_pings(&client, "xproc_ping_idle", pings, half, bounds.warmup)?;
    idle.print()?;
    let name = object_name("pingstream");
    let consumer = Peer::spawn("stream-consumer", socket, &name)?;
    let mut producer = Peer::spawn_with_stdin("stream-producer", socket, &name)?;
    // Let the stream reach full speed before timing.
    std::thread::sleep(Duration::from_millis(100));
    let mut loaded = time_pings(&client, "xproc_ping_streaming", pings, half, 0)?;
    producer.close_stdin();
    let said = producer.read_line()?;
    producer.finish()?;
    let mut consumer = consumer;
    let got = consumer.read_line()?;
    consumer.finish()?;
    client.delete(&name)?;
    loaded.note = Some(format!(
        "while a put_async producer streams to a get_many consumer ({said}, consumer {got}); idle p99 {:.1} µs",
        idle.p99_us.unwrap_or(0.0)
    ));
    Ok(loaded)
}

fn time_pings(
    client: &Client,
    scenario: &str,
    pings: u64,
    cap: Duration,
    warmup: u64,
) -> Result<Outcome, BenchError> {
    for _ in 0..warmup.min(2000) {
        client.ping()?;
    }
    let mut samples = Vec::with_capacity(pings as usize);
    let start = Instant::now();
    while (samples.len() as u64) < pings {
        let t = Instant::now();
        client.ping()?;
        samples.push(t.elapsed());
        if start.elapsed() >= cap && samples.len() >= 100 {
            break;
        }
    }
    let elapsed = start.elapsed();
    samples.sort_unstable();
    let pct = |q: f64| {
        let i = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[i].as_secs_f64() * 1e6
    };
    let mut out = Outcome::from_count(scenario, samples.len() as u64, elapsed, None);
    out.p50_us = Some(pct(0.5));
    out.p99_us = Some(pct(0.99));
    Ok(out)
}

/// Fills a fresh queue with `count` values of `size` bytes through `put_async` and leaves
/// them there; `run.py` reads the broker's RSS before and after. Prints the count.
pub fn fill_queue(socket: &Path, name: &str, count: u64, size: usize) -> Result<(), BenchError> {
    let client = Client::connect(socket)?;
    let q = client.raw_queue(name, Kind::Queue, QueueOptions::default())?;
    let value = bin(size);
    for _ in 0..count {
        q.put_async(&value)?;
    }
    q.flush()?;
    let held = q.qsize()?.len;
    if held != count {
        return Err(BenchError::Child(format!("queue holds {held} of {count}")));
    }
    say(&format!("{{\"filled\": {count}}}"))
}
