//! Admin ops (delete, list, stat, clients), limits, and the broker's lifecycle: a second
//! broker refused, shutdown on SIGTERM (on Windows, its stop event). The socket file's own
//! rules are in socket_file.rs (Unix only).

mod common;
use common::*;

use std::time::Duration;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn field<'a>(map: &'a Value, name: &str) -> &'a Value {
    map.as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_str() == Some(name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {map:?}"))
}

#[test]
fn delete_answers_blocked_requests_with_not_found() {
    let b = Broker::start();
    let mut g = b.client();
    let mut d = b.client();
    g.open("q", "queue").ok();
    let id = g.send_get("q", None);
    g.op("ping", "x").ok();
    assert!(d.op("delete", "q").ok().bool("deleted"));
    let r = g.recv();
    assert_eq!(r.id(), id);
    assert!(r.err("NotFound").contains("deleted"));
    assert!(!d.op("delete", "q").ok().bool("deleted"));
    g.get("q", Some(0)).err("NotFound");
    assert!(g.open("q", "dict").ok().bool("created"));
}

#[test]
fn list_stat_and_clients() {
    let b = Broker::start();
    let mut a = b.client();
    let mut w = b.client();
    a.open("tasks", "queue").ok();
    a.put("tasks", &enc(1), None).ok();
    a.put("tasks", &enc(2), None).ok();
    a.open("dev", "lock").ok();
    a.with_timeout("lock.acquire", "dev", None).ok();
    a.open("s", "semaphore").ok();
    a.open_with("chan", "pipe", |r| r.end = Some("a")).ok();
    w.open("empty", "queue").ok();
    w.send_get("empty", None);
    w.op("ping", "x").ok();

    let r = a.op("list", "x").ok();
    let objects = r.get("objects").unwrap().as_array().unwrap();
    let names: Vec<&str> = objects
        .iter()
        .map(|o| field(o, "name").as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["chan", "dev", "empty", "s", "tasks"]);
    let tasks = &objects[4];
    assert_eq!(field(tasks, "kind").as_str(), Some("queue"));
    assert_eq!(field(tasks, "len").as_u64(), Some(2));
    assert_eq!(field(&objects[2], "waiters").as_u64(), Some(1));

    let s = a.op("stat", "tasks").ok();
    assert_eq!(s.str("kind"), "queue");
    assert_eq!(s.info("len"), Value::from(2));
    assert_eq!(s.info("maxsize"), Value::from(0));
    let s = a.op("stat", "dev").ok();
    assert_eq!(s.info("holder_pid"), Value::from(std::process::id()));
    assert_eq!(s.info("holder_conn"), Value::from(a.conn_id));
    let s = a.op("stat", "chan").ok();
    assert_eq!(s.info("a_holder_pid"), Value::from(std::process::id()));
    assert_eq!(s.info("b_holder_pid"), Value::Nil);
    assert_eq!(s.info("duplex"), Value::from(true));
    a.op("stat", "missing").err("NotFound");

    let r = a.op("clients", "x").ok();
    let clients = r.get("clients").unwrap().as_array().unwrap();
    assert_eq!(clients.len(), 2);
    let me = clients
        .iter()
        .find(|c| field(c, "conn_id").as_u64() == Some(a.conn_id))
        .unwrap();
    assert_eq!(field(me, "pid").as_u64(), Some(std::process::id() as u64));
    // On Windows the uid is the RID of the user's SID (docs/SECURITY.md); only Unix has getuid.
    #[cfg(unix)]
    assert_eq!(
        field(me, "uid").as_u64(),
        Some(unsafe { libc::getuid() } as u64)
    );
    assert_eq!(field(me, "name").as_str(), Some("test"));
    assert_eq!(field(me, "lang").as_str(), Some("rust"));
    let mut holds = strings(field(me, "holds"));
    holds.sort();
    assert_eq!(holds, vec!["lock dev", "pipe chan/a"]);
    let other = clients
        .iter()
        .find(|c| field(c, "conn_id").as_u64() == Some(w.conn_id))
        .unwrap();
    assert_eq!(strings(field(other, "waits")), vec!["queue.get empty"]);
}

#[test]
fn max_objects_is_enforced() {
    let b = Broker::start_with(&["--max-objects", "2"]);
    let mut c = b.client();
    c.open("a", "queue").ok();
    c.open("b", "dict").ok();
    let m = c.open("c", "lock").err("LimitExceeded");
    assert!(m.contains("max_objects (2)"), "{m}");
    c.open("a", "queue").ok(); // reopening is fine
    c.op("delete", "a").ok();
    c.open("c", "lock").ok();
}

#[test]
fn max_clients_refuses_with_an_error_frame() {
    let b = Broker::start_with(&["--max-clients", "2"]);
    let mut c1 = b.client();
    let _c2 = b.client();
    let mut c3 = b.raw();
    let r = c3.recv();
    assert_eq!(r.id(), 0);
    assert!(r.err("LimitExceeded").contains("max_clients (2)"));
    c3.expect_eof();
    c1.op("ping", "x").ok();
}

#[test]
fn sigterm_answers_waiters_and_removes_the_socket() {
    let mut b = Broker::start();
    let mut g = b.client();
    let mut l = b.client();
    g.open("q", "queue").ok();
    let id = g.send_get("q", None);
    g.op("ping", "x").ok();
    l.open("lk", "lock").ok();
    g.with_timeout("lock.acquire", "lk", None).ok();
    let lid = l.send_with_timeout("lock.acquire", "lk", Some(60_000));
    l.op("ping", "x").ok();
    let status = b.terminate();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        b.log()
    );
    let r = g.recv();
    assert_eq!(r.id(), id);
    r.err("ShuttingDown");
    let r = l.recv();
    assert_eq!(r.id(), lid);
    r.err("ShuttingDown");
    g.expect_eof();
    assert!(!b.path.exists(), "socket file left behind");
}

#[test]
fn a_second_broker_on_a_live_socket_is_refused() {
    let b = Broker::start();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .arg("--socket")
        .arg(&b.path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already listening"), "{err}");
    b.client().op("ping", "x").ok();
}

/// Windows only (the socket path's limit is socket_file.rs's): a pipe name past Windows' 256
/// characters is refused at startup with a message naming the limit, not an OS error code.
#[cfg(windows)]
#[test]
fn a_pipe_name_too_long_is_refused_with_the_limit() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .arg("--pipe")
        .arg("x".repeat(300))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("309 characters; the limit is 256"), "{err}");
}

#[test]
fn condition_holder_disconnect_is_abandonment() {
    let b = Broker::start();
    let mut h = b.client();
    let mut w = b.client();
    h.open("c", "condition").ok();
    h.with_timeout("condition.acquire", "c", None).ok();
    let id = w.send_with_timeout("condition.acquire", "c", None);
    w.op("ping", "x").ok();
    drop(h);
    let r = w.recv().ok();
    assert_eq!(r.id(), id);
    assert!(r.bool("acquired"));
    assert_eq!(r.u64("abandoned_by"), std::process::id() as u64);
}

#[test]
fn a_client_that_stops_reading_does_not_stall_others() {
    let b = Broker::start_with(&["--output-soft-limit", "256K"]);
    let mut hog = b.client();
    hog.open("d", "dict").ok();
    let big = enc(Value::Binary(vec![1; 60_000]));
    let k = enc("k");
    hog.call(RequestFields {
        key: Some(Bytes::new(&k)),
        value: Some(Bytes::new(&big)),
        ..Client::req("dict.set", "d")
    })
    .ok();
    // Ask for the 60 KB value 300 times in one write without reading a reply: the broker
    // stops decoding this connection's frames once its output passes the soft limit, keeps
    // serving others meanwhile, and resumes as the client drains.
    let mut bytes = Vec::new();
    for _ in 0..300 {
        RequestFields {
            key: Some(Bytes::new(&k)),
            ..Client::req("dict.get", "d")
        }
        .encode_into(&mut bytes);
    }
    let writer = {
        let mut s = hog.stream.try_clone().unwrap();
        std::thread::spawn(move || std::io::Write::write_all(&mut s, &bytes).unwrap())
    };
    let mut other = b.client();
    other.op("ping", "x").ok();
    assert_eq!(other.op("dict.len", "d").ok().u64("len"), 1);
    for _ in 0..300 {
        let r = hog.recv().ok();
        assert_eq!(r.get("value").unwrap().as_slice().unwrap(), &big[..]);
    }
    writer.join().unwrap();
}

#[test]
fn a_client_past_the_hard_limit_is_disconnected() {
    let b = Broker::start_with(&["--output-soft-limit", "64K", "--output-hard-limit", "512K"]);
    let mut hog = b.client();
    let mut p = b.client();
    hog.open("q", "queue").ok();
    // 40 blocked gets; then 40 puts of 60 KB each are handed to it while it reads nothing.
    for _ in 0..40 {
        hog.send_get("q", None);
    }
    hog.op("ping", "x").ok();
    let big = enc(Value::Binary(vec![1; 60_000]));
    for _ in 0..40 {
        p.put("q", &big, None).ok();
    }
    p.op("ping", "x").ok();
    let start = std::time::Instant::now();
    while !b.log().contains("output hard limit") {
        assert!(start.elapsed().as_secs() < 5, "log:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        p.op("clients", "x")
            .ok()
            .get("clients")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
