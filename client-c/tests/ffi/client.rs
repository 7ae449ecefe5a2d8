//! Connecting, admin calls, and what every call says once the broker is gone.

use std::ptr::{null, null_mut};

use crate::xproc_status_e::*;
use crate::xproc_value_type_e::*;
use crate::*;
use xproc_tests::Broker;

use super::{connect, fails, ok, read_i64, read_str, s, take_bytes, unmp};

#[test]
fn connect_ping_and_limits() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        ok(xproc_client_ping(c));
        let mut id = 0;
        ok(xproc_client_conn_id(c, &mut id));
        assert!(id > 0);
        let mut limits = xproc_limits_t::default();
        ok(xproc_client_limits(c, &mut limits));
        assert!(limits.max_frame > 0 && limits.max_clients > 0);
        xproc_client_free(c);
    }
}

#[test]
fn connect_as_names_the_client_and_its_language() {
    let broker = Broker::start();
    unsafe {
        let path = broker.socket().to_str().unwrap();
        let (p, n) = s(path);
        let (name, name_len) = s("sensor-reader");
        let (lang, lang_len) = s("python");
        let mut c = null_mut();
        ok(xproc_client_connect_as(
            p, n, name, name_len, lang, lang_len, 5000, &mut c,
        ));
        let mut v = null_mut();
        ok(xproc_client_clients(c, &mut v));
        let mut len = 0;
        ok(xproc_value_array_len(v, &mut len));
        assert_eq!(len, 1);
        let mut me = null();
        ok(xproc_value_array_get(v, 0, &mut me));
        let field = |k: &str| {
            let (kp, kn) = s(k);
            let mut f = null();
            ok(xproc_value_map_find(me, kp, kn, &mut f));
            f
        };
        assert_eq!(read_str(field("name")), "sensor-reader");
        assert_eq!(read_str(field("lang")), "python");
        assert_eq!(read_i64(field("pid")), std::process::id() as i64);
        assert_eq!(xproc_value_type(field("holds")), XPROC_VALUE_ARRAY);
        xproc_value_free(v);

        // The raw form is the same value as MessagePack.
        let (mut b, mut bn) = (null_mut(), 0);
        ok(xproc_client_clients_raw(c, &mut b, &mut bn));
        let raw = unmp(&take_bytes(b, bn));
        assert_eq!(raw[0]["lang"].as_str(), Some("python"));
        xproc_client_free(c);

        // The plain connect says "c". (The broker may list the client freed just above
        // until it has seen its socket close: ask again until it is gone.)
        let c = connect(&broker);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let langs = loop {
            let (mut b, mut bn) = (null_mut(), 0);
            ok(xproc_client_clients_raw(c, &mut b, &mut bn));
            let raw = unmp(&take_bytes(b, bn));
            let langs: Vec<_> = raw
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["lang"].clone())
                .collect();
            if langs.len() == 1 || std::time::Instant::now() > deadline {
                break langs;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert_eq!(langs, vec![rmpv::Value::from("c")]);
        xproc_client_free(c);
    }
}

#[test]
fn connect_to_nothing_is_no_broker() {
    unsafe {
        let (p, n) = s("/tmp/xproc-c-test-nothing-here.sock");
        let mut c = null_mut();
        let msg = fails(xproc_client_connect(p, n, 1000, &mut c), XPROC_NO_BROKER);
        assert!(msg.contains("nothing-here"), "{msg}");
        assert!(c.is_null());
        fails(
            xproc_client_connect(p, n, 1000, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
    }
}

#[test]
fn null_path_uses_the_default_endpoint() {
    let broker = Broker::start();
    // XPROC_SOCKET is how the default endpoint is found; this test binary's other tests pass
    // explicit paths, so setting it here affects nothing else.
    std::env::set_var("XPROC_SOCKET", broker.socket());
    unsafe {
        let mut c = null_mut();
        ok(xproc_client_connect(null(), 0, 5000, &mut c));
        ok(xproc_client_ping(c));
        xproc_client_free(c);
    }
}

#[test]
fn list_stat_and_delete() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("jobs");
        let mut q = null_mut();
        ok(xproc_queue_open(c, n, nl, 10, &mut q));
        ok(xproc_queue_put_raw(q, [0x07].as_ptr(), 1, 0));

        let mut v = null_mut();
        ok(xproc_client_list(c, &mut v));
        let (mut b, mut bn) = (null_mut(), 0);
        ok(xproc_client_list_raw(c, &mut b, &mut bn));
        let list = unmp(&take_bytes(b, bn));
        assert_eq!(list[0]["name"].as_str(), Some("jobs"));
        assert_eq!(list[0]["kind"].as_str(), Some("queue"));
        assert_eq!(list[0]["len"].as_u64(), Some(1));
        let mut len = 0;
        ok(xproc_value_array_len(v, &mut len));
        assert_eq!(len, 1);
        xproc_value_free(v);

        ok(xproc_client_stat(c, n, nl, &mut v));
        let (kp, kn) = s("kind");
        let mut kind = null();
        ok(xproc_value_map_find(v, kp, kn, &mut kind));
        assert_eq!(read_str(kind), "queue");
        let (kp, kn) = s("info");
        let mut info = null();
        ok(xproc_value_map_find(v, kp, kn, &mut info));
        assert_eq!(xproc_value_type(info), XPROC_VALUE_MAP);
        xproc_value_free(v);
        ok(xproc_client_stat_raw(c, n, nl, &mut b, &mut bn));
        let stat = unmp(&take_bytes(b, bn));
        assert_eq!(stat["kind"].as_str(), Some("queue"));

        let mut deleted = false;
        ok(xproc_client_delete(c, n, nl, &mut deleted));
        assert!(deleted);
        ok(xproc_client_delete(c, n, nl, &mut deleted));
        assert!(!deleted, "deleting a missing name is not an error");
        ok(xproc_client_delete(c, n, nl, null_mut()));
        fails(xproc_client_stat(c, n, nl, &mut v), XPROC_NOT_FOUND);
        assert!(v.is_null());
        // The handle outlives the object: the broker says it is gone.
        fails(
            xproc_queue_put_raw(q, [0x07].as_ptr(), 1, 0),
            XPROC_NOT_FOUND,
        );

        let (e, el) = s("");
        fails(xproc_client_stat(c, e, el, &mut v), XPROC_INVALID_NAME);
        let long = "x".repeat(300);
        let (e, el) = s(&long);
        let mut q2 = null_mut();
        fails(xproc_queue_open(c, e, el, -1, &mut q2), XPROC_INVALID_NAME);
        assert!(q2.is_null());
        let bad = [0xffu8];
        fails(
            xproc_client_delete(c, bad.as_ptr().cast(), 1, null_mut()),
            XPROC_INVALID_NAME,
        );
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn null_and_wrong_handles_are_refused() {
    let broker = Broker::start();
    unsafe {
        fails(xproc_client_ping(null()), XPROC_NULL_ARGUMENT);
        let mut id = 0;
        fails(xproc_client_conn_id(null(), &mut id), XPROC_NULL_ARGUMENT);
        let c = connect(&broker);
        fails(xproc_client_conn_id(c, null_mut()), XPROC_NULL_ARGUMENT);
        fails(xproc_client_limits(c, null_mut()), XPROC_NULL_ARGUMENT);
        fails(xproc_client_list(c, null_mut()), XPROC_NULL_ARGUMENT);
        let mut b = null_mut();
        fails(
            xproc_client_list_raw(c, &mut b, null_mut()),
            XPROC_NULL_ARGUMENT,
        );
        // A queue handle where a client is expected.
        let (n, nl) = s("q");
        let mut q = null_mut();
        ok(xproc_queue_open(c, n, nl, -1, &mut q));
        let msg = fails(xproc_client_ping(q.cast()), XPROC_INVALID_ARGUMENT);
        assert!(msg.contains("xproc_client_t"), "{msg}");
        // A client handle where a queue is expected.
        let mut len = 0;
        fails(
            xproc_queue_qsize(c.cast(), &mut len),
            XPROC_INVALID_ARGUMENT,
        );
        // Freeing the wrong type is refused, not a crash.
        xproc_queue_free(c.cast());
        ok(xproc_client_ping(c));
        // Freeing NULL is a no-op.
        xproc_client_free(null_mut());
        xproc_queue_free(null_mut());
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn handles_keep_their_client_alive() {
    let broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("kept");
        let mut q = null_mut();
        ok(xproc_queue_open(c, n, nl, -1, &mut q));
        xproc_client_free(c);
        ok(xproc_queue_put_raw(q, [0x01].as_ptr(), 1, 0));
        let mut len = 0;
        ok(xproc_queue_qsize(q, &mut len));
        assert_eq!(len, 1);
        xproc_queue_free(q);
    }
}

#[test]
fn a_broker_that_went_away_is_disconnected() {
    let mut broker = Broker::start();
    unsafe {
        let c = connect(&broker);
        let (n, nl) = s("q");
        let mut q = null_mut();
        ok(xproc_queue_open(c, n, nl, -1, &mut q));
        let (ln, ll) = s("l");
        let mut l = null_mut();
        ok(xproc_lock_open(c, ln, ll, &mut l));
        broker.kill();
        fails(xproc_client_ping(c), XPROC_DISCONNECTED);
        let (mut b, mut bn) = (null_mut(), 0);
        fails(
            xproc_queue_get_raw(q, -1, &mut b, &mut bn),
            XPROC_DISCONNECTED,
        );
        let mut acquired = true;
        fails(
            xproc_lock_acquire(l, 100, &mut acquired, null_mut()),
            XPROC_DISCONNECTED,
        );
        assert!(!acquired);
        let path = broker.socket().to_str().unwrap();
        let (p, pl) = s(path);
        let mut c2 = null_mut();
        fails(xproc_client_connect(p, pl, 1000, &mut c2), XPROC_NO_BROKER);
        xproc_lock_free(l);
        xproc_queue_free(q);
        xproc_client_free(c);
    }
}

#[test]
fn connect_with_an_authkey_over_tcp() {
    let dir = std::env::temp_dir().join(format!("xproc-ffi-tcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_path = dir.join("authkey");
    std::fs::write(&key_path, b"ffi-key\n").unwrap();
    xproc_tests::set_mode(&key_path, 0o600);
    let broker = Broker::start_with(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--authkey-file",
        key_path.to_str().unwrap(),
    ]);
    let log = broker.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("listening on TCP"))
        .unwrap();
    let addr = line[line.find("addr=").unwrap() + 5..]
        .split_whitespace()
        .next()
        .unwrap();
    let endpoint = format!("tcp://{addr}");
    unsafe {
        let (p, n) = s(&endpoint);
        let mut c = null_mut();
        let key = b"ffi-key";
        ok(xproc_client_connect_with(
            p,
            n,
            null(),
            0,
            null(),
            0,
            key.as_ptr(),
            key.len(),
            5000,
            &mut c,
        ));
        ok(xproc_client_ping(c));
        xproc_client_free(c);
        let wrong = b"ffi-kex";
        let mut c = null_mut();
        let msg = fails(
            xproc_client_connect_with(
                p,
                n,
                null(),
                0,
                null(),
                0,
                wrong.as_ptr(),
                wrong.len(),
                5000,
                &mut c,
            ),
            XPROC_DENIED,
        );
        assert!(msg.contains("wrong authkey"), "{msg}");
        assert!(c.is_null());
        // No key at all (this test never sets XPROC_AUTHKEY_FILE).
        let msg = fails(xproc_client_connect(p, n, 5000, &mut c), XPROC_DENIED);
        assert!(msg.contains("needs an authkey"), "{msg}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn connect_over_tls_with_the_ca_and_the_authkey() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("xproc-ffi-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let file = |name: &str, text: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p.to_str().unwrap().to_string()
    };
    let ca_path = file("ca.pem", ca.pem().as_bytes());
    let cert = file("broker.pem", leaf.pem().as_bytes());
    let key = file("broker.key", leaf_key.serialize_pem().as_bytes());
    let authkey = file("authkey", b"ffi-tls-key\n");
    let broker = Broker::start_with(&[
        "--listen",
        "tls://127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--authkey-file",
        &authkey,
    ]);
    let log = broker.log_text();
    let line = log.lines().find(|l| l.contains("with TLS")).unwrap();
    let addr = line[line.find("addr=").unwrap() + 5..]
        .split_whitespace()
        .next()
        .unwrap();
    let endpoint = format!("tls://{addr}");
    unsafe {
        let (p, n) = s(&endpoint);
        let (ca_p, ca_n) = s(&ca_path);
        let k = b"ffi-tls-key";
        let mut c = null_mut();
        ok(xproc_client_connect_tls(
            p,
            n,
            null(),
            0,
            null(),
            0,
            k.as_ptr(),
            k.len(),
            ca_p,
            ca_n,
            null(),
            0,
            5000,
            &mut c,
        ));
        ok(xproc_client_ping(c));
        xproc_client_free(c);
        // Another name than the certificate's: refused, saying why.
        let (sn, sn_n) = s("elsewhere.example");
        let mut c = null_mut();
        let msg = fails(
            xproc_client_connect_tls(
                p,
                n,
                null(),
                0,
                null(),
                0,
                k.as_ptr(),
                k.len(),
                ca_p,
                ca_n,
                sn,
                sn_n,
                5000,
                &mut c,
            ),
            XPROC_DENIED,
        );
        assert!(msg.contains("TLS handshake"), "{msg}");
        // No CA given and no XPROC_TLS_CA (this test never sets it).
        let msg = fails(
            xproc_client_connect_tls(
                p,
                n,
                null(),
                0,
                null(),
                0,
                k.as_ptr(),
                k.len(),
                null(),
                0,
                null(),
                0,
                5000,
                &mut c,
            ),
            XPROC_INVALID_ARGUMENT,
        );
        assert!(msg.contains("XPROC_TLS_CA"), "{msg}");
        assert!(c.is_null());
    }
    drop(broker);
    std::fs::remove_dir_all(&dir).unwrap();
}
