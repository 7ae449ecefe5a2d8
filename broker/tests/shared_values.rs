//! Values passed as sealed memfds (docs/PROTOCOL.md §4.1) against a real `xprocd`: stored as
//! the descriptor, handed on as a descriptor to clients that negotiated `fds` and inline to the
//! others, and every bad descriptor refused with a clear error and closed — the broker's
//! `/proc/PID/fd` comes back to where it was.
#![cfg(target_os = "linux")]

mod common;
use common::*;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

fn hello_fds(b: &Broker) -> Client {
    let mut c = b.raw();
    c.call(RequestFields {
        version: Some(1),
        caps: Some(vec!["fds"]),
        ..RequestFields::new(0, "hello")
    })
    .ok();
    c
}

/// `dict.set` of `key` with its value as the memfd `fd` of `len` bytes.
fn set_shared(c: &mut Client, dict: &str, key: &[u8], fd: Option<&OwnedFd>, len: u64) -> Reply {
    let mut out = Vec::new();
    RequestFields {
        key: Some(Bytes::new(key)),
        value_len: Some(len),
        fds: fd.map(|_| 1),
        ..Client::req("dict.set", dict)
    }
    .encode_into(&mut out);
    let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
    send_frame_fds(&c.stream, &out, &fds);
    c.recv()
}

fn get_req<'a>(dict: &'a str, key: &'a [u8]) -> RequestFields<'a> {
    RequestFields {
        key: Some(Bytes::new(key)),
        ..Client::req("dict.get", dict)
    }
}

/// A MessagePack bin of `n` bytes.
fn big_value(n: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    enc(Value::Binary(data))
}

/// The bytes of a memfd a reply passed, after checking it is sealed as a value must be.
fn read_sealed(fd: &OwnedFd) -> Vec<u8> {
    // SAFETY: F_GET_SEALS reads the seal set.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    assert_eq!(seals & ALL_SEALS, ALL_SEALS, "the value is sealed");
    // The descriptor shares its file offset with the producer's (which wrote it): read at
    // offsets, as a mapping does, never with read(2).
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::from(fd.try_clone().unwrap());
    let mut out = vec![0u8; f.metadata().unwrap().len() as usize];
    f.read_exact_at(&mut out, 0).unwrap();
    out
}

#[test]
fn a_memfd_value_is_stored_and_handed_on_as_itself_or_inline() {
    let b = Broker::start();
    let pid = b.pid();
    let mut producer = hello_fds(&b);
    let mut taker = hello_fds(&b);
    let mut plain = b.client();
    producer.open("d", "dict").ok();
    let before = fd_baseline(pid);

    let value = big_value(1 << 20);
    let fd = memfd(&value, ALL_SEALS);
    set_shared(
        &mut producer,
        "d",
        &enc("img"),
        Some(&fd),
        value.len() as u64,
    )
    .ok();
    drop(fd);
    // The broker keeps the descriptor (one more open file), not a copy.
    fds_settle_at(pid, before + 1);

    // A client that negotiated fds gets the descriptor, sealed, holding the value.
    let key = enc("img");
    taker.send(get_req("d", &key));
    let (r, fds) = recv_with_fds(&mut taker.stream);
    let r = r.ok();
    assert_eq!(r.u64("value_len"), value.len() as u64);
    assert_eq!(r.u64("fds"), 1);
    assert!(r.get("value").is_none());
    assert_eq!(fds.len(), 1);
    assert!(read_sealed(&fds[0]) == value, "the memfd holds the value");

    // One that did not gets the same bytes inline.
    let r = plain.call(get_req("d", &key)).ok();
    assert!(r.get("value").and_then(Value::as_slice) == Some(&value[..]));

    // It counts against the memory budget like an inline value.
    let stat = plain.call(Client::req("stat", "d")).ok();
    assert!(stat.info("bytes").as_u64().unwrap() >= value.len() as u64);

    // Inline values still go inline, to both.
    let small = enc(7);
    producer
        .call(RequestFields {
            key: Some(Bytes::new(&enc("n"))),
            value: Some(Bytes::new(&small)),
            ..Client::req("dict.set", "d")
        })
        .ok();
    let k = enc("n");
    taker.send(get_req("d", &k));
    let (r, fds) = recv_with_fds(&mut taker.stream);
    assert!(fds.is_empty());
    assert_eq!(
        r.ok().get("value").and_then(Value::as_slice),
        Some(&small[..])
    );

    // Overwritten, the memfd is let go.
    producer
        .call(RequestFields {
            key: Some(Bytes::new(&key)),
            value: Some(Bytes::new(&small)),
            ..Client::req("dict.set", "d")
        })
        .ok();
    fds_settle_at(pid, before);
}

#[test]
fn bad_memfd_values_are_refused_and_closed() {
    let b = Broker::start();
    let pid = b.pid();
    let mut c = hello_fds(&b);
    c.open("d", "dict").ok();
    let before = fd_baseline(pid);
    let value = big_value(4096);
    let len = value.len() as u64;
    let key = enc("k");

    let unsealed = memfd(&value, 0);
    let r = set_shared(&mut c, "d", &key, Some(&unsealed), len);
    assert!(
        r.err("BadRequest")
            .contains("not sealed: F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL"),
        "{r:?}"
    );

    let half = memfd(&value, libc::F_SEAL_SHRINK | libc::F_SEAL_GROW);
    let r = set_shared(&mut c, "d", &key, Some(&half), len);
    assert!(
        r.err("BadRequest")
            .contains("F_SEAL_WRITE|F_SEAL_SEAL missing"),
        "{r:?}"
    );

    let (pr, _pw) = std::io::pipe().unwrap();
    let not_memfd = OwnedFd::from(pr);
    let r = set_shared(&mut c, "d", &key, Some(&not_memfd), len);
    assert!(r.err("BadRequest").contains("not a memfd"), "{r:?}");

    let sealed = memfd(&value, ALL_SEALS);
    let r = set_shared(&mut c, "d", &key, Some(&sealed), len + 1);
    assert!(
        r.err("BadRequest").contains(&format!(
            "value_len is {} bytes but the memfd holds {len}",
            len + 1
        )),
        "{r:?}"
    );

    let garbage = memfd(&[0xc1, 0, 0], ALL_SEALS);
    let r = set_shared(&mut c, "d", &key, Some(&garbage), 3);
    r.err("InvalidValue");

    let r = set_shared(&mut c, "d", &key, None, len);
    assert!(
        r.err("BadRequest").contains("no value came with it"),
        "{r:?}"
    );

    // Nothing was stored, the connection is fine, and the broker kept none of them.
    assert_eq!(c.call(Client::req("dict.len", "d")).ok().u64("len"), 0);
    fds_settle_at(pid, before);
}

#[test]
fn memfd_values_go_when_their_dict_or_their_producer_goes() {
    let b = Broker::start();
    let pid = b.pid();
    let before = fd_baseline(pid);
    {
        let mut c = hello_fds(&b);
        c.open("d", "dict").ok();
        for i in 0..10 {
            let v = big_value(100_000 + i);
            let fd = memfd(&v, ALL_SEALS);
            set_shared(&mut c, "d", &enc(i as i64), Some(&fd), v.len() as u64).ok();
        }
    }
    // The values outlive their producer: they belong to the dict.
    fds_settle_at(pid, before + 10);
    let mut c = b.client();
    let r = c.call(get_req("d", &enc(3))).ok();
    assert!(r.get("value").and_then(Value::as_slice) == Some(&big_value(100_003)[..]));
    c.call(Client::req("delete", "d")).ok();
    drop(c);
    fds_settle_at(pid, before);
}

/// `pipe.send` of a memfd value from `end`.
fn send_shared(c: &mut Client, pipe: &str, end: &'static str, fd: &OwnedFd, len: u64) -> u64 {
    let id = 900 + len % 97;
    let mut out = Vec::new();
    let mut req = RequestFields {
        end: Some(end),
        value_len: Some(len),
        fds: Some(1),
        ..Client::req("pipe.send", pipe)
    };
    req.id = id;
    req.encode_into(&mut out);
    send_frame_fds(&c.stream, &out, &[fd.as_raw_fd()]);
    id
}

#[test]
fn pipe_messages_go_by_memfd_to_a_waiting_or_later_receiver_and_inline_to_others() {
    let b = Broker::start();
    let pid = b.pid();
    let mut a = hello_fds(&b);
    let mut r = hello_fds(&b);
    a.open_with("p", "pipe", |q| q.end = Some("a")).ok();
    r.open_with("p", "pipe", |q| q.end = Some("b")).ok();
    let before = fd_baseline(pid);
    let value = big_value(300_000);
    let len = value.len() as u64;

    // A receiver already waiting is handed the memfd itself.
    r.send(RequestFields {
        end: Some("b"),
        timeout_ms: Some(5000),
        ..Client::req("pipe.recv", "p")
    });
    std::thread::sleep(Duration::from_millis(50));
    let fd = memfd(&value, ALL_SEALS);
    send_shared(&mut a, "p", "a", &fd, len);
    a.recv().ok();
    let (got, fds) = recv_with_fds(&mut r.stream);
    assert_eq!(got.ok().u64("value_len"), len);
    assert!(read_sealed(&fds[0]) == value);

    // One sent first waits in the inbox as a memfd, then goes the same way.
    send_shared(&mut a, "p", "a", &fd, len);
    a.recv().ok();
    fds_settle_at(pid, before + 1);
    r.send(RequestFields {
        end: Some("b"),
        ..Client::req("pipe.recv", "p")
    });
    let (got, fds2) = recv_with_fds(&mut r.stream);
    assert_eq!(got.ok().u64("value_len"), len);
    assert!(read_sealed(&fds2[0]) == value);

    // A receiver that did not negotiate fds gets it inline.
    let mut plain = b.client();
    plain.open_with("q", "pipe", |o| o.end = Some("b")).ok();
    a.open_with("q", "pipe", |o| o.end = Some("a")).ok();
    send_shared(&mut a, "q", "a", &fd, len);
    a.recv().ok();
    let got = plain
        .call(RequestFields {
            end: Some("b"),
            ..Client::req("pipe.recv", "q")
        })
        .ok();
    assert!(got.get("value").and_then(Value::as_slice) == Some(&value[..]));
    drop((fd, fds, fds2));
    fds_settle_at(pid, before + 1);
}

/// `queue.put` of a memfd value; returns the reply.
fn put_shared(c: &mut Client, queue: &str, fd: &OwnedFd, len: u64) -> Reply {
    let mut out = Vec::new();
    RequestFields {
        value_len: Some(len),
        fds: Some(1),
        ..Client::req("queue.put", queue)
    }
    .encode_into(&mut out);
    send_frame_fds(&c.stream, &out, &[fd.as_raw_fd()]);
    c.recv()
}

#[test]
fn queue_items_go_by_memfd_to_getters_and_inline_to_batches_and_plain_clients() {
    let b = Broker::start_with(&["--max-frame", "1M"]);
    let pid = b.pid();
    let mut producer = hello_fds(&b);
    let mut consumer = hello_fds(&b);
    let mut plain = b.client();
    producer.open("q", "queue").ok();
    let before = fd_baseline(pid);
    let value = big_value(500_000);
    let len = value.len() as u64;
    let fd = memfd(&value, ALL_SEALS);

    // A getter already waiting is handed the memfd.
    consumer.send(RequestFields {
        timeout_ms: Some(5000),
        ..Client::req("queue.get", "q")
    });
    std::thread::sleep(Duration::from_millis(50));
    put_shared(&mut producer, "q", &fd, len).ok();
    let (r, fds) = recv_with_fds(&mut consumer.stream);
    assert_eq!(r.ok().u64("value_len"), len);
    assert!(read_sealed(&fds[0]) == value);

    // Queued: kept as the descriptor, then to a getter, a batch, a plain client.
    for _ in 0..3 {
        put_shared(&mut producer, "q", &fd, len).ok();
    }
    fds_settle_at(pid, before + 3);
    consumer.send(Client::req("queue.get", "q"));
    let (r, fds2) = recv_with_fds(&mut consumer.stream);
    assert_eq!(r.ok().u64("value_len"), len);
    assert!(read_sealed(&fds2[0]) == value);
    consumer.send(RequestFields {
        max: Some(1),
        ..Client::req("queue.get_many", "q")
    });
    let (r, none) = recv_with_fds(&mut consumer.stream);
    assert!(none.is_empty());
    let vals = r.ok().get("values").cloned().unwrap();
    assert!(vals[0].as_slice() == Some(&value[..]));
    let r = plain.get("q", Some(0)).ok();
    assert!(r.get("value").and_then(Value::as_slice) == Some(&value[..]));

    // Above what an inline value could be: refused, nothing kept.
    let huge = big_value(1 << 20);
    let hfd = memfd(&huge, ALL_SEALS);
    let r = put_shared(&mut producer, "q", &hfd, huge.len() as u64);
    assert!(r.err("TooLarge").contains("max_frame"), "{r:?}");
    drop((fd, hfd, fds, fds2));
    fds_settle_at(pid, before);
}

/// Replies that pass a memfd value and wait in a connection's output buffer are charged to
/// `memory_limit` at the value's size, as the same replies inline would be, until written
/// (docs/PROTOCOL.md §8).
#[test]
fn memfd_replies_waiting_to_be_written_are_charged_to_the_memory_budget() {
    let b = Broker::start_with(&["--memory-limit", "40M", "--max-frame", "64M"]);
    let mut slow = hello_fds(&b);
    let mut other = hello_fds(&b);
    slow.open("m", "dict").ok();
    let shared = big_value(2 << 20);
    let fd = memfd(&shared, ALL_SEALS);
    set_shared(&mut slow, "m", &enc("s"), Some(&fd), shared.len() as u64).ok();
    let inline = big_value(4 << 20);
    slow.call(RequestFields {
        key: Some(Bytes::new(&enc("i"))),
        value: Some(Bytes::new(&inline)),
        ..Client::req("dict.set", "m")
    })
    .ok();
    // A client that asks and does not read: the 4 MiB inline reply fills its socket, and
    // ten replies passing the 2 MiB memfd wait behind it in the broker's output buffer.
    let (key_i, key_s) = (enc("i"), enc("s"));
    slow.send(get_req("m", &key_i));
    for _ in 0..10 {
        slow.send(get_req("m", &key_s));
    }
    // The broker handles them in one or two loop turns; the margin is for a loaded machine.
    std::thread::sleep(Duration::from_millis(500));
    // Held now: 6 MiB of values, ~4 MiB of output, and 10 x 2 MiB of waiting memfd replies.
    // A 24 MiB value fits in 40 MiB only if those replies are not counted.
    let value = big_value(24 << 20);
    let fd = memfd(&value, ALL_SEALS);
    let r = set_shared(&mut other, "m", &enc("v"), Some(&fd), value.len() as u64);
    assert!(
        r.err("LimitExceeded").contains("memory_limit"),
        "{}",
        r.message()
    );
    // Once the replies are read, their charge is released and the same value fits.
    let (r, fds) = recv_with_fds(&mut slow.stream);
    assert!(r.ok().get("value").is_some() && fds.is_empty());
    for _ in 0..10 {
        let (r, fds) = recv_with_fds(&mut slow.stream);
        assert_eq!(r.ok().u64("value_len"), shared.len() as u64);
        assert_eq!(fds.len(), 1);
    }
    std::thread::sleep(Duration::from_millis(100));
    set_shared(&mut other, "m", &enc("v"), Some(&fd), value.len() as u64).ok();
}
