//! Scenario 4, the floor: a raw Unix-socket echo, std only.
//!
//! Framing is the same shape as xproc's (a 4-byte big-endian length, then the payload), one
//! request in flight. The server is a separate process started by `run.py` (`echo-serve`), like
//! xprocd and redis-server, so every round trip crosses two processes exactly as a broker call
//! does; it does no work besides reading and writing, so its round trips/s bound what any
//! broker can reach through one connection on this machine.

use std::io::{BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use crate::error::BenchError;
use crate::measure::{measure, payload, Bounds, Outcome};

/// Refuse frames above this size: the echo peer is only ever fed small benchmark payloads, and a
/// bad length must not make the server allocate gigabytes.
const MAX_FRAME: usize = 1 << 20;

/// Serves echo connections on `path` until killed, one thread per connection.
pub fn serve(path: &Path) -> Result<(), BenchError> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            // A client that goes away mid-frame ends its own thread only.
            let _ = echo_connection(stream);
        });
    }
    Ok(())
}

/// Echoes frames back until the peer closes the connection.
fn echo_connection(stream: UnixStream) -> Result<(), BenchError> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut frame = Vec::with_capacity(4 + 4096);
    loop {
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            return Err(BenchError::Echo(format!(
                "frame of {n} bytes over {MAX_FRAME}"
            )));
        }
        frame.clear();
        frame.extend_from_slice(&len);
        frame.resize(4 + n, 0);
        reader.read_exact(&mut frame[4..])?;
        // One write per reply, as a broker that flushes its output buffer once per turn does.
        writer.write_all(&frame)?;
    }
}

/// Round trips of `size`-byte frames against the echo server at `path`; one op = one round trip.
pub fn client(path: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let stream = UnixStream::connect(path)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let body = payload(size);
    let mut request = Vec::with_capacity(4 + size);
    request.extend_from_slice(&(size as u32).to_be_bytes());
    request.extend_from_slice(&body);
    let mut reply = vec![0u8; 4 + size];
    measure(
        "echo_rt",
        bounds,
        1,
        Some(format!("{size} B frames")),
        |_| {
            writer.write_all(&request)?;
            reader.read_exact(&mut reply)?;
            if reply[4..] != body[..] {
                return Err(BenchError::Echo("reply differs from request".into()));
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_round_trips_through_the_echo_server() {
        let dir = std::env::temp_dir().join(format!("xpb-echo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("e.sock");
        let server_path = path.clone();
        std::thread::spawn(move || serve(&server_path));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while UnixStream::connect(&path).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "echo server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let bounds = Bounds {
            iters: 50,
            secs: 10.0,
            warmup: 2,
        };
        let out = client(&path, 64, &bounds).expect("echo client");
        assert_eq!(out.ops, 50);
        assert!(out.p50_us.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
