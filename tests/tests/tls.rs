//! `tls://` endpoints (docs/SECURITY.md §7) against a real `xprocd --listen tls://127.0.0.1:0
//! --tls-cert --tls-key --authkey-file`, with a CA and a broker certificate made here by
//! rcgen: the Rust client and the CLI through TLS and the authkey; a value far larger than
//! the socket buffers (the broker's partial TLS writes); a client that trusts another CA, or
//! expects another name, refused; the authkey still required on top; a plain `tcp://` client
//! at a TLS port gets an error, not a hang. Runs on Windows too (under Wine), but for the
//! key file's mode check, which is Unix-only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use xproc::{Client, ConnectOptions, Error};
use xproc_tests::Broker;

const KEY: &[u8] = b"tls-test-authkey";

/// A CA, a broker certificate for `localhost` and 127.0.0.1 signed by it, the broker's key
/// (mode 0600), a second unrelated CA, and the authkey file, in a directory removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "xproc-tls-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = |name: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            let key = KeyPair::generate().unwrap();
            (p.self_signed(&key).unwrap(), key)
        };
        let (ca_cert, ca_key) = ca("xproc test CA");
        let (other_ca, _) = ca("someone else's CA");
        let leaf =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
        let write = |name: &str, text: &[u8], mode: u32| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            xproc_tests::set_mode(&p, mode);
        };
        write("ca.pem", ca_cert.pem().as_bytes(), 0o644);
        write("other-ca.pem", other_ca.pem().as_bytes(), 0o644);
        write("broker.pem", leaf_cert.pem().as_bytes(), 0o644);
        write("broker.key", leaf_key.serialize_pem().as_bytes(), 0o600);
        write("authkey", KEY, 0o600);
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// A broker listening on tls://127.0.0.1:0, and its tls:// endpoint.
    fn broker(&self) -> (Broker, String) {
        let b = Broker::start_with(&[
            "--listen",
            "tls://127.0.0.1:0",
            "--tls-cert",
            &self.path("broker.pem"),
            "--tls-key",
            &self.path("broker.key"),
            "--authkey-file",
            &self.path("authkey"),
        ]);
        let log = b.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("listening on TCP with TLS"))
            .unwrap_or_else(|| panic!("no TLS listener in the log:\n{log}"));
        let at = line.find("addr=").unwrap() + 5;
        let addr = line[at..].split_whitespace().next().unwrap().to_string();
        (b, format!("tls://{addr}"))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn connect(endpoint: &str, ca: &str, key: &[u8], name: Option<&str>) -> xproc::Result<Client> {
    Client::connect_with(ConnectOptions {
        path: Some(endpoint.into()),
        authkey: Some(key.to_vec()),
        tls_ca: Some(Path::new(ca).to_path_buf()),
        tls_server_name: name.map(String::from),
        ..ConnectOptions::default()
    })
}

#[test]
fn a_tls_client_with_the_ca_and_the_key_shares_objects_with_local_ones() {
    let pki = Pki::new();
    let (b, endpoint) = pki.broker();
    let remote = connect(&endpoint, &pki.path("ca.pem"), KEY, None).unwrap();
    let q = remote.queue::<i64>("tasks").unwrap();
    q.put(&7).unwrap();
    let local = b.client();
    assert_eq!(
        local
            .queue::<i64>("tasks")
            .unwrap()
            .get_timeout(Duration::from_secs(5))
            .unwrap(),
        7
    );
    // A value far larger than the socket buffers: the broker's TLS writes come out in pieces.
    let big = client_bytes(4 << 20);
    let bq = remote.queue::<serde_bytes::ByteBuf>("big").unwrap();
    for _ in 0..2 {
        if let Err(e) = bq.put(&serde_bytes::ByteBuf::from(big.clone())) {
            panic!("a 4 MiB put over TLS: {e}\nbroker log:\n{}", b.log_text());
        }
    }
    for _ in 0..2 {
        assert!(bq.get_timeout(Duration::from_secs(20)).unwrap().as_ref() == big.as_slice());
    }
    // A blocking get through TLS survives heartbeats arriving meanwhile.
    let t = std::thread::spawn(move || q.get_timeout(Duration::from_secs(20)));
    std::thread::sleep(2 * xproc::protocol::auth::HEARTBEAT_INTERVAL + Duration::from_secs(1));
    local.queue::<i64>("tasks").unwrap().put(&8).unwrap();
    assert_eq!(t.join().unwrap().unwrap(), 8);
    // The name given instead of the host, and the CA from the environment, through the CLI.
    assert!(connect(&endpoint, &pki.path("ca.pem"), KEY, Some("localhost")).is_ok());
    let out = std::process::Command::new(xproc_tests::cli_exe())
        .args(["--socket", &endpoint, "put", "tasks", "9"])
        .env(xproc::AUTHKEY_FILE_ENV, pki.path("authkey"))
        .env(xproc::TLS_CA_ENV, pki.path("ca.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        local
            .queue::<i64>("tasks")
            .unwrap()
            .get_timeout(Duration::from_secs(5))
            .unwrap(),
        9
    );
    // The CLI's flags do the same (and win over the environment): --tls-ca takes the CA,
    // --tls-server-name a name the certificate does not carry is refused with status 1.
    let cli = |extra: &[&str]| {
        std::process::Command::new(xproc_tests::cli_exe())
            .args(["--socket", &endpoint])
            .args(extra)
            .env(xproc::AUTHKEY_FILE_ENV, pki.path("authkey"))
            .env(xproc::TLS_CA_ENV, pki.path("other-ca.pem"))
            .output()
            .unwrap()
    };
    let ca = pki.path("ca.pem");
    let ca = ca.as_str();
    let out = cli(&["--tls-ca", ca, "put", "tasks", "10"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "--tls-ca",
        ca,
        "--tls-server-name",
        "broker.example",
        "ping",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS handshake"));
    assert_eq!(
        local
            .queue::<i64>("tasks")
            .unwrap()
            .get_timeout(Duration::from_secs(5))
            .unwrap(),
        10
    );
}

fn client_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn the_wrong_ca_the_wrong_name_or_the_wrong_key_is_refused() {
    let pki = Pki::new();
    let (_b, endpoint) = pki.broker();
    match connect(&endpoint, &pki.path("other-ca.pem"), KEY, None) {
        Err(Error::Denied(m)) => assert!(
            m.contains("TLS handshake") && m.contains("certificate"),
            "{m}"
        ),
        other => panic!("expected Denied, got {:?}", other.map(|_| ())),
    }
    match connect(&endpoint, &pki.path("ca.pem"), KEY, Some("broker.example")) {
        Err(Error::Denied(m)) => assert!(m.contains("TLS handshake"), "{m}"),
        other => panic!("expected Denied, got {:?}", other.map(|_| ())),
    }
    // TLS is on top of the authkey, not instead of it.
    match connect(&endpoint, &pki.path("ca.pem"), b"not the key", None) {
        Err(Error::Denied(m)) => assert!(m.contains("wrong authkey"), "{m}"),
        other => panic!("expected Denied, got {:?}", other.map(|_| ())),
    }
    // No CA at all: a clear error before any connection.
    assert!(std::env::var_os(xproc::TLS_CA_ENV).is_none());
    let r = Client::connect_with(ConnectOptions {
        path: Some(endpoint.clone().into()),
        authkey: Some(KEY.to_vec()),
        ..ConnectOptions::default()
    });
    match r {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("XPROC_TLS_CA"), "{m}"),
        other => panic!("expected InvalidArgument, got {:?}", other.map(|_| ())),
    }
    // A plaintext client at the TLS port: an error within the handshake timeout, no hang.
    let plain = endpoint.replacen("tls://", "tcp://", 1);
    let start = Instant::now();
    let r = Client::connect_with(ConnectOptions {
        path: Some(plain.into()),
        authkey: Some(KEY.to_vec()),
        connect_timeout: Duration::from_secs(10),
        ..ConnectOptions::default()
    });
    assert!(r.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(9),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn tls_flags_must_go_together_and_the_key_must_be_private() {
    let pki = Pki::new();
    let run = |args: &[&str]| {
        std::process::Command::new(xproc_tests::xprocd_exe())
            .args([
                "--socket",
                xproc_tests::test_endpoint(&pki.dir).to_str().unwrap(),
                "--authkey-file",
                &pki.path("authkey"),
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--listen", "tls://127.0.0.1:0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --tls-cert"));
    let out = run(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--tls-cert",
        &pki.path("broker.pem"),
        "--tls-key",
        &pki.path("broker.key"),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tls:// endpoint"));
    if !cfg!(unix) {
        return; // Windows keys have no mode bits; their ACL is not checked (SECURITY.md §8)
    }
    xproc_tests::set_mode(&pki.dir.join("broker.key"), 0o644);
    let out = run(&[
        "--listen",
        "tls://127.0.0.1:0",
        "--tls-cert",
        &pki.path("broker.pem"),
        "--tls-key",
        &pki.path("broker.key"),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn garbage_at_a_tls_port_counts_as_failed_handshakes() {
    use std::io::{Read, Write};
    let pki = Pki::new();
    let (b, endpoint) = pki.broker();
    let addr = endpoint.trim_start_matches("tls://").to_string();
    // Each is a failed TLS handshake: the broker answers with an alert (or nothing) and closes.
    for _ in 0..10 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    // Now this address is refused before any handshake, even with the right CA and key.
    xproc_tests::eventually("the address is rate-limited", || {
        b.log_text().contains("rate-limiting address")
    });
    assert!(connect(&endpoint, &pki.path("ca.pem"), KEY, None).is_err());
    // Local clients are not affected.
    b.client().queue::<i64>("still").unwrap().put(&1).unwrap();
}
