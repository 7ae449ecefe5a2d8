//! The xproc scenarios, through the typed `xproc` client exactly as an application uses it.
//!
//! The value is a `serde_bytes::ByteBuf` of `size` bytes, i.e. MessagePack `bin` (2 bytes of
//! header + payload), the closest match to Redis' `-d 64` string. Every scenario uses its own
//! object name (with the pid) and deletes the object at the end, so repeats never see leftovers.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_bytes::ByteBuf;
use xproc::{Client, End, QueueOptions};

use crate::child::{say, Peer};
use crate::error::BenchError;
use crate::measure::KEYS;
use crate::measure::{measure, payload, Bounds, Outcome};

/// How long a helper process waits for the next item before giving up, so a dead parent never
/// leaves it blocked forever.
const PEER_IDLE: Duration = Duration::from_secs(30);

/// Bound on the producer/consumer queue: a producer that runs ahead waits instead of filling the
/// broker's memory (the consumer is usually the slower side).
const PRODCONS_MAXSIZE: u64 = 10_000;

fn object_name(what: &str) -> String {
    format!("bench.{what}.{}", std::process::id())
}

fn check_len(got: &ByteBuf, size: usize, what: &str) -> Result<(), BenchError> {
    if got.len() == size {
        Ok(())
    } else {
        Err(BenchError::Child(format!(
            "{what} returned {} bytes, expected {size}",
            got.len()
        )))
    }
}

/// Scenario 1: put then get on one queue, one connection, one request in flight.
/// One op = one put or one get (a round trip each).
pub fn put_get(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("putget");
    let queue = client.queue::<ByteBuf>(&name)?;
    let value = ByteBuf::from(payload(size));
    let out = measure("xproc_put_get", bounds, 1, None, |i| {
        if i % 2 == 0 {
            queue.put(&value)?;
        } else {
            check_len(&queue.get()?, size, "get")?;
        }
        Ok(())
    })?;
    client.delete(&name)?;
    Ok(out)
}

/// Scenario 2: `put_many` of `batch` values per call (pipelined by the client). One op = one
/// put. The queue is left to grow during the run (bounded by `bounds.iters`) and deleted after.
pub fn put_many(
    socket: &Path,
    size: usize,
    batch: usize,
    bounds: &Bounds,
) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("putmany");
    let queue = client.queue::<ByteBuf>(&name)?;
    let value = ByteBuf::from(payload(size));
    let batch = batch.max(1);
    // Warm-up counts calls; keep it to a few batches.
    let bounds = Bounds {
        warmup: (bounds.warmup / batch as u64).max(2),
        ..*bounds
    };
    let note = Some(format!("put_many, {batch} values per call"));
    let out = measure("xproc_put_many", &bounds, batch as u64, note, |_| {
        let n = queue.put_many((0..batch).map(|_| &value))?;
        if n != batch {
            return Err(BenchError::Child(format!("put_many put {n} of {batch}")));
        }
        Ok(())
    })?;
    client.delete(&name)?;
    Ok(out)
}

/// Scenario 3: this process puts (plain `put`, one at a time) while a consumer process gets.
/// One op = one item the consumer received; the clock runs from the first put until the
/// consumer has received the end marker (an empty value) that follows the last item.
pub fn producer_consumer(
    socket: &Path,
    size: usize,
    bounds: &Bounds,
) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("prodcons");
    let queue = client.queue_with::<ByteBuf>(
        &name,
        QueueOptions {
            maxsize: Some(PRODCONS_MAXSIZE),
            ..QueueOptions::default()
        },
    )?;
    let value = ByteBuf::from(payload(size));
    let mut peer = Peer::spawn("consume-peer", socket, &name)?;
    let cap = Duration::from_secs_f64(bounds.secs.max(0.001));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < bounds.iters {
        queue.put(&value)?;
        sent += 1;
        if sent & 0xff == 0 && start.elapsed() >= cap {
            break;
        }
    }
    queue.put(&ByteBuf::new())?;
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
        "plain put / get, queue maxsize {PRODCONS_MAXSIZE}, no warm-up"
    ));
    Ok(Outcome::from_count(
        "xproc_prodcons",
        received,
        elapsed,
        note,
    ))
}

/// Nanoseconds on the wall clock, the latency stamp the streaming producer writes into each
/// value (both processes run on one machine, so the clocks agree).
fn stamp_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// [`producer_consumer`] the way a producer that wants speed writes it: `put_async` of each
/// value (a large one goes through the up ring as its own put, so the producer writes value
/// n+1 while the broker copies value n), and a consumer process taking each value with
/// `get_buf` (zero-copy: a value the broker placed in its down ring is read in place). Each
/// value carries its send time in its first 8 payload bytes; the consumer reports the median
/// time from `put_async` to its `get_buf` returning (including time spent queued).
pub fn producer_consumer_stream(
    socket: &Path,
    size: usize,
    bounds: &Bounds,
) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("prodcons-stream");
    // `$XPROC_BENCH_MAXSIZE` overrides the bound, for experiments (docs/BENCHMARKS.md,
    // "fourth pass").
    let maxsize = std::env::var("XPROC_BENCH_MAXSIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PRODCONS_MAXSIZE);
    let queue = client.queue_with::<ByteBuf>(
        &name,
        QueueOptions {
            maxsize: Some(maxsize),
            ..QueueOptions::default()
        },
    )?;
    let mut value = ByteBuf::from(payload(size.max(8)));
    let mut peer = Peer::spawn("consume-peer-buf", socket, &name)?;
    let cap = Duration::from_secs_f64(bounds.secs.max(0.001));
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < bounds.iters {
        value[..8].copy_from_slice(&stamp_ns().to_le_bytes());
        queue.put_async(&value)?;
        sent += 1;
        if sent & 0xf == 0 && start.elapsed() >= cap {
            break;
        }
    }
    for _ in 0..getters() {
        queue.put_async(&ByteBuf::new())?;
    }
    queue.flush()?;
    let line = peer.read_line()?;
    let elapsed = start.elapsed();
    peer.finish()?;
    let mut words = line.split(' ');
    let parsed = (words.next() == Some("done"))
        .then(|| {
            let n: u64 = words.next()?.parse().ok()?;
            let in_ring: u64 = words.next()?.parse().ok()?;
            let p50_us: f64 = words.next()?.parse().ok()?;
            let p99_us: f64 = words.next()?.parse().ok()?;
            let bad: u64 = words.next()?.parse().ok()?;
            Some((n, in_ring, p50_us, p99_us, bad))
        })
        .flatten();
    let Some((received, in_ring, p50_us, p99_us, bad)) = parsed else {
        return Err(BenchError::Child(format!("consumer said {line:?}")));
    };
    if received != sent || bad != 0 {
        return Err(BenchError::Child(format!(
            "sent {sent} items, consumer got {received} ({bad} of the wrong length)"
        )));
    }
    client.delete(&name)?;
    let note = Some(format!(
        "put_async / get_buf, queue maxsize {maxsize}, {} getter connection(s), no warm-up; \
         {in_ring} of {received} values read in the consumer's down ring; p50/p99 = put_async \
         to get_buf returned, per value, queueing included",
        getters()
    ));
    let mut out = Outcome::from_count("xproc_prodcons_stream", received, elapsed, note);
    out.p50_us = Some(p50_us);
    out.p99_us = Some(p99_us);
    Ok(out)
}

/// How many connections of the consumer process take values at once in
/// `xproc-prodcons-stream`: `$XPROC_BENCH_GETTERS`, default 1. With more than one, a `get_buf`
/// is waiting at the broker while another connection's value is being looked at, so each put
/// can be handed straight to a waiting consumer.
fn getters() -> usize {
    std::env::var("XPROC_BENCH_GETTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// The consumer process of [`producer_consumer_stream`]: `get_buf` until the empty end
/// marker (one per getter connection), checking each value's length, then prints
/// `done N IN_RING P50_US P99_US BAD`.
pub fn consume_peer_buf(socket: &Path, name: &str) -> Result<(), BenchError> {
    type Tally = (u64, u64, u64, Vec<u64>);
    let getter = |queue: xproc::RawQueue| -> Result<Tally, BenchError> {
        let (mut n, mut in_ring, mut bad, mut want) = (0u64, 0u64, 0u64, None);
        let mut lat = Vec::new();
        loop {
            let item = queue.get_buf(Some(PEER_IDLE))?;
            // An empty bin (0xc4 0x00) ends the stream.
            if item.len() == 2 {
                break;
            }
            n += 1;
            in_ring += u64::from(item.is_in_ring());
            // bin 32: 0xc6, 4 bytes of length, then the payload (its first 8 bytes: the stamp).
            let ok =
                item.len() > 13 && item[0] == 0xc6 && *want.get_or_insert(item.len()) == item.len();
            if ok {
                let sent = u64::from_le_bytes(item[5..13].try_into().unwrap_or_default());
                lat.push(stamp_ns().saturating_sub(sent));
            } else {
                bad += 1;
            }
        }
        Ok((n, in_ring, bad, lat))
    };
    let mut queues = Vec::new();
    for _ in 0..getters() {
        let client = Client::connect(socket)?;
        queues.push(client.raw_queue(name, xproc::Kind::Queue, QueueOptions::default())?);
    }
    say("ready")?;
    let threads: Vec<_> = queues
        .into_iter()
        .map(|q| std::thread::spawn(move || getter(q)))
        .collect();
    let (mut n, mut in_ring, mut bad, mut lat) = (0, 0, 0, Vec::new());
    for t in threads {
        let (tn, tr, tb, tl) = t
            .join()
            .map_err(|_| BenchError::Child("a getter panicked".into()))??;
        (n, in_ring, bad) = (n + tn, in_ring + tr, bad + tb);
        lat.extend(tl);
    }
    lat.sort_unstable();
    let pct = |p: usize| {
        lat.get(lat.len() * p / 100)
            .map_or(0.0, |&ns| ns as f64 / 1e3)
    };
    say(&format!("done {n} {in_ring} {} {} {bad}", pct(50), pct(99)))
}

/// The consumer process of [`producer_consumer`]: gets until the empty end marker, then prints
/// `done <items>`.
pub fn consume_peer(socket: &Path, name: &str) -> Result<(), BenchError> {
    let client = Client::connect(socket)?;
    let queue = client.queue_with::<ByteBuf>(name, QueueOptions::default())?;
    say("ready")?;
    let mut n = 0u64;
    loop {
        let item = queue.get_timeout(PEER_IDLE)?;
        if item.is_empty() {
            break;
        }
        n += 1;
    }
    say(&format!("done {n}"))
}

/// Scenario 6: dict set then get of the same key, cycling over [`KEYS`] string keys, one
/// connection, one request in flight. One op = one set or one get.
pub fn dict(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("dict");
    let dict = client.dict::<String, ByteBuf>(&name)?;
    let value = ByteBuf::from(payload(size));
    let keys: Vec<String> = (0..KEYS).map(|k| format!("key:{k:06}")).collect();
    let out = measure("xproc_dict", bounds, 1, Some(format!("{KEYS} keys")), |i| {
        let key = keys[((i / 2) % KEYS) as usize].as_str();
        if i % 2 == 0 {
            dict.set(key, &value)?;
        } else {
            let got = dict
                .get(key)?
                .ok_or_else(|| BenchError::Child(format!("key {key} missing after set")))?;
            check_len(&got, size, "dict get")?;
        }
        Ok(())
    })?;
    client.delete(&name)?;
    Ok(out)
}

/// Scenario 7: pipe ping-pong. This process holds end `a`, a helper process holds end `b` and
/// sends every message back. One op = one round trip (send, the peer's recv and send, recv).
pub fn pipe_ping_pong(socket: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("pipe");
    let pipe = client.pipe::<ByteBuf>(&name, End::A)?;
    let value = ByteBuf::from(payload(size));
    let peer = Peer::spawn("pipe-peer", socket, &name)?;
    let mut out = measure("xproc_pipe", bounds, 1, None, |_| {
        pipe.send(&value)?;
        check_len(&pipe.recv()?, size, "pipe recv")
    })?;
    out.note = Some(format!(
        "2 processes, {}",
        if pipe.raw().is_direct() {
            "direct (peer to peer)"
        } else {
            "brokered"
        }
    ));
    pipe.send(&ByteBuf::new())?;
    let _ = pipe.recv()?;
    peer.finish()?;
    pipe.close()?;
    Ok(out)
}

/// The echoing end of [`pipe_ping_pong`]: sends back every message, the empty one last.
pub fn pipe_peer(socket: &Path, name: &str) -> Result<(), BenchError> {
    let client = Client::connect(socket)?;
    let pipe = client.pipe::<ByteBuf>(name, End::B)?;
    say("ready")?;
    loop {
        let m = pipe.recv_timeout(PEER_IDLE)?;
        pipe.send(&m)?;
        if m.is_empty() {
            return Ok(());
        }
    }
}

/// Bytes of each message of [`pipe_stream`] (the 64 B stream).
pub const PIPE_STREAM_SIZE: usize = 64;

/// Scenario: a one-way pipe stream. A helper process holds end `a` and sends 64-byte messages
/// as fast as the pipe takes them; this process holds `b` and receives. One op = one message
/// received. With both ends local the pipe runs direct (docs/PROTOCOL.md §6.5.1); the note
/// says whether it did.
pub fn pipe_stream(socket: &Path, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let client = Client::connect(socket)?;
    let name = object_name("pipestream");
    let opts = xproc::PipeOptions {
        duplex: Some(false),
        capacity: None,
    };
    let pipe = client.pipe_with::<ByteBuf>(&name, End::B, opts)?;
    let peer = Peer::spawn("pipe-producer", socket, &name)?;
    let mut out = measure("xproc_pipe_stream", bounds, 1, None, |_| {
        check_len(&pipe.recv()?, PIPE_STREAM_SIZE, "pipe recv")
    })?;
    out.note = Some(format!(
        "2 processes, one-way, {PIPE_STREAM_SIZE} B, {}",
        if pipe.raw().is_direct() {
            "direct (peer to peer)"
        } else {
            "brokered"
        }
    ));
    // Closing our end makes the producer's next send fail with Closed: its signal to stop.
    pipe.close()?;
    peer.finish()?;
    Ok(out)
}

/// The sending end of [`pipe_stream`]: sends until the reader closes.
pub fn pipe_producer(socket: &Path, name: &str) -> Result<(), BenchError> {
    let client = Client::connect(socket)?;
    let opts = xproc::PipeOptions {
        duplex: Some(false),
        capacity: None,
    };
    let pipe = client.pipe_with::<ByteBuf>(name, End::A, opts)?;
    let value = ByteBuf::from(payload(PIPE_STREAM_SIZE));
    say("ready")?;
    loop {
        match pipe.send_timeout(&value, PEER_IDLE) {
            Ok(()) => {}
            Err(xproc::Error::Closed(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}
