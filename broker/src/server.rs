//! The event loop: one thread, one `mio::Poll`, every connection.
//!
//! A turn of the loop:
//! 1. poll, sleeping at most until the nearest waiter deadline (retrying on `EINTR`);
//! 2. handle events — accept until `WouldBlock`; read each readable connection and handle every
//!    whole frame in its buffer (handlers only append replies to output buffers); note
//!    connections that became writable;
//! 3. answer waiters whose deadline passed;
//! 4. reap connections marked for closing (a last write, then the one cleanup path) — never
//!    in the middle of the turn, so no handler sees a connection vanish;
//! 5. before sleeping, flush every connection with pending output (one write each) and ask
//!    for write readiness only for those with bytes left.
//!
//! Backpressure: a connection whose pending output passes the soft limit is not read until it
//! drains below it; past the hard limit it is closed with a warning.

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use xproc_protocol::frame::{self, Check, HEADER_LEN};
use xproc_protocol::{ErrorCode, ReplyFields, Request};

use crate::cleanup;
use crate::config::Config;
use crate::connection::{self, Close, Connection, Filled};
use crate::dispatch;
use crate::state::{Broker, ConnKey, Outbox};
use crate::transport::{self, Listener, ShutdownSignal};
use crate::Error;

const LISTENER: Token = Token(0);
const SIGNAL: Token = Token(1);
/// Connection tokens are their slot plus this.
const FIRST_CONN: usize = 2;

/// Runs a broker until SIGTERM or SIGINT. Returns once it has stopped accepting, answered
/// blocked requests with `ShuttingDown`, flushed (bounded by `shutdown_flush`) and removed its
/// socket file.
pub fn run(config: Config) -> Result<(), Error> {
    let group = config
        .group
        .as_deref()
        .map(transport::Group::resolve)
        .transpose()?;
    let path = match &config.socket {
        Some(p) => p.clone(),
        None => transport::default_socket_path(group.as_ref())?,
    };
    let poll = Poll::new().map_err(Error::Poll)?;
    // Handlers first: once the socket file appears, a SIGTERM (a script's or a supervisor's)
    // must reach the event loop.
    let signal = ShutdownSignal::install(poll.registry(), SIGNAL)?;
    let listener = Listener::bind(&path, group.as_ref())?;
    listener
        .register(poll.registry(), LISTENER)
        .map_err(Error::Poll)?;
    tracing::info!(
        path = %listener.path().display(),
        max_frame = config.max_frame,
        max_clients = config.max_clients,
        max_objects = config.max_objects,
        memory_limit = config.memory_limit,
        group = group.as_ref().map(|g| g.name.as_str()),
        allow_uids = ?config.access.allow_uids,
        allow_gids = ?config.access.allow_gids,
        "xprocd listening"
    );
    if config.access.restricted()
        && config.access.allow_uids.as_ref().is_none_or(Vec::is_empty)
        && config.access.allow_gids.as_ref().is_none_or(Vec::is_empty)
    {
        tracing::warn!(
            "the allow-lists are configured but empty: every connection will be refused"
        );
    }
    let mut server = Server {
        poll,
        events: Events::with_capacity(1024),
        listener: Some(listener),
        signal,
        conns: Conns::default(),
        broker: Broker::new(config.clone()),
        config,
        next_conn_id: 1,
        to_close: Vec::new(),
        resume: Vec::new(),
        stop: false,
    };
    let result = server.serve();
    if let Some(l) = server.listener.take() {
        l.remove_socket_file();
    }
    result
}

/// Connections by slot, with their flush list.
#[derive(Default)]
struct Conns {
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    live: usize,
    /// Slots with output to flush before sleeping.
    dirty: Vec<usize>,
    max_frame: usize,
}

impl Conns {
    fn get(&mut self, slot: usize) -> Option<&mut Connection> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn insert(&mut self, make: impl FnOnce(usize) -> Connection) -> usize {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        self.slots[slot] = Some(make(slot));
        self.live += 1;
        slot
    }

    fn remove(&mut self, slot: usize) -> Option<Connection> {
        let c = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        self.live -= 1;
        Some(c)
    }

    fn mark_dirty(&mut self, slot: usize) {
        if let Some(c) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(slot);
            }
        }
    }
}

impl Outbox for Conns {
    fn send(&mut self, to: ConnKey, reply: &ReplyFields<'_>) {
        let max_frame = self.max_frame;
        let Some(c) = self.get(to.slot).filter(|c| c.key == to) else {
            return;
        };
        c.push_reply(reply, max_frame);
        self.mark_dirty(to.slot);
    }
}

struct Server {
    poll: Poll,
    events: Events,
    listener: Option<Listener>,
    signal: ShutdownSignal,
    conns: Conns,
    broker: Broker,
    config: Config,
    next_conn_id: u64,
    /// Slots marked for closing, reaped at the end of the turn.
    to_close: Vec<usize>,
    /// Slots whose reading was paused and may resume.
    resume: Vec<usize>,
    stop: bool,
}

impl Server {
    fn serve(&mut self) -> Result<(), Error> {
        self.conns.max_frame = self.config.max_frame;
        loop {
            let busy = !self.to_close.is_empty()
                || !self.resume.is_empty()
                || !self.conns.dirty.is_empty();
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                self.broker
                    .waiters
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::Poll(e));
            }
            let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    SIGNAL => {
                        self.signal.drain();
                        self.stop = true;
                    }
                    Token(t) => {
                        let slot = t - FIRST_CONN;
                        // A hang-up may have arrived with the last bytes: no later edge would
                        // report it, so such an event is read until EOF or WouldBlock.
                        let hup = event.is_read_closed() || event.is_error();
                        if event.is_readable() || hup {
                            self.on_readable(slot, hup);
                        }
                        if event.is_writable() {
                            self.conns.mark_dirty(slot);
                        }
                    }
                }
            }
            self.events = events;
            for slot in std::mem::take(&mut self.resume) {
                // Paused, it may have missed a hang-up's edge: read until WouldBlock.
                self.on_readable(slot, true);
            }
            self.broker.expire(Instant::now(), &mut self.conns);
            self.reap();
            self.flush_dirty();
            if self.stop {
                return self.shutdown();
            }
        }
    }

    fn accept_all(&mut self) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok(Some(accepted)) => self.add(accepted),
                Ok(None) => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and the like: the pending connection stays queued; the next
                    // connection attempt triggers another try.
                    tracing::error!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }

    /// Admits an accepted connection: its peer must pass the allow-lists, then fit under
    /// `max_clients`. A refused peer gets one error frame naming why, and a log line.
    fn add(&mut self, accepted: transport::Accepted) {
        let transport::Accepted { stream, peer, gids } = accepted;
        let peer = match peer {
            Ok(p) => p,
            Err(e) => {
                // Without credentials nothing can be checked or shown: refuse.
                tracing::warn!(error = %e, "cannot read peer credentials; dropping connection");
                return;
            }
        };
        if !self.config.access.allows(peer.uid, &gids) {
            let message = format!(
                "access denied: uid {} (gids {gids:?}) is not in this broker's allow_uids or allow_gids",
                peer.uid
            );
            tracing::warn!(
                pid = peer.pid,
                uid = peer.uid,
                gid = peer.gid,
                ?gids,
                "refused connection: peer not on the allow-lists"
            );
            connection::refuse(stream, ErrorCode::Denied, &message);
            return;
        }
        if self.conns.live >= self.config.max_clients {
            let message = format!(
                "max_clients ({}) reached: the broker refuses more connections",
                self.config.max_clients
            );
            tracing::warn!(pid = peer.pid, uid = peer.uid, "{message}");
            connection::refuse(stream, ErrorCode::LimitExceeded, &message);
            return;
        }
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        let slot = self
            .conns
            .insert(|slot| Connection::new(stream, ConnKey { slot, id }, peer));
        let key = ConnKey { slot, id };
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        if let Err(e) = transport::register(
            self.poll.registry(),
            conn.stream(),
            Token(slot + FIRST_CONN),
            Interest::READABLE,
        ) {
            tracing::error!(error = %e, "cannot register connection");
            self.conns.remove(slot);
            return;
        }
        let _g = conn.span.enter();
        tracing::debug!("connected");
        drop(_g);
        self.broker.connect(key, peer);
    }

    /// Reads and handles everything available on a connection, unless its output is above
    /// the soft limit (then it waits to be resumed). A short read means the socket is drained
    /// (any later byte raises a new edge), which saves a `read` per request; with `drain` it
    /// reads on until `WouldBlock` or EOF instead.
    fn on_readable(&mut self, slot: usize, drain: bool) {
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        let span = conn.span.clone();
        let _g = span.enter();
        // Frames left undecoded when reading paused go first.
        self.process(slot);
        loop {
            let Some(conn) = self.conns.get(slot) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            if conn.pending() > self.config.output_soft_limit {
                conn.paused = true;
                return;
            }
            match conn.read() {
                Ok(Filled::Data { more }) => {
                    self.process(slot);
                    let over = self
                        .conns
                        .get(slot)
                        .is_some_and(|c| c.pending() > self.config.output_soft_limit);
                    if !more && !over && !drain {
                        return;
                    }
                }
                Ok(Filled::WouldBlock) => return,
                Ok(Filled::Eof) => {
                    self.close(slot, Close::Eof);
                    return;
                }
                Err(e) => {
                    self.close(slot, Close::Io(e));
                    return;
                }
            }
        }
    }

    /// Handles the whole frames in a connection's input buffer, stopping early once its
    /// output passes the soft limit: a batch of small requests for large values must not
    /// turn one read into gigabytes of replies.
    fn process(&mut self, slot: usize) {
        let max_frame = self.config.max_frame;
        let soft = self.config.output_soft_limit;
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        let mut input = conn.take_input();
        loop {
            if self.conns.get(slot).is_none_or(|c| c.pending() > soft) {
                break;
            }
            match frame::check(input.data(), max_frame) {
                Err(e) => {
                    tracing::warn!(error = %e, "closing connection: frame too large");
                    let key = self.key(slot);
                    let message = e.to_string();
                    self.conns
                        .send(key, &ReplyFields::err(0, ErrorCode::TooLarge, &message));
                    self.close(slot, Close::Violation);
                    break;
                }
                Ok(Check::Incomplete) => break,
                Ok(Check::Ready { len }) => {
                    self.handle_frame(slot, &input.data()[HEADER_LEN..HEADER_LEN + len]);
                    input.consume(HEADER_LEN + len);
                    if self.conns.get(slot).is_none_or(|c| c.closing.is_some()) {
                        break;
                    }
                }
            }
        }
        if let Some(conn) = self.conns.get(slot) {
            conn.restore_input(input);
        }
    }

    fn key(&mut self, slot: usize) -> ConnKey {
        self.conns
            .get(slot)
            .map_or(ConnKey { slot, id: 0 }, |c| c.key)
    }

    fn handle_frame(&mut self, slot: usize, payload: &[u8]) {
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        let key = conn.key;
        let (id, req) = match Request::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                if e.fatal {
                    tracing::warn!(code = %e.code, message = %e.message, "closing connection: malformed request");
                } else {
                    tracing::debug!(id = e.id, code = %e.code, message = %e.message, "error reply");
                }
                self.conns
                    .send(key, &ReplyFields::err(e.id, e.code, &e.message));
                if e.fatal {
                    self.close(slot, Close::Violation);
                }
                return;
            }
        };
        if let Err(f) = conn.admit(&req) {
            tracing::warn!(code = %f.code, message = %f.message, "closing connection: handshake refused");
            self.conns
                .send(key, &ReplyFields::err(id, f.code, &f.message));
            self.close(slot, Close::Violation);
            return;
        }
        dispatch::dispatch(&mut self.broker, &mut self.conns, key, id, req);
    }

    /// Marks a connection for closing at the end of the turn. Its blocked requests are
    /// forgotten now, so nothing is handed to it in the meantime.
    fn close(&mut self, slot: usize, why: Close) {
        let Some(c) = self.conns.get(slot) else {
            return;
        };
        if c.closing.is_some() {
            return;
        }
        c.closing = Some(why);
        let key = c.key;
        self.to_close.push(slot);
        cleanup::forget_waiters(&mut self.broker, key, &mut self.conns);
    }

    /// Closes the connections marked this turn, each through the one cleanup path.
    fn reap(&mut self) {
        for slot in std::mem::take(&mut self.to_close) {
            let Some(mut conn) = self.conns.remove(slot) else {
                continue;
            };
            // Best effort: an error reply explaining the close is usually still pending.
            let _ = conn.flush();
            if let Err(e) = transport::deregister(self.poll.registry(), conn.stream()) {
                tracing::error!(error = %e, "cannot deregister connection");
            }
            {
                let _g = conn.span.enter();
                match &conn.closing {
                    Some(Close::Io(e)) => tracing::debug!(error = %e, "disconnected"),
                    other => tracing::debug!(reason = ?other, "disconnected"),
                }
            }
            let key = conn.key;
            drop(conn);
            cleanup::disconnect(&mut self.broker, key, &mut self.conns);
        }
    }

    /// Before sleeping: one write per connection with pending output; write readiness only
    /// for those with bytes left.
    fn flush_dirty(&mut self) {
        for slot in std::mem::take(&mut self.conns.dirty) {
            let Some(conn) = self.conns.get(slot) else {
                continue;
            };
            conn.dirty = false;
            if conn.closing.is_some() {
                continue;
            }
            if conn.pending() > self.config.output_hard_limit {
                let _g = conn.span.enter();
                tracing::warn!(
                    pending = conn.pending(),
                    limit = self.config.output_hard_limit,
                    "closing connection: it stopped reading and its replies passed the output hard limit"
                );
                drop(_g);
                self.close(slot, Close::Backlog);
                continue;
            }
            if let Err(e) = conn.flush() {
                self.close(slot, Close::Io(e));
                continue;
            }
            let want_writable = conn.pending() > 0;
            if want_writable != conn.writable {
                let interest = if want_writable {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let token = Token(slot + FIRST_CONN);
                match transport::reregister(self.poll.registry(), conn.stream(), token, interest) {
                    Ok(()) => conn.writable = want_writable,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reregister connection");
                        self.close(slot, Close::Io(e));
                        continue;
                    }
                }
            }
            if conn.paused && conn.pending() <= self.config.output_soft_limit {
                conn.paused = false;
                self.resume.push(slot);
            }
        }
    }

    /// Stops: no more accepting or reading; blocked requests get `ShuttingDown`; replies are
    /// flushed for at most `shutdown_flush`.
    fn shutdown(&mut self) -> Result<(), Error> {
        tracing::info!(
            clients = self.conns.live,
            waiters = self.broker.waiters.len(),
            "shutting down"
        );
        if let Some(l) = self.listener.take() {
            let _ = l.deregister(self.poll.registry());
            l.remove_socket_file();
        }
        self.broker.shutdown(&mut self.conns);
        self.reap();
        let deadline = Instant::now() + self.config.shutdown_flush;
        loop {
            self.flush_dirty();
            self.reap();
            let pending: Vec<usize> = self
                .conns
                .slots
                .iter()
                .enumerate()
                .filter_map(|(slot, c)| c.as_ref().filter(|c| c.pending() > 0).map(|_| slot))
                .collect();
            if pending.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(
                    connections = pending.len(),
                    "shutdown: gave up flushing replies to clients that are not reading"
                );
                break;
            }
            match self.poll.poll(&mut self.events, Some(deadline - now)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Poll(e)),
            }
            for slot in pending {
                self.conns.mark_dirty(slot);
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}
