//! The Rust client's own promises, against a real xprocd: connecting, values as other languages
//! see them, limits, errors, admin calls, the raw layer, and what happens when the broker dies.

use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use xproc::protocol::RequestFields;
use xproc::{Client, ConnectOptions, Error, ErrorCode, Kind, QueueOptions};
use xproc_tests::{eventually, waiters_on, Broker};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Task {
    n: u32,
    label: String,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
}

#[test]
fn connecting_where_no_broker_listens_names_the_path() {
    let path = std::env::temp_dir().join("xproc-test-nobody-here.sock");
    match Client::connect(&path) {
        Err(e @ Error::NoBroker { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("no broker at {}", path.display())),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hello_reports_limits_and_the_broker_lists_the_client() {
    let broker = Broker::start();
    let client = Client::connect_with(ConnectOptions {
        path: Some(broker.socket().to_path_buf()),
        client_name: "tester".into(),
        ..ConnectOptions::default()
    })
    .unwrap();
    assert!(client.limits().max_frame > 0);
    let other = broker.client();
    assert_ne!(client.conn_id(), other.conn_id());

    let me = client
        .clients()
        .unwrap()
        .into_iter()
        .find(|c| c.conn_id == client.conn_id())
        .expect("the broker lists this connection");
    assert_eq!(me.pid, std::process::id());
    assert_eq!(me.name, "tester");
    assert_eq!(me.lang, "rust");
}

#[test]
fn typed_values_are_maps_with_field_names_and_bytes_are_bin() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<Task>("tasks").unwrap();
    let task = Task {
        n: 7,
        label: "seven".into(),
        blob: vec![0, 255],
    };
    q.put(&task).unwrap();

    // What any other language reads: a map keyed by field name, with `bin` for the bytes.
    let raw = q.raw().get(None).unwrap();
    let v = rmpv::decode::read_value(&mut &raw[..]).unwrap();
    let expected = rmpv::Value::Map(vec![
        ("n".into(), 7.into()),
        ("label".into(), "seven".into()),
        ("blob".into(), rmpv::Value::Binary(vec![0, 255])),
    ]);
    assert_eq!(v, expected);

    // And such a map, written by someone else, reads back as the struct.
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &expected).unwrap();
    q.raw().put(&bytes, None).unwrap();
    assert_eq!(q.get().unwrap(), task);
}

#[test]
fn a_value_that_does_not_decode_is_returned_with_its_bytes() {
    let broker = Broker::start();
    let client = broker.client();
    client
        .queue::<String>("mixed")
        .unwrap()
        .put(&"not a number".to_string())
        .unwrap();
    let numbers = client.queue::<i64>("mixed").unwrap();
    match numbers.try_get() {
        Err(Error::Decode { raw, .. }) => {
            assert_eq!(raw, xproc::encode("not a number").unwrap());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_above_max_frame_are_refused_before_sending() {
    let broker = Broker::start_with(&["--max-frame", "1024"]);
    let client = broker.client();
    assert_eq!(client.limits().max_frame, 1024);
    let q = client.queue::<serde_bytes::ByteBuf>("big").unwrap();
    match q.put(&serde_bytes::ByteBuf::from(vec![7u8; 4096])) {
        Err(Error::Limit { code, message }) => {
            assert_eq!(code, ErrorCode::TooLarge);
            assert!(message.contains("max_frame (1024 bytes)"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing was sent, so the connection is still good.
    client.ping().unwrap();
    assert_eq!(q.qsize().unwrap(), 0);
    q.put(&serde_bytes::ByteBuf::from(vec![7u8; 100])).unwrap();
}

#[test]
fn a_name_holds_one_kind_of_object() {
    let broker = Broker::start();
    let client = broker.client();
    client.dict::<String, i64>("cfg").unwrap();
    assert!(matches!(
        client.queue::<i64>("cfg"),
        Err(Error::TypeMismatch(_))
    ));
    assert!(matches!(client.lock("cfg"), Err(Error::TypeMismatch(_))));
    assert!(matches!(
        client.raw_queue("cfg2", Kind::Dict, QueueOptions::default()),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn list_stat_and_delete() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<i64>("jobs").unwrap();
    q.put_many([1, 2, 3]).unwrap();
    client.dict::<String, i64>("cfg").unwrap();

    let mut objects = client.list().unwrap();
    objects.sort_by(|a, b| a.name.cmp(&b.name));
    let summary: Vec<(&str, &str, u64)> = objects
        .iter()
        .map(|o| (o.name.as_str(), o.kind.as_str(), o.len))
        .collect();
    assert_eq!(summary, [("cfg", "dict", 0), ("jobs", "queue", 3)]);

    let stat = client.stat("jobs").unwrap();
    assert_eq!(stat.kind, "queue");
    assert!(!stat.info.0.is_empty(), "stat gives some info");

    assert!(client.delete("jobs").unwrap());
    assert!(!client.delete("jobs").unwrap());
    match client.stat("jobs") {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::NotFound), "{e}"),
        Ok(s) => panic!("deleted object still there: {s:?}"),
    }
    // The old handle refers to a deleted object.
    match q.qsize() {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::NotFound), "{e}"),
        Ok(n) => panic!("qsize of a deleted queue: {n}"),
    }
}

#[test]
fn deleting_an_object_wakes_its_waiters_with_not_found() {
    let broker = Broker::start();
    let client = broker.client();
    client.queue::<i64>("doomed").unwrap();
    let waiter = {
        let c = broker.client();
        thread::spawn(move || c.queue::<i64>("doomed").unwrap().get())
    };
    eventually("the waiter blocks", || {
        waiters_on(&client, "queue.get doomed") == 1
    });
    assert!(client.delete("doomed").unwrap());
    match waiter.join().unwrap() {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::NotFound), "{e}"),
        Ok(v) => panic!("got {v} from a deleted queue"),
    }
}

#[test]
fn the_raw_layer_moves_bytes_and_the_broker_checks_them() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client
        .raw_queue("raw", Kind::Queue, QueueOptions::default())
        .unwrap();
    let array = [0x93, 0x01, 0x02, 0x03];
    q.put(&array, None).unwrap();
    assert_eq!(q.get(Some(Duration::ZERO)).unwrap(), array);
    // Not one well-formed MessagePack value.
    match q.put(&[0x93, 0x01], None) {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::InvalidValue), "{e}"),
        Ok(()) => panic!("a truncated value was accepted"),
    }
}

#[test]
fn call_sends_any_request() {
    let broker = Broker::start();
    let client = broker.client();
    client
        .queue_with::<i64>(
            "q",
            QueueOptions {
                maxsize: Some(9),
                ..Default::default()
            },
        )
        .unwrap()
        .put(&1)
        .unwrap();
    let reply = client
        .call(&RequestFields {
            name: Some("q".into()),
            ..RequestFields::new(12345, "queue.qsize")
        })
        .unwrap();
    let fields = reply.fields().unwrap();
    assert_eq!((fields.len, fields.maxsize), (Some(1), Some(9)));
    assert_ne!(fields.id, 12345, "the client assigns its own ids");

    match client.call(&RequestFields::new(0, "queue.frobnicate")) {
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::UnknownOp), "{e}"),
        Ok(r) => panic!("{r:?}"),
    }
}

#[test]
fn a_timed_out_call_leaves_the_connection_usable() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<i64>("slow").unwrap();
    for _ in 0..3 {
        assert!(matches!(
            q.get_timeout(Duration::from_millis(20)),
            Err(Error::Timeout)
        ));
    }
    q.put(&5).unwrap();
    assert_eq!(q.get().unwrap(), 5);
    client.ping().unwrap();
}

#[test]
fn every_waiting_thread_learns_that_the_broker_died() {
    let mut broker = Broker::start();
    let client = broker.client();
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let q = client.queue::<i64>(&format!("w{i}")).unwrap();
            thread::spawn(move || q.get())
        })
        .collect();
    eventually("three waiters block", || {
        (0..3).all(|i| waiters_on(&broker.client(), &format!("queue.get w{i}")) == 1)
    });
    broker.kill();
    for w in waiters {
        assert!(
            matches!(w.join().unwrap(), Err(Error::Disconnected(_))),
            "a waiter was not told"
        );
    }
    assert!(matches!(client.ping(), Err(Error::Disconnected(_))));
}

/// The event-loop API exists on every OS but works on Linux only so far: elsewhere (Windows,
/// under Wine here) each call fails with a `Protocol` error that says so, and the blocking API
/// on the same client goes on working.
#[test]
fn the_event_loop_api_works_on_linux_and_says_so_elsewhere() {
    let broker = Broker::start();
    let client = broker.client();
    let q = client
        .raw_queue("evloop", Kind::Queue, QueueOptions::default())
        .unwrap();
    q.put(&[0x07], None).unwrap();
    let fd = client.event_fd();
    let ticket = q.start_get(Some(Duration::ZERO));
    if cfg!(target_os = "linux") {
        assert!(fd.unwrap() >= 0);
        let ticket = ticket.unwrap();
        let mut done = None;
        eventually("the started get completes", || {
            client.process().unwrap();
            done = client.take_completion(ticket);
            done.is_some()
        });
        done.unwrap().unwrap();
        q.put(&[0x08], None).unwrap();
    } else {
        for e in [fd.map(drop).unwrap_err(), ticket.map(drop).unwrap_err()] {
            assert!(matches!(e, Error::Protocol(_)), "{e:?}");
            assert!(e.to_string().contains("Linux only"), "{e}");
        }
        assert!(client.process().is_err());
        assert!(client.next_completion().is_none());
    }
    assert_eq!(q.get(None).unwrap().len(), 1);
}
