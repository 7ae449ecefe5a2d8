//! Lock, counter, barrier, semaphore, condition and event roles for the cross-process tests
//! (see tests/tests/sync.rs and dict.rs).
//!
//! - `lock-count LOCK DICT KEY N`: N times, under the lock: read KEY, write KEY + 1.
//!   Prints `{"done": N}`.
//! - `incr DICT KEY N`: N atomic `incr(KEY, 1)`. Prints `{"done": N}`.
//! - `hold-lock LOCK`: acquires the lock and then waits to be killed.
//! - `acquire LOCK TIMEOUT_MS|forever`: one acquire, then release; prints
//!   `{"acquired": bool, "abandoned_by": pid or null}`.
//! - `barrier NAME PARTIES TIMEOUT_MS|forever`: one wait; prints `{"index": i}` or
//!   `{"error": "Kind"}`.
//! - `semaphore SEM INITIAL DICT N`: N times, holding a permit: count itself in DICT "current",
//!   raise DICT "max" to at least that count (compare-and-set), give others a chance to
//!   overlap, then uncount. Prints `{"done": N}`.
//! - `cond-produce COND DICT N`: N times, under the condition's lock: one more item in DICT
//!   "available", notify one waiter. Prints `{"produced": N}`.
//! - `cond-consume COND DICT N`: N times, under the lock: wait for an available item, take it.
//!   Prints `{"consumed": N}`.
//! - `event-wait EVENT TIMEOUT_MS|forever`: prints `{"set": bool}`.

use std::time::Duration;

use serde_json::json;
use xproc_tests::{error_kind, park_forever, worker_main};

fn main() {
    worker_main(|args, client| match args.str(0) {
        "lock-count" => {
            let lock = client.lock(args.str(1))?;
            let d = client.dict::<String, i64>(args.str(2))?;
            let (key, n): (&str, u64) = (args.str(3), args.parse(4));
            for _ in 0..n {
                let guard = lock.lock()?;
                let v = d.get(key)?.unwrap_or(0);
                d.set(key, &(v + 1))?;
                guard.release()?;
            }
            Ok(json!({ "done": n }))
        }
        "incr" => {
            let d = client.dict::<String, i64>(args.str(1))?;
            let (key, n): (&str, u64) = (args.str(2), args.parse(3));
            for _ in 0..n {
                d.incr(key, 1)?;
            }
            Ok(json!({ "done": n }))
        }
        "hold-lock" => {
            let lock = client.lock(args.str(1))?;
            lock.acquire()?;
            park_forever()
        }
        "acquire" => {
            let lock = client.lock(args.str(1))?;
            let a = match args.timeout(2) {
                None => lock.acquire()?,
                Some(t) => lock.acquire_timeout(t)?,
            };
            if a.acquired {
                lock.release()?;
            }
            Ok(json!({ "acquired": a.acquired, "abandoned_by": a.abandoned_by }))
        }
        "barrier" => {
            let b = client.barrier(args.str(1), args.parse(2))?;
            let got = match args.timeout(3) {
                None => b.wait(),
                Some(t) => b.wait_timeout(t),
            };
            Ok(match got {
                Ok(i) => json!({ "index": i }),
                Err(e) => json!({ "error": error_kind(&e) }),
            })
        }
        "semaphore" => {
            let sem = client.semaphore(args.str(1), args.parse(2))?;
            let d = client.dict::<String, i64>(args.str(3))?;
            let n: u64 = args.parse(4);
            for _ in 0..n {
                let permit = sem.permit()?;
                let now = d.incr("current", 1)?;
                loop {
                    let max = d.get("max")?;
                    if max.is_some_and(|m| m >= now) {
                        break;
                    }
                    if d.compare_and_set("max", max.as_ref(), &now)? {
                        break;
                    }
                }
                // Hold the permit a moment so that holders overlap.
                std::thread::sleep(Duration::from_millis(2));
                d.incr("current", -1)?;
                permit.release()?;
            }
            Ok(json!({ "done": n }))
        }
        "cond-produce" => {
            let cond = client.condition(args.str(1))?;
            let d = client.dict::<String, i64>(args.str(2))?;
            let n: u64 = args.parse(3);
            for _ in 0..n {
                let guard = cond.lock()?;
                d.incr("available", 1)?;
                cond.notify(1)?;
                guard.release()?;
            }
            Ok(json!({ "produced": n }))
        }
        "cond-consume" => {
            let cond = client.condition(args.str(1))?;
            let d = client.dict::<String, i64>(args.str(2))?;
            let n: u64 = args.parse(3);
            for _ in 0..n {
                let guard = cond.lock()?;
                cond.wait_for(|| Ok(d.get("available")?.unwrap_or(0) > 0), None)?;
                d.incr("available", -1)?;
                guard.release()?;
            }
            Ok(json!({ "consumed": n }))
        }
        "event-wait" => {
            let ev = client.event(args.str(1))?;
            let set = match args.timeout(2) {
                None => ev.wait().map(|_| true)?,
                Some(t) => ev.wait_timeout(t)?,
            };
            Ok(json!({ "set": set }))
        }
        other => panic!("unknown role {other}"),
    })
}
