//! TCP with an authkey (docs/PROTOCOL.md §1.2) against a real `xprocd`, byte by byte: the
//! handshake in both directions, and every way of getting it wrong — wrong key, no key,
//! garbage, a stall, a replayed transcript, a flood of handshakes, repeated failures — each
//! refused without affecting other clients. Brokers listen on `tcp://127.0.0.1:0` and the
//! tests read the port from the log, so tests never collide on a port.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use xproc_protocol::auth as wire;

const KEY: &[u8] = b"correct horse battery staple";

/// A broker with a TCP listener and the authkey `KEY`.
struct TcpBroker {
    b: Broker,
    addr: SocketAddr,
}

fn key_file(dir: &std::path::Path, key: &[u8]) -> PathBuf {
    let p = dir.join("authkey");
    std::fs::write(&p, key).unwrap();
    xproc_tests::set_mode(&p, 0o600);
    p
}

impl TcpBroker {
    fn start() -> TcpBroker {
        Self::start_at("tcp://127.0.0.1:0")
    }

    fn start_at(endpoint: &str) -> TcpBroker {
        let dir = temp_dir();
        let key = key_file(&dir, KEY);
        let path = xproc_tests::test_endpoint(&dir);
        let b = Broker::spawn_at(
            &dir,
            &path,
            &[
                "--listen",
                endpoint,
                "--authkey-file",
                key.to_str().unwrap(),
            ],
        );
        b.wait_ready();
        let addr = tcp_addr(&b);
        TcpBroker { b, addr }
    }
}

/// The TCP address the broker logged it listens on.
fn tcp_addr(b: &Broker) -> SocketAddr {
    let log = b.log();
    let line = log
        .lines()
        .find(|l| l.contains("listening on TCP"))
        .unwrap_or_else(|| panic!("no TCP listener in the log:\n{log}"));
    let at = line.find("addr=").expect("addr field") + 5;
    line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h)?;
    let mut p = vec![0u8; u32::from_be_bytes(h) as usize];
    s.read_exact(&mut p)?;
    Ok(p)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s
}

/// Connects from a given loopback source address (127.0.0.0/8 is all ours).
fn connect_from(addr: SocketAddr, from: &str) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    sock.connect(&addr.into()).unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s
}

/// Answers the challenge with `key`; returns the broker's third frame and the response sent.
fn answer(s: &mut TcpStream, key: &[u8]) -> (Vec<u8>, Vec<u8>, wire::Nonce, wire::Nonce) {
    let challenge = read_frame(s).unwrap();
    let nb = wire::parse_challenge(&challenge).expect("a challenge");
    let mut nc = [0u8; 32];
    getrandom::fill(&mut nc).unwrap();
    let mut resp = Vec::new();
    wire::response_frame(&mut resp, &nc, &wire::client_mac(key, &nb, &nc));
    s.write_all(&resp).unwrap();
    (read_frame(s).unwrap(), resp, nb, nc)
}

/// A raw client over TCP that has done the handshake and `hello`.
fn authed(addr: SocketAddr) -> TcpStream {
    authed_with(addr, KEY)
}

/// Like [`authed`], proving `key`.
fn authed_with(addr: SocketAddr, key: &[u8]) -> TcpStream {
    let mut s = connect(addr);
    let (welcome, _, nb, nc) = answer(&mut s, key);
    let tag = wire::parse_welcome(&welcome).expect("welcome");
    assert!(
        wire::verify_server(key, &nb, &nc, tag),
        "the broker proved the key"
    );
    let r = call(
        &mut s,
        RequestFields {
            version: Some(1),
            client: Some("tcp-test"),
            lang: Some("rust"),
            pid: Some(std::process::id()),
            ..RequestFields::new(1, "hello")
        },
    );
    assert!(r.error().is_none(), "{r:?}");
    s
}

fn call(s: &mut TcpStream, req: RequestFields) -> Reply {
    let mut out = Vec::new();
    req.encode_into(&mut out);
    s.write_all(&out).unwrap();
    loop {
        let p = read_frame(s).unwrap();
        if !p.is_empty() {
            return Reply(dec(&p));
        }
        // An empty frame is a heartbeat.
    }
}

fn put(s: &mut TcpStream, q: &str, v: i64) -> Reply {
    call(
        s,
        RequestFields {
            name: Some(q.into()),
            kind: Some("queue"),
            ..RequestFields::new(2, "open")
        },
    )
    .ok();
    call(
        s,
        RequestFields {
            name: Some(q.into()),
            value: Some(Bytes::new(&enc(v))),
            ..RequestFields::new(2, "queue.put")
        },
    )
}

fn refusal(s: &mut TcpStream, frame: Vec<u8>) -> Reply {
    let r = Reply(dec(&frame));
    let mut buf = [0u8; 1];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the broker to close after {r:?}, got {other:?}"),
    }
    r
}

#[test]
fn the_right_key_is_welcomed_and_the_broker_proves_it_too() {
    let t = TcpBroker::start();
    let mut s = authed(t.addr);
    put(&mut s, "q", 7).ok();
    // Local and remote clients see the same objects.
    let mut local = t.b.client();
    local.open("q", "queue").ok();
    assert_eq!(local.get("q", Some(0)).ok().value("value"), Value::from(7));
}

#[test]
fn a_wrong_key_is_denied_and_closed_and_others_go_on() {
    let t = TcpBroker::start();
    let mut good = authed(t.addr);
    let mut local = t.b.client();
    let mut s = connect(t.addr);
    let (third, ..) = answer(&mut s, b"not the key");
    let r = refusal(&mut s, third);
    assert!(r.err("Denied").contains("wrong authkey"), "{r:?}");
    put(&mut good, "q", 1).ok();
    local.open("q", "queue").ok();
    local.put("q", &enc(2), None).ok();
    assert!(t.b.log().contains("wrong authkey"));
}

#[test]
fn a_request_without_the_handshake_is_denied() {
    let t = TcpBroker::start();
    let mut s = connect(t.addr);
    read_frame(&mut s).unwrap();
    let mut hello = Vec::new();
    RequestFields {
        version: Some(1),
        ..RequestFields::new(1, "hello")
    }
    .encode_into(&mut hello);
    s.write_all(&hello).unwrap();
    let third = read_frame(&mut s).unwrap();
    let r = refusal(&mut s, third);
    assert!(r.err("Denied").contains("handshake response"), "{r:?}");
}

#[test]
fn garbage_before_the_handshake_is_denied() {
    let t = TcpBroker::start();
    let mut s = connect(t.addr);
    read_frame(&mut s).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let third = read_frame(&mut s).unwrap();
    refusal(&mut s, third).err("Denied");
    authed(t.addr);
}

#[test]
fn a_stalled_handshake_times_out() {
    let t = TcpBroker::start();
    let mut s = connect(t.addr);
    read_frame(&mut s).unwrap();
    // Half a response, then nothing.
    s.write_all(&[0, 0, 0, wire::RESPONSE_LEN as u8, b'#'])
        .unwrap();
    let start = Instant::now();
    let third = read_frame(&mut s).unwrap();
    let waited = start.elapsed();
    let r = refusal(&mut s, third);
    assert!(r.err("Denied").contains("within 5 s"), "{r:?}");
    assert!(waited >= Duration::from_secs(4), "closed after {waited:?}");
}

#[test]
fn a_replayed_transcript_is_denied() {
    let t = TcpBroker::start();
    let mut first = connect(t.addr);
    let (welcome, response, ..) = answer(&mut first, KEY);
    assert!(wire::parse_welcome(&welcome).is_some());
    // An eavesdropper replays the client's response on a connection of its own.
    let mut s = connect(t.addr);
    read_frame(&mut s).unwrap();
    s.write_all(&response).unwrap();
    let third = read_frame(&mut s).unwrap();
    refusal(&mut s, third).err("Denied");
}

#[test]
fn a_flood_of_handshakes_is_capped_and_others_go_on() {
    let t = TcpBroker::start();
    let mut good = authed(t.addr);
    // 100 connections from one address that never answer: past the per-address cap they are
    // refused at once; the broker keeps serving everyone else.
    let mut flood = Vec::new();
    let mut limited = 0;
    for _ in 0..100 {
        let mut s = connect_from(t.addr, "127.0.0.2");
        let first = read_frame(&mut s).unwrap();
        if wire::parse_challenge(&first).is_none() {
            assert!(Reply(dec(&first))
                .err("LimitExceeded")
                .contains("handshakes in progress"));
            limited += 1;
        }
        flood.push(s);
    }
    assert_eq!(limited, 100 - 8, "the per-address cap");
    put(&mut good, "q", 1).ok();
    let mut local = t.b.client();
    local.open("q", "queue").ok();
    local.put("q", &enc(2), None).ok();
    let mut other = authed(t.addr);
    put(&mut other, "q", 3).ok();
}

#[test]
fn repeated_failures_rate_limit_the_address_only() {
    let t = TcpBroker::start();
    for _ in 0..10 {
        let mut s = connect_from(t.addr, "127.0.0.3");
        let (third, ..) = answer(&mut s, b"guess");
        refusal(&mut s, third).err("Denied");
    }
    // Now even the right key is refused from there, before any challenge.
    let mut s = connect_from(t.addr, "127.0.0.3");
    let first = read_frame(&mut s).unwrap();
    let r = refusal(&mut s, first);
    assert!(
        r.err("Denied").contains("too many failed handshakes"),
        "{r:?}"
    );
    assert!(t.b.log().contains("rate-limiting address"), "{}", t.b.log());
    // Other addresses are not affected.
    put(&mut authed(t.addr), "q", 1).ok();
}

#[test]
fn an_idle_authenticated_link_gets_heartbeats() {
    let t = TcpBroker::start();
    let mut s = authed(t.addr);
    let start = Instant::now();
    let p = read_frame(&mut s).unwrap();
    assert!(p.is_empty(), "a heartbeat is an empty frame");
    assert!(start.elapsed() <= 2 * wire::HEARTBEAT_INTERVAL + Duration::from_secs(1));
}

#[test]
fn a_remote_clients_lock_is_released_when_it_goes() {
    let t = TcpBroker::start();
    let mut s = authed(t.addr);
    call(
        &mut s,
        RequestFields {
            name: Some("L".into()),
            kind: Some("lock"),
            ..RequestFields::new(2, "open")
        },
    )
    .ok();
    call(
        &mut s,
        RequestFields {
            name: Some("L".into()),
            ..RequestFields::new(3, "lock.acquire")
        },
    )
    .ok();
    let mut local = t.b.client();
    local.open("L", "lock").ok();
    let id = local.send(RequestFields {
        timeout_ms: Some(10_000),
        ..Client::req("lock.acquire", "L")
    });
    drop(s);
    let r = local.recv();
    assert_eq!(r.id(), id);
    assert!(r.error().is_none(), "{r:?}");
}

#[test]
fn tcp_needs_an_authkey_and_a_private_key_file() {
    let dir = temp_dir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
        .arg("--socket")
        .arg(xproc_tests::test_endpoint(&dir))
        .args(["--listen", "tcp://127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without an authkey"), "{err}");
    // Unix only: the broker checks key-file modes there (Windows files have ACLs instead).
    #[cfg(unix)]
    {
        let key = key_file(&dir, KEY);
        xproc_tests::set_mode(&key, 0o644);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
            .args(["--socket", dir.join("s.sock").to_str().unwrap()])
            .args(["--listen", "tcp://127.0.0.1:0"])
            .args(["--authkey-file", key.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("chmod 600"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn allow_addrs_limits_where_tcp_peers_come_from() {
    let dir = temp_dir();
    let key = key_file(&dir, KEY);
    let b = Broker::spawn_at(
        &dir,
        &xproc_tests::test_endpoint(&dir),
        &[
            "--listen",
            "tcp://127.0.0.1:0",
            "--authkey-file",
            key.to_str().unwrap(),
            "--allow-addr",
            "127.0.0.4/31",
        ],
    );
    b.wait_ready();
    let addr = tcp_addr(&b);
    // 127.0.0.5 is in 127.0.0.4/31: it gets the challenge.
    let mut inside = connect_from(addr, "127.0.0.5");
    assert!(wire::parse_challenge(&read_frame(&mut inside).unwrap()).is_some());
    let mut outside = connect_from(addr, "127.0.0.1");
    let first = read_frame(&mut outside).unwrap();
    let r = refusal(&mut outside, first);
    assert!(r.err("Denied").contains("allow_addrs"), "{r:?}");
}

/// `req` with `name` set.
fn named<'a>(op: &'a str, name: &'a str) -> RequestFields<'a> {
    RequestFields {
        name: Some(name.into()),
        ..RequestFields::new(9, op)
    }
}

#[test]
fn a_keys_rules_limit_it_to_its_names_and_say_which_rule_refused() {
    const WORKER: &[u8] = b"worker machine key";
    let dir = temp_dir();
    let default_key = key_file(&dir, KEY);
    let worker_key = dir.join("worker.key");
    std::fs::write(&worker_key, WORKER).unwrap();
    xproc_tests::set_mode(&worker_key, 0o600);
    let cfg = dir.join("xprocd.toml");
    // Paths go in TOML literal strings ('...'): a Windows path's backslashes are not escapes.
    std::fs::write(
        &cfg,
        format!(
            r#"
listen = ["tcp://127.0.0.1:0"]
authkey_file = '{}'

[keys.worker]
file = '{}'
read_write = ["tasks", "results.*"]
read_only = ["config"]
"#,
            default_key.display(),
            worker_key.display()
        ),
    )
    .unwrap();
    let b = Broker::spawn_at(
        &dir,
        &xproc_tests::test_endpoint(&dir),
        &["--config", cfg.to_str().unwrap()],
    );
    b.wait_ready();
    let addr = tcp_addr(&b);
    let mut local = b.client();
    local.open("config", "dict").ok();
    local.open("secrets", "queue").ok();

    let mut w = authed_with(addr, WORKER);
    // Its own queues: created, written, read.
    assert!(put(&mut w, "tasks", 1).error().is_none());
    assert!(put(&mut w, "results.7", 49).error().is_none());
    let r = call(&mut w, named("queue.get", "tasks"));
    assert_eq!(r.value("value"), rmpv::Value::from(1), "{r:?}");
    // A read-only name: opened and read, never changed.
    call(
        &mut w,
        RequestFields {
            kind: Some("dict"),
            ..named("open", "config")
        },
    )
    .ok();
    call(&mut w, named("dict.len", "config")).ok();
    let r = call(
        &mut w,
        RequestFields {
            key: Some(Bytes::new(&enc("k"))),
            value: Some(Bytes::new(&enc(1))),
            ..named("dict.set", "config")
        },
    );
    let m = r.err("Denied");
    assert!(
        m.contains("may only read 'config'") && m.contains("read_only pattern \"config\""),
        "{m}"
    );
    // Any other name: refused, naming the key's patterns; creating one too.
    for (op, name) in [
        ("queue.get", "secrets"),
        ("stat", "secrets"),
        ("delete", "config"),
    ] {
        let r = call(&mut w, named(op, name));
        let m = r.err("Denied");
        assert!(m.contains("key 'worker'"), "{op}: {m}");
    }
    let r = call(
        &mut w,
        RequestFields {
            kind: Some("queue"),
            ..named("open", "elsewhere")
        },
    );
    let m = r.err("Denied");
    assert!(
        m.contains("no pattern of [keys.worker] matches it")
            && m.contains(r#"read_write = ["tasks", "results.*"]"#),
        "{m}"
    );
    // Listing every object or client is for unrestricted keys.
    for op in ["list", "clients"] {
        let r = call(&mut w, RequestFields::new(9, op));
        assert!(r.err("Denied").contains("may not"), "{op}: {r:?}");
    }
    // A refusal refuses one request: the connection goes on.
    assert!(put(&mut w, "tasks", 2).error().is_none());
    // Nothing the refusals named was created or changed.
    local.call(Client::req("queue.qsize", "secrets")).ok();
    assert!(local
        .call(Client::req("stat", "elsewhere"))
        .err("NotFound")
        .contains("elsewhere"));
    let r = local.call(Client::req("dict.len", "config")).ok();
    assert_eq!(r.u64("len"), 0, "{r:?}");

    // The default key keeps full access, and `clients` tells the two apart.
    let mut full = authed(addr);
    call(&mut full, named("queue.get", "tasks")).ok();
    call(&mut full, RequestFields::new(9, "list")).ok();
    let r = local.call(RequestFields::new(0, "clients")).ok();
    let keys: Vec<String> = r
        .get("clients")
        .and_then(|c| c.as_array())
        .unwrap()
        .iter()
        .filter_map(|c| {
            c.as_map()?
                .iter()
                .find(|(k, _)| k.as_str() == Some("key"))
                .and_then(|(_, v)| v.as_str().map(String::from))
        })
        .collect();
    assert!(
        keys.contains(&"worker".to_string()) && keys.contains(&"default".to_string()),
        "{keys:?}"
    );
}

#[test]
fn keys_must_be_distinct_and_not_named_default() {
    let dir = temp_dir();
    let default_key = key_file(&dir, KEY);
    let same = dir.join("same.key");
    std::fs::copy(&default_key, &same).unwrap();
    xproc_tests::set_mode(&same, 0o600);
    for (table, want) in [
        (
            "[keys.w]\nfile = 'SAME'\nread_write = [\"*\"]",
            "have the same secret",
        ),
        (
            "[keys.default]\nfile = 'SAME'\nread_write = [\"*\"]",
            "'default' is the name",
        ),
        ("[keys.w]\nfile = 'SAME'", "grants nothing"),
    ] {
        let cfg = dir.join("bad.toml");
        std::fs::write(
            &cfg,
            format!(
                "listen = [\"tcp://127.0.0.1:0\"]\nauthkey_file = '{}'\n{}\n",
                default_key.display(),
                table.replace("SAME", same.to_str().unwrap())
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_xprocd"))
            .arg("--socket")
            .arg(xproc_tests::test_endpoint(&dir))
            .args(["--config", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{table}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{table}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
