//! Large values as sealed memfds (docs/PROTOCOL.md §4.1) between real processes and a real
//! xprocd: the Rust client sends a value of at least `SHARED_VALUE_MIN` bytes as a memfd, the
//! broker keeps the descriptor (not a copy), another process maps it; clients killed in the
//! middle leave the broker's descriptor count and RSS where they were. The workers that check
//! the memfd path run with `XPROC_NO_RINGS=1`: with rings (§4.2, tested in
//! broker/tests/rings.rs) the same values go through the connection's rings instead; the churn
//! workers keep rings, so killing them mid-value covers ring holders too.
#![cfg(target_os = "linux")]

use std::time::Duration;

use xproc_tests::{eventually, Broker};

const BIG: &str = env!("CARGO_BIN_EXE_big_worker");

/// Keeps a worker on the memfd path (no rings, docs/PROTOCOL.md §4.2).
const NO_RINGS: &[(&str, &str)] = &[("XPROC_NO_RINGS", "1")];

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The broker's RSS by kind (anonymous: its heap; shmem: mappings of memfds and rings).
fn rss_parts(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .filter(|l| l.starts_with("Rss"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn a_16_mib_dict_value_goes_by_memfd_from_one_process_to_another() {
    // A 16 MiB value is above the default max_frame (16 MiB, its own header included), inline
    // or as a memfd alike.
    let broker = Broker::start_with(&["--max-frame", "32M"]);
    let pid = broker.pid();
    std::thread::sleep(Duration::from_millis(50));
    let before = fd_count(pid);
    let out = broker
        .worker_env(
            BIG,
            &["set", "big", "img", &(16 << 20).to_string()],
            NO_RINGS,
        )
        .finish();
    assert!(out.contains("\"fds\":true"), "{out}");
    // The broker holds the value as one descriptor.
    eventually("the broker keeps the memfd", || fd_count(pid) == before + 1);
    let out = broker
        .worker_env(BIG, &["get", "big", "img"], NO_RINGS)
        .finish();
    assert!(
        out.contains(&format!("\"len\":{}", 16 << 20)) && out.contains("\"ok\":true"),
        "{out}"
    );
    // A value below the threshold goes inline: no descriptor is added.
    broker
        .worker_env(BIG, &["set", "big", "small", "1000"], NO_RINGS)
        .finish();
    // (Eventually: the broker may not have seen the last worker's socket close yet.)
    eventually("no descriptor added by the small value", || {
        fd_count(pid) == before + 1
    });
    let out = broker
        .worker_env(BIG, &["get", "big", "small"], NO_RINGS)
        .finish();
    assert!(
        out.contains("\"len\":1000") && out.contains("\"ok\":true"),
        "{out}"
    );
    // The typed API and a client over the same broker read the same value.
    let c = broker.client();
    let d = c.raw_dict("big").unwrap();
    let key = xproc::encode("img").unwrap();
    let len = d.get_with(&key, |v| Ok(v.len())).unwrap().unwrap();
    assert_eq!(len, (16 << 20) + 5);
    c.delete("big").unwrap();
    eventually("the memfd is closed with its dict", || {
        fd_count(pid) == before + 1
    });
}

#[test]
fn killed_producers_and_consumers_of_large_values_leave_nothing_behind() {
    let broker = Broker::start_with(&["--max-frame", "128M"]);
    let pid = broker.pid();
    std::thread::sleep(Duration::from_millis(50));
    let fds_before = fd_count(pid);
    let rss_before = rss_kib(pid);
    for round in 0..3 {
        // 100 MiB queue items put and taken, and 8 MiB dict values set and got, each by
        // processes SIGKILLed in the middle.
        let mut workers: Vec<_> = (0..2)
            .map(|_| broker.worker(BIG, &["churn", "churn", &(8 << 20).to_string()]))
            .collect();
        workers.push(broker.worker(
            BIG,
            &[
                "queue-churn",
                &format!("q{round}"),
                &(100 << 20).to_string(),
            ],
        ));
        std::thread::sleep(Duration::from_millis(400));
        for w in &mut workers {
            w.kill();
        }
    }
    let c = broker.client();
    c.delete("churn").unwrap();
    for round in 0..3 {
        // Items a killed producer put and nobody took are the queue's: deleting it lets go.
        c.delete(&format!("q{round}")).unwrap();
    }
    drop(c);
    eventually("descriptors back where they were", || {
        fd_count(pid) == fds_before
    });
    // The broker gives freed heap pages back once its memory charge has stayed low for half
    // a second (server.rs, trim_heap_when_idle).
    let settled = std::time::Instant::now() + Duration::from_secs(10);
    while rss_kib(pid) >= rss_before + 8 * 1024 && std::time::Instant::now() < settled {
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss_after = rss_kib(pid);
    assert!(
        rss_after < rss_before + 8 * 1024,
        "broker RSS {rss_before} KiB before, {rss_after} KiB after: {}",
        rss_parts(pid)
    );
}

#[test]
fn one_mib_pipe_messages_go_by_memfd_between_processes_in_order() {
    let broker = Broker::start();
    let pid = broker.pid();
    std::thread::sleep(Duration::from_millis(50));
    let before = fd_count(pid);
    // Sent before the reader opens: kept (as memfds) and delivered first, in order.
    let sender = broker.worker_env(
        BIG,
        &["pipe-send", "p", "20", &(1 << 20).to_string()],
        NO_RINGS,
    );
    let out = sender.finish();
    assert!(out.contains("\"sent\":20"), "{out}");
    // They wait in the broker as 20 descriptors, not 20 MiB of copies.
    eventually("the messages wait as memfds", || {
        fd_count(pid) == before + 20
    });
    let out = broker
        .worker_env(BIG, &["pipe-recv", "p", "20"], NO_RINGS)
        .finish();
    assert!(
        out.contains("\"received\":20") && out.contains("\"ok\":true"),
        "{out}"
    );
    eventually("every memfd is let go", || fd_count(pid) == before);
}

#[test]
fn sixteen_mib_queue_items_go_by_memfd_from_a_producer_process_to_a_consumer_process() {
    let broker = Broker::start_with(&["--max-frame", "32M"]);
    let pid = broker.pid();
    std::thread::sleep(Duration::from_millis(50));
    let before = fd_count(pid);
    let out = broker
        .worker_env(
            BIG,
            &["queue-put", "q", "5", &(16 << 20).to_string()],
            NO_RINGS,
        )
        .finish();
    assert!(out.contains("\"put\":5"), "{out}");
    eventually("the items wait as memfds", || fd_count(pid) == before + 5);
    let out = broker
        .worker_env(BIG, &["queue-get", "q", "5"], NO_RINGS)
        .finish();
    assert!(
        out.contains("\"got\":5") && out.contains("\"ok\":true"),
        "{out}"
    );
    eventually("every memfd is let go", || fd_count(pid) == before);
}

#[test]
fn large_values_come_back_owned_by_pread_or_mapped_without_a_copy_small_ones_inline() {
    let broker = Broker::start_with(&["--max-frame", "32M"]);
    let c = broker.client();
    assert!(c.passes_fds());
    let value = |n: usize| {
        let mut v = vec![0xc6]; // bin 32: the bytes are one MessagePack value
        v.extend_from_slice(&(n as u32).to_be_bytes());
        v.extend((0..n).map(|i| (i % 251) as u8));
        v
    };
    let (big, small) = (value(1 << 20), value(100));
    let q = c
        .raw_queue("vb-q", xproc::Kind::Queue, Default::default())
        .unwrap();
    for v in [&big, &small, &big, &small] {
        q.put(v, None).unwrap();
    }
    // get: an owned copy (a memfd value read with pread); get_buf: the mapping itself for a
    // memfd value, an owned buffer for an inline one; get_with: the bytes, borrowed.
    assert_eq!(&q.get(None).unwrap(), &big);
    let b = q.get_buf(None).unwrap();
    assert!(!b.is_mapped());
    assert_eq!(&b[..], &small[..]);
    let b = q.get_buf(None).unwrap();
    assert!(b.is_mapped());
    assert_eq!(&b[..], &big[..]);
    // The mapping outlives the queue handle and the queue itself.
    drop(q);
    c.delete("vb-q").unwrap();
    assert_eq!(&b[..], &big[..]);
    assert_eq!(b.into_vec(), big);

    let d = c.raw_dict("vb-d").unwrap();
    let key = |k: &str| xproc::encode(k).unwrap();
    d.set(&key("k"), &big).unwrap();
    assert_eq!(d.get(&key("k")).unwrap().unwrap(), big);
    let b = d.get_buf(&key("k")).unwrap().unwrap();
    assert!(b.is_mapped());
    assert_eq!(&b[..], &big[..]);
    assert!(d.get_buf(&key("none")).unwrap().is_none());
    // Typed gets decode from a pread copy.
    let typed = c.dict::<String, serde_bytes::ByteBuf>("vb-d").unwrap();
    d.set(&key("t"), &big).unwrap();
    assert_eq!(typed.get(&"t".to_string()).unwrap().unwrap().len(), 1 << 20);
    c.delete("vb-d").unwrap();
}
