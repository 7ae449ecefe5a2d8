//! A Rust worker for the notes' `task_master.py` (README.md beside this file), on another
//! machine: it connects to the broker over TCP with the authkey, takes integers `n` from
//! `get_task_queue` and puts `"n * n = n² (by rust worker PID)"` on `get_result_queue`.
//!
//! Built as an example of the `xproc` crate:
//! `cargo build --release -p xproc --example task_worker`.
//!
//! Usage: `task_worker tcp://HOST:PORT` (the key is read from `$XPROC_AUTHKEY_FILE`). Stops
//! when no task comes for 3 s or the master's broker goes away; exits 0, or 1 on any other
//! failure. Its last line is `rust worker PID: done N task(s)`.

use std::process::ExitCode;
use std::time::Duration;

use xproc::{Client, ConnectOptions, Error};

fn serve(endpoint: &str) -> xproc::Result<u32> {
    // `authkey: None` reads the file $XPROC_AUTHKEY_FILE names (mode 0600).
    let client = Client::connect_with(ConnectOptions {
        path: Some(endpoint.into()),
        ..ConnectOptions::default()
    })?;
    let task = client.queue::<i64>("get_task_queue")?;
    let result = client.queue::<String>("get_result_queue")?;
    let pid = std::process::id();
    let mut done = 0;
    loop {
        let n = match task.get_timeout(Duration::from_secs(3)) {
            Ok(n) => n,
            Err(Error::Timeout) => {
                println!("task queue is empty.");
                return Ok(done);
            }
            // The master got its 10 results and shut its broker down.
            Err(e @ (Error::Disconnected(_) | Error::ShuttingDown(_))) => {
                println!("server gone: {e}");
                return Ok(done);
            }
            Err(e) => return Err(e),
        };
        println!("run task {n} * {n}...");
        std::thread::sleep(Duration::from_millis(300)); // pretend work: the others get a share
        let square = n
            .checked_mul(n)
            .ok_or_else(|| Error::InvalidArgument(format!("task {n} is out of range")))?;
        result.put(&format!("{n} * {n} = {square} (by rust worker {pid})"))?;
        done += 1;
    }
}

fn main() -> ExitCode {
    let Some(endpoint) = std::env::args().nth(1) else {
        eprintln!("usage: task_worker tcp://HOST:PORT");
        return ExitCode::from(2);
    };
    match serve(&endpoint) {
        Ok(done) => {
            println!("rust worker {}: done {done} task(s)", std::process::id());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rust worker: {e}");
            ExitCode::FAILURE
        }
    }
}
