//! Started (event-loop) pipe calls on a direct end (docs/PROTOCOL.md §6.5.1, docs/ASYNC.md):
//! the broker no longer carries the pipe's messages, so a started `recv`, `send` or `poll`
//! is done on the end's socket — at once when it need not wait, else by the client while the
//! loop goes on — and still completes exactly once, takes nothing when cancelled, and keeps
//! the inbox bound. A started call the broker answers `direct` (the pipe switched while it
//! waited at the broker) is redone on the socket under the same ticket.

// Direct pipes and the event-loop descriptor exist on Linux only.
#![cfg(target_os = "linux")]

use std::time::Duration;

use xproc::{Client, End, Error, PipeOptions, RawPipe};
use xproc_tests::{eventually, Broker};

const SECOND: Option<Duration> = Some(Duration::from_secs(1));

fn pipe(client: &Client, name: &str, end: End) -> RawPipe {
    let options = PipeOptions {
        capacity: Some(4),
        ..Default::default()
    };
    RawPipe::open(client, name, end, options).unwrap()
}

/// Two clients holding the two ends of `name`, the pipe running direct for both.
fn direct_pair(broker: &Broker, name: &str) -> (Client, RawPipe, Client, RawPipe) {
    let ca = Client::connect(broker.socket()).unwrap();
    let cb = Client::connect(broker.socket()).unwrap();
    let a = pipe(&ca, name, End::A);
    let b = pipe(&cb, name, End::B);
    // The broker hands each end its socket with the answer to its next pipe call.
    a.send(&[1], SECOND).unwrap();
    assert_eq!(b.recv(SECOND).unwrap(), vec![1]);
    b.send(&[2], SECOND).unwrap();
    assert_eq!(a.recv(SECOND).unwrap(), vec![2]);
    assert!(a.is_direct() && b.is_direct(), "the pipe runs direct");
    (ca, a, cb, b)
}

/// Waits for started request `ticket` of `client` to complete, the way a loop would.
fn complete(client: &Client, ticket: u64) -> xproc::Result<xproc::Reply> {
    client.event_fd().unwrap();
    let mut out = None;
    eventually("the started call to complete", || {
        client.process().unwrap();
        out = client.take_completion(ticket);
        out.is_some()
    });
    out.unwrap()
}

fn value(reply: xproc::Result<xproc::Reply>) -> Vec<u8> {
    let reply = reply.unwrap();
    reply.fields().unwrap().value.unwrap().to_vec()
}

#[test]
fn a_started_recv_on_a_direct_end_gets_the_next_message() {
    let broker = Broker::start();
    let (_ca, a, cb, b) = direct_pair(&broker, "p");
    // Nothing waits: the call is carried until a message comes.
    let ticket = b.start_recv(None).unwrap();
    cb.process().unwrap();
    assert!(!cb.has_completion(ticket), "nothing was sent yet");
    a.send(&[7], SECOND).unwrap();
    assert_eq!(value(complete(&cb, ticket)), vec![7]);
    // A message already there completes the call at once.
    a.send(&[8], SECOND).unwrap();
    eventually("the message to be buffered", || {
        b.poll(Duration::ZERO).unwrap()
    });
    let ticket = b.start_recv(Some(Duration::ZERO)).unwrap();
    assert_eq!(value(complete(&cb, ticket)), vec![8]);
    // Not waiting, nothing there: Empty.
    let ticket = b.start_recv(Some(Duration::ZERO)).unwrap();
    assert!(matches!(complete(&cb, ticket), Err(Error::Empty)));
    // Waiting a while, nothing there: Timeout.
    let ticket = b.start_recv(Some(Duration::from_millis(50))).unwrap();
    assert!(matches!(complete(&cb, ticket), Err(Error::Timeout)));
}

#[test]
fn a_cancelled_started_recv_on_a_direct_end_takes_nothing() {
    let broker = Broker::start();
    let (_ca, a, cb, b) = direct_pair(&broker, "p");
    let tickets: Vec<u64> = (0..20).map(|_| b.start_recv(None).unwrap()).collect();
    for &t in &tickets {
        cb.cancel(t).unwrap();
    }
    for &t in &tickets {
        assert!(matches!(complete(&cb, t), Err(Error::Timeout)));
    }
    a.send(&[9], SECOND).unwrap();
    assert_eq!(
        b.recv(SECOND).unwrap(),
        vec![9],
        "the message waited for a real recv"
    );
}

#[test]
fn a_started_send_on_a_direct_end_keeps_the_inbox_bound() {
    let broker = Broker::start();
    let (ca, a, cb, b) = direct_pair(&broker, "p");
    for n in 0..4 {
        a.send(&[n], SECOND).unwrap();
    }
    // Full: not waiting, refused; waiting, it goes once the reader takes one.
    let ticket = a.start_send(&[4], Some(Duration::ZERO)).unwrap();
    assert!(matches!(complete(&ca, ticket), Err(Error::Full)));
    let ticket = a.start_send(&[4], None).unwrap();
    ca.process().unwrap();
    assert!(!ca.has_completion(ticket), "the inbox is full");
    assert_eq!(b.recv(SECOND).unwrap(), vec![0]);
    complete(&ca, ticket).unwrap();
    let got: Vec<u8> = (0..4).map(|_| b.recv(SECOND).unwrap()[0]).collect();
    assert_eq!(got, vec![1, 2, 3, 4], "in order, each once");
    // A started poll sees the next one.
    let ticket = b.start_poll(Duration::from_secs(5)).unwrap();
    a.send(&[5], SECOND).unwrap();
    let reply = complete(&cb, ticket);
    assert_eq!(reply.unwrap().fields().unwrap().ready, Some(true));
}

#[test]
fn a_started_recv_the_broker_answers_direct_is_redone_on_the_socket() {
    let broker = Broker::start();
    let cb = Client::connect(broker.socket()).unwrap();
    let b = pipe(&cb, "p", End::B);
    // Waiting at the broker: the pipe is brokered, the other end not held yet.
    let ticket = b.start_recv(None).unwrap();
    cb.process().unwrap();
    assert!(!cb.has_completion(ticket));
    let ca = Client::connect(broker.socket()).unwrap();
    let a = pipe(&ca, "p", End::A);
    // The pipe switches now; the waiting recv is answered `direct` and redone on the socket.
    a.send(&[3], SECOND).unwrap();
    assert_eq!(value(complete(&cb, ticket)), vec![3]);
    assert!(a.is_direct(), "the sender runs direct");
    assert!(b.is_direct(), "the started call installed the socket");
    a.send(&[4], SECOND).unwrap();
    assert_eq!(b.recv(SECOND).unwrap(), vec![4]);
}
