//! The broker's state: objects by name, the connections' sessions, the waiter table and the
//! memory budget. No sockets here — replies leave through the [`Outbox`] the event loop
//! provides, so everything in this module can be driven by tests without IO.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::stored::Stored;
use xproc_protocol::{Bytes, End, ErrorCode, Info, InfoValue, Kind, ReplyFields, Wait};

use crate::config::Config;
use crate::objects::barrier::Barrier;
use crate::objects::condition::Condition;
use crate::objects::dict::Dict;
use crate::objects::event::Event;
use crate::objects::lock::Lock;
use crate::objects::pipe::Pipe;
use crate::objects::queue::{Item, Queue};
use crate::objects::semaphore::Semaphore;
use crate::objects::{Owner, Wake, Wakes};
use crate::waiters::{WaitOp, Waiter, WaiterId, Waiters};

/// Names a connection: its slot in the event loop's table, and its id (unique for the
/// broker's lifetime, so a reused slot never receives a reply meant for its previous tenant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// Index in the event loop's connection table.
    pub slot: usize,
    /// Unique for the broker's lifetime; the `conn_id` clients see.
    pub id: u64,
}

/// The holder of a nacked delivery waiting out its delay: no connection (no session has this
/// slot, so nothing is ever sent to it).
pub const NOBODY: ConnKey = ConnKey {
    slot: usize::MAX,
    id: 0,
};

/// Where replies go. The event loop implements it over its connections' output buffers.
pub trait Outbox {
    /// Appends `reply`, framed, to connection `to`'s output; dropped if `to` has gone away.
    fn send(&mut self, to: ConnKey, reply: &ReplyFields<'_>);

    /// Appends `reply` carrying `value`: inline in its `value` field, or, where the value is a
    /// memfd and connection `to` negotiated `fds`, as the frame's descriptor with `value_len`
    /// (docs/PROTOCOL.md §4.1). This default always sends it inline.
    fn send_value<'a>(&mut self, to: ConnKey, mut reply: ReplyFields<'a>, value: &'a Stored) {
        reply.value = Some(Bytes::new(value));
        self.send(to, &reply);
    }

    /// Appends `reply` with the descriptors `fds` attached (`fds: N` is set here): a direct
    /// pipe end's socket and counters page (docs/PROTOCOL.md §6.5.1). Only sent to
    /// connections granted `direct_pipes`. This default closes them and sends the reply alone.
    fn send_fds(
        &mut self,
        to: ConnKey,
        mut reply: ReplyFields<'_>,
        fds: Vec<crate::transport::Descriptor>,
    ) {
        reply.fds = Some(fds.len() as u64);
        drop(fds);
        self.send(to, &reply);
    }
}

/// A request refused with an error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error code sent.
    pub code: ErrorCode,
    /// The human-readable message sent.
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// The peer credentials of a connection, read from the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id (0 where the OS does not report one).
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// What the broker knows of one connection.
#[derive(Debug)]
pub struct Session {
    /// Which connection.
    pub key: ConnKey,
    /// Its peer credentials.
    pub peer: PeerCred,
    /// From `hello`.
    pub client: String,
    /// From `hello`.
    pub lang: String,
    /// The pid the client claimed in `hello` (the peer credentials' pid wins).
    pub hello_pid: u32,
    /// Requests of this connection that are blocked.
    pub waits: BTreeSet<WaiterId>,
    /// Deliveries this connection holds (leased, not yet acked or nacked), by delivery id.
    pub leases: BTreeSet<WaiterId>,
    /// Objects this connection may hold something of (locks, permits, pipe ends). A superset:
    /// disconnect cleanup and `clients` check each, so nothing is missed and nothing is
    /// scanned that the connection never touched.
    pub touched: HashSet<Rc<str>>,
    /// A TCP peer's (address, name of the key it proved); `None` on the local socket.
    pub remote: Option<(String, String)>,
    /// The per-object rules of the key it proved (`[keys.NAME]`); `None`: unrestricted (local
    /// clients and the `default` key).
    pub rules: Option<Rc<crate::access::Rules>>,
    /// Granted `direct_pipes` in `hello`: a pipe end it holds may be handed its socket
    /// (docs/PROTOCOL.md §6.5.1).
    pub direct_pipes: bool,
}

impl Session {
    /// The identity objects record as a holder. The pid comes from the peer credentials; the
    /// `hello` pid stands in only where the OS reported none.
    pub fn owner(&self) -> Owner {
        Owner {
            conn: self.key.id,
            pid: if self.peer.pid != 0 {
                self.peer.pid
            } else {
                self.hello_pid
            },
        }
    }
}

/// An object's state, by kind.
#[derive(Debug)]
pub enum Body {
    /// `queue` and `joinable_queue`.
    Queue(Queue),
    /// A `dict`.
    Dict(Dict),
    /// A `pipe`.
    Pipe(Pipe),
    /// `lock` and `rlock`.
    Lock(Lock),
    /// `semaphore` and `bounded_semaphore`.
    Semaphore(Semaphore),
    /// An `event`.
    Event(Event),
    /// A `condition`.
    Condition(Condition),
    /// A `barrier`.
    Barrier(Barrier),
}

/// A named object.
#[derive(Debug)]
pub struct Object {
    /// The object's name (shared with the objects map's key).
    pub name: Rc<str>,
    /// Its kind.
    pub kind: Kind,
    /// Its state.
    pub body: Body,
}

impl Object {
    /// Bytes of values (and dict keys) held, for the memory budget.
    pub fn bytes(&self) -> usize {
        match &self.body {
            Body::Queue(q) => q.bytes(),
            Body::Dict(d) => d.bytes(),
            Body::Pipe(p) => p.bytes(),
            _ => 0,
        }
    }

    /// Items held, for `list`: queue items, dict entries, messages in both pipe inboxes.
    pub fn len(&self) -> usize {
        match &self.body {
            Body::Queue(q) => q.len(),
            Body::Dict(d) => d.len(),
            Body::Pipe(p) => p.len(),
            _ => 0,
        }
    }
    /// Whether it holds no item (always for sync objects).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Requests blocked on the object.
    pub fn waiter_count(&self) -> usize {
        match &self.body {
            Body::Queue(q) => q.waiter_count(),
            Body::Dict(_) => 0,
            Body::Pipe(p) => p.waiter_count(),
            Body::Lock(l) => l.waiter_count(),
            Body::Semaphore(s) => s.waiter_count(),
            Body::Event(e) => e.waiter_count(),
            Body::Condition(c) => c.waiter_count(),
            Body::Barrier(b) => b.n_waiting() as usize,
        }
    }

    /// Every request blocked on this object.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        match &self.body {
            Body::Queue(q) => q.waiters(out),
            Body::Dict(_) => {}
            Body::Pipe(p) => p.waiters(out),
            Body::Lock(l) => l.waiters(out),
            Body::Semaphore(s) => s.waiters(out),
            Body::Event(e) => e.waiters(out),
            Body::Condition(c) => c.waiters(out),
            Body::Barrier(b) => b.waiters(out),
        }
    }

    /// A blocked request's timeout passed; the object pushes its outcome (or keeps it waiting).
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        match &mut self.body {
            Body::Queue(q) => q.timeout(w, wakes),
            Body::Dict(_) => {}
            Body::Pipe(p) => p.timeout(w, wakes),
            Body::Lock(l) => l.timeout(w, wakes),
            Body::Semaphore(s) => s.timeout(w, wakes),
            Body::Event(e) => e.timeout(w, wakes),
            Body::Condition(c) => c.timeout(w, wakes),
            Body::Barrier(b) => b.timeout(w, wakes),
        }
    }

    /// Forgets a blocked request whose connection went away (a barrier breaks).
    pub fn cancel(&mut self, w: WaiterId, wakes: &mut Wakes) {
        match &mut self.body {
            Body::Queue(q) => {
                q.cancel(w, wakes);
            }
            Body::Dict(_) => {}
            Body::Pipe(p) => {
                p.cancel(w);
            }
            Body::Lock(l) => {
                l.cancel(w);
            }
            Body::Semaphore(s) => {
                s.cancel(w);
            }
            Body::Event(e) => {
                e.cancel(w);
            }
            Body::Condition(c) => {
                c.cancel(w);
            }
            Body::Barrier(b) => {
                b.cancel(w, wakes);
            }
        }
    }

    /// What connection `conn` holds of this object, as `clients` shows it.
    pub fn holds(&self, conn: u64, out: &mut Vec<String>) {
        let name = &self.name;
        match &self.body {
            Body::Lock(l) if l.holds(conn) => {
                out.push(match l.depth() {
                    1 => format!("{} {name}", self.kind),
                    d => format!("{} {name} x{d}", self.kind),
                });
            }
            Body::Condition(c) if c.lock().holds(conn) => {
                out.push(match c.lock().depth() {
                    1 => format!("condition {name}"),
                    d => format!("condition {name} x{d}"),
                });
            }
            Body::Semaphore(s) => match s.held_by(conn) {
                0 => {}
                1 => out.push(format!("{} {name}", self.kind)),
                n => out.push(format!("{} {name} x{n}", self.kind)),
            },
            Body::Pipe(p) => {
                for end in [End::A, End::B] {
                    if p.holder(end).is_some_and(|h| h.conn == conn) {
                        out.push(format!("pipe {name}/{}", end.as_str()));
                    }
                }
            }
            _ => {}
        }
    }

    /// `stat`'s fields for this object (docs/PROTOCOL.md §6.8).
    pub fn info(&self) -> Info {
        let mut i = Info::default();
        let holder = |o: Option<Owner>| (o.map(|o| o.pid), o.map(|o| o.conn));
        match &self.body {
            Body::Queue(q) => {
                let st = q.stats();
                i.add("len", q.len())
                    .add("maxsize", q.maxsize())
                    .add("unfinished", q.unfinished())
                    .add("getters", q.getters())
                    .add("putters", q.putters())
                    .add("joiners", q.joiners())
                    .add("bytes", q.bytes())
                    .add("max_attempts", q.max_attempts())
                    .add("in_flight", q.in_flight().count())
                    .add("delayed", q.delayed())
                    .add("acked", st.acked)
                    .add("nacked", st.nacked)
                    .add("expired", st.expired)
                    .add("abandoned", st.abandoned)
                    .add("requeued", st.requeued)
                    .add("dead_lettered", st.dead_lettered);
                // `deliveries` needs the broker's lease records; `admin::stat` adds it.
            }
            Body::Dict(d) => {
                i.add("len", d.len()).add("bytes", d.bytes());
            }
            Body::Pipe(p) => {
                let (a_pid, _) = holder(p.holder(End::A));
                let (b_pid, _) = holder(p.holder(End::B));
                i.add("duplex", p.duplex())
                    .add("capacity", p.capacity())
                    .add("a_holder_pid", a_pid)
                    .add("b_holder_pid", b_pid)
                    .add("a_inbox", p.inbox_count(End::A))
                    .add("b_inbox", p.inbox_count(End::B))
                    .add("finished", p.finished())
                    .add("direct", p.is_direct())
                    .add("waiters", p.waiter_count())
                    .add("bytes", p.bytes());
            }
            Body::Lock(l) => lock_info(&mut i, l),
            Body::Condition(c) => {
                lock_info(&mut i, c.lock());
                i.add("waiting", c.parked());
            }
            Body::Semaphore(s) => {
                let holders: Vec<InfoValue> = s
                    .holders()
                    .into_iter()
                    .map(|(o, n)| InfoValue::Str(format!("conn {} pid {} x{n}", o.conn, o.pid)))
                    .collect();
                i.add("value", s.value())
                    .add("initial", s.initial())
                    .add("bounded", s.bounded())
                    .add("waiters", s.waiter_count());
                i.0.push(("holders".into(), InfoValue::List(holders)));
            }
            Body::Event(e) => {
                i.add("set", e.is_set()).add("waiters", e.waiter_count());
            }
            Body::Barrier(b) => {
                i.add("parties", b.parties())
                    .add("n_waiting", b.n_waiting())
                    .add("broken", b.broken());
            }
        }
        i
    }
}

fn lock_info(i: &mut Info, l: &Lock) {
    let h = l.holder();
    i.add("holder_pid", h.map(|o| o.pid))
        .add("holder_conn", h.map(|o| o.conn))
        .add("depth", l.depth())
        .add("waiters", l.waiter_count())
        .add("abandoned_by", l.abandoned_by());
}

/// The whole broker state.
#[derive(Debug)]
pub struct Broker {
    /// Limits and settings.
    pub config: Config,
    /// Every object, by name. Add and remove objects only through
    /// [`insert_object`](Self::insert_object) and [`remove_object`](Self::remove_object), which
    /// keep `names` in step.
    pub objects: HashMap<Rc<str>, Object>,
    /// Every object's name, in byte order: the index `scan` pages through (O(log n) a page).
    pub names: BTreeSet<Rc<str>>,
    /// Sessions by connection slot.
    pub sessions: Vec<Option<Session>>,
    /// Every blocked request.
    pub waiters: Waiters,
    /// Bytes of values held across all objects (see [`Object::bytes`]).
    pub memory: usize,
    /// Bytes of connection buffers beyond each connection's base (see
    /// [`Connection::footprint`](crate::connection::Connection::footprint)), kept by the event
    /// loop.
    pub buffers: usize,
    /// Bytes of object names held.
    pub name_bytes: usize,
    /// Scratch list for the wakes an operation causes; reused so requests do not allocate.
    pub wakes: Wakes,
    /// Blocked `queue.get_any` and `wait` requests' objects (`multi.rs`).
    pub multi: crate::multi::Multi,
}

impl Broker {
    /// An empty broker.
    pub fn new(config: Config) -> Self {
        Broker {
            config,
            objects: HashMap::new(),
            names: BTreeSet::new(),
            sessions: Vec::new(),
            waiters: Waiters::new(),
            memory: 0,
            buffers: 0,
            name_bytes: 0,
            wakes: Wakes::new(),
            multi: Default::default(),
        }
    }

    /// A connection arrived.
    pub fn connect(&mut self, key: ConnKey, peer: PeerCred) {
        if self.sessions.len() <= key.slot {
            self.sessions.resize_with(key.slot + 1, || None);
        }
        self.sessions[key.slot] = Some(Session {
            key,
            peer,
            client: String::new(),
            lang: String::new(),
            hello_pid: 0,
            waits: BTreeSet::new(),
            leases: BTreeSet::new(),
            touched: HashSet::new(),
            remote: None,
            rules: None,
            direct_pipes: false,
        });
    }

    /// The session of connection `key`, if it is still there.
    pub fn session(&self, key: ConnKey) -> Option<&Session> {
        self.sessions
            .get(key.slot)
            .and_then(|s| s.as_ref())
            .filter(|s| s.key == key)
    }

    /// The session of connection `key`, mutably.
    pub fn session_mut(&mut self, key: ConnKey) -> Option<&mut Session> {
        self.sessions
            .get_mut(key.slot)
            .and_then(|s| s.as_mut())
            .filter(|s| s.key == key)
    }

    /// The holder identity of connection `key`.
    pub fn owner(&self, key: ConnKey) -> Owner {
        self.session(key).map_or(
            Owner {
                conn: key.id,
                pid: 0,
            },
            Session::owner,
        )
    }

    /// Notes that `key` may hold something of object `name` (see [`Session::touched`]).
    pub fn touch(&mut self, key: ConnKey, name: &Rc<str>) {
        if let Some(s) = self.session_mut(key) {
            if !s.touched.contains(&**name) {
                s.touched.insert(name.clone());
            }
        }
    }

    /// Adds a new object (the caller checked `max_objects` and that the name is free).
    pub fn insert_object(&mut self, name: &str, kind: Kind, body: Body) {
        let name: Rc<str> = name.into();
        self.name_bytes += name.len();
        self.names.insert(name.clone());
        self.objects
            .insert(name.clone(), Object { name, kind, body });
    }

    /// Removes object `name`: its bytes leave the budget and no session keeps it in its
    /// `touched` set (O(connections); only `delete` and a freed pipe get here). Blocked
    /// requests are the caller's business.
    pub fn remove_object(&mut self, name: &str) -> Option<Object> {
        let obj = self.objects.remove(name)?;
        self.names.remove(name);
        self.account(obj.bytes(), 0);
        self.name_bytes -= obj.name.len();
        for s in self.sessions.iter_mut().flatten() {
            s.touched.remove(name);
        }
        Some(obj)
    }

    /// Bytes the broker holds for its clients besides values and charges to the budget:
    /// connection buffers beyond their base, blocked requests and lease records, and object
    /// names (what [`check_memory`](Self::check_memory) adds to [`memory`](Self::memory)).
    pub fn held(&self) -> usize {
        self.buffers + self.name_bytes + self.waiters.len() * WAITER_OVERHEAD + self.multi.held()
    }

    /// Everything charged to the memory budget.
    pub fn charged(&self) -> usize {
        self.memory + self.held()
    }

    /// Refuses a write of `incoming` bytes that would take the broker past its memory budget.
    pub fn check_memory(&self, incoming: usize) -> Result<(), Failure> {
        if self.charged().saturating_add(incoming) > self.config.memory_limit {
            return Err(Failure::new(
                ErrorCode::LimitExceeded,
                format!(
                    "memory_limit ({} bytes) reached: the broker holds {} bytes of values \
                     (with per-entry overhead) and {} bytes of connection buffers, blocked \
                     requests and names; this needs {incoming} more",
                    self.config.memory_limit,
                    self.memory,
                    self.held()
                ),
            ));
        }
        Ok(())
    }

    /// Sets the `client` and `lang` a session reported in `hello`, each cut to
    /// [`MAX_LABEL_LEN`] bytes: they are labels for humans, held for the connection's life,
    /// and must not let `hello` make the broker keep a frame's worth per connection.
    pub fn name_session(&mut self, key: ConnKey, client: &str, lang: &str, pid: u32) {
        if let Some(s) = self.session_mut(key) {
            s.client = label(client);
            s.lang = label(lang);
            s.hello_pid = pid;
        }
    }

    /// Records that an object went from `before` to `after` bytes.
    pub fn account(&mut self, before: usize, after: usize) {
        self.memory = self.memory - before + after;
    }

    /// Records request `req` of `conn` as blocked under `id` (the id handed to the object;
    /// it must be [`Waiters::next_id`]).
    pub fn block(
        &mut self,
        id: WaiterId,
        conn: ConnKey,
        req: u64,
        op: WaitOp,
        object: Rc<str>,
        wait: Wait,
    ) {
        debug_assert_eq!(id, self.waiters.next_id());
        let (deadline, timeout_ms) = match wait {
            Wait::Forever | Wait::Ms(0) => (None, 0),
            Wait::Ms(ms) => (Instant::now().checked_add(Duration::from_millis(ms)), ms),
        };
        let id = self.waiters.insert(Waiter {
            conn,
            req,
            op,
            object,
            deadline,
            timeout_ms,
            since: Instant::now(),
        });
        if let Some(s) = self.session_mut(conn) {
            s.waits.insert(id);
        }
    }

    /// Records delivery `id` (it must be [`Waiters::next_id`]) of queue `object` as leased by
    /// `conn` for `lease_ms`: its lease runs out in the deadline table like any timeout.
    pub fn lease(&mut self, id: WaiterId, conn: ConnKey, object: Rc<str>, lease_ms: u64) {
        debug_assert_eq!(id, self.waiters.next_id());
        let now = Instant::now();
        let id = self.waiters.insert(Waiter {
            conn,
            req: id.0,
            op: WaitOp::Lease,
            object,
            deadline: now.checked_add(Duration::from_millis(lease_ms)),
            timeout_ms: lease_ms,
            since: now,
        });
        if let Some(s) = self.session_mut(conn) {
            s.leases.insert(id);
        }
    }

    /// Drops the record of delivery `id` (acked, returned, or its queue deleted).
    pub fn end_delivery(&mut self, id: WaiterId) {
        if let Some(w) = self.waiters.remove(id) {
            if let Some(s) = self.session_mut(w.conn) {
                s.leases.remove(&id);
            }
        }
    }

    /// Moves the items queue `name` staged for its dead-letter queue to `NAME.dead` (a plain
    /// queue, created on demand, `max_attempts` 0). When that cannot be done — the name would
    /// be too long, holds another kind, `max_objects` is reached, or it is a full bounded
    /// queue — the item goes back to the head of `name` instead and a warning is logged:
    /// retrying is better than losing it.
    pub fn route_dead_letters(&mut self, name: &str) {
        let dead = match self.objects.get_mut(name).map(|o| &mut o.body) {
            Some(Body::Queue(q)) if q.has_dead() => {
                let before = q.bytes();
                let dead = q.take_dead();
                let after = q.bytes();
                self.account(before, after);
                dead
            }
            _ => return,
        };
        let dead_name = format!("{name}{DEAD_SUFFIX}");
        for item in dead {
            let outcome = self.dead_letter(&dead_name, item);
            if outcome.is_ok() {
                self.touch_ready(&dead_name);
            }
            let Some(Body::Queue(q)) = self.objects.get_mut(name).map(|o| &mut o.body) else {
                continue;
            };
            let before = q.bytes();
            match outcome {
                Ok(()) => q.dead_lettered(&mut self.wakes),
                Err((item, why)) => {
                    tracing::warn!(queue = name, dead_letter_queue = %dead_name, "cannot dead-letter an item ({why}); it goes back to the head of its queue");
                    q.requeue(item, &mut self.wakes);
                }
            }
            let after = q.bytes();
            self.account(before, after);
        }
    }

    /// Appends one item to the dead-letter queue `dead_name`, creating it if needed.
    fn dead_letter(&mut self, dead_name: &str, item: Item) -> Result<(), (Item, String)> {
        if dead_name.len() > xproc_protocol::request::MAX_NAME_LEN {
            return Err((
                item,
                format!("'{dead_name}' would be a name over 255 bytes"),
            ));
        }
        if !self.objects.contains_key(dead_name) {
            if self.objects.len() >= self.config.max_objects {
                return Err((
                    item,
                    format!("max_objects ({}) reached", self.config.max_objects),
                ));
            }
            self.insert_object(dead_name, Kind::Queue, Body::Queue(Queue::new(0, false, 0)));
        }
        let Some(obj) = self.objects.get_mut(dead_name) else {
            return Err((item, "it vanished".into()));
        };
        let kind = obj.kind;
        let Body::Queue(dq) = &mut obj.body else {
            return Err((item, format!("'{dead_name}' is a {kind}")));
        };
        if dq.maxsize() != 0 && dq.len() as u64 >= dq.maxsize() && dq.getters() == 0 {
            return Err((item, format!("'{dead_name}' is full")));
        }
        let before = dq.bytes();
        dq.put(item.value, None, &mut self.wakes);
        let after = dq.bytes();
        self.account(before, after);
        Ok(())
    }

    /// Answers every waiter an operation woke (the wakes it pushed), in order.
    pub fn deliver(&mut self, out: &mut dyn Outbox) {
        // Answering a multi-object wait drops its other registrations, which pushes no wake;
        // one pass over the list is enough.
        if !self.wakes.is_empty() {
            self.deliver_wakes(out);
        }
        self.check_ready(out);
    }

    fn deliver_wakes(&mut self, out: &mut dyn Outbox) {
        let mut wakes = std::mem::take(&mut self.wakes);
        for (id, wake) in wakes.drain(..) {
            match wake {
                Wake::Leased { attempt, lease_ms } => self.start_lease(id, attempt, lease_ms, out),
                Wake::Forget => self.end_delivery(id),
                wake if self.multi.is_multi(id) => self.finish_multi(id, wake, out),
                wake => {
                    let Some(w) = self.waiters.remove(id) else {
                        tracing::error!(?id, "broker bug: a wake for an unknown waiter");
                        continue;
                    };
                    if let Some(s) = self.session_mut(w.conn) {
                        s.waits.remove(&id);
                    }
                    answer(out, &w, wake);
                }
            }
        }
        self.wakes = wakes;
    }

    /// A blocked `queue.get_leased` got its item: its record becomes the lease (from now, for
    /// `lease_ms`), and it is answered with the value, `delivery` and `attempt`.
    fn start_lease(&mut self, id: WaiterId, attempt: u32, lease_ms: u64, out: &mut dyn Outbox) {
        let Some(w) = self.waiters.get(id) else {
            tracing::error!(?id, "broker bug: a lease for an unknown waiter");
            return;
        };
        let (conn, req, object, many) = (
            w.conn,
            w.req,
            w.object.clone(),
            w.op == WaitOp::QueueGetManyLeased,
        );
        let deadline = Instant::now().checked_add(Duration::from_millis(lease_ms));
        self.waiters
            .convert(id, WaitOp::Lease, conn, deadline, lease_ms);
        if let Some(s) = self.session_mut(conn) {
            s.waits.remove(&id);
            s.leases.insert(id);
        }
        let value = match self.objects.get(&*object).map(|o| &o.body) {
            Some(Body::Queue(q)) => q.in_flight_value(id),
            _ => None,
        };
        match value {
            // A blocked `queue.get_many_leased` is answered with the one item that came.
            Some(v) if many => out.send(
                conn,
                &ReplyFields {
                    values: Some(vec![Some(Bytes::new(v))]),
                    deliveries: Some(vec![id.0]),
                    attempts: Some(vec![u64::from(attempt)]),
                    ..ReplyFields::ok(req)
                },
            ),
            Some(v) => out.send(conn, &leased_reply(req, v, id, attempt)),
            None => tracing::error!(?id, "broker bug: a lease without its item"),
        }
    }

    /// Handles every waiter whose deadline has passed by `now`.
    pub fn expire(&mut self, now: Instant, out: &mut dyn Outbox) {
        while let Some(id) = self.waiters.pop_expired(now) {
            self.time_out(id, out);
        }
    }

    /// `cancel`: connection `conn` gives up its blocked request `req`, which is answered now
    /// exactly as if its timeout had passed (a queue get gets `Timeout`, a barrier breaks, a
    /// condition wait goes on to reacquire its lock). False if no such request is blocked:
    /// it was answered already, or never blocked.
    pub fn cancel(&mut self, conn: ConnKey, req: u64, out: &mut dyn Outbox) -> bool {
        let Some(session) = self.session(conn) else {
            return false;
        };
        let found = session.waits.iter().copied().find(|&id| {
            self.waiters
                .get(id)
                .is_some_and(|w| w.req == req && !w.op.is_delivery())
        });
        let Some(id) = found else {
            return false;
        };
        self.waiters.clear_deadline(id);
        self.time_out(id, out);
        true
    }

    /// Answers waiter `id` as its object answers a timeout.
    fn time_out(&mut self, id: WaiterId, out: &mut dyn Outbox) {
        if self.multi.is_multi(id) {
            self.time_out_multi(id, out);
            return;
        }
        let Some(w) = self.waiters.get(id) else {
            return;
        };
        let object = w.object.clone();
        match self.objects.get_mut(&*object) {
            Some(obj) => {
                let before = obj.bytes();
                obj.timeout(id, &mut self.wakes);
                let after = obj.bytes();
                self.account(before, after);
                // A lease or a nack delay that ran out returns its item.
                self.touch_ready(&object);
                self.route_dead_letters(&object);
            }
            None => {
                tracing::error!(?id, "broker bug: a waiter on a missing object");
                self.wakes.push((id, Wake::Fail(ErrorCode::Timeout)));
            }
        }
        self.deliver(out);
    }

    /// The broker is stopping: every blocked request is answered `ShuttingDown`.
    pub fn shutdown(&mut self, out: &mut dyn Outbox) {
        let mut all: Vec<_> = self.waiters.drain().collect();
        all.sort_by_key(|(id, _)| *id);
        for (_, w) in all {
            if !w.op.is_delivery() {
                answer(out, &w, Wake::Fail(ErrorCode::ShuttingDown));
            }
        }
        for s in self.sessions.iter_mut().flatten() {
            s.waits.clear();
            s.leases.clear();
        }
    }
}

/// Bytes charged per blocked request or lease record: the waiter record, its entries in the
/// waiter table, the deadline index, the session's set and the object's queue of waiters.
pub const WAITER_OVERHEAD: usize = 256;

/// Longest `client` or `lang` label a session keeps from `hello`, in bytes.
pub const MAX_LABEL_LEN: usize = 255;

/// `s` cut to at most [`MAX_LABEL_LEN`] bytes, at a character boundary.
fn label(s: &str) -> String {
    let mut end = s.len().min(MAX_LABEL_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The suffix of a queue's dead-letter queue: `tasks` → `tasks.dead`.
pub const DEAD_SUFFIX: &str = ".dead";

/// The reply to `queue.get_leased`: the value, its delivery id and attempt number.
pub fn leased_reply(req: u64, value: &[u8], delivery: WaiterId, attempt: u32) -> ReplyFields<'_> {
    ReplyFields {
        value: Some(Bytes::new(value)),
        delivery: Some(delivery.0),
        attempt: Some(u64::from(attempt)),
        ..ReplyFields::ok(req)
    }
}

/// Encodes the reply to a woken waiter.
fn answer(out: &mut dyn Outbox, w: &Waiter, wake: Wake) {
    let mut r = ReplyFields::ok(w.req);
    if let Wake::Direct(handoff) = wake {
        r.direct = Some(true);
        match handoff {
            Some(h) => out.send_fds(w.conn, r, h.into_fds()),
            None => out.send(w.conn, &r),
        }
        return;
    }
    let message;
    match &wake {
        Wake::Done => {}
        // A blocked `queue.get_many` is answered with the one item that came.
        Wake::Value(v) if w.op == WaitOp::QueueGetMany => {
            r.values = Some(vec![Some(Bytes::new(v))])
        }
        Wake::Value(v) => {
            out.send_value(w.conn, r, v);
            return;
        }
        Wake::Acquired {
            acquired,
            abandoned_by,
        } => {
            r.acquired = Some(*acquired);
            r.abandoned_by = *abandoned_by;
        }
        Wake::Notified {
            notified,
            abandoned_by,
        } => {
            r.notified = Some(*notified);
            r.abandoned_by = *abandoned_by;
        }
        Wake::Set(set) => r.set = Some(*set),
        Wake::Ready(ready) => r.ready = Some(*ready),
        Wake::Index(i) => r.index = Some(*i),
        // Handled by `Broker::deliver` before it gets here.
        Wake::Leased { .. } | Wake::Forget | Wake::Direct(_) => return,
        Wake::PartlyPut { code, put } => {
            message = format!(
                "{} on '{}' failed ({code}) after {put} of its values were put",
                w.op.as_str(),
                w.object
            );
            r.error = Some(code.as_str());
            r.message = Some(&message);
            r.put = Some(*put);
        }
        Wake::Fail(code) => {
            let (op, name) = (w.op.as_str(), &w.object);
            message = match code {
                ErrorCode::Timeout => {
                    format!("{op} on '{name}' timed out after {} ms", w.timeout_ms)
                }
                ErrorCode::Closed => format!("pipe '{name}': the other end is closed"),
                ErrorCode::BrokenBarrier => format!("barrier '{name}' is broken"),
                ErrorCode::NotFound => format!("'{name}' was deleted while {op} waited on it"),
                ErrorCode::ShuttingDown => "the broker is shutting down".to_string(),
                other => format!("{op} on '{name}' failed: {other}"),
            };
            r.error = Some(code.as_str());
            r.message = Some(&message);
        }
    }
    out.send(w.conn, &r);
}
