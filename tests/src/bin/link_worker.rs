//! The remote worker of the link-cut test (tests/tests/link_cut.rs), run in another network
//! namespace and connected over TCP (`XPROC_SOCKET=tcp://...`, `XPROC_AUTHKEY_FILE`).
//!
//! - `hold LOCK QUEUE WAIT_QUEUE`: acquires `LOCK`, takes one item of `QUEUE` on a long lease
//!   (neither is ever given back), prints `held` on a line of its own, then blocks in a get on
//!   `WAIT_QUEUE` (which stays empty) with no timeout. When the link dies that get must fail
//!   rather than hang; prints `{"error": "Kind", "message": m, "blocked_ms": ms}`.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use xproc_tests::{error_kind, worker_main};

/// Far longer than the test: the item can only come back because the connection died.
const LEASE: Duration = Duration::from_secs(600);

fn main() {
    worker_main(|args, client| match args.str(0) {
        "hold" => {
            let lock = client.lock(args.str(1))?;
            let held = lock.acquire()?;
            assert!(held.acquired);
            let jobs = client.queue::<i64>(args.str(2))?;
            let delivery = jobs.get_leased(LEASE)?;
            let wait = client.queue::<i64>(args.str(3))?;
            println!("held");
            std::io::stdout().flush().expect("flush stdout");
            let start = Instant::now();
            let got = wait.get();
            let blocked_ms = start.elapsed().as_millis() as u64;
            drop(delivery); // never acked: the broker must take it back by itself
            Ok(match got {
                Ok(v) => json!({ "value": v, "blocked_ms": blocked_ms }),
                Err(e) => json!({
                    "error": error_kind(&e),
                    "message": e.to_string(),
                    "blocked_ms": blocked_ms,
                }),
            })
        }
        other => panic!("unknown role {other}"),
    })
}
