//! Queue roles for the cross-process tests (see tests/tests/queue.rs).
//!
//! - `produce QUEUE START COUNT`: puts the integers START..START+COUNT; prints `{"put": COUNT}`.
//! - `consume QUEUE`: gets integers until it gets `null` (the stop sentinel); prints the
//!   integers received, in order, as a JSON array.
//! - `get QUEUE TIMEOUT_MS|forever`: one get; prints `{"value": v}` or `{"error": "Kind"}`.
//! - `work QUEUE N`: gets N items from a joinable queue and marks each done; prints
//!   `{"done": N}`.
//! - `join QUEUE`: waits until every item of a joinable queue is done; prints `{"joined": true}`.
//! - `get_any Q1,Q2,... TIMEOUT_MS|forever`: one `get_any`; prints `{"index": i, "value": v}`
//!   or `{"error": "Kind"}`.

use serde_json::json;
use xproc_tests::{error_kind, worker_main};

fn main() {
    worker_main(|args, client| match args.str(0) {
        "produce" => {
            let q = client.queue::<Option<i64>>(args.str(1))?;
            let (start, count): (i64, i64) = (args.parse(2), args.parse(3));
            for n in start..start + count {
                q.put(&Some(n))?;
            }
            Ok(json!({ "put": count }))
        }
        "consume" => {
            let q = client.queue::<Option<i64>>(args.str(1))?;
            let mut got = Vec::new();
            while let Some(n) = q.get()? {
                got.push(n);
            }
            Ok(json!(got))
        }
        "get" => {
            let q = client.queue::<serde_json::Value>(args.str(1))?;
            let got = match args.timeout(2) {
                None => q.get(),
                Some(t) => q.get_timeout(t),
            };
            Ok(match got {
                Ok(v) => json!({ "value": v }),
                Err(e) => json!({ "error": error_kind(&e) }),
            })
        }
        "work" => {
            let q = client.joinable_queue::<serde_json::Value>(args.str(1))?;
            let n: u64 = args.parse(2);
            for _ in 0..n {
                q.get()?;
                q.task_done()?;
            }
            Ok(json!({ "done": n }))
        }
        "join" => {
            let q = client.joinable_queue::<serde_json::Value>(args.str(1))?;
            q.join()?;
            Ok(json!({ "joined": true }))
        }
        "get_any" => {
            let names: Vec<&str> = args.str(1).split(',').collect();
            Ok(match client.get_any_names(&names, args.timeout(2)) {
                Ok((index, bytes)) => {
                    let v: serde_json::Value = xproc::decode(&bytes)?;
                    json!({ "index": index, "value": v })
                }
                Err(e) => json!({ "error": error_kind(&e) }),
            })
        }
        other => panic!("unknown role {other}"),
    })
}
