//! The worked byte examples in docs/PROTOCOL.md §9 are generated here from the reference
//! implementation, and this test fails if the document and the code drift apart.
//!
//! To print the examples: `cargo test -p xproc-protocol --test doc_examples -- --nocapture`.

use xproc_protocol::{Bytes, ErrorCode, Limits, ReplyFields, RequestFields};

fn hex(frame: &[u8]) -> String {
    // Header, then the payload in rows of 16 bytes, as shown in the spec.
    let (header, payload) = frame.split_at(4);
    let mut out = header
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    for row in payload.chunks(16) {
        out.push('\n');
        out.push_str(
            &row.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    out
}

fn examples() -> Vec<(&'static str, Vec<u8>)> {
    let mut v = Vec::new();
    let mut frame = |title, f: &dyn Fn(&mut Vec<u8>)| {
        let mut out = Vec::new();
        f(&mut out);
        v.push((title, out));
    };
    frame("hello request", &|out| {
        RequestFields {
            version: Some(1),
            client: Some("demo"),
            lang: Some("c"),
            pid: Some(4242),
            ..RequestFields::new(0, "hello")
        }
        .encode_into(out)
    });
    frame("hello reply", &|out| {
        ReplyFields {
            version: Some(1),
            server: Some("xprocd 0.1.0"),
            conn_id: Some(1),
            limits: Some(Limits {
                max_frame: 16 << 20,
                max_clients: 1024,
                max_objects: 65536,
                memory_limit: 1 << 30,
            }),
            ..ReplyFields::ok(0)
        }
        .encode_into(out)
    });
    frame("open request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            kind: Some("queue"),
            maxsize: Some(100),
            ..RequestFields::new(1, "open")
        }
        .encode_into(out)
    });
    frame("open reply", &|out| {
        ReplyFields {
            kind: Some("queue"),
            created: Some(true),
            maxsize: Some(100),
            ..ReplyFields::ok(1)
        }
        .encode_into(out)
    });
    // The user value {"n": 7} encodes as 81 a1 6e 07.
    let value = [0x81, 0xa1, b'n', 0x07];
    frame("queue.put request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            value: Some(Bytes::new(&value)),
            ..RequestFields::new(2, "queue.put")
        }
        .encode_into(out)
    });
    frame("queue.put reply", &|out| {
        ReplyFields::ok(2).encode_into(out)
    });
    frame("queue.get request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            timeout_ms: Some(5000),
            ..RequestFields::new(3, "queue.get")
        }
        .encode_into(out)
    });
    frame("queue.get reply", &|out| {
        ReplyFields {
            value: Some(Bytes::new(&value)),
            ..ReplyFields::ok(3)
        }
        .encode_into(out)
    });
    frame("error reply", &|out| {
        ReplyFields::err(4, ErrorCode::Empty, "queue 'tasks' is empty").encode_into(out)
    });
    frame("queue.get_leased request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            timeout_ms: Some(5000),
            lease_ms: Some(60000),
            ..RequestFields::new(5, "queue.get_leased")
        }
        .encode_into(out)
    });
    frame("queue.get_leased reply", &|out| {
        ReplyFields {
            value: Some(Bytes::new(&value)),
            delivery: Some(17),
            attempt: Some(1),
            ..ReplyFields::ok(5)
        }
        .encode_into(out)
    });
    frame("queue.ack request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            delivery: Some(17),
            ..RequestFields::new(6, "queue.ack")
        }
        .encode_into(out)
    });
    frame("queue.ack reply", &|out| {
        ReplyFields::ok(6).encode_into(out)
    });
    frame("queue.nack request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            delivery: Some(17),
            delay_ms: Some(1000),
            ..RequestFields::new(7, "queue.nack")
        }
        .encode_into(out)
    });
    frame("repeated ack reply", &|out| {
        ReplyFields::err(
            8,
            ErrorCode::UnknownDelivery,
            "delivery 17 of queue 'tasks' is not held by this connection",
        )
        .encode_into(out)
    });
    // Batches (streaming): two values in one put, a get of up to 100, a leased batch of two
    // and its ack.
    let second = [0x81, 0xa1, b'n', 0x08];
    frame("queue.put_many request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            values: Some(vec![Bytes::new(&value), Bytes::new(&second)]),
            ..RequestFields::new(9, "queue.put_many")
        }
        .encode_into(out)
    });
    frame("queue.put_many Full reply", &|out| {
        ReplyFields {
            put: Some(1),
            ..ReplyFields::err(
                9,
                ErrorCode::Full,
                "queue 'tasks' is full (maxsize 1): 1 of 2 values were put",
            )
        }
        .encode_into(out)
    });
    frame("queue.get_many request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            max: Some(100),
            timeout_ms: Some(5000),
            ..RequestFields::new(10, "queue.get_many")
        }
        .encode_into(out)
    });
    frame("queue.get_many reply", &|out| {
        ReplyFields {
            values: Some(vec![Some(Bytes::new(&value)), Some(Bytes::new(&second))]),
            ..ReplyFields::ok(10)
        }
        .encode_into(out)
    });
    frame("queue.get_many_leased request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            max: Some(100),
            lease_ms: Some(60000),
            ..RequestFields::new(11, "queue.get_many_leased")
        }
        .encode_into(out)
    });
    frame("queue.get_many_leased reply", &|out| {
        ReplyFields {
            values: Some(vec![Some(Bytes::new(&value)), Some(Bytes::new(&second))]),
            deliveries: Some(vec![18, 19]),
            attempts: Some(vec![1, 1]),
            ..ReplyFields::ok(11)
        }
        .encode_into(out)
    });
    frame("queue.ack_many request", &|out| {
        RequestFields {
            name: Some("tasks".into()),
            deliveries: Some(vec![18, 19, 17]),
            ..RequestFields::new(12, "queue.ack_many")
        }
        .encode_into(out)
    });
    frame("queue.ack_many reply", &|out| {
        ReplyFields {
            unknown: Some(vec![17]),
            ..ReplyFields::ok(12)
        }
        .encode_into(out)
    });
    v
}

#[test]
fn protocol_md_shows_these_bytes() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .expect("docs/PROTOCOL.md");
    let mut missing = Vec::new();
    for (title, frame) in examples() {
        let h = hex(&frame);
        println!("#### {title}\n```\n{h}\n```\n");
        if !doc.contains(&h) {
            missing.push(title);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/PROTOCOL.md §9 is out of date for: {missing:?}; rerun with --nocapture and paste"
    );
}
