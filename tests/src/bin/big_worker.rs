//! Large-value roles for the cross-process tests (tests/tests/big_values.rs): values above
//! `SHARED_VALUE_MIN` that travel as sealed memfds (docs/PROTOCOL.md §4.1).
//!
//! - `set DICT KEY BYTES`: sets KEY to a bin of BYTES patterned bytes. Prints
//!   `{"set": BYTES, "fds": bool}` (whether the connection passes descriptors).
//! - `get DICT KEY`: gets KEY and checks the pattern. Prints `{"len": n, "ok": bool}`.
//! - `churn DICT BYTES`: sets and gets values of BYTES under keys 0..8 until killed.
//! - `queue-put QUEUE N BYTES`: puts N patterned values of BYTES. Prints `{"put": N}`.
//! - `queue-get QUEUE N`: gets N values and checks each. Prints `{"got": N, "ok": bool}`.
//! - `queue-churn QUEUE BYTES`: puts and gets values of BYTES until killed.
//! - `pipe-send PIPE N BYTES`: sends N patterned values of BYTES from end a. Prints
//!   `{"sent": N}`.
//! - `pipe-recv PIPE N`: receives N values at end b and checks each. Prints
//!   `{"received": N, "ok": bool}`.

use serde_json::json;
use xproc_tests::worker_main;

/// A bin value of `n` bytes whose byte i is `i * 7 mod 251` (MessagePack-encoded).
fn pattern(n: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    xproc::encode(&serde_bytes::ByteBuf::from(data)).unwrap()
}

fn main() {
    worker_main(|args, client| {
        match args.str(0) {
            "queue-put" => {
                let q = client.raw_queue(args.str(1), xproc::Kind::Queue, Default::default())?;
                let n: u64 = args.parse(2);
                let v = pattern(args.parse(3));
                for _ in 0..n {
                    q.put(&v, None)?;
                }
                return Ok(json!({ "put": n }));
            }
            "queue-get" => {
                let q = client.raw_queue(args.str(1), xproc::Kind::Queue, Default::default())?;
                let n: u64 = args.parse(2);
                let mut ok = true;
                for _ in 0..n {
                    ok &= q.get_with(None, |v| {
                        let data: serde_bytes::ByteBuf = xproc::decode(v)?;
                        Ok(data
                            .iter()
                            .enumerate()
                            .all(|(i, b)| *b == (i * 7 % 251) as u8))
                    })?;
                }
                return Ok(json!({ "got": n, "ok": ok }));
            }
            "queue-churn" => {
                let q = client.raw_queue(args.str(1), xproc::Kind::Queue, Default::default())?;
                let v = pattern(args.parse(2));
                loop {
                    q.put(&v, None)?;
                    q.get_with(None, |got| Ok(got.len()))?;
                }
            }
            "pipe-send" => {
                let p = client.raw_pipe(args.str(1), xproc::End::A, Default::default())?;
                let n: u64 = args.parse(2);
                let v = pattern(args.parse(3));
                for _ in 0..n {
                    p.send(&v, None)?;
                }
                return Ok(json!({ "sent": n }));
            }
            "pipe-recv" => {
                let p = client.raw_pipe(args.str(1), xproc::End::B, Default::default())?;
                let n: u64 = args.parse(2);
                let mut ok = true;
                for _ in 0..n {
                    ok &= p.recv_with(None, |v| {
                        let data: serde_bytes::ByteBuf = xproc::decode(v)?;
                        Ok(data
                            .iter()
                            .enumerate()
                            .all(|(i, b)| *b == (i * 7 % 251) as u8))
                    })?;
                }
                return Ok(json!({ "received": n, "ok": ok }));
            }
            _ => {}
        }
        let d = client.raw_dict(args.str(1))?;
        match args.str(0) {
            "set" => {
                let n: usize = args.parse(3);
                d.set(&xproc::encode(args.str(2))?, &pattern(n))?;
                Ok(json!({ "set": n, "fds": client.passes_fds() }))
            }
            "get" => {
                let (len, ok) = d
                    .get_with(&xproc::encode(args.str(2))?, |v| {
                        let data: serde_bytes::ByteBuf = xproc::decode(v)?;
                        let ok = data
                            .iter()
                            .enumerate()
                            .all(|(i, b)| *b == (i * 7 % 251) as u8);
                        Ok((data.len(), ok))
                    })?
                    .unwrap_or((0, false));
                Ok(json!({ "len": len, "ok": ok }))
            }
            "churn" => {
                let n: usize = args.parse(2);
                let v = pattern(n);
                for i in 0u64.. {
                    let key = xproc::encode(&(i % 8))?;
                    d.set(&key, &v)?;
                    d.get_with(&key, |got| Ok(got.len()))?;
                }
                unreachable!()
            }
            other => panic!("unknown role {other}"),
        }
    })
}
