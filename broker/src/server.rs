//! The event loop: one thread, one `mio::Poll`, every connection.
//!
//! A turn of the loop:
//! 1. poll, sleeping at most until the nearest waiter deadline (not at all while some
//!    connection has work left over; retrying on `EINTR`);
//! 2. handle events — accept until `WouldBlock`; note readable connections on the ready list
//!    and writable ones on the flush list;
//! 3. serve the ready list: each connection reads and handles frames up to a per-turn budget
//!    ([`FRAMES_PER_TURN`], [`READ_PER_TURN`]; handlers only append replies to output
//!    buffers). One with more to do stays on the list for the next turn, so a client that
//!    pipelines without pause shares the loop round-robin instead of holding it. Before the
//!    frames of each read are handled, waiters whose deadline has passed are answered with
//!    their timeout outcome, so input never serves a request that has already run out;
//! 4. answer waiters whose deadline passed;
//! 5. reap connections marked for closing (a last write, then the one cleanup path) — never
//!    in the middle of the turn, so no handler sees a connection vanish;
//! 6. before sleeping, flush every connection with pending output (one write each) and ask
//!    for write readiness only for those with bytes left.
//!
//! Idle strategy (opt-in, `--busy-poll MICROS`): before a sleeping poll, the loop polls
//! without sleeping for up to an adaptive budget ([`Governor`]), so that a client that sends
//! its next request a few µs after its reply finds the loop awake instead of paying for the
//! wake-up of a halted CPU ([`Server::wait_for_events`]).
//!
//! Backpressure: a connection whose pending output passes the soft limit is not read until it
//! drains below it; past the hard limit it is closed with a warning.

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use xproc_protocol::frame::{self, Check, HEADER_LEN};
use xproc_protocol::idle::Governor;
use xproc_protocol::{ErrorCode, ReplyFields, Request};

use crate::cleanup;
use crate::config::Config;
use crate::connection::{self, Close, Connection, Filled, Held, INPUT_CHUNK, MAX_FDS_HELD};
use crate::dispatch;
use crate::state::{Body, Broker, ConnKey, Outbox};
use crate::stored::Stored;
use crate::transport::{self, Listener, ShutdownSignal};
use crate::waiters::WaitOp;
use crate::Error;

mod remote;

const LISTENER: Token = Token(0);
const SIGNAL: Token = Token(1);
/// Connection tokens are their slot plus this.
const FIRST_CONN: usize = 2;

/// Most frames one connection has handled per loop turn: 256. Like tokio's cooperative budget
/// (128 operations per task), large enough that the turn's fixed costs (a zero-timeout poll,
/// a write per connection) stay small against the work, small enough that a client
/// pipelining without pause delays its neighbours by a few hundred cheap requests, not by
/// the megabytes its socket holds.
pub const FRAMES_PER_TURN: usize = 256;

/// Most bytes read from one connection per loop turn: 256 KiB (four reads of the input
/// chunk). Redis's readQueryFromClient reads one 16 KiB chunk per event; a few chunks keep a
/// large frame arriving at full speed while the frame budget bounds small ones.
pub const READ_PER_TURN: usize = 256 * 1024;

/// Most up-ring bytes one connection's puts may copy per loop turn: 1 MiB. Past it the
/// connection's turn ends and it is served again after the connections that became readable
/// meanwhile (`Server::deferred`). A streaming producer pipelines its large puts, so its next
/// put is usually buffered by the time the broker has copied the last one; served at once,
/// it would find no consumer waiting (the consumer's next `queue.get` arrived during that
/// copy, but is read after it) and land in the broker's heap — two broker copies per value
/// instead of the handoff's one (docs/BENCHMARKS.md, fifth pass).
pub const RING_COPY_PER_TURN: usize = 1 << 20;

/// How far the memory charged must fall below its high-water mark before the heap is trimmed.
const TRIM_STEP: usize = 16 << 20;

/// How long it must stay there first.
const TRIM_DELAY: Duration = Duration::from_millis(500);

/// Runs a broker until SIGTERM or SIGINT. Returns once it has stopped accepting, answered
/// blocked requests with `ShuttingDown`, flushed (bounded by `shutdown_flush`) and removed its
/// socket file.
pub fn run(mut config: Config) -> Result<(), Error> {
    fit_fd_limit(&mut config);
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
    // TCP first: once the socket file appears, the whole broker is up.
    let tcp = remote::Tcp::bind(&config, poll.registry())?;
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
        tcp = ?tcp.addrs(),
        "xprocd listening"
    );
    // systemd Type=notify: ready once the socket accepts connections.
    transport::notify("READY=1");
    if config.access.restricted()
        && config.access.allow_uids.as_ref().is_none_or(Vec::is_empty)
        && config.access.allow_gids.as_ref().is_none_or(Vec::is_empty)
    {
        tracing::warn!(
            "the allow-lists are configured but empty: every connection will be refused"
        );
    }
    let busy_poll = config.busy_poll;
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
        ready: Vec::new(),
        deferred: Vec::new(),
        ring_copied: 0,
        fd_reserve: transport::FdReserve::new().map_err(|source| {
            Error::Transport(transport::TransportError::Setup {
                what: "cannot open the reserve descriptor (/dev/null)",
                source,
            })
        })?,
        accept_retry: None,
        trim_high: 0,
        trim_at: None,
        stop: false,
        tcp,
        idle: Governor::new(busy_poll),
    };
    let result = server.serve();
    if let Some(l) = server.listener.take() {
        l.remove_socket_file();
    }
    result
}

/// Descriptors the broker needs besides its connections: stdin/stdout/stderr, the poll
/// instance, the signal pipe (three ends), the listener, the [`transport::FdReserve`], and
/// headroom for the accepted socket being refused and for the libraries.
pub const RESERVED_FDS: usize = 16;

/// Room left in `max_frame` around a memfd value sent inline: the largest reply that carries one
/// value (`id`, `value` and its bin header; a batch's array header) takes fewer bytes.
pub const SHARED_REPLY_OVERHEAD: usize = 64;

/// How long to wait before retrying an `accept` that failed for want of a resource (the
/// descriptor reserve did not help, or the system is out of them): 100 ms. Readiness is
/// edge-triggered, so without a retry the waiting clients would hang until another one
/// connects.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Raises the soft `RLIMIT_NOFILE` to what `max_clients` needs, and lowers `max_clients` to
/// what the limit allows when the hard limit is lower (logged at warn): past it, `accept`
/// would fail with `EMFILE` instead of clients getting a clear `LimitExceeded`.
fn fit_fd_limit(config: &mut Config) {
    // Received descriptors waiting for their frames (MAX_FDS_HELD), values held as memfds
    // (MAX_SHARED_VALUES) and direct pipes' sockets and counters pages not yet handed over
    // (MAX_DIRECT_HELD) take table slots too.
    let want = config.max_clients.saturating_add(
        RESERVED_FDS
            + MAX_FDS_HELD
            + crate::stored::MAX_SHARED_VALUES
            + crate::objects::pipe::MAX_DIRECT_HELD,
    ) as u64;
    match transport::raise_fd_limit(want) {
        Ok(limit) if limit < want => {
            let clamped = (limit as usize).saturating_sub(RESERVED_FDS).max(1);
            tracing::warn!(
                max_clients = config.max_clients,
                clamped,
                nofile = limit,
                reserved = RESERVED_FDS,
                "max_clients clamped to what the descriptor limit (RLIMIT_NOFILE) allows; raise \
                 the hard limit (ulimit -Hn, systemd LimitNOFILE=) to serve more"
            );
            config.max_clients = clamped;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read or raise RLIMIT_NOFILE"),
    }
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
        if !c.ring_ids.is_empty() {
            c.ring_reply(reply.id, 0);
        }
        c.push_reply(reply, max_frame);
        self.mark_dirty(to.slot);
    }

    fn send_value<'a>(&mut self, to: ConnKey, mut reply: ReplyFields<'a>, value: &'a Stored) {
        let Some(c) = self.get(to.slot).filter(|c| c.key == to) else {
            return;
        };
        // A handoff's value is in this very request's down-ring region already.
        if let Stored::InRing(v) = value {
            if v.conn == to && v.req == reply.id {
                c.ring_reply(reply.id, 0);
                reply.ring_off = Some(v.deliver() as u64);
                reply.value_len = Some(value.len() as u64);
                c.push_reply(&reply, usize::MAX);
                self.mark_dirty(to.slot);
                return;
            }
        }
        // A value held as bytes goes through the down ring when the request asked
        // (`ring_min`) and a region is free (docs/PROTOCOL.md §4.2).
        if !c.ring_ids.is_empty() && c.ring_reply(reply.id, value.len()) && value.shared().is_none()
        {
            if let Some(off) = c.rings.as_mut().and_then(|r| r.put_down(value)) {
                reply.ring_off = Some(off as u64);
                reply.value_len = Some(value.len() as u64);
                c.push_reply(&reply, usize::MAX);
                self.mark_dirty(to.slot);
                return;
            }
        }
        match value.shared() {
            Some(shared) if c.fds => {
                reply.value_len = Some(value.len() as u64);
                reply.fds = Some(1);
                c.push_reply_shared(&reply, shared);
                self.mark_dirty(to.slot);
            }
            _ => {
                reply.value = Some(xproc_protocol::Bytes::new(value));
                self.send(to, &reply);
            }
        }
    }

    fn send_fds(
        &mut self,
        to: ConnKey,
        mut reply: ReplyFields<'_>,
        fds: Vec<transport::Descriptor>,
    ) {
        let Some(c) = self.get(to.slot).filter(|c| c.key == to) else {
            return;
        };
        if !c.ring_ids.is_empty() {
            c.ring_reply(reply.id, 0);
        }
        reply.fds = Some(fds.len() as u64);
        c.push_reply_fds(&reply, fds);
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
    /// Connections with reading or handling to do this turn: readable ones, ones whose budget
    /// ran out last turn, ones whose pause ended. Each is on it at most once (`queued`).
    ready: Vec<usize>,
    /// Connections whose turn ended at [`RING_COPY_PER_TURN`]: queued (`queued` set, so their
    /// own events do not move them ahead) behind the connections the next poll finds readable.
    deferred: Vec<usize>,
    /// Up-ring bytes the connection being served has had copied this turn.
    ring_copied: usize,
    /// A descriptor held back to accept-and-refuse a client when the process runs out.
    fd_reserve: transport::FdReserve,
    /// When to try `accept` again after it failed for want of a resource.
    accept_retry: Option<Instant>,
    /// The memory charged at its high-water mark since the heap was last trimmed, and when to
    /// trim it (see [`Server::trim_heap_when_idle`]).
    trim_high: usize,
    trim_at: Option<Instant>,
    stop: bool,
    /// TCP listeners and handshakes (`remote.rs`); empty without `--listen`.
    tcp: remote::Tcp,
    /// How long to poll before sleeping (`--busy-poll`; never, by default).
    idle: Governor,
}

impl Server {
    fn serve(&mut self) -> Result<(), Error> {
        self.conns.max_frame = self.config.max_frame;
        loop {
            let busy = !self.to_close.is_empty()
                || !self.ready.is_empty()
                || !self.deferred.is_empty()
                || !self.conns.dirty.is_empty();
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                let now = Instant::now();
                [
                    self.broker.waiters.next_deadline(),
                    self.tcp.next_deadline(now),
                    self.accept_retry,
                    self.trim_at,
                ]
                .into_iter()
                .flatten()
                .min()
                .map(|d| d.saturating_duration_since(now))
            };
            let polled = if busy {
                self.poll.poll(&mut self.events, timeout)
            } else {
                self.wait_for_events(timeout)
            };
            if let Err(e) = polled {
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
                    t if self.tcp.listener_of(t).is_some() => {
                        if let Some(i) = self.tcp.listener_of(t) {
                            self.accept_tcp(i);
                        }
                    }
                    Token(t) => {
                        let slot = t - FIRST_CONN;
                        // A hang-up may have arrived with the last bytes: no later edge would
                        // report it, so such an event is read until EOF or WouldBlock.
                        let hup = event.is_read_closed() || event.is_error();
                        if event.is_readable() || hup {
                            if let Some(c) = self.conns.get(slot) {
                                c.readable = true;
                                c.hup |= hup;
                            }
                            self.queue(slot);
                        }
                        if event.is_writable() {
                            self.conns.mark_dirty(slot);
                        }
                    }
                }
            }
            self.events = events;
            // Behind what became readable since their turn (a consumer's next get first).
            self.ready.append(&mut self.deferred);
            if self.accept_retry.is_some_and(|t| t <= Instant::now()) {
                self.accept_all();
            }
            for slot in std::mem::take(&mut self.ready) {
                self.serve_conn(slot);
            }
            let now = Instant::now();
            self.broker.expire(now, &mut self.conns);
            self.tcp_tick(now);
            self.reap();
            self.flush_dirty();
            self.trim_heap_when_idle(now);
            if self.stop {
                return self.shutdown();
            }
        }
    }

    /// Returns freed heap memory to the OS once the memory charged has stayed at least
    /// [`TRIM_STEP`] below its high-water mark for [`TRIM_DELAY`]: after large values went
    /// (taken, deleted, their connection killed) the broker's RSS comes back down, while a
    /// steady stream that frees and allocates the same blocks again never pays for a trim
    /// and the page faults after it.
    fn trim_heap_when_idle(&mut self, now: Instant) {
        let charged = self.broker.charged();
        if charged >= self.trim_high {
            self.trim_high = charged;
            self.trim_at = None;
        } else if self.trim_high - charged >= TRIM_STEP {
            match self.trim_at {
                None => self.trim_at = Some(now + TRIM_DELAY),
                Some(t) if t <= now => {
                    crate::transport::trim_heap();
                    self.trim_high = charged;
                    self.trim_at = None;
                }
                Some(_) => {}
            }
        }
    }

    /// Waits for events when the loop has nothing left to do, for at most `timeout`: first
    /// polls without sleeping for the [`Governor`]'s budget (yielding the CPU between polls,
    /// so that a client on the same CPU runs), then sleeps in the poll, and tells the
    /// governor how long that sleep lasted. With `--busy-poll` off it just sleeps.
    fn wait_for_events(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let budget = self.idle.budget();
        if !budget.is_zero() {
            let start = Instant::now();
            let until = start + timeout.map_or(budget, |t| t.min(budget));
            loop {
                self.poll.poll(&mut self.events, Some(Duration::ZERO))?;
                if !self.events.is_empty() || Instant::now() >= until {
                    break;
                }
                std::thread::yield_now();
            }
            if !self.events.is_empty() {
                return Ok(());
            }
            let timeout = timeout.map(|t| t.saturating_sub(start.elapsed()));
            let slept = Instant::now();
            let r = self.poll.poll(&mut self.events, timeout);
            self.idle.slept(slept.elapsed());
            return r;
        }
        if !self.idle.enabled() {
            return self.poll.poll(&mut self.events, timeout);
        }
        let slept = Instant::now();
        let r = self.poll.poll(&mut self.events, timeout);
        self.idle.slept(slept.elapsed());
        r
    }

    /// Accepts until `WouldBlock`. Out of descriptors (`EMFILE`), it gives up the reserve
    /// descriptor to accept the waiting client and refuse it with `LimitExceeded`; when that
    /// does not help (or the system is out of them), it tries again after [`ACCEPT_RETRY`],
    /// so that no queued client is left unanswered.
    fn accept_all(&mut self) {
        self.accept_retry = None;
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok(Some(accepted)) => self.add(accepted),
                Ok(None) => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if transport::out_of_descriptors(&e) && self.fd_reserve.release() => {
                    let refused = match listener.accept() {
                        Ok(Some(accepted)) => {
                            tracing::warn!(
                                pid = accepted.peer.as_ref().map_or(0, |p| p.pid),
                                "refused connection: out of file descriptors (RLIMIT_NOFILE)"
                            );
                            connection::refuse(
                                accepted.stream,
                                ErrorCode::LimitExceeded,
                                "the broker is out of file descriptors (RLIMIT_NOFILE); try \
                                 again later",
                            );
                            true
                        }
                        _ => false,
                    };
                    self.fd_reserve.restore();
                    if !refused {
                        self.retry_accept(&e);
                        return;
                    }
                }
                Err(e) => {
                    self.retry_accept(&e);
                    return;
                }
            }
        }
    }

    /// `accept` failed for want of a resource: the waiting connection stays queued and is
    /// tried again after [`ACCEPT_RETRY`] (edge-triggered readiness would not report it again).
    fn retry_accept(&mut self, e: &io::Error) {
        tracing::error!(error = %e, "accept failed; retrying in {ACCEPT_RETRY:?}");
        self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
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
        let slot = self.conns.insert(|slot| {
            Connection::new(transport::Link::Local(stream), ConnKey { slot, id }, peer)
        });
        let key = ConnKey { slot, id };
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
        conn_recharge(&mut self.broker, Some(&mut *conn));
        let _g = conn.span.enter();
        tracing::debug!("connected");
        drop(_g);
        self.broker.connect(key, peer);
    }

    /// Puts a connection on the ready list (once).
    fn queue(&mut self, slot: usize) {
        if let Some(c) = self.conns.get(slot) {
            if !c.queued {
                c.queued = true;
                self.ready.push(slot);
            }
        }
    }

    /// One turn's work for a ready connection: handle the frames already buffered, then read
    /// and handle more, within [`FRAMES_PER_TURN`] and [`READ_PER_TURN`]. It stops early when
    /// its output passes the soft limit (paused until it drains), and goes back on the ready
    /// list when its budget ran out with work left. A short read means the socket is drained
    /// (any later byte raises a new edge), which saves a `read` per request; after a hang-up
    /// it reads on until `WouldBlock` or EOF instead.
    fn serve_conn(&mut self, slot: usize) {
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        conn.queued = false;
        self.ring_copied = 0;
        let span = conn.span.clone();
        let _g = span.enter();
        let soft = self.config.output_soft_limit;
        let mut frames = FRAMES_PER_TURN;
        let mut read = 0;
        loop {
            // Frames left undecoded (by a pause or the budget) go first.
            self.process(slot, &mut frames);
            let Some(conn) = self.conns.get(slot) else {
                return;
            };
            if conn.closing.is_some() {
                return;
            }
            if conn.pending() > soft {
                conn.paused = true;
                return;
            }
            if !self.charge(slot) {
                return;
            }
            let Some(conn) = self.conns.get(slot) else {
                return;
            };
            if self.ring_copied >= RING_COPY_PER_TURN {
                conn.queued = true;
                self.deferred.push(slot);
                return;
            }
            if frames == 0 || read >= READ_PER_TURN {
                self.queue(slot);
                return;
            }
            if !conn.readable {
                return;
            }
            match conn.read() {
                Ok(Filled::Data { n, more }) => {
                    read += n;
                    if !more && !conn.hup {
                        conn.readable = false;
                    }
                }
                Ok(Filled::WouldBlock) => {
                    conn.readable = false;
                    conn.hup = false;
                }
                Ok(Filled::Eof) => {
                    self.close(slot, Close::Eof);
                    return;
                }
                Ok(Filled::Refused(message)) => {
                    tracing::warn!(%message, "closing connection: descriptors refused");
                    let key = conn.key;
                    self.conns.send(
                        key,
                        &ReplyFields::err(0, ErrorCode::LimitExceeded, &message),
                    );
                    self.close(slot, Close::Violation);
                    return;
                }
                Err(e) => {
                    self.close(slot, Close::Io(e));
                    return;
                }
            }
        }
    }

    /// Brings the memory budget's count of connection `slot`'s buffers up to date. A frame
    /// larger than [`INPUT_CHUNK`] whose header has arrived is reserved whole. Frames being
    /// received are bounded by `memory_limit` on their own (not with the values): a full
    /// broker must still receive a large write to answer it `LimitExceeded` in order, while
    /// many connections sending large frames at once cannot together pass the budget. Past
    /// it, the connection gets `LimitExceeded` (`id` 0) and is closed, before its payload is
    /// read. False when the connection is closing.
    fn charge(&mut self, slot: usize) -> bool {
        let Some(conn) = self.conns.get(slot) else {
            return false;
        };
        let now = conn.footprint();
        let was = conn.charged;
        let limit = self.config.memory_limit;
        if now > was
            && conn.input_reserved() > INPUT_CHUNK
            && self.broker.buffers + (now - was) > limit
        {
            let frame = conn.input_reserved();
            let message = format!(
                "cannot receive a frame of {frame} bytes: memory_limit ({limit} bytes) is \
                 taken by {} bytes of frames being received and replies being sent",
                self.broker.buffers
            );
            tracing::warn!(
                frame,
                "closing connection: memory_limit cannot hold its frame"
            );
            let key = conn.key;
            self.conns.send(
                key,
                &ReplyFields::err(0, ErrorCode::LimitExceeded, &message),
            );
            self.close(slot, Close::Violation);
            return false;
        }
        conn_recharge(&mut self.broker, self.conns.get(slot));
        true
    }

    /// Handles the whole frames in a connection's input buffer, at most `budget` of them
    /// (counted down), stopping early once its output passes the soft limit: a batch of
    /// small requests for large values must not turn one read into gigabytes of replies.
    fn process(&mut self, slot: usize, budget: &mut usize) {
        // Requests whose time ran out are answered before this input is handled, so a put or
        // a release read now never serves a waiter past its deadline (its client may have
        // given up on it).
        self.expire_due();
        let max_frame = self.config.max_frame;
        let soft = self.config.output_soft_limit;
        // A TCP peer's first frame is its handshake response, not a request.
        if !self.authenticate(slot) {
            return;
        }
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        let mut input = conn.take_input();
        loop {
            if *budget == 0 || self.conns.get(slot).is_none_or(|c| c.pending() > soft) {
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
                    *budget -= 1;
                    let fds = input.frame_fds(HEADER_LEN + len);
                    self.handle_frame(slot, &input.data()[HEADER_LEN..HEADER_LEN + len], fds);
                    input.consume(HEADER_LEN + len);
                    if self.conns.get(slot).is_none_or(|c| c.closing.is_some())
                        || self.ring_copied >= RING_COPY_PER_TURN
                    {
                        break;
                    }
                }
            }
        }
        if let Some(conn) = self.conns.get(slot) {
            conn.restore_input(input);
        }
    }

    /// Answers the waiters whose deadline has passed, if any has (one clock read otherwise).
    fn expire_due(&mut self) {
        let now = Instant::now();
        if self
            .broker
            .waiters
            .next_deadline()
            .is_some_and(|d| d <= now)
        {
            self.broker.expire(now, &mut self.conns);
        }
    }

    fn key(&mut self, slot: usize) -> ConnKey {
        self.conns
            .get(slot)
            .map_or(ConnKey { slot, id: 0 }, |c| c.key)
    }

    fn handle_frame(&mut self, slot: usize, payload: &[u8], fds: Vec<Held>) {
        let Some(conn) = self.conns.get(slot) else {
            return;
        };
        let key = conn.key;
        // A memfd value is at most what an inline one can be, so every reader — one without
        // descriptor passing too — can always be handed it inline (docs/PROTOCOL.md §4.1).
        let max_value = self.config.max_frame.saturating_sub(SHARED_REPLY_OVERHEAD);
        let (id, req, shared) = match conn.admit(payload, fds, max_value) {
            Ok(r) => r,
            Err(e) => {
                if e.fatal {
                    tracing::warn!(code = %e.code, message = %e.message, "closing connection: protocol violation");
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
        // Hello and ring.open are the connection's (the rings are not broker state), and
        // never carry a ring value.
        match req {
            Request::Hello { rings, .. } => {
                conn.rings_granted = rings && conn.fds && self.config.ring_size > 0;
            }
            Request::RingOpen => {
                match conn.open_rings(self.config.ring_size) {
                    Ok(fds) => {
                        let r = ReplyFields {
                            ring_size: Some(self.config.ring_size as u64),
                            ..ReplyFields::ok(id)
                        };
                        self.conns.send_fds(key, r, fds);
                    }
                    Err((code, message)) => {
                        tracing::debug!(id, %code, %message, "error reply");
                        self.conns.send(key, &ReplyFields::err(id, code, &message));
                    }
                }
                return;
            }
            _ => {}
        }
        let shared = match conn.ring_put.take() {
            None => shared,
            Some((off, len)) => match self.ring_value(slot, &req, off, len) {
                Ok(v) => Some(v),
                Err((code, message)) => {
                    tracing::debug!(id, %code, %message, "error reply");
                    self.conns.send(key, &ReplyFields::err(id, code, &message));
                    return;
                }
            },
        };
        dispatch::dispatch_shared(&mut self.broker, &mut self.conns, key, id, req, shared);
    }

    /// The value of a put whose bytes are in connection `slot`'s up ring at `off` (checked):
    /// copied straight into the down ring of a consumer waiting for it when one is (the
    /// handoff: one broker copy), else into the broker's own storage; validated either way
    /// on the broker's copy (docs/PROTOCOL.md §4.2).
    fn ring_value(
        &mut self,
        slot: usize,
        req: &Request<'_>,
        off: usize,
        len: usize,
    ) -> Result<Stored, (ErrorCode, String)> {
        self.ring_copied += len;
        if let Request::QueuePut { name, .. } = req {
            if let Some(v) = self.handoff(slot, name, off, len) {
                return v
                    .map(|v| Stored::InRing(std::rc::Rc::new(v)))
                    .map_err(|e| (e.code(), format!("queue.put: {e}")));
            }
        }
        let conn = self.conns.get(slot).expect("the connection being handled");
        let op = match req {
            Request::QueuePut { .. } => "queue.put",
            Request::DictSet { .. } => "dict.set",
            _ => "pipe.send",
        };
        conn.take_ring_put(off, len)
            .map_err(|(code, m)| (code, format!("{op}: {m}")))
    }

    /// The handoff of [`ring_value`](Self::ring_value): when queue `name`'s next getter is a
    /// plain `queue.get` of another connection that asked for ring replies this large and
    /// has room, the value goes from this connection's up ring into that one's down ring.
    fn handoff(
        &mut self,
        slot: usize,
        name: &str,
        off: usize,
        len: usize,
    ) -> Option<Result<crate::rings::RingValue, crate::rings::RingError>> {
        let Some(Body::Queue(q)) = self.broker.objects.get(name).map(|o| &o.body) else {
            return None;
        };
        let w = self.broker.waiters.get(q.next_plain_getter()?)?;
        if w.op != WaitOp::QueueGet || w.conn.slot == slot {
            return None;
        }
        let (to, req) = (w.conn, w.req);
        let consumer = self.conns.get(to.slot).filter(|c| c.key == to)?;
        let &(_, min) = consumer.ring_ids.iter().find(|(i, _)| *i == req)?;
        if (len as u64) < min || consumer.closing.is_some() {
            return None;
        }
        let mut rings = consumer.rings.take()?;
        let producer = self.conns.get(slot).and_then(|c| c.rings.as_ref());
        let v = producer.and_then(|p| crate::rings::handoff(p.up(), off, len, &mut rings, to, req));
        if let Some(c) = self.conns.get(to.slot) {
            c.rings = Some(rings);
        }
        v
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
            self.tcp.closed(&conn);
            if let Err(e) = conn.stream().deregister(self.poll.registry()) {
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
            self.broker.buffers -= conn.charged;
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
            if let Err(e) = conn.flush() {
                self.close(slot, Close::Io(e));
                continue;
            }
            conn_recharge(&mut self.broker, Some(&mut *conn));
            // The buffer's size, not only its unsent part, is what the hard limit bounds.
            if conn.output_len() > self.config.output_hard_limit {
                let _g = conn.span.enter();
                tracing::warn!(
                    pending = conn.pending(),
                    buffered = conn.output_len(),
                    limit = self.config.output_hard_limit,
                    "closing connection: it stopped reading and its replies passed the output hard limit"
                );
                drop(_g);
                self.close(slot, Close::Backlog);
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
                match conn
                    .stream()
                    .reregister(self.poll.registry(), token, interest)
                {
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
                self.queue(slot);
            }
        }
    }

    /// Stops: no more accepting or reading; blocked requests get `ShuttingDown`; replies are
    /// flushed for at most `shutdown_flush`.
    fn shutdown(&mut self) -> Result<(), Error> {
        transport::notify("STOPPING=1");
        tracing::info!(
            clients = self.conns.live,
            waiters = self.broker.waiters.len(),
            "shutting down"
        );
        if let Some(l) = self.listener.take() {
            let _ = l.deregister(self.poll.registry());
            l.remove_socket_file();
        }
        self.tcp.close_listeners(self.poll.registry());
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

/// Sets the broker's count of connection buffers to `conn`'s current footprint.
fn conn_recharge(broker: &mut Broker, conn: Option<&mut Connection>) {
    if let Some(c) = conn {
        let now = c.footprint();
        broker.buffers = broker.buffers - c.charged + now;
        c.charged = now;
    }
}
