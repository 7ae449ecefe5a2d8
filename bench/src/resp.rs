//! Scenario 5: Redis over its Unix socket through a minimal RESP client of our own.
//!
//! Why our own client rather than only `redis-benchmark`: it is a blocking loop with one
//! request in flight, exactly what the xproc scenarios do, so the comparison measures the
//! servers and not two different client designs (redis-benchmark's event-loop client is
//! slower than a blocking one on this machine). `run.py` also runs `redis-benchmark` for context.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::error::BenchError;
use crate::measure::{measure, payload, Bounds, Outcome, KEYS};

/// A blocking RESP2 connection: write one command, read one reply.
pub struct Resp {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    out: Vec<u8>,
    line: Vec<u8>,
    bulk: Vec<u8>,
}

/// The part of a reply the scenarios look at.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and other simple strings.
    Simple,
    /// `:n`.
    Int(i64),
    /// `$n` bulk string; its bytes are in [`Resp::bulk`].
    Bulk(usize),
    /// `$-1`.
    Nil,
}

impl Resp {
    /// Connects to the Redis Unix socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, BenchError> {
        let stream = UnixStream::connect(path)?;
        Ok(Resp {
            writer: stream.try_clone()?,
            reader: BufReader::with_capacity(64 * 1024, stream),
            out: Vec::with_capacity(256),
            line: Vec::with_capacity(64),
            bulk: Vec::with_capacity(256),
        })
    }

    /// Sends one command (encoded afresh each time, as a real client does) and reads its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Reply, BenchError> {
        self.out.clear();
        write!(self.out, "*{}\r\n", args.len())?;
        for a in args {
            write!(self.out, "${}\r\n", a.len())?;
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&self.out)?;
        self.read_reply()
    }

    /// The bytes of the last bulk reply.
    pub fn bulk(&self) -> &[u8] {
        &self.bulk
    }

    fn read_reply(&mut self) -> Result<Reply, BenchError> {
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line)?;
        if self.line.len() < 3 || !self.line.ends_with(b"\r\n") {
            return Err(BenchError::Redis(
                "connection closed or bad reply line".into(),
            ));
        }
        let body = &self.line[1..self.line.len() - 2];
        let number = || -> Result<i64, BenchError> {
            std::str::from_utf8(body)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| BenchError::Redis("bad integer in reply".into()))
        };
        match self.line[0] {
            b'+' => Ok(Reply::Simple),
            b':' => Ok(Reply::Int(number()?)),
            b'-' => Err(BenchError::Redis(
                String::from_utf8_lossy(body).into_owned(),
            )),
            b'$' => {
                let n = number()?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                let n = n as usize;
                self.bulk.resize(n + 2, 0);
                self.reader.read_exact(&mut self.bulk)?;
                self.bulk.truncate(n);
                Ok(Reply::Bulk(n))
            }
            other => Err(BenchError::Redis(format!(
                "unexpected reply type {:?}",
                other as char
            ))),
        }
    }
}

/// LPUSH then RPOP, alternating, on one connection; one op = one command.
pub fn list(path: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let mut r = Resp::connect(path)?;
    let key = format!("bench:list:{}", std::process::id());
    let value = payload(size);
    r.call(&[b"DEL", key.as_bytes()])?;
    let out = measure(
        "redis_lpush_rpop",
        bounds,
        1,
        Some("own RESP client".into()),
        |i| {
            if i % 2 == 0 {
                r.call(&[b"LPUSH", key.as_bytes(), &value])?;
            } else {
                match r.call(&[b"RPOP", key.as_bytes()])? {
                    Reply::Bulk(n) if n == value.len() => {}
                    other => return Err(BenchError::Redis(format!("RPOP gave {other:?}"))),
                }
            }
            Ok(())
        },
    )?;
    r.call(&[b"DEL", key.as_bytes()])?;
    Ok(out)
}

/// HSET then HGET of the same field, alternating, cycling over [`KEYS`] fields; one op = one
/// command.
pub fn hash(path: &Path, size: usize, bounds: &Bounds) -> Result<Outcome, BenchError> {
    let mut r = Resp::connect(path)?;
    let key = format!("bench:hash:{}", std::process::id());
    let value = payload(size);
    let fields: Vec<String> = (0..KEYS).map(|k| format!("key:{k:06}")).collect();
    r.call(&[b"DEL", key.as_bytes()])?;
    let out = measure(
        "redis_hset_hget",
        bounds,
        1,
        Some("own RESP client".into()),
        |i| {
            let field = fields[((i / 2) % KEYS) as usize].as_bytes();
            if i % 2 == 0 {
                r.call(&[b"HSET", key.as_bytes(), field, &value])?;
            } else {
                match r.call(&[b"HGET", key.as_bytes(), field])? {
                    Reply::Bulk(n) if r.bulk() == &value[..] && n == value.len() => {}
                    other => return Err(BenchError::Redis(format!("HGET gave {other:?}"))),
                }
            }
            Ok(())
        },
    )?;
    r.call(&[b"DEL", key.as_bytes()])?;
    Ok(out)
}

/// Fills list `key` with `count` values of `size` bytes (RPUSH, pipelined 1000 at a time) and
/// leaves it there; `run.py` reads redis-server's RSS before and after, for the memory a
/// queued item costs. Prints the count.
pub fn fill_list(path: &Path, key: &str, count: u64, size: usize) -> Result<(), BenchError> {
    let mut r = Resp::connect(path)?;
    let value = payload(size);
    r.call(&[b"DEL", key.as_bytes()])?;
    let mut left = count;
    while left > 0 {
        let n = left.min(1000);
        r.out.clear();
        for _ in 0..n {
            write!(
                r.out,
                "*3\r\n$5\r\nRPUSH\r\n${}\r\n{key}\r\n${}\r\n",
                key.len(),
                size
            )?;
            r.out.extend_from_slice(&value);
            r.out.extend_from_slice(b"\r\n");
        }
        r.writer.write_all(&r.out)?;
        for _ in 0..n {
            r.read_reply()?;
        }
        left -= n;
    }
    match r.call(&[b"LLEN", key.as_bytes()])? {
        Reply::Int(n) if n as u64 == count => {}
        other => return Err(BenchError::Redis(format!("LLEN gave {other:?}"))),
    }
    crate::child::say(&format!("{{\"filled\": {count}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A scripted server: reads one command per canned reply and answers it.
    fn scripted(
        replies: &'static [&'static [u8]],
    ) -> (std::path::PathBuf, std::thread::JoinHandle<Vec<u8>>) {
        let dir =
            std::env::temp_dir().join(format!("xpb-resp-{}-{}", std::process::id(), replies.len()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("r.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind");
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut seen = Vec::new();
            let mut buf = [0u8; 512];
            for r in replies {
                let n = s.read(&mut buf).expect("read command");
                seen.extend_from_slice(&buf[..n]);
                s.write_all(r).expect("write reply");
            }
            seen
        });
        (path, handle)
    }

    #[test]
    fn parses_each_reply_type_and_encodes_commands() {
        let (path, server) = scripted(&[
            b"+OK\r\n",
            b":42\r\n",
            b"$3\r\nabc\r\n",
            b"$-1\r\n",
            b"-ERR nope\r\n",
        ]);
        let mut r = Resp::connect(&path).expect("connect");
        assert_eq!(r.call(&[b"PING"]).expect("simple"), Reply::Simple);
        assert_eq!(
            r.call(&[b"LPUSH", b"k", b"v"]).expect("int"),
            Reply::Int(42)
        );
        assert_eq!(r.call(&[b"RPOP", b"k"]).expect("bulk"), Reply::Bulk(3));
        assert_eq!(r.bulk(), b"abc");
        assert_eq!(r.call(&[b"RPOP", b"k"]).expect("nil"), Reply::Nil);
        assert!(matches!(r.call(&[b"BAD"]), Err(BenchError::Redis(m)) if m == "ERR nope"));
        let seen = server.join().expect("server thread");
        assert!(
            seen.starts_with(b"*1\r\n$4\r\nPING\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$1\r\nv\r\n")
        );
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}
