//! The event-loop API: start requests without waiting, learn from one descriptor when replies
//! have come, collect them, cancel them — what libuv, asyncio, tokio and the other bindings'
//! loops plug into (hiredis `async.h`, ZeroMQ's `ZMQ_FD`). The blocking API is built on the
//! same connection (`conn.rs`): both kinds of calls can be mixed on one client, from any
//! threads.
//!
//! # The descriptor
//!
//! Linux only so far: elsewhere (other Unixes, Windows) the calls here exist and fail with
//! [`Error::Protocol`] saying so; the descriptor is made in `transport/` (`notify.rs`).
//!
//! [`Client::event_fd`] is an `epoll` descriptor (Linux) watching two things: the socket, and
//! a wake-up pipe that is written whenever the reply of a started request is filed by a thread
//! other than the loop's (a blocking call reading as leader). It is level-triggered and
//! readable while there may be something to do; spurious readiness is possible (call
//! [`process`](Client::process), which never blocks, and go back to waiting). Register it for
//! readability only; never read from it.
//!
//! # A started request
//!
//! [`Client::start`] sends a request and returns its id (a *ticket*). After the descriptor is
//! readable, [`process`](Client::process) reads what the socket holds and moves every
//! finished request to the completion queue; [`next_completion`](Client::next_completion)
//! pops them in the order they finished, [`take_completion`](Client::take_completion) takes a
//! given ticket's. Every started request completes exactly once — with its reply, an error
//! reply, or [`Error::Disconnected`] — and must be collected, or its reply stays in memory.
//!
//! [`cancel`](Client::cancel) asks the broker to give a started request up (docs/PROTOCOL.md §5
//! `cancel`): it still completes, with its timeout outcome (a `get` then took nothing) or, if
//! it had completed at the broker first, with its real outcome — the caller must look at it
//! (an item in it must not be dropped).

use std::collections::VecDeque;
use std::ffi::c_int;
use std::sync::{Mutex, OnceLock, PoisonError};

use xproc_protocol::RequestFields;

use crate::client::{check_reply, Client, Reply};
use crate::conn::{IdMap, IdSet};
use crate::error::{Error, Result};
use crate::transport::Notifier;

/// Stale tickets `Done::order` may hold beyond twice the waiting completions before it is
/// compacted (amortised: each compaction at least halves it).
const ORDER_SLACK: usize = 1024;

/// One client's event-loop state (kept in the client, made on first use).
pub(crate) struct Events {
    /// The descriptor handed to the loop, and its wake-up pipe (`transport/`).
    notifier: Notifier,
    done: Mutex<Done>,
    /// Started pipe calls: brokered ones until their replies, direct ones while carried
    /// (`started_pipe.rs`).
    pub(crate) pipes: crate::started_pipe::PipeStarts,
}

#[derive(Default)]
struct Done {
    /// Finished tickets, in the order they finished.
    order: VecDeque<u64>,
    /// Their outcomes.
    replies: IdMap<Result<Vec<u8>>>,
    /// Ids of `cancel` requests sent by [`Client::cancel`]: their replies say nothing the
    /// caller needs (the target's own completion does), so they are dropped.
    internal: IdSet,
    /// Outcomes filed by the client itself (direct pipe calls, `started_pipe.rs`), moved to
    /// the queue by the next `process`.
    filed: Vec<(u64, Result<Vec<u8>>)>,
}

/// The event-loop state of a client, kept in its shared part.
pub(crate) type Slot = OnceLock<Events>;

impl Events {
    fn new(client: &Client) -> Result<Events> {
        let notifier = client
            .conn()
            .notifier()
            .map_err(|e| Error::Protocol(format!("event loop setup: {e}")))?;
        // Whoever files a started request's reply (a blocking call on another thread, reading
        // as leader) makes the descriptor readable.
        client.conn().set_on_watched(notifier.waker());
        Ok(Events {
            notifier,
            done: Mutex::new(Done::default()),
            pipes: Default::default(),
        })
    }

    fn done(&self) -> std::sync::MutexGuard<'_, Done> {
        self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Client {
    pub(crate) fn events(&self) -> Result<&Events> {
        let slot = self.events_slot();
        if let Some(e) = slot.get() {
            return Ok(e);
        }
        // Made once, under a lock: a second copy would replace the first one's wake-up hook.
        static INIT: Mutex<()> = Mutex::new(());
        let _made_once = INIT.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.get().is_none() {
            let made = Events::new(self)?;
            let _ = slot.set(made);
        }
        slot.get()
            .ok_or_else(|| Error::Protocol("event loop setup failed".into()))
    }

    /// The descriptor an event loop watches for readability (see the module docs): readable
    /// when replies to started requests may have come. Owned by the client (valid until it is
    /// dropped); do not read from or close it. (A `RawFd`: the type is spelled `c_int` so
    /// that it exists on every OS; off Linux this fails, see the module docs.)
    pub fn event_fd(&self) -> Result<c_int> {
        Ok(self.events()?.notifier.fd())
    }

    /// Sends `request` without waiting and returns its ticket (its request id); its outcome is
    /// collected later ([`next_completion`](Self::next_completion),
    /// [`take_completion`](Self::take_completion)) after [`process`](Self::process). The
    /// request's `id` is ignored. A `timeout_ms` in it is the broker's: the request completes
    /// with its timeout outcome then.
    ///
    /// With [`set_defer_starts`](Self::set_defer_starts) on, the request is deferred as by
    /// [`start_deferred`](Self::start_deferred).
    pub fn start(&self, request: &RequestFields<'_>) -> Result<u64> {
        self.events()?;
        self.conn().start_watched(owned_fields(request))
    }

    /// [`start`](Self::start) without writing yet: the request waits in the connection's
    /// output buffer, so that the requests an event loop starts in one turn leave in one
    /// `send`. It is written by [`flush_starts`](Self::flush_starts),
    /// [`process`](Self::process), the next blocking call of any thread, or once the buffer
    /// holds 64 KiB — whichever comes first. A loop that defers must flush before it sleeps,
    /// or the request's reply never comes.
    pub fn start_deferred(&self, request: &RequestFields<'_>) -> Result<u64> {
        self.start_deferred_owed(request).map(|(id, _)| id)
    }

    /// [`start_deferred`](Self::start_deferred), also saying whether the output buffer was
    /// empty before (the caller then owes the flush: an async driver schedules it once per
    /// batch).
    pub(crate) fn start_deferred_owed(&self, request: &RequestFields<'_>) -> Result<(u64, bool)> {
        self.events()?;
        self.conn().start_deferred(owned_fields(request))
    }

    /// Writes the requests [`start_deferred`](Self::start_deferred) left in the output buffer
    /// (one `send`); nothing when there are none. Never waits for replies.
    pub fn flush_starts(&self) -> Result<()> {
        self.conn().flush_deferred()
    }

    /// Makes [`start`](Self::start) (and the `start_*` helpers built on it) defer its writes
    /// as [`start_deferred`](Self::start_deferred) does (off by default), for an event loop
    /// that calls [`flush_starts`](Self::flush_starts) before it sleeps. Turning it off
    /// flushes. [`cancel`](Self::cancel) is always written at once.
    pub fn set_defer_starts(&self, on: bool) {
        self.conn().set_defer_starts(on);
    }

    /// Asks the broker to give up started request `ticket` (it must not be collected yet). It
    /// still completes: with its timeout outcome if it was blocked (it took nothing), else with
    /// what it did. Never blocks.
    pub fn cancel(&self, ticket: u64) -> Result<()> {
        let ev = self.events()?;
        if ev.pipes.cancel(ticket) {
            return Ok(());
        }
        let req = RequestFields {
            target: Some(ticket),
            ..RequestFields::new(0, "cancel")
        };
        let id = self.conn().start_watched(req)?;
        ev.done().internal.insert(id);
        // Written at once (with its target, if that was deferred) even when starts are
        // deferred: a canceller does not flush.
        self.conn().flush_deferred()
    }

    /// Reads what the socket holds (without blocking) and moves finished requests to the
    /// completion queue; returns how many completions wait to be collected. Call it when the
    /// descriptor is readable (and whenever convenient: it is cheap when there is nothing).
    pub fn process(&self) -> Result<usize> {
        self.process_tickets(&mut Vec::new())
    }

    /// [`process`](Self::process), also appending the tickets that finished now to `finished`
    /// (for a driver that wakes exactly their waiters).
    pub fn process_tickets(&self, finished_now: &mut Vec<u64>) -> Result<usize> {
        let ev = self.events()?;
        ev.notifier.drain();
        self.conn().pump();
        let mut finished = Vec::new();
        self.conn().take_watched(&mut finished);
        // A started pipe call the broker answered `direct` is not finished: it is redone on
        // the end's socket (`started_pipe.rs`).
        finished.retain(|(id, outcome)| !ev.pipes.redo_if_direct(self, *id, outcome));
        let mut d = ev.done();
        finished.append(&mut d.filed);
        for (id, outcome) in finished {
            if d.internal.remove(&id) {
                continue;
            }
            d.order.push_back(id);
            d.replies.insert(id, outcome);
            finished_now.push(id);
        }
        // Tickets taken by `take_completion` stay in `order` until `next_completion` skips
        // them; a loop that only takes by ticket (the async drivers) would grow it forever.
        if d.order.len() > 2 * d.replies.len() + ORDER_SLACK {
            let Done { order, replies, .. } = &mut *d;
            order.retain(|id| replies.contains_key(id));
        }
        Ok(d.replies.len())
    }

    /// The next finished request, in the order they finished: its ticket and outcome (an
    /// error reply is `Err`, mapped as for blocking calls). `None` when none is waiting.
    pub fn next_completion(&self) -> Option<(u64, Result<Reply>)> {
        let ev = self.events().ok()?;
        let mut d = ev.done();
        while let Some(id) = d.order.pop_front() {
            if let Some(outcome) = d.replies.remove(&id) {
                return Some((id, finish(outcome)));
            }
        }
        None
    }

    /// Whether started request `ticket` has finished (after [`process`](Self::process)).
    pub fn has_completion(&self, ticket: u64) -> bool {
        self.events()
            .is_ok_and(|ev| ev.done().replies.contains_key(&ticket))
    }

    /// [`take_completion`](Self::take_completion) without mapping an error reply: the raw
    /// reply payload, for a caller that needs an error reply's fields (`queue.put_many`'s
    /// `put`). `Err` only when the request failed without a reply (disconnected).
    #[cfg(all(unix, feature = "tokio"))]
    pub(crate) fn take_completion_payload(&self, ticket: u64) -> Option<Result<Vec<u8>>> {
        let ev = self.events().ok()?;
        let outcome = ev.done().replies.remove(&ticket)?;
        Some(outcome)
    }

    /// The outcome of started request `ticket` if it has finished (after
    /// [`process`](Self::process)), taking it off the completion queue.
    pub fn take_completion(&self, ticket: u64) -> Option<Result<Reply>> {
        let ev = self.events().ok()?;
        let outcome = ev.done().replies.remove(&ticket)?;
        Some(finish(outcome))
    }
}

/// `request` with its borrowed lists re-borrowed for the connection (its `id` is assigned
/// there).
fn owned_fields<'a>(request: &'a RequestFields<'a>) -> RequestFields<'a> {
    RequestFields {
        id: 0,
        keys: request.keys.clone(),
        items: request.items.clone(),
        values: request.values.clone(),
        deliveries: request.deliveries.clone(),
        names: request.names.clone(),
        ends: request.ends.clone(),
        caps: request.caps.clone(),
        ring_free: request.ring_free.clone(),
        ..*request
    }
}

impl Client {
    /// Files the outcome of a started request the client carried itself (a direct pipe
    /// call): the next [`process`](Self::process) queues it, and the descriptor is made
    /// readable so that the loop calls it.
    pub(crate) fn file_completion(&self, ticket: u64, outcome: Result<Vec<u8>>) {
        if let Ok(ev) = self.events() {
            ev.done().filed.push((ticket, outcome));
            (ev.notifier.waker())();
        }
    }
}

fn finish(outcome: Result<Vec<u8>>) -> Result<Reply> {
    let payload = outcome?;
    // Most replies are not errors: a walk over the keys says so without decoding the reply,
    // which its reader decodes anyway.
    if crate::conn::reply_is_ok(&payload) != Some(true) {
        check_reply(&payload)?;
    }
    Ok(Reply::from_payload(payload))
}

/// `timeout_ms` for a started request: `None` waits as long as it takes.
fn ms(timeout: Option<std::time::Duration>) -> Option<u64> {
    crate::codec::Wait::new(timeout).timeout_ms
}

impl crate::RawQueue {
    /// Starts a `queue.get` (see [`Client::start`]); its completion's `value` is the item.
    pub fn start_get(&self, timeout: Option<std::time::Duration>) -> Result<u64> {
        self.client().start(&RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "queue.get")
        })
    }

    /// Starts a `queue.put` of `value` (MessagePack bytes).
    pub fn start_put(&self, value: &[u8], timeout: Option<std::time::Duration>) -> Result<u64> {
        self.client().start(&RequestFields {
            name: Some(self.name().into()),
            value: Some(serde_bytes::Bytes::new(value)),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "queue.put")
        })
    }
}

impl crate::Lock {
    /// Starts a `lock.acquire`; its completion says `acquired` (and `abandoned_by`).
    pub fn start_acquire(&self, timeout: Option<std::time::Duration>) -> Result<u64> {
        self.client().start(&RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "lock.acquire")
        })
    }
}

impl crate::Semaphore {
    /// Starts a `semaphore.acquire`; its completion says `acquired`.
    pub fn start_acquire(&self, timeout: Option<std::time::Duration>) -> Result<u64> {
        self.client().start(&RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "semaphore.acquire")
        })
    }
}

impl crate::Event {
    /// Starts an `event.wait`; its completion says `set`.
    pub fn start_wait(&self, timeout: Option<std::time::Duration>) -> Result<u64> {
        self.client().start(&RequestFields {
            name: Some(self.name().into()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "event.wait")
        })
    }
}

impl Client {
    /// Starts a `queue.get_any` over the queues `names`; its completion has `value` and
    /// `index`.
    pub fn start_get_any(
        &self,
        names: &[&str],
        timeout: Option<std::time::Duration>,
    ) -> Result<u64> {
        self.start(&RequestFields {
            names: Some(names.to_vec()),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "queue.get_any")
        })
    }

    /// Starts a `wait` over `objects`; its completion has `indices`.
    pub fn start_wait(
        &self,
        objects: &[&dyn crate::Waitable],
        timeout: Option<std::time::Duration>,
    ) -> Result<u64> {
        let (names, ends): (Vec<&str>, Vec<&str>) = objects.iter().map(|o| o.wait_target()).unzip();
        let any_pipe = ends.iter().any(|e| !e.is_empty());
        self.start(&RequestFields {
            names: Some(names),
            ends: any_pipe.then_some(ends),
            timeout_ms: ms(timeout),
            ..RequestFields::new(0, "wait")
        })
    }
}
