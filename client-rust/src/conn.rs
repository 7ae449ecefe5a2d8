//! The connection: the only code that touches the socket. One Unix stream carries the requests
//! of every thread and handle of a [`Client`](crate::Client); this module matches replies to
//! their requests by id.
//!
//! # How replies find their caller (leader/follower)
//!
//! Writes happen under a mutex, one whole batch of frames at a time. Reading has no thread of
//! its own: a caller waiting for its reply takes the [`Reader`] if nobody holds it (it becomes
//! the *leader*), reads, and files every whole reply it finds into its caller's slot in
//! `pending`. Callers that find the reader taken sleep on a condvar (*followers*); the leader
//! wakes them after each read, so a follower whose reply was filed returns and another one can
//! take over reading when the leader's own reply has come. A single-threaded client thus reads
//! its reply itself, with no thread hop and no condvar traffic (sleepers are counted, so
//! nobody is notified when nobody sleeps).
//!
//! The receive buffer lives in the [`Reader`], not on a caller's stack, so a leader that stops
//! reading mid-frame loses nothing: the next leader continues the frame.
//!
//! A caller whose deadline passes never just walks away: it cancels its request at the broker
//! (docs/PROTOCOL.md §5, `cancel`) and waits for the request's real outcome, so nothing the
//! broker hands it afterwards (an item, a lock) is lost with a discarded reply.
//! When the stream fails or ends, the connection is marked dead and every caller, waiting or
//! future, gets [`Error::Disconnected`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use xproc_protocol::frame::{self, Check, HEADER_LEN};
use xproc_protocol::idle::Governor;
use xproc_protocol::{ErrorCode, ReplyFields, RequestFields};

use crate::error::{Error, Result};
use crate::transport::{fork_generation, Descriptor, Stream};

thread_local! {
    /// Whether a signal that interrupts this thread's wait for a reply ends the call
    /// ([`set_interruptible`]).
    static INTERRUPTIBLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes blocking calls made *by this thread* end with [`Error::Interrupted`] when a signal
/// handler interrupts them (the read fails with `EINTR`), instead of waiting on. Off by default.
///
/// This is for runtimes that run their signal handlers between calls — Python's Ctrl-C
/// (`KeyboardInterrupt`) runs only once the call returns. The interrupted request is
/// cancelled at the broker first (docs/PROTOCOL.md §5, `cancel`), so nothing is lost: a `get`
/// takes no item. If the request had completed anyway, its real outcome is returned instead.
/// Only the thread reading for the connection sees the signal: a call that is waiting while
/// another thread of the same client reads is not interrupted.
///
/// # Example
///
/// ```no_run
/// # fn main() -> xproc::Result<()> {
/// # let client = xproc::Client::connect_default()?;
/// xproc::set_interruptible(true); // this thread's blocking calls now end on a signal
/// match client.queue::<u32>("tasks")?.get() {
///     Err(xproc::Error::Interrupted) => println!("interrupted; the item stayed in the queue"),
///     other => println!("{:?}", other.map(|n| n * 2)),
/// }
/// # Ok(()) }
/// ```
pub fn set_interruptible(on: bool) {
    INTERRUPTIBLE.with(|f| f.set(on));
}

/// Whether this thread asked for its blocking calls to end on a signal ([`set_interruptible`]).
pub(crate) fn interruptible() -> bool {
    INTERRUPTIBLE.with(|f| f.get())
}

/// Most descriptors kept from one reply (a direct pipe end: its socket and counters page);
/// any more are closed.
const MAX_FDS_PER_REPLY: usize = 2;

/// Largest reply frame this client accepts. Far above the broker's `max_frame` on purpose:
/// snapshots such as `dict.items` may legitimately exceed it. Anything larger is taken as a
/// corrupt stream and closes the connection (docs/PROTOCOL.md §2).
pub const MAX_REPLY_FRAME: usize = 1 << 30;

/// Largest request payload this client will encode whatever the broker says: the frame header
/// holds a 32-bit length, and the rest leaves room for the request's other fields.
const MAX_REQUEST_FRAME: usize = u32::MAX as usize - 64 * 1024;

/// How much longer than asked a socket receive timeout may be kept (see `Reader::set_timeout`).
const TIMEOUT_SLACK: Duration = Duration::from_millis(20);

/// Most memfd values filed and not yet taken by their callers (see `State::fds`).
const MAX_UNTAKEN_FDS: usize = 64;

/// Bytes of deferred request frames ([`Conn::start_deferred`]) past which they are written at
/// once instead of waiting for the loop's flush: bounds the buffer, and one `send` of this
/// size already amortises the syscall over hundreds of requests.
const DEFERRED_FLUSH_BYTES: usize = 64 * 1024;

/// Bytes the receive buffer starts with; it grows for larger frames.
const READ_BUFFER: usize = 64 * 1024;

/// A receive buffer grown beyond this (by a large reply) is shrunk back once it is empty, so
/// one big snapshot does not pin its size in memory for the connection's life.
const READ_BUFFER_KEEP: usize = 1 << 20;

/// A hasher for request ids (sequential `u64`s, never chosen by a peer): one multiplication
/// instead of SipHash, which was a fifth of an async client's CPU time per request (each
/// request passes through several id maps: reply slots, watched set, completions, wakers).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the low bits (the bucket) and the high bits (the table's tag)
        // both vary with every id.
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by request id.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
/// A set of request ids.
pub(crate) type IdSet = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// One connection to a broker, shared by every thread of a client.
pub(crate) struct Conn {
    /// The socket path, for messages.
    path: String,
    /// The process that connected. A child created by `fork` inherits the socket but must not
    /// use it: its bytes would interleave with the parent's on the one stream.
    pid: u32,
    /// [`fork_generation`] when the connection was made; a different value means this is a
    /// forked child.
    fork_generation: u64,
    /// Largest request payload the broker accepts (its `max_frame`); 0 until `hello` told us.
    max_request: AtomicUsize,
    /// The write half and its reusable encode buffer.
    writer: Mutex<Writer>,
    /// Whether `Writer::deferred` holds frames: lets a waiter check without the writer lock.
    has_deferred: AtomicBool,
    /// Whether [`Client::start`](crate::Client::start) defers its writes
    /// ([`Conn::set_defer_starts`]).
    defer_starts: AtomicBool,
    /// Reply slots, the reader (when no leader holds it) and the connection's health.
    state: Mutex<State>,
    /// Followers sleep here; the leader wakes them after each read.
    wake: Condvar,
}

struct Writer {
    stream: Stream,
    /// Frames are encoded here and sent with one `send` per batch.
    buf: Vec<u8>,
    /// Frames of started requests not written yet ([`Conn::start_deferred`]): the requests an
    /// event loop starts in one turn leave in one `send` when it flushes (Redis's output
    /// buffer, flushed in `beforeSleep`). Every other write sends them first, and every
    /// caller that waits on the connection flushes them, so they cannot be forgotten.
    deferred: Vec<u8>,
}

struct State {
    next_id: u64,
    /// Calls waiting for a reply, by request id: `None` until the reply is filed.
    pending: IdMap<Option<Vec<u8>>>,
    /// Descriptors that came with filed replies (a memfd value, docs/PROTOCOL.md §4.1), by
    /// request id, until the caller — who learns of one from its reply's `value_len` — takes
    /// it with [`Conn::take_fd`]. Any left by a caller that did not look (a raw `call`) are
    /// closed once more than [`MAX_UNTAKEN_FDS`] wait. Replies without one never touch it.
    fds: IdMap<Descriptor>,
    /// Descriptors after the first that came with a filed reply (a direct pipe end's
    /// counters page, docs/PROTOCOL.md §6.5.1), by request id, taken with
    /// [`Conn::take_fds`]; dropped with the first when that is evicted or forgotten.
    more_fds: IdMap<Vec<Descriptor>>,
    /// `None` while a leader is reading.
    reader: Option<Reader>,
    /// Threads asleep on `wake`.
    sleepers: usize,
    /// Why the connection is unusable, once it is.
    dead: Option<String>,
    /// An error the broker sent with id 0 (a connection-level error such as `TooLarge`), kept
    /// to explain the disconnect that follows it.
    last_error: Option<String>,
    /// The code and message of that error, for [`Conn::refusal`].
    refusal: Option<(String, String)>,
    /// Requests started for an event loop (`events.rs`): whoever files their reply calls
    /// `on_watched`, so the loop's descriptor becomes readable even when another thread read it.
    watched: IdSet,
    /// Watched requests whose reply was filed since the last `take_watched`.
    filed_watched: Vec<u64>,
    on_watched: Option<Box<dyn Fn() + Send>>,
    /// A thread other than the loop's filed watched replies since `on_watched` was last
    /// called: it is called once per read, not once per reply (each call is a syscall).
    wake_owed: bool,
    /// `pump` found the reader taken: whoever holds it wakes the loop when giving it back.
    missed: bool,
}

impl State {
    /// Gives the reader back; if a `pump` missed it meanwhile, makes the loop's descriptor
    /// readable so that the loop reads what may have come since.
    fn put_reader(&mut self, reader: Reader) {
        self.reader = Some(reader);
        if std::mem::take(&mut self.missed) {
            if let Some(f) = &self.on_watched {
                f();
            }
        }
    }

    /// Makes the loop's descriptor readable if watched replies were filed by this read.
    fn wake_loop(&mut self) {
        if std::mem::take(&mut self.wake_owed) {
            if let Some(f) = &self.on_watched {
                f();
            }
        }
    }

    fn kill(&mut self, why: String) {
        if self.dead.is_none() {
            self.dead = Some(match self.last_error.take() {
                Some(e) => format!("{why} (after: {e})"),
                None => why,
            });
        }
    }
}

/// The read half and its receive buffer; held by the leader while it reads.
struct Reader {
    stream: Stream,
    /// Received bytes live in `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    /// Descriptors received and not yet filed with their reply, each tagged with the stream
    /// offset of the last byte of the read that brought it, which lies in its frame
    /// (docs/PROTOCOL.md §1.3).
    fds: VecDeque<(u64, Descriptor)>,
    /// The socket's current receive timeout, to skip `setsockopt` calls that change nothing.
    timeout: Option<Duration>,
    /// On TCP, since when reads have found nothing at all (not even a heartbeat): past the
    /// stream's `link_timeout` the link is dead (docs/PROTOCOL.md §1.2).
    silent_since: Option<Instant>,
    /// How long to poll for the reply before sleeping in the read (off unless the client
    /// asked: `ConnectOptions::busy_poll`, `XPROC_BUSY_POLL_US`).
    idle: Governor,
}

/// How [`Conn::wait_for`] ended.
enum Outcome {
    Reply(Vec<u8>),
    Interrupted,
    /// The caller's deadline passed; the slot is left in place.
    TimedOut,
}

enum Filled {
    Data,
    TimedOut,
    /// A signal handler interrupted the read, and this thread asked to hear of that.
    Interrupted,
}

impl Conn {
    /// Wraps a connected stream. `path` is only used in messages.
    pub(crate) fn new(stream: Stream, path: String) -> io::Result<Conn> {
        let read = stream.try_clone()?;
        Ok(Conn {
            path,
            pid: std::process::id(),
            fork_generation: fork_generation(),
            max_request: AtomicUsize::new(0),
            writer: Mutex::new(Writer {
                stream,
                buf: Vec::with_capacity(4096),
                deferred: Vec::new(),
            }),
            has_deferred: AtomicBool::new(false),
            defer_starts: AtomicBool::new(false),
            state: Mutex::new(State {
                next_id: 1,
                pending: IdMap::default(),
                fds: IdMap::default(),
                more_fds: IdMap::default(),
                reader: Some(Reader {
                    stream: read,
                    buf: vec![0; READ_BUFFER],
                    start: 0,
                    end: 0,
                    offset: 0,
                    fds: VecDeque::new(),
                    timeout: None,
                    silent_since: None,
                    idle: Governor::new(Duration::ZERO),
                }),
                sleepers: 0,
                dead: None,
                last_error: None,
                refusal: None,
                watched: IdSet::default(),
                filed_watched: Vec::new(),
                on_watched: None,
                wake_owed: false,
                missed: false,
            }),
            wake: Condvar::new(),
        })
    }

    /// Polls for replies for up to `max` (adaptively, [`Governor`]) before a wait sleeps in
    /// the read; zero: never. Called once, right after connecting.
    pub(crate) fn set_busy_poll(&self, max: Duration) {
        if let Some(reader) = self.lock_state().reader.as_mut() {
            reader.idle = Governor::new(max);
        }
    }

    /// Sets the request size limit (the broker's `max_frame`, from `hello`).
    pub(crate) fn set_max_request(&self, max: usize) {
        self.max_request.store(max, Ordering::Relaxed);
    }

    /// Sends one request (its `id` is assigned here) and waits for its reply payload until
    /// `deadline` (`None`: as long as it takes).
    pub(crate) fn round_trip(
        &self,
        req: RequestFields<'_>,
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>> {
        let id = self.register(1)?;
        if let Err(e) = self.send(id, std::iter::once(req)) {
            self.forget(id, 1);
            return Err(e);
        }
        self.wait(id, deadline)
    }

    /// Sends one request and returns its id without waiting: the reply is collected later
    /// with [`finish`](Self::finish) (or found with [`ready`](Self::ready)). Every started
    /// request must be finished, or its slot stays.
    pub(crate) fn start(&self, req: RequestFields<'_>) -> Result<u64> {
        let id = self.register(1)?;
        if let Err(e) = self.send(id, std::iter::once(req)) {
            self.forget(id, 1);
            return Err(e);
        }
        Ok(id)
    }

    /// Sends one request for an event loop: its reply is collected by
    /// [`take_watched`](Self::take_watched), never waited for (see `events.rs`). With
    /// [`set_defer_starts`](Self::set_defer_starts) on, it is deferred instead, as by
    /// [`start_deferred`](Self::start_deferred).
    pub(crate) fn start_watched(&self, req: RequestFields<'_>) -> Result<u64> {
        if self.defer_starts.load(Ordering::Relaxed) {
            return self.start_deferred(req).map(|(id, _)| id);
        }
        let id = self.register_watched()?;
        if let Err(e) = self.send(id, std::iter::once(req)) {
            self.forget(id, 1);
            return Err(e);
        }
        Ok(id)
    }

    /// [`start_watched`](Self::start_watched) without writing: the request's frame waits in
    /// the output buffer until [`flush_deferred`](Self::flush_deferred), the next write of
    /// any request, or any caller that waits on the connection (a blocking call, `pump`) —
    /// whichever comes first. Past [`DEFERRED_FLUSH_BYTES`] it is written at once. Returns the
    /// id, and whether the buffer was empty before: that caller owes the flush.
    pub(crate) fn start_deferred(&self, req: RequestFields<'_>) -> Result<(u64, bool)> {
        let id = self.register_watched()?;
        let max = self.max_request.load(Ordering::Relaxed);
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = w.deferred.is_empty();
        if let Err(e) = encode_checked(&mut w.deferred, max, id, std::iter::once(req)) {
            drop(w);
            self.forget(id, 1);
            return Err(e);
        }
        if w.deferred.len() >= DEFERRED_FLUSH_BYTES {
            return self.write_deferred(w).map(|()| (id, false));
        }
        self.has_deferred.store(true, Ordering::Release);
        Ok((id, was_empty))
    }

    /// Writes the frames [`start_deferred`](Self::start_deferred) left in the output buffer,
    /// if any, in one `send`.
    pub(crate) fn flush_deferred(&self) -> Result<()> {
        if !self.has_deferred.load(Ordering::Acquire) {
            return Ok(());
        }
        // A forked child must not write the parent's deferred requests to the parent's socket.
        if let Some(e) = self.forked() {
            return Err(e);
        }
        let w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.write_deferred(w)
    }

    /// Whether [`start_watched`](Self::start_watched) defers its writes (off by default). An
    /// event loop that turns it on must call [`flush_deferred`](Self::flush_deferred) (or
    /// `process`) before it sleeps.
    pub(crate) fn set_defer_starts(&self, on: bool) {
        self.defer_starts.store(on, Ordering::Relaxed);
        if !on {
            let _ = self.flush_deferred();
        }
    }

    fn write_deferred(&self, mut w: MutexGuard<'_, Writer>) -> Result<()> {
        let Writer {
            stream, deferred, ..
        } = &mut *w;
        let sent = if deferred.is_empty() {
            Ok(())
        } else {
            stream.send_all(deferred)
        };
        deferred.clear();
        self.has_deferred.store(false, Ordering::Release);
        match sent {
            Ok(()) => Ok(()),
            Err(e) => Err(self.write_failed(w, e)),
        }
    }

    /// Marks the connection dead after a failed write and wakes its waiters; the error to
    /// return.
    fn write_failed(&self, w: MutexGuard<'_, Writer>, e: io::Error) -> Error {
        drop(w);
        let mut st = self.lock_state();
        st.kill(format!("cannot write to the broker at {}: {e}", self.path));
        if st.sleepers > 0 {
            self.wake.notify_all();
        }
        if let Some(f) = &st.on_watched {
            f();
        }
        Error::Disconnected(st.dead.clone().unwrap_or_default())
    }

    /// Sets what to call when the reply of a watched request is filed (by any thread).
    pub(crate) fn set_on_watched(&self, f: Box<dyn Fn() + Send>) {
        self.lock_state().on_watched = Some(f);
    }

    /// Reads whatever the socket holds now, without waiting, and files the replies — unless
    /// another thread is reading (it files them itself). Never blocks.
    pub(crate) fn pump(&self) {
        // The loop is about to look for replies: the requests it started must be out.
        let _ = self.flush_deferred();
        let mut st = self.lock_state();
        if st.dead.is_some() {
            return;
        }
        let Some(mut reader) = st.reader.take() else {
            // Whoever reads now may have stopped before the bytes that made the loop's
            // descriptor ready, and the loop is about to clear that readiness: the reader
            // makes it ready again when it is done (`State::put_reader`).
            st.missed = true;
            return;
        };
        drop(st);
        let mut failed = None;
        let mut got = false;
        loop {
            match reader.fill_now() {
                Ok(true) => got = true,
                Ok(false) => break,
                Err(why) => {
                    failed = Some(why);
                    break;
                }
            }
        }
        st = self.lock_state();
        if got {
            if let Err(why) = reader.dispatch(&mut st) {
                st.kill(why);
            }
            // The loop reads itself (`process`): it collects what was filed right after.
            st.wake_owed = false;
        }
        if let Some(why) = failed {
            st.kill(format!("{why} (socket {})", self.path));
            if let Some(f) = &st.on_watched {
                f();
            }
        }
        st.put_reader(reader);
        if st.sleepers > 0 {
            self.wake.notify_all();
        }
    }

    /// Moves every watched request whose reply has come (every one, once the connection is
    /// dead: [`Error::Disconnected`]) to `out`.
    pub(crate) fn take_watched(&self, out: &mut Vec<(u64, Result<Vec<u8>>)>) {
        let mut st = self.lock_state();
        let st = &mut *st;
        if st.dead.is_none() {
            // Only those filed since last time: O(replies), not O(requests in flight).
            for id in std::mem::take(&mut st.filed_watched) {
                if let Some(reply) = st.pending.get_mut(&id).and_then(Option::take) {
                    st.pending.remove(&id);
                    st.watched.remove(&id);
                    // One descriptor is a memfd value, inlined for the loop; two are a direct
                    // pipe end's socket and counters page, left for `take_fds`.
                    let fd = if st.fds.is_empty() || st.more_fds.contains_key(&id) {
                        None
                    } else {
                        st.fds.remove(&id)
                    };
                    let outcome = match fd {
                        Some(fd) => inline_shared(&reply, &fd),
                        None => Ok(reply),
                    };
                    out.push((id, outcome));
                }
            }
            return;
        }
        let dead = st.dead.clone();
        st.watched.retain(|id| {
            let reply = match st.pending.get_mut(id) {
                Some(slot) => slot.take(),
                None => None,
            };
            match (reply, &dead) {
                (Some(r), _) => out.push((
                    *id,
                    match st.fds.remove(id) {
                        Some(fd) => inline_shared(&r, &fd),
                        None => Ok(r),
                    },
                )),
                (None, Some(why)) => out.push((*id, Err(Error::Disconnected(why.clone())))),
                (None, None) => return true,
            }
            st.pending.remove(id);
            false
        });
    }

    /// A descriptor for an event loop to watch, readable with the socket (`events.rs`).
    pub(crate) fn notifier(&self) -> std::io::Result<crate::transport::Notifier> {
        let w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        crate::transport::Notifier::new(&w.stream)
    }

    /// Waits for the reply of a [`start`](Self::start)ed request.
    pub(crate) fn finish(&self, id: u64, deadline: Option<Instant>) -> Result<Vec<u8>> {
        self.wait(id, deadline)
    }

    /// The reply of a started request if it has arrived, without waiting: replies that are
    /// already in the socket are read first (one non-blocking read) when nobody else is
    /// reading. `Some(Err)` if the connection died.
    pub(crate) fn ready(&self, id: u64) -> Option<Result<Vec<u8>>> {
        if let Some(e) = self.forked() {
            return Some(Err(e));
        }
        let mut st = self.lock_state();
        if st.pending.get(&id).is_some_and(Option::is_none) && st.dead.is_none() {
            if let Some(mut reader) = st.reader.take() {
                drop(st);
                let filled = reader.fill_now();
                st = self.lock_state();
                match filled {
                    Ok(true) => {
                        if let Err(why) = reader.dispatch(&mut st) {
                            st.kill(why);
                        }
                        st.wake_loop();
                    }
                    Ok(false) => {}
                    Err(why) => st.kill(format!("{why} (socket {})", self.path)),
                }
                st.put_reader(reader);
                if st.sleepers > 0 {
                    self.wake.notify_all();
                }
            }
        }
        match st.pending.get_mut(&id) {
            Some(slot) if slot.is_some() => {
                let reply = slot.take();
                st.pending.remove(&id);
                reply.map(Ok)
            }
            Some(_) => {
                let why = st.dead.clone()?;
                st.pending.remove(&id);
                Some(Err(Error::Disconnected(why)))
            }
            None => Some(Err(Error::Protocol(format!(
                "no reply slot for request {id}"
            )))),
        }
    }

    /// Sends every request in one write, then collects every reply, in order. Either nothing is
    /// sent (a request is too large, or the connection is dead: the error is returned) or all
    /// are, and each gets its own outcome.
    pub(crate) fn pipeline(
        &self,
        reqs: Vec<RequestFields<'_>>,
        deadline: Option<Instant>,
    ) -> Result<Vec<Result<Vec<u8>>>> {
        let n = reqs.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let first = self.register(n)?;
        if let Err(e) = self.send(first, reqs.into_iter()) {
            self.forget(first, n);
            return Err(e);
        }
        Ok((first..first + n as u64)
            .map(|id| self.wait(id, deadline))
            .collect())
    }

    /// The connection-level error (id 0) the broker sent before closing this connection, such
    /// as `Denied` or `LimitExceeded` (max_clients) right after connecting. Reads what is still
    /// in the socket (briefly) when nobody else is reading, so a refusal whose connection
    /// failed on the write side is still found.
    pub(crate) fn refusal(&self) -> Option<(String, String)> {
        let mut st = self.lock_state();
        if st.refusal.is_none() {
            if let Some(mut reader) = st.reader.take() {
                let until = Instant::now() + Duration::from_millis(200);
                while st.refusal.is_none() {
                    let Some(left) = until.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    match reader.fill(Some(left)) {
                        Ok(Filled::Data) => {
                            let failed = reader.dispatch(&mut st).is_err();
                            st.wake_loop();
                            if failed {
                                break;
                            }
                        }
                        Ok(Filled::TimedOut | Filled::Interrupted) | Err(_) => break,
                    }
                }
                st.put_reader(reader);
            }
        }
        st.refusal.clone()
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock; if something did, the state is still
        // consistent (every update is a single insert, remove or assignment).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Some(Disconnected)` in a child made by `fork` after this connection was made: it
    /// must neither write nor read on the socket it inherited, which is the parent's.
    fn forked(&self) -> Option<Error> {
        (fork_generation() != self.fork_generation).then(|| {
            Error::Disconnected(format!(
                "this client was connected by process {}; after fork, connect again in the child",
                self.pid
            ))
        })
    }

    /// Reserves `n` consecutive request ids with empty reply slots; returns the first.
    fn register(&self, n: usize) -> Result<u64> {
        if let Some(e) = self.forked() {
            return Err(e);
        }
        let mut st = self.lock_state();
        if let Some(why) = &st.dead {
            return Err(Error::Disconnected(why.clone()));
        }
        let first = st.next_id;
        st.next_id += n as u64;
        for id in first..first + n as u64 {
            st.pending.insert(id, None);
        }
        Ok(first)
    }

    /// A fresh request id that no request will use: the ticket of a started call the client
    /// carries itself (a direct pipe call, `started_pipe.rs`).
    pub(crate) fn reserve_id(&self) -> Result<u64> {
        let mut st = self.lock_state();
        if let Some(why) = &st.dead {
            return Err(Error::Disconnected(why.clone()));
        }
        let id = st.next_id;
        st.next_id += 1;
        Ok(id)
    }

    /// [`register`](Self::register) of one watched request (`events.rs`), under one lock.
    fn register_watched(&self) -> Result<u64> {
        if let Some(e) = self.forked() {
            return Err(e);
        }
        let mut st = self.lock_state();
        if let Some(why) = &st.dead {
            return Err(Error::Disconnected(why.clone()));
        }
        let id = st.next_id;
        st.next_id += 1;
        st.pending.insert(id, None);
        st.watched.insert(id);
        Ok(id)
    }

    fn forget(&self, first: u64, n: usize) {
        let mut st = self.lock_state();
        for id in first..first + n as u64 {
            st.pending.remove(&id);
            st.fds.remove(&id);
            st.watched.remove(&id);
            st.more_fds.remove(&id);
        }
    }

    /// Encodes `reqs` with ids from `first` on, checks each against the broker's `max_frame`,
    /// and writes them all — after any deferred frames, in the same `send`.
    fn send<'r>(&self, first: u64, reqs: impl Iterator<Item = RequestFields<'r>>) -> Result<()> {
        let max = self.max_request.load(Ordering::Relaxed);
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let Writer {
            stream,
            buf,
            deferred,
        } = &mut *w;
        buf.clear();
        encode_checked(buf, max, first, reqs)?;
        let sent = if deferred.is_empty() {
            stream.send_all(buf)
        } else {
            deferred.extend_from_slice(buf);
            let sent = stream.send_all(deferred);
            deferred.clear();
            self.has_deferred.store(false, Ordering::Release);
            sent
        };
        sent.map_err(|e| self.write_failed(w, e))
    }

    /// Waits for the reply to request `id`, reading as leader when nobody else is. If this
    /// thread is interruptible ([`set_interruptible`]) and a signal interrupts the read, the
    /// request is cancelled at the broker and [`Error::Interrupted`] returned — unless it had
    /// completed, in which case its reply is.
    ///
    /// When `deadline` passes, the request is cancelled too, and its real outcome returned:
    /// the timeout outcome the broker answers a cancelled request with, or what it did if it
    /// completed first (a get's item). Dropping the request instead would lose whatever the
    /// broker hands it later — an item, a lock — if the broker was held up past the deadline
    /// (stopped, swapped out, or reading the request late). The answer comes as soon as the
    /// broker reads the `cancel`; a broker that is stopped holds the caller until it goes on,
    /// since only the broker knows what the request took.
    fn wait(&self, id: u64, deadline: Option<Instant>) -> Result<Vec<u8>> {
        match self.wait_for(id, deadline, true)? {
            Outcome::Reply(reply) => Ok(reply),
            Outcome::Interrupted => self.cancel(id, Outcome::Interrupted),
            Outcome::TimedOut => self.cancel(id, Outcome::TimedOut),
        }
    }

    /// The descriptor that came with the reply to request `id`, if one did (its reply says
    /// so with `value_len`).
    pub(crate) fn take_fd(&self, id: u64) -> Option<Descriptor> {
        let mut st = self.lock_state();
        st.more_fds.remove(&id);
        st.fds.remove(&id)
    }

    /// Every descriptor that came with the reply to request `id`, in the order they came
    /// (a direct pipe end's socket, then its counters page: docs/PROTOCOL.md §6.5.1).
    pub(crate) fn take_fds(&self, id: u64) -> Vec<Descriptor> {
        let mut st = self.lock_state();
        let mut all: Vec<Descriptor> = st.fds.remove(&id).into_iter().collect();
        all.extend(st.more_fds.remove(&id).unwrap_or_default());
        all
    }

    /// [`round_trip`](Self::round_trip), also returning the request's id (for
    /// [`take_fd`](Self::take_fd)).
    pub(crate) fn round_trip_id(
        &self,
        req: RequestFields<'_>,
        deadline: Option<Instant>,
    ) -> Result<(u64, Vec<u8>)> {
        let id = self.register(1)?;
        if let Err(e) = self.send(id, std::iter::once(req)) {
            self.forget(id, 1);
            return Err(e);
        }
        self.wait(id, deadline).map(|r| (id, r))
    }

    /// Sends one request whose value travels as the sealed memfd `fd` (docs/PROTOCOL.md
    /// §4.1; the request has `value_len` and `fds: 1`), and waits for its reply (with its id,
    /// for [`take_fd`](Self::take_fd)).
    pub(crate) fn round_trip_fd(
        &self,
        req: RequestFields<'_>,
        fd: &Descriptor,
        deadline: Option<Instant>,
    ) -> Result<(u64, Vec<u8>)> {
        let id = self.register(1)?;
        if let Err(e) = self.send_fd(id, req, fd) {
            self.forget(id, 1);
            return Err(e);
        }
        self.wait(id, deadline).map(|r| (id, r))
    }

    /// Writes one request with `fd` attached to its frame's first byte, in writes holding
    /// that frame only (docs/PROTOCOL.md §1.3).
    fn send_fd(&self, id: u64, mut req: RequestFields<'_>, fd: &Descriptor) -> Result<()> {
        self.flush_deferred()?;
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        w.buf.clear();
        req.id = id;
        req.encode_into(&mut w.buf);
        let Writer { stream, buf, .. } = &mut *w;
        if let Err(e) = stream.send_all_with_fd(buf, fd) {
            drop(w);
            let mut st = self.lock_state();
            st.kill(format!("cannot write to the broker at {}: {e}", self.path));
            if st.sleepers > 0 {
                self.wake.notify_all();
            }
            return Err(Error::Disconnected(st.dead.clone().unwrap_or_default()));
        }
        Ok(())
    }

    /// Cancels request `id` (already sent; its slot still registered) because of `why`
    /// ([`Outcome::Interrupted`] or [`Outcome::TimedOut`]), then collects both replies,
    /// uninterruptibly and without a deadline: they come at once, unless the target is a
    /// `condition.wait` reacquiring its lock, which must finish that first.
    fn cancel(&self, id: u64, why: Outcome) -> Result<Vec<u8>> {
        let cancel = match self.register(1) {
            Ok(c) => c,
            Err(e) => {
                self.forget(id, 1);
                return Err(e);
            }
        };
        let req = RequestFields {
            target: Some(id),
            ..RequestFields::new(0, "cancel")
        };
        if let Err(e) = self.send(cancel, std::iter::once(req)) {
            self.forget(id, 1);
            self.forget(cancel, 1);
            return Err(e);
        }
        let target = self.wait_for(id, None, false);
        let cancelled = match self.wait_for(cancel, None, false) {
            Ok(Outcome::Reply(r)) => matches!(
                ReplyFields::decode(&r),
                Ok(ReplyFields {
                    cancelled: Some(true),
                    error: None,
                    ..
                })
            ),
            _ => false,
        };
        match (target?, why) {
            // Interrupted: a request the cancel ended is reported as interrupted, not with
            // the timeout outcome it was answered with.
            (Outcome::Reply(_), Outcome::Interrupted) if cancelled => Err(Error::Interrupted),
            // Timed out: the target's reply is its real outcome either way.
            (Outcome::Reply(reply), _) => Ok(reply),
            (Outcome::Interrupted | Outcome::TimedOut, _) => Err(Error::Interrupted),
        }
    }

    /// [`wait`](Self::wait)'s loop; with `interruptible`, an interrupted read (on a thread
    /// that asked for it) ends it with [`Outcome::Interrupted`], the slot left in place.
    fn wait_for(&self, id: u64, deadline: Option<Instant>, interruptible: bool) -> Result<Outcome> {
        // A forked child must not read either: the replies on the inherited socket are the
        // parent's (a put_async window in flight at the fork, flushed by the child's free,
        // would otherwise swallow them and leave the parent waiting forever). Checked before
        // the state lock, which a parent thread may have held at the fork.
        if let Some(e) = self.forked() {
            return Err(e);
        }
        // Whoever waits on the connection first sends what an event loop left deferred: no
        // started request stays unsent while anybody waits for a reply.
        self.flush_deferred()?;
        let mut st = self.lock_state();
        loop {
            match st.pending.get_mut(&id) {
                Some(slot) => {
                    if let Some(reply) = slot.take() {
                        st.pending.remove(&id);
                        return Ok(Outcome::Reply(reply));
                    }
                }
                None => return Err(Error::Protocol(format!("no reply slot for request {id}"))),
            }
            if let Some(why) = &st.dead {
                let e = Error::Disconnected(why.clone());
                st.pending.remove(&id);
                return Err(e);
            }
            let remaining = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(r) if !r.is_zero() => Some(r),
                    _ => return Ok(Outcome::TimedOut),
                },
            };
            if let Some(mut reader) = st.reader.take() {
                drop(st);
                let mut interrupted = false;
                let filled = reader.fill(remaining);
                st = self.lock_state();
                match filled {
                    Ok(Filled::Data) => {
                        if let Err(why) = reader.dispatch(&mut st) {
                            st.kill(why);
                        }
                        st.wake_loop();
                    }
                    Ok(Filled::TimedOut) => {}
                    Ok(Filled::Interrupted) => interrupted = interruptible,
                    Err(why) => st.kill(format!("{why} (socket {})", self.path)),
                }
                st.put_reader(reader);
                if st.sleepers > 0 {
                    self.wake.notify_all();
                }
                if interrupted && st.pending.get(&id).is_some_and(Option::is_none) {
                    return Ok(Outcome::Interrupted);
                }
            } else {
                st.sleepers += 1;
                st = match remaining {
                    None => self.wake.wait(st).unwrap_or_else(PoisonError::into_inner),
                    Some(r) => {
                        self.wake
                            .wait_timeout(st, r)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
                st.sleepers -= 1;
            }
        }
    }
}

impl Reader {
    /// Reads once, waiting at most `remaining` (`None`: until data comes).
    fn fill(&mut self, remaining: Option<Duration>) -> std::result::Result<Filled, String> {
        let budget = self.idle.budget();
        let remaining = if budget.is_zero() {
            remaining
        } else {
            // Poll first: a reply that comes within the budget is read without this thread
            // sleeping, so the broker's write does not have to wake a halted CPU. Yielding
            // between polls lets a broker on the same CPU run.
            let start = Instant::now();
            let until = start + remaining.map_or(budget, |r| r.min(budget));
            loop {
                if self.fill_now()? {
                    self.silent_since = None;
                    return Ok(Filled::Data);
                }
                if Instant::now() >= until {
                    break;
                }
                std::thread::yield_now();
            }
            match remaining.map(|r| r.checked_sub(start.elapsed())) {
                Some(None) => return Ok(Filled::TimedOut),
                Some(Some(r)) => Some(r),
                None => None,
            }
        };
        let slept = self.idle.enabled().then(Instant::now);
        let filled = self.fill_sleeping(remaining);
        if let Some(slept) = slept {
            self.idle.slept(slept.elapsed());
        }
        filled
    }

    /// [`fill`](Self::fill)'s read that sleeps until data comes or `remaining` passes.
    fn fill_sleeping(
        &mut self,
        remaining: Option<Duration>,
    ) -> std::result::Result<Filled, String> {
        // On TCP a read waits at most the link timeout, so that a dead link is noticed.
        let link = self.stream.link_timeout().map(|l| (l, Instant::now()));
        let remaining = match (remaining, link) {
            (Some(r), Some((l, _))) => Some(r.min(l)),
            (r, l) => r.or(l.map(|(l, _)| l)),
        };
        self.set_timeout(remaining)
            .map_err(|e| format!("cannot set the read timeout: {e}"))?;
        if self.end == self.buf.len() {
            self.make_room(0);
        }
        loop {
            match self.stream.read_fds(&mut self.buf[self.end..], false) {
                Ok((0, _)) => return Err("the broker closed the connection".to_string()),
                Ok((n, fds)) => {
                    self.keep_fds(n, fds);
                    self.end += n;
                    self.silent_since = None;
                    return Ok(Filled::Data);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if INTERRUPTIBLE.with(|f| f.get()) {
                        return Ok(Filled::Interrupted);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Some((limit, started)) = link {
                        let since = *self.silent_since.get_or_insert(started);
                        if since.elapsed() >= limit {
                            return Err(format!(
                                "nothing from the broker, not even a heartbeat, for {} s: the link is dead",
                                limit.as_secs()
                            ));
                        }
                    }
                    return Ok(Filled::TimedOut);
                }
                Err(e) => return Err(format!("cannot read from the broker: {e}")),
            }
        }
    }

    /// Reads what is in the socket now, without waiting: true if bytes came.
    fn fill_now(&mut self) -> std::result::Result<bool, String> {
        if self.end == self.buf.len() {
            self.make_room(0);
        }
        loop {
            match self.stream.read_fds(&mut self.buf[self.end..], true) {
                Ok((0, _)) => return Err("the broker closed the connection".to_string()),
                Ok((n, fds)) => {
                    self.keep_fds(n, fds);
                    self.end += n;
                    return Ok(true);
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(false),
                    _ => return Err(format!("cannot read from the broker: {e}")),
                },
            }
        }
    }

    /// Queues descriptors that came with the `n` bytes just read (not yet counted in `end`),
    /// tagged with the last of those bytes.
    fn keep_fds(&mut self, n: usize, fds: Vec<Descriptor>) {
        if fds.is_empty() || n == 0 {
            return;
        }
        let last = self.offset + (self.end - self.start + n - 1) as u64;
        self.fds.extend(fds.into_iter().map(|fd| (last, fd)));
    }

    /// Keeps the socket's receive timeout close to `want`, touching it only when needed: a
    /// shorter timeout than asked just means an extra turn of the wait loop, so it is kept
    /// unless it is much shorter (which would make a long wait spin); a slightly longer one
    /// overshoots the caller's deadline by at most [`TIMEOUT_SLACK`], well inside the grace
    /// the deadline already includes. Repeated timed calls thus cost no `setsockopt` each.
    fn set_timeout(&mut self, want: Option<Duration>) -> io::Result<()> {
        let keep = match (self.timeout, want) {
            (None, None) => true,
            (Some(cur), Some(want)) => cur <= want + TIMEOUT_SLACK && cur >= want / 2,
            _ => false,
        };
        if !keep {
            // A zero timeout means "none" to the OS; never ask for less than a millisecond.
            let want = want.map(|w| w.max(Duration::from_millis(1)));
            self.stream.set_read_timeout(want)?;
            self.timeout = want;
        }
        Ok(())
    }

    /// Makes room for at least `need` more bytes after `end` (at least one byte if 0): moves
    /// the unread bytes to the front, and grows the buffer if that is not enough.
    fn make_room(&mut self, need: usize) {
        let need = need.max(1);
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < need {
            let len = (self.end + need).max(self.buf.len() * 2);
            self.buf.resize(len, 0);
        }
    }

    /// Files every whole reply in the buffer into its slot. Replies nobody waits for (the
    /// caller gave up) are dropped. An `Err` means the stream cannot be trusted any more.
    fn dispatch(&mut self, st: &mut State) -> std::result::Result<(), String> {
        loop {
            let avail = &self.buf[self.start..self.end];
            match frame::check(avail, MAX_REPLY_FRAME) {
                Ok(Check::Ready { len: 0 }) => {
                    // A heartbeat (docs/PROTOCOL.md §1.2): its arrival is all it says.
                    self.start += HEADER_LEN;
                    self.offset += HEADER_LEN as u64;
                }
                Ok(Check::Ready { len }) => {
                    let payload = &avail[HEADER_LEN..HEADER_LEN + len];
                    let id = reply_id(payload)
                        .ok_or_else(|| "the broker sent a reply without an id".to_string())?;
                    // Descriptors that came with this frame: the first is its value's memfd
                    // (or a direct pipe end's socket, the second its counters page); any for a
                    // reply nobody waits for is closed here.
                    let end = self.offset + (HEADER_LEN + len) as u64;
                    let mut fd = None;
                    let mut more = Vec::new();
                    while self.fds.front().is_some_and(|(at, _)| *at < end) {
                        if let Some((_, got)) = self.fds.pop_front() {
                            if fd.is_none() {
                                fd = Some(got);
                            } else if more.len() < MAX_FDS_PER_REPLY - 1 {
                                more.push(got);
                            }
                        }
                    }
                    if let Some(fd) = fd {
                        if st.pending.contains_key(&id) {
                            st.fds.insert(id, fd);
                            if !more.is_empty() {
                                st.more_fds.insert(id, more);
                            }
                            // Bounded: past a few dozen, the oldest ones were left by callers
                            // that did not look (a raw `call`); close them.
                            while st.fds.len() > MAX_UNTAKEN_FDS {
                                if let Some(oldest) = st.fds.keys().min().copied() {
                                    st.fds.remove(&oldest);
                                    st.more_fds.remove(&oldest);
                                }
                            }
                        }
                    }
                    match st.pending.get_mut(&id) {
                        Some(slot) => {
                            *slot = Some(payload.to_vec());
                            if st.watched.contains(&id) {
                                st.filed_watched.push(id);
                                st.wake_owed = true;
                            }
                        }
                        None if id == 0 => {
                            st.last_error = Some(describe_error(payload));
                            if let Ok(r) = ReplyFields::decode(payload) {
                                if let Some(code) = r.error {
                                    st.refusal = Some((
                                        code.to_string(),
                                        r.message.unwrap_or("").to_string(),
                                    ));
                                }
                            }
                        }
                        None => {}
                    }
                    self.start += HEADER_LEN + len;
                    self.offset += (HEADER_LEN + len) as u64;
                }
                Ok(Check::Incomplete) => {
                    if self.start == self.end {
                        self.start = 0;
                        self.end = 0;
                        if self.buf.len() > READ_BUFFER_KEEP {
                            self.buf = vec![0; READ_BUFFER];
                        }
                    } else if avail.len() >= HEADER_LEN {
                        // Make sure the announced frame will fit once it has arrived.
                        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]);
                        let whole = HEADER_LEN + len as usize;
                        if self.start + whole > self.buf.len() {
                            self.make_room(whole - (self.end - self.start));
                        }
                    }
                    return Ok(());
                }
                Err(e) => return Err(format!("reply {e}")),
            }
        }
    }
}

/// Appends the frames of `reqs` (ids from `first` on) to `out`, each checked against the
/// broker's `max_frame` (`max`, 0 if unknown); on a refusal `out` is left as it was.
fn encode_checked<'r>(
    out: &mut Vec<u8>,
    max: usize,
    first: u64,
    reqs: impl Iterator<Item = RequestFields<'r>>,
) -> Result<()> {
    let mark = out.len();
    for (id, mut req) in (first..).zip(reqs) {
        req.id = id;
        // Refuse oversized values before spending time encoding them (and before the frame
        // encoder, which cannot represent payloads above 4 GiB).
        let weight = value_bytes(&req);
        let limit = if max > 0 { max } else { MAX_REQUEST_FRAME };
        if weight > limit.min(MAX_REQUEST_FRAME) {
            out.truncate(mark);
            return Err(Error::Limit {
                code: ErrorCode::TooLarge,
                message: format!(
                    "{} request carries {weight} bytes of values, more than the broker's \
                     max_frame ({limit} bytes)",
                    req.op
                ),
            });
        }
        let at = out.len();
        req.encode_into(out);
        let len = out.len() - at - HEADER_LEN;
        if max > 0 && len > max {
            out.truncate(mark);
            return Err(Error::Limit {
                code: ErrorCode::TooLarge,
                message: format!(
                    "{} request of {len} bytes exceeds the broker's max_frame ({max} bytes); \
                     the value is too large",
                    req.op
                ),
            });
        }
    }
    Ok(())
}

/// Bytes of user values (value, key, expected, keys, items) a request carries: a lower bound
/// on its encoded size.
fn value_bytes(req: &RequestFields<'_>) -> usize {
    let one = |b: Option<&serde_bytes::Bytes>| b.map_or(0, |b| b.len());
    one(req.value)
        + req.values.iter().flatten().map(|v| v.len()).sum::<usize>()
        + one(req.key)
        + one(req.expected)
        + req.keys.iter().flatten().map(|k| k.len()).sum::<usize>()
        + req
            .items
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

/// The `id` of a reply payload. The broker writes `id` first, so the fast path reads it
/// straight off the front; anything else goes through serde.
pub(crate) fn reply_id(payload: &[u8]) -> Option<u64> {
    let mut rd = payload;
    if rmp::decode::read_map_len(&mut rd).is_ok_and(|n| n > 0) {
        if let Some(mut rest) = rd.strip_prefix(b"\xa2id") {
            if let Ok(id) = rmp::decode::read_int::<u64, _>(&mut rest) {
                return Some(id);
            }
        }
    }
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: u64,
    }
    rmp_serde::from_slice::<IdOnly>(payload).ok().map(|r| r.id)
}

/// Whether a reply payload is a map without an `error` key — `Some(true)` — found by walking
/// its top level without decoding it (a started request's completion is decoded once, by
/// whoever reads its fields, instead of twice). `Some(false)`: it has one; `None`: not a
/// well-formed map (the full decode then says why).
pub(crate) fn reply_is_ok(payload: &[u8]) -> Option<bool> {
    let mut rd = payload;
    let n = rmp::decode::read_map_len(&mut rd).ok()?;
    for _ in 0..n {
        let len = rmp::decode::read_str_len(&mut rd).ok()? as usize;
        let key = rd.get(..len)?;
        if key == b"error" {
            return Some(false);
        }
        rd = &rd[len..];
        skip_value(&mut rd)?;
    }
    rd.is_empty().then_some(true)
}

/// Steps over one MessagePack value (at most 64 levels deep).
fn skip_value(rd: &mut &[u8]) -> Option<()> {
    fn skip(rd: &mut &[u8], depth: u32) -> Option<()> {
        use rmp::Marker as M;
        if depth > 64 {
            return None;
        }
        let marker = rmp::decode::read_marker(rd).ok()?;
        let be = |rd: &mut &[u8], n: usize| -> Option<usize> {
            let b = rd.get(..n)?;
            *rd = &rd[n..];
            Some(b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x)))
        };
        let (bytes, items) = match marker {
            M::FixPos(_) | M::FixNeg(_) | M::Null | M::True | M::False => (0, 0),
            M::U8 | M::I8 => (1, 0),
            M::U16 | M::I16 => (2, 0),
            M::U32 | M::I32 | M::F32 => (4, 0),
            M::U64 | M::I64 | M::F64 => (8, 0),
            M::FixStr(n) => (usize::from(n), 0),
            M::Str8 | M::Bin8 => (be(rd, 1)?, 0),
            M::Str16 | M::Bin16 => (be(rd, 2)?, 0),
            M::Str32 | M::Bin32 => (be(rd, 4)?, 0),
            M::FixArray(n) => (0, usize::from(n)),
            M::Array16 => (0, be(rd, 2)?),
            M::Array32 => (0, be(rd, 4)?),
            M::FixMap(n) => (0, 2 * usize::from(n)),
            M::Map16 => (0, 2 * be(rd, 2)?),
            M::Map32 => (0, 2 * be(rd, 4)?),
            M::FixExt1 => (2, 0),
            M::FixExt2 => (3, 0),
            M::FixExt4 => (5, 0),
            M::FixExt8 => (9, 0),
            M::FixExt16 => (17, 0),
            M::Ext8 => (be(rd, 1)? + 1, 0),
            M::Ext16 => (be(rd, 2)? + 1, 0),
            M::Ext32 => (be(rd, 4)? + 1, 0),
            M::Reserved => return None,
        };
        *rd = rd.get(bytes..)?;
        for _ in 0..items {
            skip(rd, depth + 1)?;
        }
        Some(())
    }
    skip(rd, 0)
}

/// "Code: message" of a connection-level error reply, for the disconnect message.
fn describe_error(payload: &[u8]) -> String {
    match ReplyFields::decode(payload) {
        Ok(r) => format!(
            "{}: {}",
            r.error.unwrap_or("error"),
            r.message.unwrap_or("(no message)")
        ),
        Err(e) => format!("unreadable error reply: {e}"),
    }
}

/// A started request's reply whose value came as a sealed memfd (`value_len` and the frame's
/// descriptor, docs/PROTOCOL.md §4.1), rewritten with the value inline. The event-loop API
/// hands out owned replies that outlive this call, so the mapping is copied once here and
/// the descriptor closed; blocking calls keep the zero-copy path.
fn inline_shared(payload: &[u8], fd: &Descriptor) -> Result<Vec<u8>> {
    let r = ReplyFields::decode(payload)
        .map_err(|e| Error::Protocol(format!("malformed reply: {e}")))?;
    let Some(len) = r.value_len.filter(|_| r.value.is_none()) else {
        return Ok(payload.to_vec());
    };
    let mapped = crate::transport::Mapped::open(fd, len)
        .map_err(|e| Error::Protocol(format!("cannot map a value: {e}")))?;
    let inline = ReplyFields {
        value: Some(serde_bytes::Bytes::new(mapped.bytes())),
        value_len: None,
        fds: None,
        ..r
    };
    let mut framed = Vec::with_capacity(mapped.bytes().len() + 64);
    inline.encode_into(&mut framed);
    framed.drain(..HEADER_LEN);
    Ok(framed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::PairPeer as Peer;
    use std::io::Read;
    use std::sync::Arc;
    use std::thread;

    fn reply(id: u64) -> Vec<u8> {
        let mut out = Vec::new();
        ReplyFields::ok(id).encode_into(&mut out);
        out
    }

    /// A fake peer on the other end of a socketpair: reads request frames, returns their ids.
    fn read_requests(peer: &mut Peer, n: usize) -> Vec<u64> {
        let mut buf = Vec::new();
        let mut ids = Vec::new();
        let mut chunk = [0u8; 4096];
        while ids.len() < n {
            let got = peer.read(&mut chunk).unwrap();
            assert!(got > 0, "client closed");
            buf.extend_from_slice(&chunk[..got]);
            while let Ok(Check::Ready { len }) = frame::check(&buf, 1 << 20) {
                ids.push(reply_id(&buf[HEADER_LEN..HEADER_LEN + len]).unwrap());
                buf.drain(..HEADER_LEN + len);
            }
        }
        ids
    }

    #[test]
    fn reply_is_ok_walks_the_top_level() {
        let ok = reply(7);
        assert_eq!(reply_is_ok(&ok[HEADER_LEN..]), Some(true));
        let mut out = Vec::new();
        ReplyFields::err(7, ErrorCode::NotFound, "no such queue").encode_into(&mut out);
        assert_eq!(reply_is_ok(&out[HEADER_LEN..]), Some(false));
        // Nested values, binary, ext, floats are stepped over.
        let v = rmpv::Value::Map(vec![
            (rmpv::Value::from("id"), rmpv::Value::from(3u64)),
            (
                rmpv::Value::from("value"),
                rmpv::Value::Array(vec![
                    rmpv::Value::Binary(vec![1; 300]),
                    rmpv::Value::Ext(5, vec![0; 20]),
                    rmpv::Value::F64(1.5),
                    rmpv::Value::Map(vec![(rmpv::Value::from(-7i64), rmpv::Value::Nil)]),
                ]),
            ),
            (rmpv::Value::from("error"), rmpv::Value::from("Timeout")),
        ]);
        let mut buf = Vec::new();
        rmpv::encode::write_value(&mut buf, &v).unwrap();
        assert_eq!(reply_is_ok(&buf), Some(false));
        // Without the error: ok; cut short inside the nested value: not well-formed.
        let rmpv::Value::Map(mut fields) = v else {
            unreachable!()
        };
        fields.pop();
        let mut buf = Vec::new();
        rmpv::encode::write_value(&mut buf, &rmpv::Value::Map(fields)).unwrap();
        assert_eq!(reply_is_ok(&buf), Some(true));
        assert_eq!(reply_is_ok(&buf[..buf.len() - 3]), None, "truncated");
        assert_eq!(reply_is_ok(&[0xc1]), None);
    }

    #[test]
    fn reply_id_fast_and_slow_paths() {
        let r = reply(300);
        assert_eq!(reply_id(&r[HEADER_LEN..]), Some(300));
        // {"error": "x", "id": 5}: id not first.
        let p = [
            0x82, 0xa5, b'e', b'r', b'r', b'o', b'r', 0xa1, b'x', 0xa2, b'i', b'd', 0x05,
        ];
        assert_eq!(reply_id(&p), Some(5));
        assert_eq!(reply_id(&[0xc1]), None);
    }

    #[test]
    fn out_of_order_replies_reach_their_threads() {
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Arc::new(Conn::new(a, "test".into()).unwrap());
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let conn = conn.clone();
                thread::spawn(move || {
                    let r = conn
                        .round_trip(RequestFields::new(0, "ping"), None)
                        .unwrap();
                    reply_id(&r).unwrap()
                })
            })
            .collect();
        let mut ids = read_requests(&mut peer, 4);
        ids.reverse();
        // Answer in reverse order, one byte at a time, so frames straddle reads.
        let stream: Vec<u8> = ids.iter().flat_map(|&id| reply(id)).collect();
        for b in stream {
            io::Write::write_all(&mut peer, &[b]).unwrap();
        }
        let mut got: Vec<u64> = callers.into_iter().map(|t| t.join().unwrap()).collect();
        got.sort();
        ids.sort();
        assert_eq!(got, ids);
    }

    #[test]
    fn a_call_past_its_deadline_cancels_and_returns_the_real_outcome() {
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Conn::new(a, "test".into()).unwrap();
        let (got, target) = thread::scope(|s| {
            let soon = Some(Instant::now() + Duration::from_millis(50));
            let c = &conn;
            let h = s.spawn(move || c.round_trip(RequestFields::new(0, "ping"), soon));
            // The request, then (past the deadline) the cancel for it.
            let ids = read_requests(&mut peer, 2);
            // The target's reply arrives late and in two pieces, then the cancel's.
            let r = reply(ids[0]);
            io::Write::write_all(&mut peer, &r[..3]).unwrap();
            thread::sleep(Duration::from_millis(20));
            io::Write::write_all(&mut peer, &r[3..]).unwrap();
            let mut out = Vec::new();
            ReplyFields {
                cancelled: Some(false),
                ..ReplyFields::ok(ids[1])
            }
            .encode_into(&mut out);
            io::Write::write_all(&mut peer, &out).unwrap();
            (h.join().unwrap(), ids[0])
        });
        assert_eq!(reply_id(&got.unwrap()), Some(target));
        assert!(conn.lock_state().pending.is_empty());
    }

    #[test]
    fn every_waiter_learns_of_a_disconnect() {
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Arc::new(Conn::new(a, "/x.sock".into()).unwrap());
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let conn = conn.clone();
                thread::spawn(move || conn.round_trip(RequestFields::new(0, "ping"), None))
            })
            .collect();
        read_requests(&mut peer, 3);
        // A connection-level error, then the close: the message keeps both.
        let mut out = Vec::new();
        ReplyFields::err(0, ErrorCode::TooLarge, "frame exceeds max_frame").encode_into(&mut out);
        io::Write::write_all(&mut peer, &out).unwrap();
        drop(peer);
        for c in callers {
            match c.join().unwrap() {
                Err(Error::Disconnected(m)) => {
                    assert!(m.contains("closed the connection"), "{m}");
                    assert!(m.contains("TooLarge"), "{m}");
                }
                other => panic!("{other:?}"),
            }
        }
        let after = conn.round_trip(RequestFields::new(0, "ping"), None);
        assert!(matches!(after, Err(Error::Disconnected(_))));
    }

    #[test]
    fn too_large_requests_are_refused_before_sending() {
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Conn::new(a, "test".into()).unwrap();
        conn.set_max_request(100);
        let big = vec![0xc4u8; 200];
        let req = RequestFields {
            value: Some(serde_bytes::Bytes::new(&big)),
            ..RequestFields::new(0, "queue.put")
        };
        match conn.round_trip(req, None) {
            Err(Error::Limit { code, message }) => {
                assert_eq!(code, ErrorCode::TooLarge);
                assert!(message.contains("max_frame (100 bytes)"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Nothing was sent: the next request is the first the peer sees.
        let h = thread::scope(|s| {
            let h = s.spawn(|| conn.round_trip(RequestFields::new(0, "ping"), None));
            let id = read_requests(&mut peer, 1)[0];
            io::Write::write_all(&mut peer, &reply(id)).unwrap();
            h.join().unwrap()
        });
        assert!(h.is_ok());
    }

    #[test]
    fn large_replies_grow_the_buffer() {
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Conn::new(a, "test".into()).unwrap();
        let big = vec![7u8; 3 * READ_BUFFER];
        let got = thread::scope(|s| {
            let h = s.spawn(|| conn.round_trip(RequestFields::new(0, "ping"), None));
            let id = read_requests(&mut peer, 1)[0];
            let mut out = Vec::new();
            ReplyFields {
                value: Some(serde_bytes::Bytes::new(&big)),
                ..ReplyFields::ok(id)
            }
            .encode_into(&mut out);
            io::Write::write_all(&mut peer, &out).unwrap();
            h.join().unwrap().unwrap()
        });
        let r = ReplyFields::decode(&got).unwrap();
        assert_eq!(r.value.map(|v| v.len()), Some(big.len()));
    }

    #[test]
    fn the_buffer_shrinks_back_after_a_huge_reply() {
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Conn::new(a, "test".into()).unwrap();
        let big = vec![7u8; 2 * READ_BUFFER_KEEP];
        thread::scope(|s| {
            let h = s.spawn(|| conn.round_trip(RequestFields::new(0, "ping"), None));
            let id = read_requests(&mut peer, 1)[0];
            let mut out = Vec::new();
            ReplyFields {
                value: Some(serde_bytes::Bytes::new(&big)),
                ..ReplyFields::ok(id)
            }
            .encode_into(&mut out);
            io::Write::write_all(&mut peer, &out).unwrap();
            h.join().unwrap().unwrap()
        });
        let st = conn.lock_state();
        assert_eq!(st.reader.as_ref().map(|r| r.buf.len()), Some(READ_BUFFER));
    }

    /// A request started deferred is never left unsent: a blocking call sends it (first, in
    /// the same write), and so does `pump` (an event loop's `process`) or an explicit flush.
    #[cfg(unix)]
    #[test]
    fn deferred_starts_are_flushed_by_any_waiter() {
        use std::io::Write;
        let (a, mut peer) = Stream::pair().unwrap();
        let conn = Conn::new(a, "test".into()).unwrap();
        // Nothing is written by the deferred starts themselves.
        let (d1, owes) = conn.start_deferred(RequestFields::new(0, "ping")).unwrap();
        assert!(owes, "the first deferred start owes the flush");
        let (d2, owes) = conn.start_deferred(RequestFields::new(0, "ping")).unwrap();
        assert!(!owes);
        peer.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 16];
        assert!(
            matches!(peer.read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock),
            "a deferred start was written"
        );
        peer.set_nonblocking(false).unwrap();
        // A blocking call on another thread sends them before its own request.
        let ids = thread::scope(|s| {
            let h = s.spawn(|| conn.round_trip(RequestFields::new(0, "ping"), None));
            let ids = read_requests(&mut peer, 3);
            peer.write_all(&reply(ids[2])).unwrap();
            assert!(h.join().unwrap().is_ok());
            ids
        });
        assert_eq!(ids[..2], [d1, d2]);
        // `pump` flushes too; so does `flush_deferred`; and a flush with nothing is a no-op.
        let (d3, _) = conn.start_deferred(RequestFields::new(0, "ping")).unwrap();
        conn.pump();
        assert_eq!(read_requests(&mut peer, 1), [d3]);
        let (d4, _) = conn.start_deferred(RequestFields::new(0, "ping")).unwrap();
        conn.flush_deferred().unwrap();
        conn.flush_deferred().unwrap();
        assert_eq!(read_requests(&mut peer, 1), [d4]);
        // With deferred starts on, `start_watched` defers; turning it off flushes.
        conn.set_defer_starts(true);
        let d5 = conn.start_watched(RequestFields::new(0, "ping")).unwrap();
        conn.set_defer_starts(false);
        assert_eq!(read_requests(&mut peer, 1), [d5]);
        // Past DEFERRED_FLUSH_BYTES the buffer is written at once.
        let big = vec![0xc4u8; DEFERRED_FLUSH_BYTES];
        let req = RequestFields {
            value: Some(serde_bytes::Bytes::new(&big)),
            ..RequestFields::new(0, "queue.put")
        };
        let reader = thread::spawn(move || read_requests(&mut peer, 1));
        let (d6, owes) = conn.start_deferred(req).unwrap();
        assert!(!owes, "a start that wrote at once owes nothing");
        assert_eq!(reader.join().unwrap(), [d6]);
    }

    /// Unix only: Windows has no fork.
    #[cfg(unix)]
    #[test]
    fn a_forked_child_cannot_use_the_parents_connection() {
        let (a, _peer) = Stream::pair().unwrap();
        let conn = Conn::new(a, "test".into()).unwrap();
        // SAFETY: the child only calls code that takes no lock another thread could hold
        // (the pid check comes first), then leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let ok = matches!(
                conn.round_trip(RequestFields::new(0, "ping"), None),
                Err(Error::Disconnected(m)) if m.contains("after fork")
            );
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for the child we just made.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
    }
}
