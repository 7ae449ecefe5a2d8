//! Pipes across processes, against a real xprocd: ping-pong in order, end of file on close and
//! on kill, end ownership, capacity, one-way pipes.

use std::time::Duration;

use serde_json::json;
use xproc::{End, Error, PipeOptions};
use xproc_tests::{Broker, ROUNDS};

const PIPE: &str = env!("CARGO_BIN_EXE_pipe_worker");

#[test]
fn ten_thousand_messages_ping_pong_between_two_processes_in_order() {
    let broker = Broker::start();
    let echo = broker.worker(PIPE, &["echo", "pp", "b"]);
    // (ROUNDS: 10,000 but under Windows.)
    let ping = broker.worker(PIPE, &["ping", "pp", "a", &ROUNDS.to_string()]);
    let out: serde_json::Value = ping.finish_json();
    assert_eq!(out, json!({ "rounds": ROUNDS }));
    // The pinger closed its end, so the echoer saw end of file after the last message.
    let out: serde_json::Value = echo.finish_json();
    assert_eq!(out, json!({ "echoed": ROUNDS }));
}

#[test]
fn closing_an_end_delivers_what_is_left_then_end_of_file() {
    let broker = Broker::start();
    let client = broker.client();
    // Messages sent before the other end is first opened are kept.
    let a = client.pipe::<i64>("feed", End::A).unwrap();
    for i in 0..3 {
        a.send(&i).unwrap();
    }
    let reader = broker.worker(PIPE, &["recv-all", "feed", "b"]);
    a.send(&3).unwrap();
    a.close().unwrap();
    let got: Vec<i64> = reader.finish_json();
    assert_eq!(got, [0, 1, 2, 3]);
}

#[test]
fn a_killed_sender_is_end_of_file_after_its_messages() {
    let broker = Broker::start();
    let client = broker.client();
    let b = client.pipe::<i64>("wire", End::B).unwrap();
    let mut sender = broker.worker(PIPE, &["send", "wire", "a", "5", "hang"]);
    let mut got = Vec::new();
    while got.len() < 5 {
        got.push(b.recv_timeout(Duration::from_secs(30)).unwrap());
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    sender.kill();
    assert!(matches!(b.recv(), Err(Error::Closed(_))));
    assert!(
        b.poll(Duration::ZERO).unwrap(),
        "poll reports end of file as ready"
    );
    assert!(matches!(b.send(&1), Err(Error::Closed(_))));
}

#[test]
fn each_end_has_one_holder_and_the_name_is_free_after_both_are_released() {
    let broker = Broker::start();
    let (c1, c2) = (broker.client(), broker.client());
    let a = c1.pipe::<String>("p", End::A).unwrap();
    match c2.pipe::<String>("p", End::A) {
        Err(Error::Busy(m)) => assert!(m.contains(&std::process::id().to_string()), "{m}"),
        other => panic!("{other:?}"),
    }
    let b = c2.pipe::<String>("p", End::B).unwrap();
    a.send(&"x".into()).unwrap();
    assert_eq!(b.recv().unwrap(), "x");
    b.send(&"y".into()).unwrap();
    assert_eq!(a.recv().unwrap(), "y");
    a.close().unwrap();
    b.close().unwrap();

    // A fresh pipe under the same name.
    let a = c1.pipe::<String>("p", End::A).unwrap();
    let b = c2.pipe::<String>("p", End::B).unwrap();
    assert!(!b.poll(Duration::ZERO).unwrap());
    a.send(&"fresh".into()).unwrap();
    assert!(b.poll(Duration::from_secs(5)).unwrap());
    assert_eq!(b.try_recv().unwrap(), "fresh");
}

#[test]
fn capacity_and_one_way_pipes() {
    let broker = Broker::start();
    let client = broker.client();
    let opts = PipeOptions {
        duplex: Some(false),
        capacity: Some(2),
    };
    let a = client.pipe_with::<i64>("oneway", End::A, opts).unwrap();
    let b = client.pipe_with::<i64>("oneway", End::B, opts).unwrap();
    assert!(!a.raw().duplex());
    assert_eq!(a.raw().capacity(), 2);
    a.try_send(&1).unwrap();
    a.send_timeout(&2, Duration::from_secs(5)).unwrap();
    assert!(matches!(a.try_send(&3), Err(Error::Full)));
    assert!(matches!(
        a.send_timeout(&3, Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert!(matches!(b.send(&9), Err(Error::InvalidArgument(_))));
    assert_eq!(b.recv().unwrap(), 1);
    assert_eq!(b.recv().unwrap(), 2);
    assert!(matches!(b.try_recv(), Err(Error::Empty)));
    assert!(matches!(
        b.recv_timeout(Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
}
