//! Value rings (docs/PROTOCOL.md §4.2) against a real `xprocd`: granted with `fds` only,
//! opened once, values copied out of the up ring and placed in the down ring, mixed freely
//! with inline and memfd values, every bad ring field refused with a clear error, and a
//! killed ring holder leaving the broker's descriptors and memory where they were.
#![cfg(target_os = "linux")]

mod common;
use common::*;

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// A shared mapping of a whole ring.
struct Map {
    ptr: *mut u8,
    len: usize,
}

impl Map {
    fn new(fd: &OwnedFd, prot: libc::c_int) -> std::io::Result<Map> {
        // SAFETY: fstat into a zeroed struct; a fresh shared mapping of the file's size.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(fd.as_raw_fd(), &mut st), 0);
            let len = st.st_size as usize;
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            );
            if p == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Map { ptr: p.cast(), len })
        }
    }

    fn write(&self, off: usize, b: &[u8]) {
        assert!(off + b.len() <= self.len);
        // SAFETY: in bounds of a live writable mapping.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.ptr.add(off), b.len()) }
    }

    fn read(&self, off: usize, len: usize) -> Vec<u8> {
        assert!(off + len <= self.len);
        // SAFETY: in bounds of a live mapping.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len).to_vec() }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn hello_caps(b: &Broker, caps: Vec<&str>) -> (Client, Reply) {
    hello_caps_at(&b.path, caps)
}

fn hello_caps_at(path: &std::path::Path, caps: Vec<&str>) -> (Client, Reply) {
    let mut c = Client::connect(path);
    let r = c.call(RequestFields {
        version: Some(1),
        caps: Some(caps),
        ..RequestFields::new(0, "hello")
    });
    (c, r)
}

fn caps_of(r: &Reply) -> Vec<String> {
    match r.get("caps") {
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// A connection with rings open: the client, the up ring (read-write), the down ring
/// (read-only).
fn ring_client(b: &Broker) -> (Client, Map, Map) {
    ring_client_at(&b.path)
}

fn ring_client_at(path: &std::path::Path) -> (Client, Map, Map) {
    let (mut c, r) = hello_caps_at(path, vec!["fds", "rings"]);
    assert_eq!(caps_of(&r.ok()), ["fds", "rings"]);
    c.send(RequestFields::new(0, "ring.open"));
    let (r, fds) = recv_with_fds(&mut c.stream);
    let r = r.ok();
    assert_eq!(r.u64("fds"), 2);
    assert_eq!(fds.len(), 2);
    let up = Map::new(&fds[0], libc::PROT_READ | libc::PROT_WRITE).unwrap();
    let down = Map::new(&fds[1], libc::PROT_READ).unwrap();
    assert_eq!(up.len as u64, r.u64("ring_size"));
    (c, up, down)
}

/// A MessagePack `bin` of `n` bytes of a pattern that depends on `seed`.
fn big_value(n: usize, seed: u8) -> Vec<u8> {
    let body: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
    enc(Value::Binary(body))
}

/// Sends `op` on `name` with its value at `off` in the up ring.
fn ring_req<'a>(op: &'a str, name: &'a str, off: u64, len: u64) -> RequestFields<'a> {
    RequestFields {
        ring_off: Some(off),
        value_len: Some(len),
        ..Client::req(op, name)
    }
}

/// `value` of a reply: inline, or read from the down ring.
fn reply_value(r: &Reply, down: &Map) -> (Vec<u8>, Option<u64>) {
    match r.get("ring_off") {
        Some(off) => {
            let off = off.as_u64().unwrap();
            (
                down.read(off as usize, r.u64("value_len") as usize),
                Some(off),
            )
        }
        None => match r.get("value") {
            Some(Value::Binary(b)) => (b.clone(), None),
            other => panic!("no value in {r:?}: {other:?}"),
        },
    }
}

#[test]
fn rings_are_granted_with_fds_only_opened_once_and_sealed() {
    let b = Broker::start();
    let (_c, r) = hello_caps(&b, vec!["rings"]);
    assert_eq!(caps_of(&r.ok()), Vec::<String>::new(), "rings need fds");
    let (mut c, r) = hello_caps(&b, vec!["fds"]);
    assert_eq!(caps_of(&r.ok()), ["fds"]);
    let r = c.call(RequestFields::new(0, "ring.open"));
    assert!(
        r.err("BadRequest").contains("did not negotiate rings"),
        "{r:?}"
    );
    // Ring fields without rings.
    let r = c.call(ring_req("queue.put", "q", 0, 10));
    assert!(
        r.err("BadRequest").contains("did not negotiate rings"),
        "{r:?}"
    );

    let (mut c, r) = hello_caps(&b, vec!["fds", "rings"]);
    assert_eq!(caps_of(&r.ok()), ["fds", "rings"]);
    let r = c.call(RequestFields {
        ring_min: Some(1),
        ..Client::req("queue.get", "q")
    });
    assert!(
        r.err("BadRequest").contains("send ring.open first"),
        "{r:?}"
    );
    c.send(RequestFields::new(0, "ring.open"));
    let (r, fds) = recv_with_fds(&mut c.stream);
    assert_eq!(r.ok().u64("ring_size"), 64 << 20, "the default ring_size");
    let seals = |fd: &OwnedFd| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    let base = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    assert_eq!(seals(&fds[0]), base, "up ring: writable, fixed size");
    assert_eq!(
        seals(&fds[1]),
        base | libc::F_SEAL_FUTURE_WRITE,
        "down ring: read-only"
    );
    assert!(Map::new(&fds[1], libc::PROT_READ | libc::PROT_WRITE).is_err());
    // SAFETY: plain calls on descriptors we hold.
    unsafe {
        assert_ne!(
            libc::ftruncate(fds[0].as_raw_fd(), 4096),
            0,
            "cannot shrink the up ring"
        );
        assert_ne!(libc::write(fds[1].as_raw_fd(), b"x".as_ptr().cast(), 1), 1);
    }
    let r = c.call(RequestFields::new(0, "ring.open"));
    assert!(r.err("BadRequest").contains("open already"), "{r:?}");

    // --ring-size 0: no rings.
    let b0 = Broker::start_with(&["--ring-size", "0"]);
    let (_c, r) = hello_caps(&b0, vec!["fds", "rings"]);
    assert_eq!(caps_of(&r.ok()), ["fds"]);
}

#[test]
fn large_values_round_trip_through_the_rings_in_order_with_inline_and_memfd_ones() {
    let b = Broker::start_with(&["--max-frame", "64M", "--memory-limit", "1G"]);
    let (mut c, up, down) = ring_client(&b);
    c.open("q", "queue").ok();
    c.open("d", "dict").ok();

    // Queue: a 1 MiB ring value, a small inline one, a 16 MiB ring value, in order.
    let one = big_value(1 << 20, 1);
    let sixteen = big_value(16 << 20, 2);
    up.write(0, &one);
    c.call(ring_req("queue.put", "q", 0, one.len() as u64)).ok();
    // The client may reuse its region once the reply came: the broker kept its own copy.
    up.write(0, &big_value(1 << 20, 99));
    c.put("q", &enc(7), None).ok();
    let off16 = 4 << 20;
    up.write(off16, &sixteen);
    c.call(ring_req(
        "queue.put",
        "q",
        off16 as u64,
        sixteen.len() as u64,
    ))
    .ok();
    // And a memfd value (§4.1), which stays a memfd on the way out.
    let shared = big_value(300_000, 4);
    let fd = memfd(&shared, ALL_SEALS);
    let mut frame = Vec::new();
    RequestFields {
        id: 999,
        value_len: Some(shared.len() as u64),
        fds: Some(1),
        ..Client::req("queue.put", "q")
    }
    .encode_into(&mut frame);
    send_frame_fds(&c.stream, &frame, &[fd.as_raw_fd()]);
    assert_eq!(c.recv().ok().id(), 999);
    let get = |c: &mut Client| {
        c.call(RequestFields {
            ring_min: Some(1024),
            ..Client::req("queue.get", "q")
        })
        .ok()
    };
    let r1 = get(&mut c);
    let (v1, o1) = reply_value(&r1, &down);
    assert_eq!(v1, one, "the value as put, not as the up ring holds it now");
    assert_eq!(o1, Some(0));
    let r2 = get(&mut c);
    assert_eq!(reply_value(&r2, &down), (enc(7), None), "small: inline");
    let r3 = get(&mut c);
    let (v3, o3) = reply_value(&r3, &down);
    assert_eq!(v3, sixteen);
    assert!(
        o3.unwrap() >= one.len() as u64,
        "FIFO: after the held 1 MiB"
    );
    c.send(RequestFields {
        ring_min: Some(1024),
        ..Client::req("queue.get", "q")
    });
    let (r4, fds) = recv_with_fds(&mut c.stream);
    let r4 = r4.ok();
    assert!(
        r4.get("ring_off").is_none(),
        "a memfd value goes as its memfd: {r4:?}"
    );
    assert_eq!((r4.u64("fds"), fds.len()), (1, 1));
    assert_eq!(r4.u64("value_len"), shared.len() as u64);
    // Both freed: the next value starts at 0 again.
    c.call(RequestFields {
        ring_free: Some(vec![o3.unwrap(), 0]),
        ..RequestFields::new(0, "ring.free")
    })
    .ok();
    up.write(0, &one);
    c.call(ring_req("queue.put", "q", 0, one.len() as u64)).ok();
    let r = get(&mut c);
    assert_eq!(reply_value(&r, &down), (one.clone(), Some(0)));

    // Dict: set from the ring, get into the ring (freed by piggyback on the get).
    up.write(0, &sixteen);
    c.call(RequestFields {
        key: Some(Bytes::new(&enc("k"))),
        ..ring_req("dict.set", "d", 0, sixteen.len() as u64)
    })
    .ok();
    let r = c
        .call(RequestFields {
            key: Some(Bytes::new(&enc("k"))),
            ring_min: Some(1024),
            ring_free: Some(vec![0]),
            ..Client::req("dict.get", "d")
        })
        .ok();
    assert_eq!(reply_value(&r, &down), (sixteen.clone(), Some(0)));
    // Without ring_min the same get is inline.
    let r = c
        .call(RequestFields {
            key: Some(Bytes::new(&enc("k"))),
            ring_free: Some(vec![0]),
            ..Client::req("dict.get", "d")
        })
        .ok();
    assert_eq!(reply_value(&r, &down).0, sixteen);

    // Pipe: a waiting recv gets the ring value of a later send.
    let (mut a, _up_a, _down_a) = ring_client(&b);
    let (mut z, _up_z, down_z) = ring_client(&b);
    a.open_with("p", "pipe", |f| f.end = Some("a")).ok();
    z.open_with("p", "pipe", |f| f.end = Some("b")).ok();
    let wid = z.send(RequestFields {
        end: Some("b"),
        ring_min: Some(1024),
        ..Client::req("pipe.recv", "p")
    });
    std::thread::sleep(Duration::from_millis(50));
    _up_a.write(0, &one);
    a.call(RequestFields {
        end: Some("a"),
        ..ring_req("pipe.send", "p", 0, one.len() as u64)
    })
    .ok();
    let r = z.recv();
    assert_eq!(r.id(), wid);
    assert_eq!(reply_value(&r.ok(), &down_z), (one, Some(0)));
    // And 16 MiB, sent first and received after: the receiver freed its region with the
    // recv, so the value starts at 0 again.
    _up_a.write(0, &sixteen);
    a.call(RequestFields {
        end: Some("a"),
        ..ring_req("pipe.send", "p", 0, sixteen.len() as u64)
    })
    .ok();
    let r = z
        .call(RequestFields {
            end: Some("b"),
            ring_min: Some(1024),
            ring_free: Some(vec![0]),
            ..Client::req("pipe.recv", "p")
        })
        .ok();
    assert_eq!(reply_value(&r, &down_z), (sixteen, Some(0)));
}

#[test]
fn bad_ring_fields_are_refused_with_clear_errors() {
    let b = Broker::start_with(&["--ring-size", "1M"]);
    let (mut c, up, _down) = ring_client(&b);
    c.open("q", "queue").ok();
    let size = 1u64 << 20;
    let r = c.call(ring_req("queue.put", "q", size - 10, 11));
    assert!(r.err("BadRequest").contains("outside the up ring"), "{r:?}");
    let r = c.call(ring_req("queue.put", "q", u64::MAX - 1, 4));
    assert!(r.err("BadRequest").contains("outside the up ring"), "{r:?}");
    let r = c.call(ring_req("queue.put", "q", 0, 0));
    assert!(r.err("BadRequest").contains("value_len is 0"), "{r:?}");
    // Both a value and ring_off.
    let v = enc(1);
    let r = c.call(RequestFields {
        value: Some(Bytes::new(&v)),
        ..ring_req("queue.put", "q", 0, 1)
    });
    assert!(
        r.err("BadRequest")
            .contains("ring_off needs value_len and no value"),
        "{r:?}"
    );
    // ring_off without value_len.
    let r = c.call(RequestFields {
        ring_off: Some(0),
        ..Client::req("queue.put", "q")
    });
    assert!(r.error().is_some(), "{r:?}");
    // On ops that take none.
    let r = c.call(ring_req("queue.qsize", "q", 0, 1));
    assert!(
        r.err("BadRequest").contains("ring_off is taken by"),
        "{r:?}"
    );
    let r = c.call(RequestFields {
        ring_min: Some(1),
        value: Some(Bytes::new(&v)),
        ..Client::req("queue.put", "q")
    });
    assert!(
        r.err("BadRequest").contains("ring_min is taken by"),
        "{r:?}"
    );
    // Not one well-formed value (0xc1 is never valid).
    up.write(0, &[0xc1, 0, 0]);
    let r = c.call(ring_req("queue.put", "q", 0, 3));
    assert!(
        r.err("InvalidValue").contains("not one well-formed"),
        "{r:?}"
    );
    // Freeing what was never handed out, or twice.
    let r = c.call(RequestFields {
        ring_free: Some(vec![64]),
        ..RequestFields::new(0, "ring.free")
    });
    assert!(
        r.err("BadRequest").contains("ring_free names offset 64"),
        "{r:?}"
    );
    let big = big_value(100_000, 3);
    c.put("q", &big, None).ok();
    let r = c
        .call(RequestFields {
            ring_min: Some(1),
            ..Client::req("queue.get", "q")
        })
        .ok();
    let off = r.u64("ring_off");
    let free = |c: &mut Client| {
        c.call(RequestFields {
            ring_free: Some(vec![off]),
            ..RequestFields::new(0, "ring.free")
        })
    };
    free(&mut c).ok();
    assert!(free(&mut c)
        .err("BadRequest")
        .contains("no down-ring region"));
    // Nothing was stored by any refused put.
    let r = c.op("queue.qsize", "q").ok();
    assert_eq!(r.u64("len"), 0, "{r:?}");
}

#[test]
fn ring_and_plain_clients_share_values() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let (mut rc, up, down) = ring_client(&b);
    let mut plain = b.client();
    rc.open("q", "queue").ok();
    let v = big_value(1 << 20, 5);
    up.write(0, &v);
    rc.call(ring_req("queue.put", "q", 0, v.len() as u64)).ok();
    let r = plain.get("q", None).ok();
    assert_eq!(
        r.value("value"),
        dec(&v),
        "a plain client reads a ring value inline"
    );
    plain.put("q", &v, None).ok();
    let r = rc
        .call(RequestFields {
            ring_min: Some(1),
            ..Client::req("queue.get", "q")
        })
        .ok();
    assert_eq!(
        reply_value(&r, &down),
        (v, Some(0)),
        "and a ring client reads a plain value from its ring"
    );
}

/// Not a test of its own: the child process of `a_killed_ring_holder_leaks_nothing`, which
/// opens rings, moves a 16 MiB value through both and waits to be killed.
#[test]
#[ignore]
fn ring_holder_child() {
    let Ok(path) = std::env::var("XPROC_RING_TEST_SOCKET") else {
        return;
    };
    let (mut c, up, down) = ring_client_at(std::path::Path::new(&path));
    c.open("q", "queue").ok();
    let v = big_value(16 << 20, 9);
    up.write(0, &v);
    c.call(ring_req("queue.put", "q", 0, v.len() as u64)).ok();
    let r = c
        .call(RequestFields {
            ring_min: Some(1),
            ..Client::req("queue.get", "q")
        })
        .ok();
    assert_eq!(reply_value(&r, &down).0.len(), v.len());
    println!("holding");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_ring_holder_leaks_nothing() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let pid = b.pid();
    let fds_before = fd_baseline(pid);
    let rss_before = status_kib(pid, "VmRSS");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ring_holder_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("XPROC_RING_TEST_SOCKET", &b.path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("holding") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "child ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let rss_holding = status_kib(pid, "VmRSS");
    assert!(
        rss_holding >= rss_before + 16 * 1024,
        "the broker wrote 16 MiB into the down ring: RSS {rss_before} -> {rss_holding} KiB"
    );
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    fds_settle_at(pid, fds_before);
    let start = std::time::Instant::now();
    loop {
        let now = status_kib(pid, "VmRSS");
        if now <= rss_before + 4 * 1024 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "broker RSS {now} KiB, {rss_before} KiB before the ring holder: the rings leaked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_rust_client_uses_the_rings_and_falls_back_when_they_are_full() {
    let b = Broker::start_with(&["--ring-size", "4M", "--max-frame", "64M"]);
    let c = xproc::Client::connect(&b.path).unwrap();
    let q = c
        .raw_queue("q", xproc::Kind::Queue, Default::default())
        .unwrap();
    let values: Vec<Vec<u8>> = (0..8).map(|i| big_value(1 << 20, i)).collect();
    for v in &values {
        q.put(v, None).unwrap();
    }
    assert!(c.uses_rings(), "the first large value opened the rings");
    // Hold every view: three fit the 4 MiB down ring, the others come as memfds.
    let views: Vec<xproc::ValueBuf> = (0..8).map(|_| q.get_buf(None).unwrap()).collect();
    for (v, want) in views.iter().zip(&values) {
        assert_eq!(&v[..], &want[..]);
    }
    let in_ring = views.iter().filter(|v| v.is_in_ring()).count();
    assert_eq!(in_ring, 3, "ring full: the rest fell back");
    assert!(views[..3].iter().all(|v| v.is_in_ring()));
    drop(views);
    // Freed (told with the next request): the ring carries values again, and small values
    // stay inline.
    q.put(&values[0], None).unwrap();
    q.put(&enc(1), None).unwrap();
    let v = q.get_buf(None).unwrap();
    assert!(v.is_in_ring());
    assert_eq!(&v[..], &values[0][..]);
    let small = q.get_buf(None).unwrap();
    assert!(!small.is_in_ring());
    assert_eq!(&small[..], &enc(1)[..]);
    // Typed gets copy out and free at once.
    for v in &values {
        q.put(v, None).unwrap();
    }
    for v in &values {
        assert_eq!(&q.get(None).unwrap(), v);
    }
    // Typed puts: after a large one, the next are encoded straight into the up ring; mixed
    // with small ones, in order.
    let t = c.queue::<serde_bytes::ByteBuf>("t").unwrap();
    let vals: Vec<serde_bytes::ByteBuf> = [1 << 20, 10, 3 << 20, 2 << 20, 5, 1 << 20]
        .iter()
        .enumerate()
        .map(|(i, &n)| serde_bytes::ByteBuf::from(vec![i as u8; n]))
        .collect();
    for v in &vals {
        t.put(v).unwrap();
    }
    for v in &vals {
        assert_eq!(&t.get().unwrap(), v);
    }
}

#[test]
fn xproc_no_rings_keeps_a_client_off_the_rings() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "no_rings_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("XPROC_RING_TEST_SOCKET", &b.path)
        .env("XPROC_NO_RINGS", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("rings: false"), "{text}");
}

/// Not a test of its own: the child of `xproc_no_rings_keeps_a_client_off_the_rings`.
#[test]
#[ignore]
fn no_rings_child() {
    let Ok(path) = std::env::var("XPROC_RING_TEST_SOCKET") else {
        return;
    };
    let c = xproc::Client::connect(std::path::Path::new(&path)).unwrap();
    let q = c
        .raw_queue("q", xproc::Kind::Queue, Default::default())
        .unwrap();
    let v = big_value(1 << 20, 1);
    q.put(&v, None).unwrap();
    assert_eq!(q.get(None).unwrap(), v);
    q.put(&v, None).unwrap();
    assert_eq!(q.get(None).unwrap(), v);
    println!("rings: {}", c.uses_rings());
}

#[test]
fn a_waiting_consumer_gets_the_value_straight_into_its_down_ring() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let (mut p, up, _pd) = ring_client(&b);
    let (mut c, _cu, down) = ring_client(&b);
    p.open("q", "queue").ok();
    let wait = |c: &mut Client, free: Option<Vec<u64>>| {
        let id = c.send(RequestFields {
            ring_min: Some(1024),
            ring_free: free,
            ..Client::req("queue.get", "q")
        });
        std::thread::sleep(Duration::from_millis(50));
        id
    };
    let v = big_value(16 << 20, 7);
    let id = wait(&mut c, None);
    up.write(0, &v);
    p.call(ring_req("queue.put", "q", 0, v.len() as u64)).ok();
    let r = c.recv();
    assert_eq!(r.id(), id);
    assert_eq!(reply_value(&r.ok(), &down), (v.clone(), Some(0)));

    // A bad value is refused even when it would have gone straight to the consumer, and the
    // consumer keeps waiting.
    let id = wait(&mut c, Some(vec![0]));
    up.write(0, &[0xc1]);
    let r = p.call(ring_req("queue.put", "q", 0, 1));
    assert!(
        r.err("InvalidValue").contains("not one well-formed"),
        "{r:?}"
    );
    let small = big_value(100_000, 8);
    up.write(0, &small);
    p.call(ring_req("queue.put", "q", 0, small.len() as u64))
        .ok();
    let r = c.recv();
    assert_eq!(r.id(), id);
    assert_eq!(
        reply_value(&r.ok(), &down),
        (small, Some(0)),
        "at 0 again: the refused value's region went back"
    );
}

/// Takes `n` values off `q` (waiting for each) and checks them against `want`, in order.
fn expect_values(q: &xproc::RawQueue, want: &[Vec<u8>]) {
    for (i, w) in want.iter().enumerate() {
        let got = q.get_buf(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(got.len(), w.len(), "value {i}: length");
        assert!(got[..] == w[..], "value {i}: bytes");
    }
    assert!(matches!(
        q.get_buf(Some(Duration::ZERO)),
        Err(xproc::Error::Empty)
    ));
}

#[test]
fn put_async_sends_large_values_through_the_up_ring_in_order_with_small_ones() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let c = xproc::Client::connect(&b.path).unwrap();
    let q = c
        .raw_queue("pa", xproc::Kind::Queue, Default::default())
        .unwrap();
    // Small, large, runs of each: the large ones go as their own ring puts, the small ones
    // in batches, and the order is the order they were handed over.
    let sizes = [
        10,
        1 << 20,
        20,
        30,
        3 << 20,
        2 << 20,
        5,
        16 << 10,
        100,
        1 << 20,
    ];
    let values: Vec<Vec<u8>> = (0..40)
        .map(|i| big_value(sizes[i % sizes.len()], i as u8))
        .collect();
    for v in &values {
        q.put_async(v).unwrap();
    }
    assert!(c.uses_rings(), "a large put_async value opened the rings");
    q.flush().unwrap();
    assert_eq!(q.qsize().unwrap().len, 40);
    expect_values(&q, &values);

    // Typed: the first large value after small ones is moved into the ring, the next large
    // ones are encoded straight into it.
    let t = c.queue::<serde_bytes::ByteBuf>("pa-t").unwrap();
    let vals: Vec<serde_bytes::ByteBuf> = (0..30)
        .map(|i| serde_bytes::ByteBuf::from(vec![i as u8; sizes[(i * 7) % sizes.len()]]))
        .collect();
    for v in &vals {
        t.put_async(v).unwrap();
    }
    t.flush().unwrap();
    for v in &vals {
        assert_eq!(&t.get().unwrap(), v);
    }
}

#[test]
fn a_refused_large_put_async_value_is_reported_with_its_position() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let c = xproc::Client::connect(&b.path).unwrap();
    let q = c
        .raw_queue("pr", xproc::Kind::Queue, Default::default())
        .unwrap();
    let good: Vec<Vec<u8>> = (0..3).map(|i| big_value(100, i)).collect();
    for v in &good {
        q.put_async(v).unwrap();
    }
    // Position 3: a large value that is not MessagePack, refused by the broker's check of
    // its copy out of the up ring.
    q.put_async(&vec![0xc1; 1 << 20]).unwrap();
    let after = big_value(2 << 20, 9);
    q.put_async(&after).unwrap();
    match q.flush() {
        Err(xproc::Error::PutAsync { position, source }) => {
            assert_eq!(position, 3);
            assert!(source.to_string().contains("well-formed"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    // Reported once; the values before it were put, and the one sent after it too.
    q.flush().unwrap();
    expect_values(
        &q,
        &[good[0].clone(), good[1].clone(), good[2].clone(), after],
    );
    // Reported by the next put_async, which then does not take its value.
    q.put_async(&vec![0xc1; 1 << 20]).unwrap();
    q.put_async(&good[0]).unwrap();
    let mut refused = false;
    for _ in 0..100 {
        match q.put_async(&good[1]) {
            Err(xproc::Error::PutAsync { position, .. }) => {
                assert_eq!(position, 5);
                refused = true;
                break;
            }
            Ok(()) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused, "the refusal was reported by a later put_async");
    q.flush().unwrap();
    assert_eq!(q.get_buf(None).unwrap()[..], good[0][..]);
}

#[test]
fn put_async_waits_for_ring_room_and_falls_back_when_a_value_cannot_fit() {
    // A 4 MiB up ring: 3 MiB values take turns (each waits until the one before is
    // answered), 5 MiB ones never fit and go in batches, inline.
    let b = Broker::start_with(&["--ring-size", "4M", "--max-frame", "64M"]);
    let c = xproc::Client::connect(&b.path).unwrap();
    let q = c
        .raw_queue("pf", xproc::Kind::Queue, Default::default())
        .unwrap();
    let sizes = [
        3 << 20,
        5 << 20,
        1 << 20,
        100,
        3 << 20,
        2 << 20,
        5 << 20,
        3 << 20,
    ];
    let values: Vec<Vec<u8>> = (0..24)
        .map(|i| big_value(sizes[i % sizes.len()], i as u8))
        .collect();
    for v in &values {
        q.put_async(v).unwrap();
    }
    q.flush().unwrap();
    assert!(c.uses_rings());
    expect_values(&q, &values);

    // A bounded queue: ring puts wait in the broker for room (holding their regions) while
    // a consumer on another connection takes values; nothing is lost or reordered.
    let bq = c
        .raw_queue(
            "pb",
            xproc::Kind::Queue,
            xproc::QueueOptions {
                maxsize: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    let want = values.clone();
    let path = b.path.clone();
    let consumer = std::thread::spawn(move || {
        let c = xproc::Client::connect(&path).unwrap();
        let q = c
            .raw_queue("pb", xproc::Kind::Queue, Default::default())
            .unwrap();
        for (i, w) in want.iter().enumerate() {
            let got = q.get_buf(Some(Duration::from_secs(20))).unwrap();
            assert!(got[..] == w[..], "value {i}");
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    for v in &values {
        bq.put_async(v).unwrap();
    }
    bq.flush().unwrap();
    consumer.join().unwrap();
    assert_eq!(bq.qsize().unwrap().len, 0);
}

#[test]
fn a_16_mib_value_handed_to_a_waiting_get_buf_arrives_in_the_down_ring() {
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let path = b.path.clone();
    let consumer = std::thread::spawn(move || {
        let c = xproc::Client::connect(&path).unwrap();
        let q = c
            .raw_queue("h", xproc::Kind::Queue, Default::default())
            .unwrap();
        // The first get_buf opens this connection's rings, so every value, the first too,
        // finds it waiting with room in its down ring.
        let mut in_ring = Vec::new();
        for i in 0..4u8 {
            let v = q.get_buf(Some(Duration::from_secs(20))).unwrap();
            assert_eq!(v.len(), (16 << 20) + 5);
            assert!(v[5..]
                .iter()
                .take(4096)
                .enumerate()
                .all(|(j, &x)| x == (j as u8).wrapping_mul(31) ^ i));
            in_ring.push(v.is_in_ring());
        }
        in_ring
    });
    let c = xproc::Client::connect(&b.path).unwrap();
    let q = c
        .raw_queue("h", xproc::Kind::Queue, Default::default())
        .unwrap();
    for i in 0..4u8 {
        std::thread::sleep(Duration::from_millis(200));
        q.put_async(&big_value(16 << 20, i)).unwrap();
        q.flush().unwrap();
    }
    let in_ring = consumer.join().unwrap();
    assert!(in_ring.iter().all(|&r| r), "{in_ring:?}");
}

/// Pauses the broker (SIGSTOP) while `f` sends, so that everything `f` sent is read in one
/// loop turn, in the order it was sent.
fn with_broker_stopped(b: &Broker, f: impl FnOnce()) {
    let pid = b.child.as_ref().unwrap().id() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    f();
    std::thread::sleep(Duration::from_millis(50));
    unsafe { libc::kill(pid, libc::SIGCONT) };
}

#[test]
fn a_pipelined_put_waits_behind_a_get_that_arrived_during_the_last_copy() {
    // Both puts and the second consumer's get are read in one turn, puts first. Served in
    // that order, the second put would find nobody waiting and be copied into the broker's
    // heap (16 MiB more at its peak), then out again into the consumer's down ring; instead
    // the producer's turn ends after the first put's copy (RING_COPY_PER_TURN), the get is
    // read, and the second put goes straight into that consumer's down ring too. Either
    // way the broker touches 64 MiB of ring pages (two values read in the up ring, one
    // written in each down ring).
    let b = Broker::start_with(&["--max-frame", "64M"]);
    let pid = b.child.as_ref().unwrap().id() as i32;
    let (mut p, up, _pd) = ring_client(&b);
    let (mut c1, _u1, down1) = ring_client(&b);
    let (mut c2, _u2, down2) = ring_client(&b);
    p.open("q", "queue").ok();
    let get = |c: &mut Client| {
        c.send(RequestFields {
            ring_min: Some(1024),
            ..Client::req("queue.get", "q")
        })
    };
    let id1 = get(&mut c1);
    std::thread::sleep(Duration::from_millis(100));
    let (v1, v2) = (big_value(16 << 20, 1), big_value(16 << 20, 2));
    let off2 = v1.len().next_multiple_of(64);
    up.write(0, &v1);
    up.write(off2, &v2);
    let before = status_kib(pid, "VmHWM");
    let mut id2 = 0;
    let mut puts = Vec::new();
    with_broker_stopped(&b, || {
        puts.push(p.send(ring_req("queue.put", "q", 0, v1.len() as u64)));
        puts.push(p.send(ring_req("queue.put", "q", off2 as u64, v2.len() as u64)));
        std::thread::sleep(Duration::from_millis(50));
        id2 = get(&mut c2);
    });
    for id in puts {
        let r = p.recv();
        assert_eq!(r.id(), id);
        r.ok();
    }
    let r = c1.recv();
    assert_eq!(r.id(), id1);
    assert_eq!(reply_value(&r.ok(), &down1), (v1, Some(0)));
    let r = c2.recv();
    assert_eq!(r.id(), id2);
    assert_eq!(reply_value(&r.ok(), &down2), (v2, Some(0)));
    let grew_mib = (status_kib(pid, "VmHWM") - before) / 1024;
    assert!(
        grew_mib < 72,
        "the broker's peak RSS grew {grew_mib} MiB: the second value went through its heap"
    );
}
