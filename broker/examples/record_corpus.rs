//! Records real traffic as seeds for the fuzz corpus: a broker runs in this process, a
//! recording proxy sits in front of it, and the Rust client runs a session that uses every op
//! with every kind of value. Each request frame the client sends is written to the output
//! directory as one file (header included), plus the whole stream as `session.bin`.
//!
//! ```sh
//! cargo run -p xproc-broker --example record_corpus -- fuzz/corpus/decode
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use xproc::{Client, End, Kind, QueueOptions};
use xproc_broker::Config;
use xproc_protocol::RequestFields;

type Frames = Arc<Mutex<Vec<Vec<u8>>>>;

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: record_corpus OUTPUT_DIR");
        std::process::exit(2);
    };
    let dir = std::env::temp_dir().join(format!("xproc-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let broker_sock = dir.join("b.sock");
    let proxy_sock = dir.join("p.sock");

    let config = Config {
        socket: Some(broker_sock.clone()),
        ..Config::default()
    };
    std::thread::spawn(move || xproc_broker::run(config));
    while UnixStream::connect(&broker_sock).is_err() {
        std::thread::sleep(Duration::from_millis(5));
    }

    let frames: Frames = Arc::default();
    let listener = UnixListener::bind(&proxy_sock).expect("bind the proxy");
    {
        let frames = frames.clone();
        let broker_sock = broker_sock.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let broker = UnixStream::connect(&broker_sock).expect("reach the broker");
                proxy(client, broker, frames.clone());
            }
        });
    }

    if let Err(e) = session(&proxy_sock) {
        eprintln!("record_corpus: the session failed: {e}");
        std::process::exit(1);
    }
    // Let the proxy threads pass on the last frames.
    std::thread::sleep(Duration::from_millis(200));
    let frames = frames.lock().unwrap_or_else(|e| e.into_inner()).clone();
    write_corpus(&out, &frames);
    let _ = std::fs::remove_dir_all(&dir);
    println!("recorded {} frames into {}", frames.len(), out.display());
    std::process::exit(0);
}

/// Copies bytes both ways; the client's are also cut into frames and recorded.
fn proxy(client: UnixStream, broker: UnixStream, frames: Frames) {
    let (mut c_read, mut b_write) = (
        client.try_clone().expect("clone"),
        broker.try_clone().expect("clone"),
    );
    let (mut b_read, mut c_write) = (broker, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut b_read, &mut c_write);
    });
    std::thread::spawn(move || {
        let mut pending = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match c_read.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if b_write.write_all(&buf[..n]).is_err() {
                return;
            }
            pending.extend_from_slice(&buf[..n]);
            while pending.len() >= 4 {
                let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]);
                let whole = 4 + len as usize;
                if pending.len() < whole {
                    break;
                }
                let frame: Vec<u8> = pending.drain(..whole).collect();
                frames.lock().unwrap_or_else(|e| e.into_inner()).push(frame);
            }
        }
    });
}

/// One file per frame, named by its position and op, and the whole stream.
fn write_corpus(out: &Path, frames: &[Vec<u8>]) {
    std::fs::create_dir_all(out).expect("create the output directory");
    let mut session = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let op = rmp_serde::from_slice::<RequestFields>(&f[4..])
            .map(|r| r.op.replace('.', "_"))
            .unwrap_or_else(|_| "unknown".into());
        std::fs::write(out.join(format!("{i:04}-{op}.bin")), f).expect("write a seed");
        session.extend_from_slice(f);
    }
    std::fs::write(out.join("session.bin"), session).expect("write the session");
}

#[derive(Serialize)]
struct Task {
    n: u32,
    label: String,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
    tags: Vec<Option<f64>>,
}

/// Every op, with values of every MessagePack type.
fn session(path: &Path) -> xproc::Result<()> {
    let c = Client::connect(path)?;
    c.ping()?;

    // Values of every type, through a raw queue (a timestamp extension too).
    let q = c.raw_queue("corpus.q", Kind::Queue, QueueOptions::default())?;
    let enc = |v: &dyn erased::Encode| v.encode();
    let values: Vec<Vec<u8>> = vec![
        enc(&()),
        enc(&true),
        enc(&-1i64),
        enc(&i64::MIN),
        enc(&u64::MAX),
        enc(&1.5f64),
        enc(&0.25f32),
        enc(&"héllo"),
        enc(&serde_bytes::ByteBuf::from(vec![0u8, 255, 16])),
        enc(&vec![1u8, 2, 3]),
        enc(&BTreeMap::from([("a", 1), ("b", 2)])),
        enc(&Task {
            n: 7,
            label: "task".into(),
            blob: vec![1, 2],
            tags: vec![Some(0.5), None],
        }),
        vec![0xd6, 0xff, 0x00, 0x00, 0x00, 0x01], // timestamp, 32-bit seconds
        vec![0xd7, 0x05, 1, 2, 3, 4, 5, 6, 7, 8], // another extension type
    ];
    for v in &values {
        q.put(v, None)?;
    }
    for _ in &values {
        q.get(Some(Duration::from_secs(5)))?;
    }
    let _ = q.get(Some(Duration::ZERO));
    let _ = q.get(Some(Duration::from_millis(1)));
    q.put_many(values.iter().take(3))?;
    q.qsize()?;

    // Leases.
    let jq = c.raw_queue(
        "corpus.jobs",
        Kind::JoinableQueue,
        QueueOptions {
            maxsize: Some(100),
            max_attempts: Some(3),
        },
    )?;
    jq.put(&values[11], None)?;
    jq.put(&values[7], None)?;
    let d = jq.get_leased(Some(Duration::from_secs(5)), Duration::from_secs(30))?;
    jq.nack(d.id, Duration::from_millis(1))?;
    let d = jq.get_leased(Some(Duration::from_secs(5)), Duration::from_secs(30))?;
    jq.ack(d.id)?;
    let _ = jq.ack(d.id);
    let _ = jq.get(None)?;
    jq.task_done()?;
    let _ = jq.join(Some(Duration::from_millis(100)));

    // Dicts.
    let d = c.raw_dict("corpus.d")?;
    d.set(&values[7], &values[11])?;
    d.set(&values[2], &values[6])?;
    d.get(&values[7])?;
    d.contains(&values[2])?;
    d.len()?;
    d.keys()?;
    d.values()?;
    d.items()?;
    d.update([(&values[3], &values[4]), (&values[5], &values[12])])?;
    d.get_many([&values[3], &values[0]])?;
    d.pop(&values[3])?;
    d.popitem()?;
    d.setdefault(&values[8], &values[9])?;
    d.incr(&values[1], 5)?;
    d.compare_and_set(&values[8], Some(&values[9]), &values[10])?;
    d.compare_and_set(&values[13], None, &values[10])?;
    d.delete(&values[8])?;
    d.clear()?;

    // Pipes.
    let a = c.raw_pipe("corpus.p", End::A, xproc::PipeOptions::default())?;
    let b = c.raw_pipe("corpus.p", End::B, xproc::PipeOptions::default())?;
    a.send(&values[10], None)?;
    b.poll(Duration::ZERO)?;
    b.recv(Some(Duration::from_secs(5)))?;
    a.close()?;
    b.close()?;

    // Sync primitives.
    let l = c.lock("corpus.lock")?;
    l.lock()?.release()?;
    let r = c.rlock("corpus.rlock")?;
    r.acquire()?;
    r.acquire()?;
    r.release()?;
    r.release()?;
    let s = c.bounded_semaphore("corpus.sem", 2)?;
    s.acquire_timeout(Duration::from_millis(10))?;
    s.release()?;
    let e = c.event("corpus.ev")?;
    e.set()?;
    e.is_set()?;
    e.wait_timeout(Duration::from_millis(1))?;
    e.clear()?;
    let cv = c.condition("corpus.cond")?;
    cv.acquire()?;
    cv.notify(1)?;
    cv.notify_all()?;
    cv.wait_timeout(Duration::from_millis(1))?;
    cv.release()?;
    let bar = c.barrier("corpus.bar", 1)?;
    bar.wait_timeout(Duration::from_secs(1))?;
    bar.state()?;
    bar.abort()?;
    bar.reset()?;

    // Admin.
    c.list()?;
    c.stat("corpus.jobs")?;
    c.clients()?;
    c.delete("corpus.q")?;
    Ok(())
}

/// Encoding any serde value through one function pointer type.
mod erased {
    pub trait Encode {
        fn encode(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Encode for T {
        fn encode(&self) -> Vec<u8> {
            xproc::encode(self).expect("encode a corpus value")
        }
    }
}
