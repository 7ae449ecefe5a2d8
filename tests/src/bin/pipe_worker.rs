//! Pipe roles for the cross-process tests (see tests/tests/pipe.rs).
//!
//! - `echo PIPE END`: sends back every message received until end of file; prints
//!   `{"echoed": n}`.
//! - `ping PIPE END N`: N times, sends i and requires i back; then closes its end. Prints
//!   `{"rounds": N}`.
//! - `send PIPE END N [hang]`: sends 0..N, then closes its end (or, with `hang`, waits to be
//!   killed). Prints `{"sent": N}`.
//! - `recv-all PIPE END`: receives until end of file; prints the messages as a JSON array.
//! - `recv-report PIPE END`: as `recv-all`, and says whether the end ran direct (peer to
//!   peer): prints `{"got": [...], "direct": bool}`.
//! - `ping-report PIPE END N`: as `ping`, plus `"direct": bool`.
//! - `send-report PIPE END N CAPACITY`: opens the pipe with that capacity, sends 0..N
//!   (blocking while the inbox is full), then closes its end. Prints
//!   `{"sent": N, "direct": bool}`.

use serde_json::json;
use xproc::{End, Error};
use xproc_tests::{park_forever, worker_main, Args};

fn end(args: &Args, i: usize) -> End {
    End::parse(args.str(i)).expect("end is a or b")
}

fn main() {
    worker_main(|args, client| match args.str(0) {
        "echo" => {
            let p = client.pipe::<i64>(args.str(1), end(&args, 2))?;
            let mut n = 0u64;
            loop {
                match p.recv() {
                    Ok(v) => p.send(&v)?,
                    Err(Error::Closed(_)) => break,
                    Err(e) => return Err(e),
                }
                n += 1;
            }
            Ok(json!({ "echoed": n }))
        }
        "ping" => {
            let p = client.pipe::<i64>(args.str(1), end(&args, 2))?;
            let n: i64 = args.parse(3);
            for i in 0..n {
                p.send(&i)?;
                let back = p.recv()?;
                if back != i {
                    return Err(Error::Protocol(format!("sent {i}, got {back} back")));
                }
            }
            p.close()?;
            Ok(json!({ "rounds": n }))
        }
        "send" => {
            let p = client.pipe::<i64>(args.str(1), end(&args, 2))?;
            let n: i64 = args.parse(3);
            for i in 0..n {
                p.send(&i)?;
            }
            if args.len() > 4 && args.str(4) == "hang" {
                park_forever();
            }
            p.close()?;
            Ok(json!({ "sent": n }))
        }
        "recv-all" => {
            let p = client.pipe::<i64>(args.str(1), end(&args, 2))?;
            let mut got = Vec::new();
            loop {
                match p.recv() {
                    Ok(v) => got.push(v),
                    Err(Error::Closed(_)) => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(json!(got))
        }
        "recv-report" => {
            let p = client.pipe::<i64>(args.str(1), end(&args, 2))?;
            let mut got = Vec::new();
            loop {
                match p.recv() {
                    Ok(v) => got.push(v),
                    Err(Error::Closed(_)) => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(json!({ "got": got, "direct": p.raw().is_direct() }))
        }
        "ping-report" => {
            let p = client.pipe::<i64>(args.str(1), end(&args, 2))?;
            let n: i64 = args.parse(3);
            for i in 0..n {
                p.send(&i)?;
                let back = p.recv()?;
                if back != i {
                    return Err(Error::Protocol(format!("sent {i}, got {back} back")));
                }
            }
            let direct = p.raw().is_direct();
            p.close()?;
            Ok(json!({ "rounds": n, "direct": direct }))
        }
        "send-report" => {
            let opts = xproc::PipeOptions {
                duplex: None,
                capacity: Some(args.parse(4)),
            };
            let p = client.pipe_with::<i64>(args.str(1), end(&args, 2), opts)?;
            let n: i64 = args.parse(3);
            for i in 0..n {
                p.send(&i)?;
            }
            let direct = p.raw().is_direct();
            p.close()?;
            Ok(json!({ "sent": n, "direct": direct }))
        }
        other => panic!("unknown role {other}"),
    })
}
