//! The async client for tokio (feature `tokio`): the same objects and names as the blocking
//! client, as futures — `q.get().await`, `lock.lock().await` returning a guard,
//! `client.get_any(..).await`, `client.wait(..).await` — on the client's event descriptor
//! (`events.rs`) registered with tokio's reactor. Nothing runs behind the caller's back: no
//! runtime is started and no thread is spawned; the futures read the connection when polled.
//!
//! ```no_run
//! # async fn demo() -> xproc::Result<()> {
//! let c = xproc::aio::Client::new(xproc::Client::connect_default()?)?;
//! let jobs = c.queue::<String>("jobs")?;
//! let job = tokio::time::timeout(std::time::Duration::from_secs(5), jobs.get()).await;
//! let device = c.lock("device")?;
//! let _guard = device.lock().await?;                 // released on drop
//! # Ok(()) }
//! ```
//!
//! # Writes
//!
//! A future's request is deferred (`Client::start_deferred`): the requests started by the
//! tasks woken in one turn of the runtime leave in one `send`, written by the first of them
//! once the others have run (it yields once for that). Nothing else waits on it: a blocking
//! call, a dropped future or `process` on any thread sends them too.
//!
//! # Coalescing
//!
//! The `put`s (values up to 8 KiB) and the `get`s that tasks start on one queue in one turn
//! leave as **one** `queue.put_many` / `queue.get_many` that never waits at the broker
//! (`coalesce.rs`): the broker does for them at once what it can, in the order they were
//! started, and each put or get it could not serve then sends its own request, which waits as
//! any other. So 1000 tasks doing put+get cost the broker two requests per round, not 2000.
//! [`Client::set_coalesce`] turns it off. What can be seen of it (docs/ASYNC.md,
//! "Coalescing"): a get or put that has to wait joins the broker's line one round trip later
//! than it would have alone, and its `timeout` starts then.
//!
//! # Cancellation
//!
//! Timeouts come from the runtime (`tokio::time::timeout`, `select!`): dropping a future
//! cancels its request at the broker (docs/PROTOCOL.md §5 `cancel`), so it takes nothing. If
//! the broker had already answered when the cancel reached it, the client undoes what the
//! answer gave: a get's item goes back to the head of its queue (`queue.unget`), a leased
//! get's delivery too (`queue.unlease`, its attempt not counted), an acquired lock or permit is
//! released; a pipe receive's message is the next one that handle's `recv` returns. A dropped
//! `condition.wait` still gets its lock back (the broker reacquires it), and the condition's
//! next `release` waits for that; a dropped `barrier.wait` breaks the barrier, as its timeout
//! would. A coalesced get dropped while its batch is on its way takes nothing either: its
//! item goes to the next get of the batch, or back to the head of the queue. That clean-up
//! is driven by the next future polled on the client,
//! or, when none is, by a small task spawned on the current runtime.
//!
//! # Platforms
//!
//! Linux only: the futures wait on [`Client::event_fd`](crate::Client::event_fd), an epoll
//! descriptor registered with tokio's reactor (`AsyncFd`, a Unix type). The module is compiled
//! on Unix (elsewhere `aio::Client::new` fails as the event-loop API does) and not on Windows.
//!
//! # Limits
//!
//! Every pending future is one blocked request at the broker: at most `max_blocked` (1024 by
//! default) per connection; use more clients for more.

mod coalesce;
mod objects;
mod pipe;
mod waits;

use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::unix::AsyncFd;
use xproc_protocol::RequestFields;

pub use objects::{Event, Guard, Lock, Queue, Semaphore};
pub use pipe::Pipe;
pub use waits::{Barrier, Condition};

use crate::client::{need, value_of, Reply};
use crate::codec::decode;
use crate::conn::IdMap;
use crate::error::{Error, Result};
use crate::Waitable;

/// The client's event descriptor, for tokio's reactor (owned by the client: never closed
/// here).
struct EventFd(RawFd);

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// What to undo when a dropped future's request completes anyway.
#[derive(Debug, Clone)]
pub(crate) enum Undo {
    /// Nothing (its outcome takes nothing, or it is an internal request).
    Nothing,
    /// A get: put its item back at the head of this queue.
    Get(String),
    /// A `queue.get_any` over these queues: put its item back in the one `index` names.
    GetAny(Vec<String>),
    /// An acquire: release it (op `lock.release` or `semaphore.release`, object name).
    Acquire(&'static str, String),
    /// A leased get: give its delivery back on this queue (`queue.unlease`: to the head,
    /// the attempt not counted).
    Leased(String),
    /// Left to the handle that started it: the ticket goes in this list (not in the abandoned
    /// ones) and the handle's next call collects the completion. A pipe receive (its message
    /// is the next one that handle's `recv` returns: a pipe end has one receiver) and a
    /// `condition.wait` (the broker reacquires the lock either way; the handle's next
    /// `release` must wait for that).
    Keep(Arc<Mutex<Vec<u64>>>),
}

/// Shared by an async client's handles and futures.
pub(crate) struct Core {
    /// Declared first so that it is dropped (deregistered) before the client that owns the
    /// descriptor.
    fd: AsyncFd<EventFd>,
    pub(crate) client: crate::Client,
    /// Tickets of dropped futures whose completion has not come yet, and what to undo.
    abandoned: Mutex<IdMap<Undo>>,
    /// The tasks waiting for a completion. Only one of them at a time is registered with the
    /// reactor (the *driver*: the last to poll); it reads for all and wakes those whose
    /// completion came, so a reply costs one wake-up, not one per waiting task.
    waiters: Mutex<Waiters>,
    /// The puts and gets being coalesced (`coalesce.rs`).
    batches: Mutex<coalesce::Batches>,
    /// The first key of the next batch (its members' keys follow): from 2^62 up, so never a
    /// ticket (request ids count from 1). Padded, as the counters below: written by both
    /// workers, they would otherwise share a cache line with the fields read on every call.
    next_key: Padded<AtomicU64>,
    /// Whether queue puts and gets are coalesced ([`Client::set_coalesce`]).
    coalesce: AtomicBool,
    /// `Waiters::driver` (0: none), for a batch member to tell without the lock that it is
    /// not the driver (only the driver itself stores its key, so a value other than its own
    /// means it is not).
    driver_hint: Padded<AtomicU64>,
    /// Batches sent, and the members they carried ([`Client::coalesced`]).
    batches_sent: Padded<AtomicU64>,
    members_sent: AtomicU64,
}

/// A value alone on its cache lines (two, for the adjacent-line prefetcher).
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The tasks waiting for a completion, and which of them is the driver.
#[derive(Default)]
struct Waiters {
    /// By ticket.
    wakers: IdMap<Waker>,
    /// The ticket of the task whose waker the reactor holds (the last to get `Pending` from
    /// `poll_read_ready`; registration happens under this lock, so it is exact). When that
    /// task stops waiting, another waiter is woken to take over.
    driver: Option<u64>,
}

impl Waiters {
    /// `ticket` stops waiting; if it was the driver, another waiter takes over. Returns
    /// true when it was the driver and no waiter here could take over (a batch member may:
    /// [`Core::leave`]).
    #[must_use]
    fn leave(&mut self, ticket: u64) -> bool {
        self.wakers.remove(&ticket);
        if self.driver == Some(ticket) {
            self.driver = None;
            if let Some(next) = self.wakers.values().next() {
                next.wake_by_ref();
            } else {
                return true;
            }
        }
        false
    }
}

impl Core {
    /// The first of [`coalesce::KEYS_PER_BATCH`] keys for a new batch's members.
    fn next_batch_keys(&self) -> u64 {
        self.next_key
            .fetch_add(coalesce::KEYS_PER_BATCH, Ordering::Relaxed)
    }

    /// Whether queue puts and gets join batches.
    pub(crate) fn coalescing(&self) -> bool {
        self.coalesce.load(Ordering::Relaxed)
    }

    /// `key` stops waiting (a ticket's waker leaves the map); a driver that leaves hands the
    /// reactor to another waiter, a batch member if no single request waits.
    fn leave(&self, key: u64) {
        let orphaned = {
            let mut w = self.waiters();
            let orphaned = w.leave(key);
            if w.driver.is_none() {
                self.driver_hint.store(0, Ordering::Relaxed);
            }
            orphaned
        };
        if orphaned {
            self.wake_a_member();
        }
    }

    /// [`leave`](Self::leave) for a batch member, which is not in the waiters' map: only
    /// when it is the driver.
    fn leave_if_driver(&self, key: u64) {
        if self.driver_hint.load(Ordering::Relaxed) == key {
            self.leave(key);
        }
    }

    /// Registers `key` as the driver (the task whose waker the reactor holds).
    fn set_driver(&self, w: &mut Waiters, key: u64) {
        w.driver = Some(key);
        self.driver_hint.store(key, Ordering::Relaxed);
    }

    fn abandoned(&self) -> std::sync::MutexGuard<'_, IdMap<Undo>> {
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads what came and settles the completions of dropped futures; appends the tickets
    /// that finished to `finished`. Batch members whose outcome came are woken here, except
    /// `except` (the caller).
    fn process(&self, finished: &mut Vec<u64>, except: Option<u64>) -> Result<()> {
        self.client.process_tickets(finished)?;
        self.settle_batches(finished, except)?;
        let mut ab = self.abandoned();
        if ab.is_empty() {
            return Ok(());
        }
        let done: Vec<(u64, Undo, Result<Reply>)> = ab
            .iter()
            .filter_map(|(&t, undo)| self.client.take_completion(t).map(|r| (t, undo.clone(), r)))
            .collect();
        for (t, _, _) in &done {
            ab.remove(t);
        }
        drop(ab);
        for (_, undo, outcome) in done {
            let Ok(reply) = outcome else { continue };
            let Ok(r) = reply.fields() else { continue };
            let req = match (&undo, r.value, r.acquired) {
                (Undo::Get(q), Some(v), _) => Some(RequestFields {
                    name: Some(q.as_str().into()),
                    value: Some(v),
                    ..RequestFields::new(0, "queue.unget")
                }),
                (Undo::GetAny(qs), Some(v), _) => {
                    qs.get(r.index.unwrap_or(0) as usize)
                        .map(|q| RequestFields {
                            name: Some(q.as_str().into()),
                            value: Some(v),
                            ..RequestFields::new(0, "queue.unget")
                        })
                }
                (Undo::Acquire(op, name), _, Some(true)) => Some(RequestFields {
                    name: Some(name.as_str().into()),
                    ..RequestFields::new(0, op)
                }),
                (Undo::Leased(q), _, _) if r.delivery.is_some() => Some(RequestFields {
                    name: Some(q.as_str().into()),
                    delivery: r.delivery,
                    ..RequestFields::new(0, "queue.unlease")
                }),

                _ => None,
            };
            if let Some(req) = req {
                let t = self.client.start(&req)?;
                self.abandoned().insert(t, Undo::Nothing);
            }
        }
        Ok(())
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands the completions of `tickets` (cancelled requests a handle kept, `Undo::Keep`) to
    /// the client to collect and drop, when that handle goes away.
    fn abandon(&self, tickets: Vec<u64>) {
        if tickets.is_empty() {
            return;
        }
        let mut ab = self.abandoned();
        for t in tickets {
            ab.insert(t, Undo::Nothing);
        }
    }

    /// Wakes the tasks waiting under `keys` (tickets or batch members), except `except`.
    fn wake(&self, keys: &[u64], except: Option<u64>) {
        if keys.is_empty() {
            return;
        }
        let w = self.waiters();
        for t in keys {
            if Some(*t) != except {
                if let Some(waker) = w.wakers.get(t) {
                    waker.wake_by_ref();
                }
            }
        }
    }

    /// Reads what came, settles it, and wakes the tasks whose completions came (for the
    /// clean-up task: nobody else may be reading).
    fn process_and_wake(&self) -> Result<()> {
        let mut finished = Vec::new();
        self.process(&mut finished, None)?;
        self.wake(&finished, None);
        Ok(())
    }

    /// Settles the completions of dropped futures (and batches no member waits for any
    /// more) even if no other future is polled on this client: a task on the current runtime
    /// reads until none is left.
    fn spawn_settler(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let core = self.clone();
        rt.spawn(async move {
            while !core.abandoned().is_empty() || core.batches().any_sent() {
                let Ok(mut ready) = core.fd.readable().await else {
                    return;
                };
                if core.process_and_wake().is_err() {
                    return;
                }
                ready.clear_ready();
            }
        });
    }

    /// Polls for started request `ticket`'s completion (see [`poll_until`](Self::poll_until)).
    fn poll_complete(&self, ticket: u64, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        self.poll_until(ticket, cx, || self.client.take_completion(ticket))
    }

    /// Polls for what `take` takes (a completion, a batch member's outcome), waiting under
    /// `key`: reads for every waiting task when the descriptor is ready, and wakes the tasks
    /// whose completions came.
    fn poll_until<R>(
        &self,
        key: u64,
        cx: &mut Context<'_>,
        mut take: impl FnMut() -> Option<Result<R>>,
    ) -> Poll<Result<R>> {
        loop {
            if let Some(r) = take() {
                self.leave(key);
                return Poll::Ready(r);
            }
            let mut ready = {
                let mut w = self.waiters();
                match w.wakers.get_mut(&key) {
                    Some(known) if known.will_wake(cx.waker()) => {}
                    Some(known) => known.clone_from(cx.waker()),
                    None => {
                        w.wakers.insert(key, cx.waker().clone());
                    }
                }
                // Another task may have filed this completion after the look above, and
                // looked for this task's waker before it was in the map: look again. (A
                // task that files completions wakes their waiters under this lock, after
                // filing them.)
                if let Some(r) = take() {
                    drop(w);
                    self.leave(key);
                    return Poll::Ready(r);
                }
                match self.fd.poll_read_ready(cx) {
                    Poll::Pending => {
                        self.set_driver(&mut w, key);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Err(Error::Disconnected(format!(
                            "event descriptor: {e}"
                        ))))
                    }
                    Poll::Ready(Ok(r)) => r,
                }
            };
            let mut finished = Vec::new();
            if let Err(e) = self.process(&mut finished, None) {
                return Poll::Ready(Err(e));
            }
            ready.clear_ready();
            self.wake(&finished, Some(key));
        }
    }

    /// For a batch member waiting under `key` (its waker is in its batch): when the
    /// descriptor is ready, reads for every waiting task and wakes those whose completions
    /// came; else registers as the driver. `Ready(Ok)`: look for the outcome again.
    fn poll_readable(&self, key: u64, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut ready = {
            let mut w = self.waiters();
            match self.fd.poll_read_ready(cx) {
                Poll::Pending => {
                    self.set_driver(&mut w, key);
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(Error::Disconnected(format!("event descriptor: {e}"))))
                }
                Poll::Ready(Ok(r)) => r,
            }
        };
        let mut finished = Vec::new();
        self.process(&mut finished, Some(key))?;
        ready.clear_ready();
        self.wake(&finished, Some(key));
        Poll::Ready(Ok(()))
    }
}

/// The future of [`Core::poll_complete`].
struct Complete<'a> {
    core: &'a Core,
    ticket: u64,
    /// This request's frame made the connection's output buffer non-empty
    /// (`start_deferred`): its first poll yields once, so that the other tasks woken in the
    /// same turn start their requests too, and the second flushes them all in one `send`.
    owes_flush: Flush,
}

impl Future for Complete<'_> {
    type Output = Result<Reply>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        match self.owes_flush {
            Flush::Yield => {
                self.owes_flush = Flush::Now;
                // A task that wakes itself runs again after the tasks already queued.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Flush::Now => {
                self.owes_flush = Flush::No;
                if let Err(e) = self.core.client.flush_starts() {
                    return Poll::Ready(Err(e));
                }
            }
            Flush::No => {}
        }
        self.core.poll_complete(self.ticket, cx)
    }
}

impl Drop for Complete<'_> {
    fn drop(&mut self) {
        if self.owes_flush != Flush::No {
            let _ = self.core.client.flush_starts();
        }
        self.core.leave(self.ticket);
    }
}

/// Where a started request stands with the flush of its deferred frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Someone else flushes (or it was written at once).
    No,
    /// It owes the flush: yield once first.
    Yield,
    /// It owes the flush, and has yielded.
    Now,
}

/// A started request: completes once; dropped early, it cancels at the broker.
pub(crate) struct Pending {
    core: Arc<Core>,
    ticket: u64,
    undo: Undo,
    done: bool,
    /// Whether this request owes the flush of the output buffer (see [`Complete`]).
    owes_flush: bool,
}

impl Pending {
    /// Starts `req`, deferred: it leaves with the other requests started in the same turn of
    /// the runtime, in one `send`.
    pub(crate) fn start(core: &Arc<Core>, req: &RequestFields<'_>, undo: Undo) -> Result<Pending> {
        let (ticket, owes_flush) = core.client.start_deferred_owed(req)?;
        Ok(Pending {
            core: core.clone(),
            ticket,
            undo,
            done: false,
            owes_flush,
        })
    }

    /// [`start`](Self::start), flushed at once when `now` (for a caller that has yielded
    /// already this turn: the others' requests are in the buffer).
    pub(crate) fn start_now(
        core: &Arc<Core>,
        req: &RequestFields<'_>,
        undo: Undo,
        now: bool,
    ) -> Result<Pending> {
        let mut p = Pending::start(core, req, undo)?;
        if now && p.owes_flush {
            p.owes_flush = false;
            core.client.flush_starts()?;
        }
        Ok(p)
    }

    /// Takes over request `ticket`, started already (and sent or carried: nothing to flush).
    pub(crate) fn adopt(core: &Arc<Core>, ticket: u64, undo: Undo) -> Pending {
        Pending {
            core: core.clone(),
            ticket,
            undo,
            done: false,
            owes_flush: false,
        }
    }

    pub(crate) async fn reply(mut self) -> Result<Reply> {
        let r = Complete {
            core: &self.core,
            ticket: self.ticket,
            owes_flush: if self.owes_flush {
                Flush::Yield
            } else {
                Flush::No
            },
        }
        .await;
        self.owes_flush = false;
        self.done = true;
        r
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let core = &self.core;
        if self.owes_flush {
            // Dropped before its first poll: its frame (and its neighbours') must still go.
            let _ = core.client.flush_starts();
        }
        if core.client.cancel(self.ticket).is_err() {
            return; // disconnected: the broker forgets the request itself
        }
        if let Undo::Keep(left) = &self.undo {
            left.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.ticket);
            return;
        }
        let first = {
            let mut ab = core.abandoned();
            let first = ab.is_empty();
            ab.insert(
                self.ticket,
                std::mem::replace(&mut self.undo, Undo::Nothing),
            );
            first
        };
        // Settle it even if no other future is polled on this client.
        if first {
            core.spawn_settler();
        }
    }
}

/// An async client: a blocking [`Client`](crate::Client) whose calls are futures. Cheap to
/// clone (shares the connection). Make it inside a tokio runtime (it registers with the
/// reactor).
#[derive(Clone)]
pub struct Client {
    core: Arc<Core>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("aio::Client")
            .field(&self.core.client)
            .finish()
    }
}

impl Client {
    /// Wraps a connected client; must be called from within a tokio runtime. The blocking
    /// client keeps working beside it (from other threads).
    pub fn new(client: crate::Client) -> Result<Client> {
        let fd = client.event_fd()?;
        // SAFETY: the descriptor belongs to `client`, which `Core` keeps alive (and drops
        // after the AsyncFd), and it is never closed or replaced while the client lives.
        let fd =
            unsafe { AsyncFd::register_with_interest(EventFd(fd), tokio::io::Interest::READABLE) }
                .map_err(|e| Error::Protocol(format!("cannot register with tokio: {e}")))?;
        Ok(Client {
            core: Arc::new(Core {
                client,
                fd,
                abandoned: Mutex::new(IdMap::default()),
                waiters: Mutex::new(Waiters::default()),
                batches: Mutex::new(coalesce::Batches::default()),
                next_key: Padded(AtomicU64::new(1 << 62)),
                coalesce: AtomicBool::new(true),
                driver_hint: Padded(AtomicU64::new(0)),
                batches_sent: Padded(AtomicU64::new(0)),
                members_sent: AtomicU64::new(0),
            }),
        })
    }

    /// Whether the `put`s and `get`s that tasks start on one queue in one turn of the
    /// runtime leave as one `queue.put_many` / `queue.get_many` (on by default; see
    /// docs/ASYNC.md, "Coalescing"). Off, each is its own request. Applies to calls started
    /// afterwards.
    pub fn set_coalesce(&self, on: bool) {
        self.core.coalesce.store(on, Ordering::Relaxed);
    }

    /// How many batches coalescing sent so far, and how many puts and gets they carried
    /// (their mean size tells how much it saves).
    pub fn coalesced(&self) -> (u64, u64) {
        (
            self.core.batches_sent.load(Ordering::Relaxed),
            self.core.members_sent.load(Ordering::Relaxed),
        )
    }

    /// The blocking client underneath (admin calls, objects not offered here).
    pub fn blocking(&self) -> &crate::Client {
        &self.core.client
    }

    /// Opens (or creates) the queue `name` of `T`s (a quick blocking round trip).
    pub fn queue<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<Queue<T>> {
        Ok(Queue::new(&self.core, self.core.client.queue::<T>(name)?))
    }

    /// Opens (or creates) the joinable queue `name` of `T`s (for [`Queue::join`]).
    pub fn joinable_queue<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<Queue<T>> {
        Ok(Queue::new(
            &self.core,
            self.core.client.joinable_queue::<T>(name)?,
        ))
    }

    /// Opens (or creates) the lock `name`.
    pub fn lock(&self, name: &str) -> Result<Lock> {
        Ok(Lock::new(&self.core, self.core.client.lock(name)?))
    }

    /// Opens (or creates) the semaphore `name` with `initial` permits.
    pub fn semaphore(&self, name: &str, initial: u64) -> Result<Semaphore> {
        Ok(Semaphore::new(
            &self.core,
            self.core.client.semaphore(name, initial)?,
        ))
    }

    /// Opens (or creates) the barrier `name` for `parties` parties.
    pub fn barrier(&self, name: &str, parties: u64) -> Result<Barrier> {
        Ok(Barrier::new(
            &self.core,
            self.core.client.barrier(name, parties)?,
        ))
    }

    /// Opens (or creates) the condition `name`.
    pub fn condition(&self, name: &str) -> Result<Condition> {
        Ok(Condition::new(
            &self.core,
            self.core.client.condition(name)?,
        ))
    }

    /// Opens (or creates) the pipe `name` of `T`s and claims `end` (see
    /// [`crate::Client::pipe_with`]).
    pub fn pipe<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        end: crate::End,
        options: crate::PipeOptions,
    ) -> Result<Pipe<T>> {
        Ok(Pipe::new(
            &self.core,
            self.core.client.pipe_with::<T>(name, end, options)?,
        ))
    }

    /// Opens (or creates) the event `name`.
    pub fn event(&self, name: &str) -> Result<Event> {
        Ok(Event::new(&self.core, self.core.client.event(name)?))
    }

    /// [`crate::Client::get_any`] as a future: the position in `queues` and the value of the
    /// first item of any of them. `timeout`: the broker's (`None`: as long as it takes); or
    /// drop the future (a runtime timeout) to give up, taking nothing.
    pub async fn get_any<T: Serialize + DeserializeOwned>(
        &self,
        queues: &[&Queue<T>],
        timeout: Option<Duration>,
    ) -> Result<(usize, T)> {
        let names: Vec<&str> = queues.iter().map(|q| q.name()).collect();
        let req = RequestFields {
            names: Some(names.clone()),
            timeout_ms: crate::codec::Wait::new(timeout).timeout_ms,
            ..RequestFields::new(0, "queue.get_any")
        };
        let undo = Undo::GetAny(names.iter().map(|n| n.to_string()).collect());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        let r = reply.fields()?;
        let index = need(r.index, "queue.get_any", "index")? as usize;
        Ok((index, decode(value_of(&r, "queue.get_any")?)?))
    }

    /// [`crate::Client::wait`] as a future: the positions of the ready objects.
    pub async fn wait(
        &self,
        objects: &[&dyn Waitable],
        timeout: Option<Duration>,
    ) -> Result<Vec<usize>> {
        let ticket = self.core.client.start_wait(objects, timeout)?;
        let pending = Pending {
            core: self.core.clone(),
            ticket,
            undo: Undo::Nothing,
            done: false,
            owes_flush: false,
        };
        let reply = pending.reply().await?;
        let r = reply.fields()?;
        let indices = need(r.indices.as_ref(), "wait", "indices")?;
        Ok(indices.iter().map(|&i| i as usize).collect())
    }
}
