//! docs/PROTOCOL.md §9 is generated from the live broker, so it cannot drift: this test starts a
//! fresh `xprocd`, checks that each request dump in §9 is what the reference encoder
//! (`xproc-protocol`) produces, sends it, and checks that the broker's reply is byte for byte the
//! reply dump that follows it.
//!
//! After a deliberate change (a new field, a new message), rewrite the dumps from the live
//! broker with `XPROC_BLESS=1 cargo test -p xproc-broker --test doc_examples`, and read the diff.
//! A new example needs its `#### <title>` heading and an empty code block in §9 first; the
//! blessing fills it in.

mod common;
use common::*;

use std::io::Read;
use std::time::{Duration, Instant};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");

/// One step of the session §9 shows, in order, on one connection.
enum Step {
    /// Send this frame; the doc shows it under this title.
    Request(&'static str, Vec<u8>),
    /// Read one reply frame; the doc shows it under this title.
    Reply(&'static str),
    /// The broker closes the connection now.
    Closes,
}

fn req(r: RequestFields) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode_into(&mut out);
    out
}

fn raw(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn steps() -> Vec<Step> {
    use Step::*;
    // The user values {"n": 7} and {"n": 8}.
    let n7 = [0x81, 0xa1, b'n', 0x07];
    let n8 = [0x81, 0xa1, b'n', 0x08];
    let on = |op, id| RequestFields {
        name: Some("tasks".into()),
        ..RequestFields::new(id, op)
    };
    vec![
        Request(
            "hello request",
            req(RequestFields {
                version: Some(1),
                client: Some("demo"),
                lang: Some("c"),
                pid: Some(4242),
                ..RequestFields::new(0, "hello")
            }),
        ),
        Reply("hello reply"),
        Request(
            "open request",
            req(RequestFields {
                kind: Some("queue"),
                maxsize: Some(100),
                ..on("open", 1)
            }),
        ),
        Reply("open reply"),
        Request(
            "queue.put request",
            req(RequestFields {
                value: Some(Bytes::new(&n7)),
                ..on("queue.put", 2)
            }),
        ),
        Reply("queue.put reply"),
        Request(
            "queue.get request",
            req(RequestFields {
                timeout_ms: Some(5000),
                ..on("queue.get", 3)
            }),
        ),
        Reply("queue.get reply"),
        Request(
            "queue.get request with timeout_ms 0",
            req(RequestFields {
                timeout_ms: Some(0),
                ..on("queue.get", 4)
            }),
        ),
        Reply("error reply"),
        // Acknowledged delivery.
        Request(
            "second queue.put request",
            req(RequestFields {
                value: Some(Bytes::new(&n8)),
                ..on("queue.put", 5)
            }),
        ),
        Reply("second queue.put reply"),
        Request(
            "queue.get_leased request",
            req(RequestFields {
                timeout_ms: Some(5000),
                lease_ms: Some(60000),
                ..on("queue.get_leased", 6)
            }),
        ),
        Reply("queue.get_leased reply"),
        Request(
            "queue.nack request",
            req(RequestFields {
                delivery: Some(1),
                ..on("queue.nack", 7)
            }),
        ),
        Reply("queue.nack reply"),
        Request(
            "second queue.get_leased request",
            req(RequestFields {
                timeout_ms: Some(5000),
                lease_ms: Some(60000),
                ..on("queue.get_leased", 8)
            }),
        ),
        Reply("second queue.get_leased reply"),
        Request(
            "queue.ack request",
            req(RequestFields {
                delivery: Some(2),
                ..on("queue.ack", 9)
            }),
        ),
        Reply("queue.ack reply"),
        Request(
            "repeated queue.ack request",
            req(RequestFields {
                delivery: Some(2),
                ..on("queue.ack", 10)
            }),
        ),
        Reply("repeated queue.ack reply"),
        // Batches (streaming).
        Request(
            "queue.put_many request",
            req(RequestFields {
                values: Some(vec![Bytes::new(&n7), Bytes::new(&n8)]),
                ..on("queue.put_many", 20)
            }),
        ),
        Reply("queue.put_many reply"),
        Request(
            "queue.get_many request",
            req(RequestFields {
                max: Some(100),
                timeout_ms: Some(5000),
                ..on("queue.get_many", 21)
            }),
        ),
        Reply("queue.get_many reply"),
        Request(
            "another queue.put_many request",
            req(RequestFields {
                values: Some(vec![Bytes::new(&n7), Bytes::new(&n8)]),
                ..on("queue.put_many", 22)
            }),
        ),
        Reply("another queue.put_many reply"),
        Request(
            "queue.get_many_leased request",
            req(RequestFields {
                max: Some(100),
                lease_ms: Some(60000),
                ..on("queue.get_many_leased", 23)
            }),
        ),
        Reply("queue.get_many_leased reply"),
        Request(
            "queue.ack_many request",
            req(RequestFields {
                deliveries: Some(vec![3, 4, 2]),
                ..on("queue.ack_many", 24)
            }),
        ),
        Reply("queue.ack_many reply"),
        Request(
            "open tight request",
            req(RequestFields {
                name: Some("tight".into()),
                kind: Some("queue"),
                maxsize: Some(1),
                ..RequestFields::new(25, "open")
            }),
        ),
        Reply("open tight reply"),
        Request(
            "queue.put_many Full request",
            req(RequestFields {
                name: Some("tight".into()),
                values: Some(vec![Bytes::new(&n7), Bytes::new(&n8)]),
                timeout_ms: Some(0),
                ..RequestFields::new(26, "queue.put_many")
            }),
        ),
        Reply("queue.put_many Full reply"),
        // A cursor scan of a dict of three entries, two a page.
        Request(
            "open dict request",
            req(RequestFields {
                name: Some("cfg".into()),
                kind: Some("dict"),
                ..RequestFields::new(11, "open")
            }),
        ),
        Reply("open dict reply"),
        Request(
            "dict.update request",
            req(RequestFields {
                name: Some("cfg".into()),
                items: Some(vec![
                    (Bytes::new(b"\xa1a"), Bytes::new(b"\x01")),
                    (Bytes::new(b"\xa1b"), Bytes::new(b"\x02")),
                    (Bytes::new(b"\xa1c"), Bytes::new(b"\x03")),
                ]),
                ..RequestFields::new(12, "dict.update")
            }),
        ),
        Reply("dict.update reply"),
        Request(
            "dict.scan request",
            req(RequestFields {
                name: Some("cfg".into()),
                cursor: Some(0),
                count: Some(2),
                ..RequestFields::new(13, "dict.scan")
            }),
        ),
        Reply("dict.scan reply"),
        Request(
            "next dict.scan request",
            req(RequestFields {
                name: Some("cfg".into()),
                // The cursor the previous reply carried.
                cursor: Some(2),
                count: Some(2),
                ..RequestFields::new(14, "dict.scan")
            }),
        ),
        Reply("next dict.scan reply"),
        // Waiting on many: `tasks` is empty and `tight` holds {"n": 7}.
        Request(
            "wait request",
            req(RequestFields {
                names: Some(vec!["tasks", "tight"]),
                timeout_ms: Some(0),
                ..RequestFields::new(27, "wait")
            }),
        ),
        Reply("wait reply"),
        Request(
            "queue.get_any request",
            req(RequestFields {
                names: Some(vec!["tasks", "tight"]),
                timeout_ms: Some(5000),
                ..RequestFields::new(28, "queue.get_any")
            }),
        ),
        Reply("queue.get_any reply"),
        // Refused requests: a value sent as str (the connection stays), then a positional
        // request (the connection closes).
        Request(
            "value sent as str request",
            raw(&[
                0x84, 0xa2, b'i', b'd', 0x0f, 0xa2, b'o', b'p', 0xa9, b'q', b'u', b'e', b'u', b'e',
                b'.', b'p', b'u', b't', 0xa4, b'n', b'a', b'm', b'e', 0xa5, b't', b'a', b's', b'k',
                b's', 0xa5, b'v', b'a', b'l', b'u', b'e', 0xa1, b'x',
            ]),
        ),
        Reply("value sent as str reply"),
        Request(
            "positional request",
            // [16, "queue.qsize", "tasks"]
            raw(&[
                0x93, 0x10, 0xab, b'q', b'u', b'e', b'u', b'e', b'.', b'q', b's', b'i', b'z', b'e',
                0xa5, b't', b'a', b's', b'k', b's',
            ]),
        ),
        Reply("positional request reply"),
        Closes,
    ]
}

/// The spec's dump format: the 4 header bytes on the first line, then the payload in rows of
/// 16 bytes.
fn hex(frame: &[u8]) -> String {
    let row = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (header, payload) = frame.split_at(4);
    let mut out = row(header);
    for chunk in payload.chunks(16) {
        out.push('\n');
        out.push_str(&row(chunk));
    }
    out
}

/// Where the code block under `#### <title>` in §9 sits: (start, end) of its contents.
fn block(doc: &str, title: &str) -> Option<(usize, usize)> {
    let section = doc.find("\n## 9.")?;
    let heading = format!("\n#### {title}\n```\n");
    let at = section + doc[section..].find(&heading)? + heading.len();
    let end = at + doc[at..].find("```")?;
    Some((at, end))
}

fn read_frame(s: &mut RawStream) -> Vec<u8> {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).expect("reply header");
    let mut frame = header.to_vec();
    frame.resize(4 + u32::from_be_bytes(header) as usize, 0);
    s.read_exact(&mut frame[4..]).expect("reply payload");
    frame
}

#[test]
fn protocol_md_section_9_is_what_the_live_broker_says() {
    let bless = std::env::var_os("XPROC_BLESS").is_some_and(|v| v == "1");
    let dir = temp_dir();
    let path = xproc_tests::test_endpoint(&dir);
    // Wait for the socket file (or pipe name) rather than probing with a connection, so that
    // the session below is the broker's first connection (conn_id 1), as the dump shows.
    let _broker = Broker::spawn_at(&dir, &path, &[]);
    let start = Instant::now();
    while !xproc_tests::endpoint_exists(&path) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "xprocd did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut conn = RawStream::connect(&path).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let mut doc = std::fs::read_to_string(DOC).expect("docs/PROTOCOL.md");
    let mut stale = Vec::new();
    let mut check = |doc: &mut String, title: &str, frame: &[u8]| {
        let want = format!("{}\n", hex(frame));
        match block(doc, title) {
            None => stale.push(format!(
                "no '#### {title}' block in §9; add it with this dump:\n{want}"
            )),
            Some((at, end)) if doc[at..end] != want => {
                if bless {
                    doc.replace_range(at..end, &want);
                } else {
                    stale.push(format!(
                        "'{title}': the doc shows\n{}the broker says\n{want}",
                        &doc[at..end]
                    ));
                }
            }
            Some(_) => {}
        }
    };
    for step in steps() {
        match step {
            Step::Request(title, frame) => {
                check(&mut doc, title, &frame);
                std::io::Write::write_all(&mut conn, &frame).unwrap();
            }
            Step::Reply(title) => {
                let frame = read_frame(&mut conn);
                check(&mut doc, title, &frame);
            }
            Step::Closes => {
                let mut b = [0u8; 1];
                assert_eq!(conn.read(&mut b).unwrap(), 0, "the broker should close");
            }
        }
    }
    if bless {
        std::fs::write(DOC, &doc).unwrap();
    }
    assert!(
        stale.is_empty(),
        "docs/PROTOCOL.md §9 differs from the live broker (rerun with XPROC_BLESS=1 to \
         rewrite the dumps, then read the diff):\n\n{}",
        stale.join("\n")
    );
}
