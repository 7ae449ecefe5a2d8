//! Streaming roles for the cross-process tests (see tests/tests/streaming.rs).
//!
//! - `produce QUEUE START COUNT`: `put_async`s the integers START..START+COUNT, then flushes;
//!   prints `{"put": COUNT}`.
//! - `flood QUEUE`: `put_async`s integers as fast as it can, forever (for backpressure).
//! - `leased QUEUE BATCH`: leases batches with `get_many_leased`; before acking a batch it
//!   prints its values as one JSON array line (flushed), so a killed consumer's last line
//!   may name values it never acked. Stops at a `null` item (acked). Never exits otherwise.
//! - `hold QUEUE N`: leases one batch of up to N and never settles it (until killed).
//! - `plain QUEUE BATCH`: takes batches with `get_many`; prints each batch as one JSON array
//!   line as soon as it has it. Stops at a `null`.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use xproc_tests::worker_main;

fn line(values: &[i64]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", json!(values));
    let _ = out.flush();
}

fn main() {
    worker_main(|args, client| match args.str(0) {
        "produce" => {
            let q = client.queue::<Option<i64>>(args.str(1))?;
            let (start, count): (i64, i64) = (args.parse(2), args.parse(3));
            for n in start..start + count {
                q.put_async(&Some(n))?;
            }
            q.flush()?;
            Ok(json!({ "put": count }))
        }
        "flood" => {
            let q = client.queue::<i64>(args.str(1))?;
            let mut n = 0;
            loop {
                q.put_async(&n)?;
                n += 1;
            }
        }
        "leased" => {
            let q = client.queue::<Option<i64>>(args.str(1))?;
            let batch: usize = args.parse(2);
            loop {
                let got = q.get_many_leased(batch, None, Duration::from_secs(60))?;
                let values: Vec<i64> = got.iter().filter_map(|d| d.value).collect();
                line(&values);
                let ids: Vec<u64> = got.iter().map(|d| d.id).collect();
                let unknown = q.ack_many(&ids)?;
                assert!(unknown.is_empty(), "acks refused: {unknown:?}");
                if got.iter().any(|d| d.value.is_none()) {
                    return Ok(json!({ "stopped": true }));
                }
            }
        }
        "hold" => {
            let q = client.queue::<serde_json::Value>(args.str(1))?;
            let _held = q.get_many_leased(args.parse(2), None, Duration::from_secs(60))?;
            xproc_tests::park_forever()
        }
        "plain" => {
            let q = client.queue::<Option<i64>>(args.str(1))?;
            let batch: usize = args.parse(2);
            loop {
                let got = q.get_many(batch, None)?;
                let values: Vec<i64> = got.iter().flatten().copied().collect();
                line(&values);
                if got.iter().any(Option::is_none) {
                    return Ok(json!({ "stopped": true }));
                }
            }
        }
        other => panic!("unknown role {other}"),
    })
}
