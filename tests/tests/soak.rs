//! Chaos and soak, against a real `xprocd` and real processes.
//!
//! - The soak: 16 producer processes put 100,000 items; 16 consumer processes take them with
//!   leased gets and ack them, while a killer SIGKILLs a random consumer every 50 ms and
//!   starts a new one. A 17th consumer takes one lease and then stops reading its socket
//!   while it floods the broker with requests. At the end every item was acked exactly once,
//!   none is lost, and every redelivery is attributable to a consumer that died (or to the
//!   stalled one, whose lease ran out). The broker's own counters (`stat`) and two dicts the
//!   consumers write before each ack are the evidence. The figures are printed.
//! - The flood: clients write far beyond the broker's memory budget; every write past it is
//!   refused with `LimitExceeded` naming `memory_limit`, and the broker's peak RSS stays
//!   within the budget plus a stated overhead.
//!
//! The two run one after the other (they would only slow each other down).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xproc::{Client, Error, ErrorCode, InfoValue, QueueOptions};
use xproc_tests::{sibling_exe, Broker, Worker};

/// Items moved by the soak. Fewer under Windows, where Wine moves them ~10x slower (each
/// killed consumer's replacement is a process start of ~0.2 s; each connection costs more).
const ITEMS: u64 = if cfg!(windows) { 1_600 } else { 100_000 };
/// Producer and consumer processes.
const PRODUCERS: u64 = 16;
// Each producer puts an equal share.
const _: () = assert!(ITEMS.is_multiple_of(PRODUCERS));
const CONSUMERS: usize = 16;
/// How often the killer strikes.
const KILL_EVERY: Duration = Duration::from_millis(50);
/// The soak must finish within this (CI budget), or it fails.
const SOAK_LIMIT: Duration = Duration::from_secs(110);
/// The consumers' lease: far longer than the soak, so that no lease of a live consumer runs
/// out and every redelivery has a dead (or stalled) holder.
const LEASE_MS: &str = "600000";
/// The stalled consumer's lease: it runs out, and its item goes to a live consumer.
const STALL_LEASE_MS: &str = "300";

/// Memory budget of the soak's broker, and what RSS may grow by beyond it over the process
/// image (its RSS at startup: ~8 MiB here, ~85 MiB under Wine): the allocator's slack and free lists, per-connection buffers (the stalled consumer's
/// unread replies alone are up to the 8 MiB output soft limit), and the dicts' and queues'
/// real per-entry costs beyond the overhead charged for them.
const SOAK_MEMORY_LIMIT: &str = "128M";
const SOAK_RSS_OVERHEAD: u64 = 56 << 20;
/// The flood's budget, and its allowance over the budget beyond the process image (its RSS
/// at startup): the flooders' connection buffers (a 256 KiB value each, a batch of pipelined
/// puts), and the allocator's slack (measured: about 11 MiB over budget + image in all).
const FLOOD_MEMORY_LIMIT: &str = "32M";
const FLOOD_RSS_OVERHEAD: u64 = 24 << 20;

/// One test at a time in this file.
static SERIAL: Mutex<()> = Mutex::new(());

/// The broker's peak resident set (`VmHWM`, or the peak working set on Windows), in bytes.
fn peak_rss(pid: u32) -> u64 {
    xproc_tests::rss(pid).1
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn stat(client: &Client, name: &str) -> BTreeMap<String, InfoValue> {
    client.stat(name).unwrap().info.0.into_iter().collect()
}

fn int(info: &BTreeMap<String, InfoValue>, field: &str) -> u64 {
    match info.get(field) {
        Some(InfoValue::Int(n)) => *n as u64,
        other => panic!("{field}: {other:?}"),
    }
}

/// xorshift64*, to pick the victims.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

#[test]
fn chaos_soak_every_item_acked_once_none_lost_redeliveries_only_from_dead_consumers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let consumer = sibling_exe("soak_consumer", "cargo build -p xproc-tests");
    let producer = sibling_exe("soak_producer", "cargo build -p xproc-tests");
    let broker = Broker::start_with(&["--memory-limit", SOAK_MEMORY_LIMIT]);
    let image = peak_rss(broker.pid());
    let client = broker.client();
    // max_attempts 0: an item may be unlucky enough to lose several consumers in a row; it
    // must still end up acked, not dead-lettered.
    client
        .queue_with::<u64>(
            "soak.q",
            QueueOptions {
                max_attempts: Some(0),
                ..QueueOptions::default()
            },
        )
        .unwrap();
    let start = Instant::now();

    let mut consumers: Vec<Worker> = (0..CONSUMERS)
        .map(|_| broker.worker(&consumer, &["consume", "soak.q", LEASE_MS]))
        .collect();
    let per = ITEMS / PRODUCERS;
    let producers: Vec<Worker> = (0..PRODUCERS)
        .map(|p| {
            let (from, count) = ((p * per).to_string(), per.to_string());
            broker.worker(&producer, &["produce", "soak.q", &from, &count])
        })
        .collect();
    let stalled = broker.worker(&consumer, &["stall", "soak.q", STALL_LEASE_MS]);
    let stalled_pid = stalled.pid();

    // The killer.
    let mut rng = Rng(0x0bad_5eed_cafe_f00d);
    let mut killed: BTreeSet<u32> = BTreeSet::new();
    let mut acked = 0;
    while acked < ITEMS {
        assert!(
            start.elapsed() < SOAK_LIMIT,
            "the soak did not finish within {SOAK_LIMIT:?}: {acked} of {ITEMS} acked; queue: {:?}",
            stat(&client, "soak.q")
        );
        std::thread::sleep(KILL_EVERY);
        let victim = rng.below(CONSUMERS);
        killed.insert(consumers[victim].pid());
        consumers[victim].kill();
        consumers[victim] = broker.worker(&consumer, &["consume", "soak.q", LEASE_MS]);
        acked = int(&stat(&client, "soak.q"), "acked");
    }
    let elapsed = start.elapsed();
    for p in producers {
        let out: serde_json::Value = p.finish_json();
        assert_eq!(out["put"], per, "a producer put less than its share");
    }
    // The stalled consumer's flooding connection is still there: throttled (the broker
    // stopped reading it at its output soft limit), not dropped, and it held nobody up.
    let stalled_conn = client
        .clients()
        .unwrap()
        .into_iter()
        .find(|c| c.name == "stalled" && c.pid == stalled_pid);
    assert!(stalled_conn.is_some(), "the stalled connection is gone");
    drop(consumers);
    drop(stalled);

    // The broker's view.
    let q = stat(&client, "soak.q");
    let (len, in_flight, delayed) = (int(&q, "len"), int(&q, "in_flight"), int(&q, "delayed"));
    let (expired, abandoned, requeued) = (
        int(&q, "expired"),
        int(&q, "abandoned"),
        int(&q, "requeued"),
    );
    assert_eq!(
        (len, in_flight, delayed),
        (0, 0, 0),
        "items left over: {q:?}"
    );
    assert_eq!(
        int(&q, "acked"),
        ITEMS,
        "every item acked, and only once each: {q:?}"
    );
    assert_eq!(
        (int(&q, "nacked"), int(&q, "dead_lettered")),
        (0, 0),
        "{q:?}"
    );
    assert_eq!(
        requeued,
        expired + abandoned,
        "every redelivery has a cause: {q:?}"
    );
    // A consumer holds one lease at a time, so each death returns at most one item; only the
    // stalled consumer's lease could run out.
    assert!(
        abandoned <= killed.len() as u64,
        "{abandoned} items came back from only {} killed consumers",
        killed.len()
    );
    assert_eq!(
        expired, 1,
        "exactly the stalled consumer's lease runs out: {q:?}"
    );

    // The consumers' records, written before each ack.
    let acks = client
        .dict::<u64, u32>("soak.acked")
        .unwrap()
        .items()
        .unwrap();
    assert_eq!(acks.len() as u64, ITEMS, "an ack record per item");
    let ids: BTreeSet<u64> = acks.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (0..ITEMS).collect(),
        "every item id 0..{ITEMS}, none lost"
    );
    let redeliveries: u64 = acks
        .iter()
        .map(|(_, attempt)| u64::from(*attempt) - 1)
        .sum();
    assert_eq!(
        redeliveries, requeued,
        "the attempts consumers saw match the broker's count of requeued items"
    );
    let holders: BTreeMap<(u64, u32), u32> = client
        .dict::<(u64, u32), u32>("soak.holders")
        .unwrap()
        .items()
        .unwrap()
        .into_iter()
        .collect();
    let (mut attributed, mut unrecorded) = (0u64, 0u64);
    for (id, last) in &acks {
        for attempt in 1..*last {
            match holders.get(&(*id, attempt)) {
                Some(pid) => {
                    assert!(
                        killed.contains(pid) || *pid == stalled_pid,
                        "item {id} attempt {attempt} came back from pid {pid}, which was \
                         neither killed nor the stalled consumer"
                    );
                    attributed += 1;
                }
                // Killed between its lease and its first write.
                None => unrecorded += 1,
            }
        }
    }

    let rss = peak_rss(broker.pid());
    let budget = xproc_broker_limit(SOAK_MEMORY_LIMIT);
    println!(
        "soak: {ITEMS} items, {PRODUCERS} producers, {CONSUMERS} consumers, in {:.1} s \
         ({:.0} items/s); {} consumers killed; {requeued} redeliveries ({abandoned} from \
         killed holders, {expired} from the stalled consumer's expired lease; {attributed} \
         matched to a dead holder's record, {unrecorded} killed before writing one); lost: 0; \
         broker peak RSS {} (at start {}; budget {SOAK_MEMORY_LIMIT} + {} allowed over that)",
        elapsed.as_secs_f64(),
        ITEMS as f64 / elapsed.as_secs_f64(),
        killed.len(),
        mib(rss),
        mib(image),
        mib(SOAK_RSS_OVERHEAD),
    );
    assert!(
        rss.saturating_sub(image) <= budget + SOAK_RSS_OVERHEAD,
        "broker peak RSS {} over its budget {SOAK_MEMORY_LIMIT} + {}",
        mib(rss),
        mib(SOAK_RSS_OVERHEAD)
    );
}

/// A `--memory-limit` value in bytes.
fn xproc_broker_limit(s: &str) -> u64 {
    let (n, unit) = s.split_at(s.len() - 1);
    n.parse::<u64>().unwrap()
        * match unit {
            "K" => 1 << 10,
            "M" => 1 << 20,
            "G" => 1 << 30,
            _ => panic!("{s}"),
        }
}

/// Writes with `write` until the broker has refused `enough` of them; returns (stored,
/// refused, the last refusal's message). Every refusal must be `LimitExceeded`.
fn flood_until_refused(
    enough: u64,
    mut write: impl FnMut(u64) -> xproc::Result<u64>,
) -> (u64, u64, String) {
    let (mut stored, mut refused, mut message) = (0, 0, String::new());
    let mut i = 0;
    while refused < enough {
        match write(i) {
            Ok(n) => stored += n,
            Err(Error::Limit { code, message: m }) => {
                assert_eq!(code, ErrorCode::LimitExceeded, "{m}");
                refused += 1;
                message = m;
            }
            Err(e) => panic!("flood: {e}"),
        }
        i += 1;
    }
    (stored, refused, message)
}

#[test]
fn a_flood_beyond_the_memory_budget_is_refused_and_rss_stays_bounded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let broker = Broker::start_with(&["--memory-limit", FLOOD_MEMORY_LIMIT]);
    let budget = xproc_broker_limit(FLOOD_MEMORY_LIMIT);
    let baseline = peak_rss(broker.pid());
    let want = format!("memory_limit ({budget} bytes)");
    let client = broker.client();
    let mut report = Vec::new();

    // Three floods, one after the other, each by four clients at once, each far past the
    // budget: one-byte items (pipelined; the per-item overhead is what bounds them), dict
    // entries, and 256 KiB values. Each object is deleted before the next flood.
    type Flood = fn(&Client, u64, u64) -> xproc::Result<u64>;
    let floods: [(&str, Flood); 3] = [
        ("flood.tiny", |c, _, _| {
            c.queue::<u8>("flood.tiny")?
                .put_many([1u8; 1024])
                .map(|n| n as u64)
        }),
        ("flood.dict", |c, k, i| {
            let d = c.dict::<(u64, u64), u8>("flood.dict")?;
            d.update((0..256).map(|j| ((k, i * 256 + j), 0u8)))?;
            Ok(256)
        }),
        ("flood.big", |c, k, _| {
            let v = serde_bytes::ByteBuf::from(vec![k as u8; 256 * 1024]);
            c.queue::<serde_bytes::ByteBuf>("flood.big")?.try_put(&v)?;
            Ok(1)
        }),
    ];
    for (name, flood) in floods {
        let threads: Vec<_> = (0..4u64)
            .map(|k| {
                let c = broker.client();
                std::thread::spawn(move || flood_until_refused(50, |i| flood(&c, k, i)))
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        for (_, _, message) in &results {
            assert!(message.contains(&want), "{message}");
        }
        let charged = int(&stat(&client, name), "bytes");
        assert!(
            charged <= budget,
            "{name}: charged {charged} > budget {budget}"
        );
        assert!(
            charged > budget / 2,
            "{name}: the flood did not fill the budget"
        );
        let stored: u64 = results.iter().map(|r| r.0).sum();
        let refused: u64 = results.iter().map(|r| r.1).sum();
        report.push(format!(
            "{name}: {stored} stored ({}), {refused} writes refused, peak RSS so far {}",
            mib(charged),
            mib(peak_rss(broker.pid()))
        ));
        // Reading frees room; deleting frees the rest.
        client.delete(name).unwrap();
    }
    client.queue::<u8>("after").unwrap().try_put(&1).unwrap();

    let rss = peak_rss(broker.pid());
    println!(
        "flood (memory_limit {FLOOD_MEMORY_LIMIT}, each refusal LimitExceeded naming it): {}; \
         broker peak RSS {} (at start {}; allowed over that: budget + {})",
        report.join("; "),
        mib(rss),
        mib(baseline),
        mib(FLOOD_RSS_OVERHEAD),
    );
    assert!(
        rss.saturating_sub(baseline) <= budget + FLOOD_RSS_OVERHEAD,
        "broker peak RSS {} over its budget {FLOOD_MEMORY_LIMIT} + {}",
        mib(rss),
        mib(FLOOD_RSS_OVERHEAD)
    );
}
