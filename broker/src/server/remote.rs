//! The event loop's TCP side: the `--listen` listeners, admitting TCP peers (rate limit,
//! handshake caps), running each one's handshake before any of its frames is read as a
//! request, the handshake timeout, and the heartbeat (docs/PROTOCOL.md §1.2).
//!
//! A TCP connection is a [`Connection`] like any other, in the state "authenticating"
//! (`auth` is `Some`) until its key is proved; only then does the broker open a session for
//! it, so an unauthenticated peer can touch nothing. Closing one, for whatever reason, goes
//! through the same `close`/`reap` path as a local connection, which is what releases a dead
//! remote worker's locks, permits and leases.

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};
use xproc_protocol::auth::{MAX_HANDSHAKE_FRAME, NONCE_LEN};
use xproc_protocol::frame::{self, Check, HEADER_LEN};
use xproc_protocol::{auth::HEARTBEAT_INTERVAL, ErrorCode, ReplyFields};

use super::{Server, FIRST_CONN};
use crate::access::Rules;
use crate::auth::{self, Failures, Handshake, Key};
use crate::config::Config;
use crate::connection::{self, Close, Connection, Remote};
use crate::state::{ConnKey, Outbox, PeerCred};
use crate::transport::tcp::{self, TcpListener};
use crate::transport::tls;
use crate::transport::Link;
use crate::Error;

/// How often the loop wakes to expire handshakes while any is in progress: their timeout is
/// enforced to within this.
const HANDSHAKE_TICK: Duration = Duration::from_millis(250);

/// The credentials a TCP session carries: no pid (the `hello` pid stands in) and uid/gid
/// `u32::MAX` (-1, nobody), never 0, which would read as root.
const REMOTE_PEER: PeerCred = PeerCred {
    pid: 0,
    uid: u32::MAX,
    gid: u32::MAX,
};

/// Listener `i` is registered as `Token(usize::MAX - i)`, far above any connection's token.
fn listener_token(i: usize) -> Token {
    Token(usize::MAX - i)
}

/// The TCP listeners, the keys and the bookkeeping of handshakes.
#[derive(Debug, Default)]
pub(super) struct Tcp {
    listeners: Vec<TcpListener>,
    /// For each listener, its TLS configuration if it is a `tls://` one.
    tls: Vec<Option<Arc<rustls::ServerConfig>>>,
    keys: Vec<Key>,
    /// The rules of each restricted key (`[keys.NAME]`), by name; the `default` key has none.
    rules: HashMap<Rc<str>, Rc<Rules>>,
    failures: Failures,
    /// Handshakes in progress, in all and by address.
    pending: usize,
    pending_by_addr: HashMap<IpAddr, usize>,
    /// TCP connections open (authenticating or not).
    live: usize,
    next_heartbeat: Option<Instant>,
}

impl Tcp {
    /// Binds every `--listen` endpoint and loads the authkey (config validation made sure
    /// there is one when there are endpoints). No endpoints: nothing, and no TCP at all.
    pub(super) fn bind(config: &Config, registry: &Registry) -> Result<Tcp, Error> {
        let mut t = Tcp::default();
        if config.listen.is_empty() {
            return Ok(t);
        }
        if let Some(path) = &config.authkey_file {
            t.keys.push(auth::load_key("default", path)?);
        }
        for k in &config.keys {
            let key = auth::load_key(&k.rules.key, &k.file)?;
            t.rules.insert(key.name.clone(), Rc::new(k.rules.clone()));
            t.keys.push(key);
        }
        auth::check_distinct(&t.keys)?;
        let tls_config = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
            _ => None,
        };
        for endpoint in &config.listen {
            let fail = |message: String| Error::Listen {
                endpoint: endpoint.clone(),
                message,
            };
            let tls = endpoint
                .starts_with(tcp::TLS_SCHEME)
                .then(|| tls_config.clone())
                .flatten();
            for addr in tcp::parse_endpoint(endpoint).map_err(fail)? {
                let mut l = TcpListener::bind(addr).map_err(|e| fail(e.to_string()))?;
                l.register(registry, listener_token(t.listeners.len()))
                    .map_err(Error::Poll)?;
                if tls.is_some() {
                    tracing::info!(addr = %l.addr, "listening on TCP with TLS (authkey required)");
                } else {
                    tracing::info!(addr = %l.addr, "listening on TCP (authkey required)");
                }
                t.listeners.push(l);
                t.tls.push(tls.clone());
            }
        }
        Ok(t)
    }

    /// Which listener a token is, if it is one.
    pub(super) fn listener_of(&self, token: Token) -> Option<usize> {
        let i = usize::MAX - token.0;
        (i < self.listeners.len()).then_some(i)
    }

    /// The addresses listened on (for tests and the startup log).
    pub(super) fn addrs(&self) -> Vec<std::net::SocketAddr> {
        self.listeners.iter().map(|l| l.addr).collect()
    }

    /// When the loop must wake for TCP's sake: the next heartbeat round, sooner while a
    /// handshake may time out.
    pub(super) fn next_deadline(&self, now: Instant) -> Option<Instant> {
        if self.live == 0 {
            return None;
        }
        let hb = self.next_heartbeat.unwrap_or(now + HEARTBEAT_INTERVAL);
        Some(if self.pending > 0 {
            hb.min(now + HANDSHAKE_TICK)
        } else {
            hb
        })
    }

    /// Stops listening (shutdown).
    pub(super) fn close_listeners(&mut self, registry: &Registry) {
        for mut l in self.listeners.drain(..) {
            let _ = l.deregister(registry);
        }
    }

    /// A TCP connection is being reaped.
    pub(super) fn closed(&mut self, conn: &Connection) {
        let Some(remote) = &conn.remote else {
            return;
        };
        self.live -= 1;
        if conn.auth.is_some() {
            self.handshake_over(remote.addr.ip());
            // A TLS handshake that failed (garbage, a plaintext client, a bad record: the TLS
            // link reports it as InvalidData) is a failed handshake like a wrong key, and
            // counts towards the address's rate limit.
            if let Some(Close::Io(e)) = &conn.closing {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    tracing::warn!(addr = %remote.addr, error = %e, "TLS handshake failed");
                    if self.failures.fail(remote.addr.ip(), Instant::now()) {
                        tracing::warn!(
                            ip = %remote.addr.ip(),
                            failures = auth::MAX_FAILURES,
                            "rate-limiting address: too many failed handshakes"
                        );
                    }
                }
            }
        }
    }

    fn handshake_over(&mut self, ip: IpAddr) {
        self.pending -= 1;
        if let Some(n) = self.pending_by_addr.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.pending_by_addr.remove(&ip);
            }
        }
    }
}

impl Server {
    /// Accepts every waiting connection on TCP listener `i`.
    pub(super) fn accept_tcp(&mut self, i: usize) {
        loop {
            let Some(l) = self.tcp.listeners.get(i) else {
                return;
            };
            match l.accept() {
                Ok(Some((stream, addr))) => {
                    let tls = self.tcp.tls.get(i).cloned().flatten();
                    self.add_tcp(stream, addr, tls)
                }
                Ok(None) => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    tracing::error!(error = %e, "TCP accept failed");
                    return;
                }
            }
        }
    }

    /// Admits a TCP peer into the "authenticating" state and sends it the challenge, unless
    /// its address is rate-limited or too many handshakes are in progress.
    fn add_tcp(
        &mut self,
        stream: mio::net::TcpStream,
        addr: std::net::SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) {
        let now = Instant::now();
        // A refusal before the handshake is one plaintext error frame; a TLS peer could not
        // read it (it expects a ServerHello), so a `tls://` listener just closes.
        let is_tls = tls.is_some();
        let refuse = |stream, code, message: &str| {
            if !is_tls {
                connection::refuse(stream, code, message);
            }
        };
        let ip = addr.ip();
        if let Some(ranges) = &self.config.allow_addrs {
            if !ranges.iter().any(|r| r.contains(ip)) {
                tracing::warn!(%addr, "refused TCP connection: address not in allow_addrs");
                let message = format!("access denied: {ip} is not in this broker's allow_addrs");
                refuse(stream, ErrorCode::Denied, &message);
                return;
            }
        }
        let t = &mut self.tcp;
        if t.failures.blocked(ip, now) {
            tracing::debug!(%addr, "refused TCP connection: address rate-limited");
            let message = format!(
                "too many failed handshakes from {ip}: refused for up to {} s",
                auth::FAILURE_WINDOW.as_secs()
            );
            refuse(stream, ErrorCode::Denied, &message);
            return;
        }
        let from_addr = t.pending_by_addr.get(&ip).copied().unwrap_or(0);
        if t.pending >= auth::MAX_PENDING_HANDSHAKES || from_addr >= auth::MAX_PENDING_PER_ADDR {
            tracing::warn!(%addr, pending = t.pending, from_addr, "refused TCP connection: too many handshakes in progress");
            let message = "too many handshakes in progress: retry shortly";
            refuse(stream, ErrorCode::LimitExceeded, message);
            return;
        }
        if self.conns.live >= self.config.max_clients {
            let message = format!(
                "max_clients ({}) reached: the broker refuses more connections",
                self.config.max_clients
            );
            tracing::warn!(%addr, "{message}");
            refuse(stream, ErrorCode::LimitExceeded, &message);
            return;
        }
        let mut nonce = [0u8; NONCE_LEN];
        if let Err(e) = getrandom::fill(&mut nonce) {
            tracing::error!(error = %e, "no randomness for a handshake nonce; refusing TCP connection");
            return;
        }
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        let mut challenge = Vec::new();
        let handshake = Handshake::start(nonce, now, &mut challenge);
        let link = match tls {
            None => Link::Tcp(stream),
            Some(config) => match tls::TlsStream::new(stream, config) {
                Ok(s) => Link::Tls(Box::new(s)),
                Err(e) => {
                    tracing::error!(error = %e, "cannot start a TLS session; refusing the connection");
                    return;
                }
            },
        };
        let slot = self.conns.insert(|slot| {
            let mut c = Connection::new(link, ConnKey { slot, id }, PeerCred::default());
            c.remote = Some(Remote { addr, key: None });
            c.auth = Some(handshake);
            c.push_raw(&challenge);
            c
        });
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        if let Err(e) = conn.stream().register(
            self.poll.registry(),
            Token(slot + FIRST_CONN),
            Interest::READABLE,
        ) {
            tracing::error!(error = %e, "cannot register connection");
            self.conns.remove(slot);
            return;
        }
        let t = &mut self.tcp;
        t.live += 1;
        t.pending += 1;
        *t.pending_by_addr.entry(ip).or_default() += 1;
        t.next_heartbeat.get_or_insert(now + HEARTBEAT_INTERVAL);
        tracing::debug!(%addr, conn = id, "TCP connection: handshake started");
        self.conns.mark_dirty(slot);
    }

    /// Runs the handshake on what a TCP peer sent: returns true once it is authenticated (the
    /// rest of its input is then read as requests), false while it is still authenticating
    /// or was refused.
    pub(super) fn authenticate(&mut self, slot: usize) -> bool {
        let Some(conn) = self.conns.get(slot) else {
            return false;
        };
        if conn.auth.is_none() {
            return true;
        }
        let mut input = conn.take_input();
        let outcome = match frame::check(input.data(), MAX_HANDSHAKE_FRAME) {
            Ok(Check::Incomplete) => None,
            Ok(Check::Ready { len }) => {
                let payload = &input.data()[HEADER_LEN..HEADER_LEN + len];
                let mut welcome = Vec::new();
                let result = conn.auth.as_ref().map(|h| {
                    h.finish(payload, &self.tcp.keys, &mut welcome)
                        .map(|k| k.name.clone())
                });
                input.consume(HEADER_LEN + len);
                if let Some(Ok(_)) = &result {
                    conn.push_raw(&welcome);
                }
                result
            }
            Err(_) => Some(Err(auth::Failure::Malformed)),
        };
        conn.restore_input(input);
        match outcome {
            None => false,
            Some(Ok(name)) => {
                let (key, addr) = {
                    let c = self.conns.get(slot).expect("checked above");
                    c.auth = None;
                    let r = c.remote.as_mut().expect("a TCP connection");
                    r.key = Some(name.clone());
                    (c.key, r.addr)
                };
                self.tcp.handshake_over(addr.ip());
                tracing::debug!(key = %name, "authenticated");
                self.broker.connect(key, REMOTE_PEER);
                if let Some(s) = self.broker.session_mut(key) {
                    s.remote = Some((addr.to_string(), name.to_string()));
                    s.rules = self.tcp.rules.get(&name).cloned();
                }
                self.conns.mark_dirty(slot);
                true
            }
            Some(Err(why)) => {
                let message = match why {
                    auth::Failure::WrongKey => "authentication failed: wrong authkey",
                    auth::Failure::Malformed => {
                        "authentication failed: expected the handshake response (docs/PROTOCOL.md §1.2)"
                    }
                };
                self.refuse_handshake(slot, message);
                false
            }
        }
    }

    /// Ends a failed handshake: one `Denied` frame, a log line, a failure on the address's
    /// record, and the connection closed.
    fn refuse_handshake(&mut self, slot: usize, message: &str) {
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        let Some(addr) = conn.remote.as_ref().map(|r| r.addr) else {
            return;
        };
        let key = conn.key;
        tracing::warn!(%addr, "{message}");
        if self.tcp.failures.fail(addr.ip(), Instant::now()) {
            tracing::warn!(
                ip = %addr.ip(),
                failures = auth::MAX_FAILURES,
                window_s = auth::FAILURE_WINDOW.as_secs(),
                "rate-limiting address: too many failed handshakes; its connections are refused for the rest of the window"
            );
        }
        self.conns
            .send(key, &ReplyFields::err(0, ErrorCode::Denied, message));
        self.close(slot, Close::Violation);
    }

    /// Handshake timeouts and the heartbeat round; called once per loop turn.
    pub(super) fn tcp_tick(&mut self, now: Instant) {
        if self.tcp.live == 0 {
            return;
        }
        if self.tcp.pending > 0 {
            let late: Vec<usize> = (0..self.conns.slots.len())
                .filter(|&s| {
                    self.conns
                        .get(s)
                        .and_then(|c| c.auth.as_ref())
                        .is_some_and(|h| h.deadline <= now)
                })
                .collect();
            for slot in late {
                let message = format!(
                    "authentication failed: no handshake response within {} s",
                    auth::HANDSHAKE_TIMEOUT.as_secs()
                );
                self.refuse_handshake(slot, &message);
            }
        }
        if self.tcp.next_heartbeat.is_some_and(|t| t <= now) {
            self.tcp.next_heartbeat = Some(now + HEARTBEAT_INTERVAL);
            for slot in 0..self.conns.slots.len() {
                let Some(c) = self.conns.get(slot) else {
                    continue;
                };
                if c.remote.is_none() || c.auth.is_some() || c.closing.is_some() {
                    continue;
                }
                // Nothing written for a whole interval: send the empty frame, whose
                // acknowledgement (or its absence, past TCP_USER_TIMEOUT) tells us the peer
                // is there, and which tells a waiting client that we are.
                if c.written == c.heartbeat_mark && c.pending() == 0 {
                    c.push_raw(&[0; HEADER_LEN]);
                    c.heartbeat_mark = c.written + HEADER_LEN as u64;
                    self.conns.mark_dirty(slot);
                } else {
                    c.heartbeat_mark = c.written;
                }
            }
        }
    }
}
