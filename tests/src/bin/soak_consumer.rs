//! Consumer roles with acknowledged delivery, for the lease tests (tests/tests/leases.rs) and
//! the chaos soak (tests/tests/soak.rs). Values are integer item ids.
//!
//! - `consume QUEUE LEASE_MS`: the soak consumer. Forever: lease an item; record who holds
//!   which attempt (`soak.holders[[id, attempt]] = pid`); record the ack about to happen
//!   (`soak.acked[id] = attempt`); ack. Those dict writes are the broker-side truth the soak
//!   checks: a consumer killed at any point leaves at worst a lease that comes back. Runs
//!   until killed.
//! - `hold QUEUE LEASE_MS`: leases one item and keeps it, never acking, until killed (or until
//!   the lease runs out under it).
//! - `stall QUEUE LEASE_MS`: leases one item, then stops reading its socket while it floods the
//!   broker with requests (until the broker stops reading it), and sleeps: the consumer that
//!   must not stall the others.
//! - `ack QUEUE N`: leases and acks N items; prints `{"acked": [[value, attempt], ...]}`.
//! - `nack QUEUE DELAY_MS`: leases one item and nacks it with that delay; prints
//!   `{"nacked": value, "attempt": a}`.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use xproc::protocol::RequestFields;
use xproc::{Error, Kind, Queue, QueueOptions};
use xproc_tests::{park_forever, worker_main, RawStream};

/// Where the soak consumers record holders and acks.
const HOLDERS: &str = "soak.holders";
const ACKED: &str = "soak.acked";

fn main() {
    worker_main(|args, client| {
        // Whatever kind of queue the test made (queue or joinable_queue), values as JSON.
        let name = args.str(1);
        let kind = match client.stat(name) {
            Ok(s) => Kind::parse(&s.kind).unwrap_or(Kind::Queue),
            Err(_) => Kind::Queue,
        };
        let raw = client.raw_queue(name, kind, QueueOptions::default())?;
        let q = Queue::<serde_json::Value>::from_raw(raw.clone());
        match args.str(0) {
            "consume" => {
                let lease = Duration::from_millis(args.parse(2));
                let q = Queue::<u64>::from_raw(raw);
                let holders = client.dict::<(u64, u32), u32>(HOLDERS)?;
                let acked = client.dict::<u64, u32>(ACKED)?;
                let pid = std::process::id();
                loop {
                    let d = match q.get_leased_timeout(Duration::from_secs(5), lease) {
                        Ok(d) => d,
                        Err(Error::Timeout) => continue,
                        Err(e) => return Err(e),
                    };
                    holders.set(&(d.value, d.attempt), &pid)?;
                    acked.set(&d.value, &d.attempt)?;
                    d.ack()?;
                }
            }
            "hold" => {
                let _held = q.get_leased(Duration::from_millis(args.parse(2)))?;
                park_forever()
            }
            "stall" => {
                let q = Queue::<u64>::from_raw(raw);
                let d = q.get_leased(Duration::from_millis(args.parse(2)))?;
                client
                    .dict::<(u64, u32), u32>(HOLDERS)?
                    .set(&(d.value, d.attempt), &std::process::id())?;
                flood_without_reading(client.path());
                park_forever()
            }
            "ack" => {
                let n: usize = args.parse(2);
                let mut got = Vec::new();
                for _ in 0..n {
                    let d = q.get_leased(xproc::DEFAULT_LEASE)?;
                    got.push(json!([d.value.clone(), d.attempt]));
                    d.ack()?;
                }
                Ok(json!({ "acked": got }))
            }
            "nack" => {
                let d = q.get_leased(xproc::DEFAULT_LEASE)?;
                let (value, attempt) = (d.value.clone(), d.attempt);
                d.nack(Duration::from_millis(args.parse(2)))?;
                Ok(json!({ "nacked": value, "attempt": attempt }))
            }
            other => panic!("unknown role {other}"),
        }
    })
}

/// Opens a second connection and writes `list` requests on it without ever reading a reply,
/// until the socket will take no more (the broker stopped reading it at its output soft limit
/// and the kernel buffers are full), or a bound is reached.
fn flood_without_reading(path: &std::path::Path) {
    let Ok(mut s) = RawStream::connect(path) else {
        return;
    };
    let mut frames = Vec::new();
    RequestFields {
        version: Some(xproc::protocol::PROTOCOL_VERSION),
        client: Some("stalled"),
        ..RequestFields::new(0, "hello")
    }
    .encode_into(&mut frames);
    for id in 1..=1000 {
        RequestFields::new(id, "list").encode_into(&mut frames);
    }
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(&frames);
    let mut batch = Vec::new();
    for id in 1001..=2000 {
        RequestFields::new(id, "list").encode_into(&mut batch);
    }
    // Bounded: at most ~100 MB of requests, stopping at the first write that times out.
    for _ in 0..4000 {
        if s.write_all(&batch).is_err() {
            break;
        }
    }
    // Keep the connection (and its unread replies) open.
    std::mem::forget(s);
}
