//! The Rust worker of the four-language master/worker example (examples/master-worker/).
//!
//! It takes integers `n` from `task_queue` and puts the string
//! `"n * n = n² (by rust worker PID)"` on `result_queue`, until it takes nil (the master's
//! stop sentinel) or no task comes for [`IDLE`]. Each task takes [`WORK`] of pretend work, as
//! in the multiprocessing docs' example, so that the other workers get a share of the tasks.
//!
//! Usage: `mw_worker` (the broker is `$XPROC_SOCKET` or the default one). Prints one line per
//! task on stdout; exits 0, or 1 with a message on stderr if the broker fails it.

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use xproc::{Client, Error};

/// How long the worker waits for a task before deciding the master is gone.
const IDLE: Duration = Duration::from_secs(15);

/// Pretend work per task.
const WORK: Duration = Duration::from_millis(200);

/// Serves tasks until the sentinel or the idle timeout; returns how many it did.
fn serve(client: &Client) -> xproc::Result<u32> {
    // A task is an integer, the sentinel is nil: `Option` maps both.
    let tasks = client.queue::<Option<i64>>("task_queue")?;
    let results = client.queue::<String>("result_queue")?;
    let pid = std::process::id();
    let mut done = 0;
    loop {
        let n = match tasks.get_timeout(IDLE) {
            Ok(Some(n)) => n,
            Ok(None) => break,
            Err(Error::Timeout) => {
                println!(
                    "rust worker {pid}: no task for {} s, stopping",
                    IDLE.as_secs()
                );
                break;
            }
            Err(e) => return Err(e),
        };
        println!("rust worker {pid}: run task {n} * {n}...");
        thread::sleep(WORK);
        // checked_mul: a hostile task must not crash the worker; it gets an answer saying so.
        let result = match n.checked_mul(n) {
            Some(square) => format!("{n} * {n} = {square} (by rust worker {pid})"),
            None => format!("{n} * {n} = overflow (by rust worker {pid})"),
        };
        results.put(&result)?;
        done += 1;
    }
    Ok(done)
}

fn main() -> ExitCode {
    match Client::connect_default().and_then(|client| serve(&client)) {
        Ok(done) => {
            println!("rust worker {}: done, {done} task(s)", std::process::id());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rust worker: {e}");
            ExitCode::FAILURE
        }
    }
}
