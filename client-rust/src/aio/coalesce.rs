//! Request coalescing: the `queue.put`s (and the `queue.get`s) that tasks start on one queue
//! in one turn of the runtime leave as **one** `queue.put_many` (one `queue.get_many`), so the
//! broker dispatches one request for all of them, and the client encodes and decodes one
//! frame (docs/ASYNC.md, "Coalescing").
//!
//! A batch is a *probe*: it never waits at the broker (`timeout_ms` 0). What the broker could
//! do at once it did, for the batch's first members in order (docs/PROTOCOL.md §6.3,
//! "Batches": a `put_many` refused `Full` says with `put` how many went in; a `get_many`
//! returns the oldest items, one per member at most). Every member it could not serve is
//! *reissued*: it sends its own single request with its own timeout, which waits at the
//! broker as it always did. So a batch is never a blocked request, and a dropped member never
//! needs a `cancel`:
//!
//! - dropped before the batch leaves: it is left out of it;
//! - dropped while the batch is on its way: a get's item goes to the next member still
//!   waiting, and an item no member wants goes back to the head of the queue
//!   (`queue.unget`, last first, so the queue keeps its order); a put may still be made (as a
//!   dropped single put may);
//! - dropped after its outcome came but before it was taken: a get's item is given back the
//!   same way;
//! - dropped once reissued: its single request is cancelled as any other (`Pending`).
//!
//! A refused batch (`InvalidValue`, `LimitExceeded`, any error but `Full`/`Empty`) did
//! nothing: its members are reissued one by one, so each gets its own outcome.
//!
//! Batches are made by the futures themselves, under [`Core::batches`]: the first member of a
//! batch (its *owner*) yields once, so that the other tasks woken in the same turn join it,
//! then sends it (or, dropped first, sends it from its `Drop`). The reply is settled by
//! whichever task reads it ([`Core::settle_batches`], called from `Core::process`), which
//! files each member's outcome and wakes it.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use xproc_protocol::{Bytes, ReplyFields, RequestFields};

use super::{Core, Flush, Undo};
use crate::conn::IdMap;
use crate::error::Result;

/// Most members in one batch: a `get_many`'s `max`, a `put_many`'s values. A larger turn makes
/// several batches.
pub(crate) const MAX_MEMBERS: usize = 1024;

/// Most bytes of values one `put_many` batch carries (far below `max_frame`, so a batch is
/// never refused for its size).
pub(crate) const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Puts of values larger than this go alone (`queue.put`): a large value may travel as a memfd
/// (docs/PROTOCOL.md §4.1), which a batch cannot carry, and batching saves little for it.
pub(crate) const MAX_COALESCED_VALUE: usize = 8 * 1024;

/// Keys reserved per batch: member `i` waits under the batch's first key + `i`.
pub(crate) const KEYS_PER_BATCH: u64 = 2048;
const _: () = assert!(MAX_MEMBERS as u64 <= KEYS_PER_BATCH);

/// Members a new batch has room for before it grows (most batches carry tens to hundreds).
const FIRST_CAPACITY: usize = 64;

/// Which single op a batch stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `queue.put`s, sent as one `queue.put_many`.
    Put,
    /// `queue.get`s, sent as one `queue.get_many`.
    Get,
}

/// The batches being filled (one per kind and queue at most) and those on their way.
#[derive(Default)]
pub(crate) struct Batches {
    /// Open to new members: not sent yet.
    open: Vec<Arc<Batch>>,
    /// Sent, by the ticket of their request, until their reply is settled.
    sent: IdMap<Arc<Batch>>,
}

impl Batches {
    /// Whether a sent batch still waits for its reply (the clean-up task runs until none
    /// does).
    pub(crate) fn any_sent(&self) -> bool {
        !self.sent.is_empty()
    }
}

/// The requests of one kind on one queue that leave together.
pub(crate) struct Batch {
    kind: Kind,
    /// The queue.
    name: String,
    /// Its members' first key (`Core::next_batch_keys`).
    first_key: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    members: Vec<Member>,
    /// Bytes of the members' values (puts).
    bytes: usize,
    /// Sent, or closed: no member joins it any more.
    sent: bool,
    /// The members the request carried, in order (a put's value, a get's place in `max`);
    /// emptied when the reply is settled.
    carried: Vec<usize>,
}

struct Member {
    /// The key its future drives the reactor under (`Waiters::driver`); never a ticket.
    key: u64,
    /// Its future's waker, once it waits: woken by whoever files its outcome (members are
    /// not in `Waiters`' map, so a reply settles a batch without a look-up per member).
    waker: Option<Waker>,
    /// Its own timeout: a reissued request has it, and a member with `Some(0)` takes the
    /// batch's `Full`/`Empty` as its outcome.
    timeout_ms: Option<u64>,
    /// A put's encoded value (moved into its outcome if it is reissued).
    value: Vec<u8>,
    status: Status,
}

enum Status {
    /// Its future waits.
    Waiting,
    /// Its future was dropped before the outcome came.
    Dropped,
    /// The outcome, not yet taken.
    Done(Outcome),
    /// The future took the outcome (or dropped it after it came).
    Taken,
}

/// What a batch did for one member.
pub(crate) enum Outcome {
    /// The put was made.
    Put,
    /// The get's item: these bytes of the reply's payload.
    Got(Arc<Vec<u8>>, Range<usize>),
    /// The queue was full (a member not waiting, `timeout_ms` 0).
    Full,
    /// The queue was empty (a member not waiting).
    Empty,
    /// The batch did not serve it: the member sends its own request (a put: with this value).
    Reissue(Vec<u8>),
    /// The member that sends the batch found itself alone in it: it sends its own request
    /// instead, at once (it has yielded already), and no batch is sent.
    Alone(Vec<u8>),
}

impl Batch {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Core {
    pub(crate) fn batches(&self) -> MutexGuard<'_, Batches> {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the open batch of `kind` on queue `name` (opening one if there is none, or if it
    /// is full) as a member with `timeout_ms` and, for a put, `value`. The future that opened
    /// the batch owes its sending.
    pub(crate) fn join(
        self: &Arc<Self>,
        kind: Kind,
        name: &str,
        timeout_ms: Option<u64>,
        value: Vec<u8>,
    ) -> Joined {
        loop {
            let (batch, opened) = {
                let mut b = self.batches();
                match b.open.iter().find(|x| x.kind == kind && x.name == name) {
                    Some(x) => (x.clone(), false),
                    None => {
                        let x = Arc::new(Batch {
                            kind,
                            name: name.to_string(),
                            first_key: self.next_batch_keys(),
                            state: Mutex::new(State {
                                members: Vec::with_capacity(FIRST_CAPACITY),
                                ..State::default()
                            }),
                        });
                        b.open.push(x.clone());
                        (x, true)
                    }
                }
            };
            let mut st = batch.state();
            let full = st.members.len() >= MAX_MEMBERS
                || (!st.members.is_empty() && st.bytes + value.len() > MAX_BATCH_BYTES);
            if st.sent || full {
                // Gone, or full: closed to joiners (its owner still sends it); try a new one.
                drop(st);
                self.batches().open.retain(|x| !Arc::ptr_eq(x, &batch));
                continue;
            }
            st.bytes += value.len();
            let key = batch.first_key + st.members.len() as u64;
            st.members.push(Member {
                key,
                waker: None,
                timeout_ms,
                value,
                status: Status::Waiting,
            });
            let index = st.members.len() - 1;
            drop(st);
            return Joined {
                core: self.clone(),
                batch,
                index,
                key,
                owes: if opened { Flush::Yield } else { Flush::No },
                done: false,
            };
        }
    }

    /// Sends `batch` (once: later calls do nothing); `caller` is the index of the member
    /// sending it, if it is one. A batch with one member left is not sent: that member sends
    /// its own request. Wakes the members whose outcome that filed (not the caller).
    fn send_batch(&self, batch: &Arc<Batch>, caller: Option<usize>) -> Result<()> {
        let mut st = batch.state();
        if st.sent {
            return Ok(());
        }
        st.sent = true;
        self.batches().open.retain(|x| !Arc::ptr_eq(x, batch));
        let live: Vec<usize> = (0..st.members.len())
            .filter(|&i| matches!(st.members[i].status, Status::Waiting))
            .collect();
        let reissue_all = |st: &mut State, live: &[usize]| -> Vec<Waker> {
            live.iter()
                .filter_map(|&i| {
                    let m = &mut st.members[i];
                    m.status = Status::Done(Outcome::Reissue(std::mem::take(&mut m.value)));
                    m.waker.take()
                })
                .collect()
        };
        if live.len() == 1 && Some(live[0]) == caller {
            let m = &mut st.members[live[0]];
            m.status = Status::Done(Outcome::Alone(std::mem::take(&mut m.value)));
            return Ok(());
        }
        if live.len() < 2 {
            let wakers = reissue_all(&mut st, &live);
            drop(st);
            wakers.into_iter().for_each(Waker::wake);
            return Ok(());
        }
        let name = batch.name.as_str();
        let started = match batch.kind {
            Kind::Put => {
                let values = live
                    .iter()
                    .map(|&i| Bytes::new(&st.members[i].value))
                    .collect();
                self.client.start_deferred_owed(&RequestFields {
                    name: Some(name.into()),
                    values: Some(values),
                    timeout_ms: Some(0),
                    ..RequestFields::new(0, "queue.put_many")
                })
            }
            Kind::Get => self.client.start_deferred_owed(&RequestFields {
                name: Some(name.into()),
                max: Some(live.len() as u64),
                timeout_ms: Some(0),
                ..RequestFields::new(0, "queue.get_many")
            }),
        };
        let (ticket, owes) = match started {
            Ok(t) => t,
            Err(_) => {
                // Not sent (disconnected, say): each member's own request reports why.
                let wakers = reissue_all(&mut st, &live);
                drop(st);
                wakers.into_iter().for_each(Waker::wake);
                return Ok(());
            }
        };
        self.batches_sent.fetch_add(1, Ordering::Relaxed);
        self.members_sent
            .fetch_add(live.len() as u64, Ordering::Relaxed);
        st.carried = live;
        self.batches().sent.insert(ticket, batch.clone());
        drop(st);
        // The reply may have been read already (a blocking call on another thread wrote the
        // batch and read its reply before it was in `sent`): then no `process` settles it.
        if self.client.has_completion(ticket) && self.batches().sent.remove(&ticket).is_some() {
            self.settle(batch, self.client.take_completion_payload(ticket), None)?;
        }
        if owes {
            self.client.flush_starts()?;
        }
        Ok(())
    }

    /// Settles the batches whose replies are among the `finished` tickets (read by
    /// `process`), waking the members whose outcome came (but `except`, the caller).
    pub(crate) fn settle_batches(&self, finished: &[u64], except: Option<u64>) -> Result<()> {
        let done: Vec<(u64, Arc<Batch>)> = {
            let mut b = self.batches();
            if b.sent.is_empty() {
                return Ok(());
            }
            finished
                .iter()
                .filter_map(|t| b.sent.remove(t).map(|x| (*t, x)))
                .collect()
        };
        for (ticket, batch) in done {
            let outcome = self.client.take_completion_payload(ticket);
            self.settle(&batch, outcome, except)?;
        }
        Ok(())
    }

    /// Files each carried member's outcome from the batch's reply `outcome` (see the module
    /// docs), wakes those members (but `except`), and gives back the items no member wants.
    fn settle(
        &self,
        batch: &Batch,
        outcome: Option<Result<Vec<u8>>>,
        except: Option<u64>,
    ) -> Result<()> {
        let mut wakers = Vec::new();
        let mut file = |m: &mut Member, o: Outcome| {
            m.status = Status::Done(o);
            if let Some(w) = m.waker.take() {
                if Some(m.key) != except {
                    wakers.push(w);
                }
            }
        };
        let payload = match outcome {
            Some(Ok(p)) => Some(p),
            _ => None, // no reply (disconnected): each member's own request reports it
        };
        let mut st = batch.state();
        let carried = std::mem::take(&mut st.carried);
        let mut unwanted: Vec<Range<usize>> = Vec::new();
        let mut payload_arc = None;
        match batch.kind {
            Kind::Put => {
                // How many of the first values went in, and whether the rest met a full queue.
                let (put, full) = match payload.as_deref().map(ReplyFields::decode) {
                    Some(Ok(r)) => match r.error {
                        None => (carried.len(), false),
                        Some(code) => (r.put.unwrap_or(0) as usize, code == "Full"),
                    },
                    _ => (0, false),
                };
                for (pos, &i) in carried.iter().enumerate() {
                    let m = &mut st.members[i];
                    if !matches!(m.status, Status::Waiting) {
                        continue; // dropped: a put made stays made, as for a single put
                    }
                    let o = if pos < put {
                        Outcome::Put
                    } else if full && m.timeout_ms == Some(0) {
                        Outcome::Full
                    } else {
                        Outcome::Reissue(std::mem::take(&mut m.value))
                    };
                    file(m, o);
                }
            }
            Kind::Get => {
                // The items' places in the payload (None: the batch failed as a whole), and
                // whether the queue was empty.
                let (ranges, empty) = match payload.as_deref().map(ReplyFields::decode) {
                    Some(Ok(r)) => match (r.error, &r.values) {
                        (None, Some(values)) => {
                            let base = payload.as_deref().map_or(0, |p| p.as_ptr() as usize);
                            let ranges: Vec<Range<usize>> = values
                                .iter()
                                .flatten()
                                .map(|v| {
                                    let start = v.as_ptr() as usize - base;
                                    start..start + v.len()
                                })
                                .collect();
                            (Some(ranges), false)
                        }
                        (Some("Empty"), _) => (Some(Vec::new()), true),
                        _ => (None, false),
                    },
                    _ => (None, false),
                };
                let mut ranges = ranges.unwrap_or_default().into_iter();
                let p = Arc::new(payload.unwrap_or_default());
                for &i in &carried {
                    let m = &mut st.members[i];
                    if !matches!(m.status, Status::Waiting) {
                        continue; // dropped: its item goes to the next member
                    }
                    let o = match ranges.next() {
                        Some(r) => Outcome::Got(p.clone(), r),
                        None if empty && m.timeout_ms == Some(0) => Outcome::Empty,
                        None => Outcome::Reissue(Vec::new()),
                    };
                    file(m, o);
                }
                unwanted.extend(ranges);
                payload_arc = Some(p);
            }
        }
        drop(st);
        wakers.into_iter().for_each(Waker::wake);
        if let Some(p) = payload_arc {
            // Last first: each goes to the head, so the first ends up first again.
            for r in unwanted.into_iter().rev() {
                self.give_back(&batch.name, &p[r])?;
            }
        }
        Ok(())
    }

    /// Wakes one batch member waiting for a sent batch, to drive the reactor (the driver
    /// left and no single request waits).
    pub(crate) fn wake_a_member(&self) {
        let sent: Vec<Arc<Batch>> = self.batches().sent.values().cloned().collect();
        for batch in sent {
            let mut st = batch.state();
            if let Some(w) = st.members.iter_mut().find_map(|m| match m.status {
                Status::Waiting => m.waker.take(),
                _ => None,
            }) {
                drop(st);
                w.wake();
                return;
            }
        }
    }

    /// Puts an item a dropped get took back at the head of queue `name` (`queue.unget`).
    fn give_back(&self, name: &str, value: &[u8]) -> Result<()> {
        let t = self.client.start(&RequestFields {
            name: Some(name.into()),
            value: Some(Bytes::new(value)),
            ..RequestFields::new(0, "queue.unget")
        })?;
        self.abandoned().insert(t, Undo::Nothing);
        Ok(())
    }
}

/// A member of a batch, waiting for its [`Outcome`]. Dropped early, it leaves the batch
/// without taking anything (see the module docs).
pub(crate) struct Joined {
    core: Arc<Core>,
    batch: Arc<Batch>,
    index: usize,
    key: u64,
    /// The member that opened the batch sends it: it yields once first, so that the other
    /// tasks of the turn join.
    owes: Flush,
    /// Its outcome was taken.
    done: bool,
}

impl Future for Joined {
    type Output = Result<Outcome>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Outcome>> {
        match self.owes {
            Flush::Yield => {
                self.owes = Flush::Now;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Flush::Now => {
                self.owes = Flush::No;
                if let Err(e) = self.core.send_batch(&self.batch, Some(self.index)) {
                    return Poll::Ready(Err(e));
                }
            }
            Flush::No => {}
        }
        let this = &mut *self;
        loop {
            {
                let mut st = this.batch.state();
                let m = &mut st.members[this.index];
                if let Status::Done(_) = m.status {
                    let Status::Done(o) = std::mem::replace(&mut m.status, Status::Taken) else {
                        unreachable!("matched above");
                    };
                    m.waker = None;
                    drop(st);
                    this.done = true;
                    this.core.leave_if_driver(this.key);
                    return Poll::Ready(Ok(o));
                }
                // Stored under the lock the outcome is filed under: it is woken exactly.
                match &mut m.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
            }
            match this.core.poll_readable(this.key, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {} // read and settled: look again
            }
        }
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let core = &self.core;
        let mut st = self.batch.state();
        let status = std::mem::replace(&mut st.members[self.index].status, Status::Taken);
        let mut settle_alone = false;
        let mut unwanted = None;
        match status {
            Status::Waiting => {
                st.members[self.index].status = Status::Dropped;
                // The last member waiting for a sent batch: nobody else reads its reply.
                settle_alone = st.sent
                    && !st.carried.is_empty()
                    && !st
                        .members
                        .iter()
                        .any(|m| matches!(m.status, Status::Waiting));
            }
            Status::Done(Outcome::Got(p, r)) => unwanted = Some((p, r)),
            _ => {}
        }
        drop(st);
        if let Some((p, r)) = unwanted {
            let _ = core.give_back(&self.batch.name, &p[r]);
        }
        if self.owes != Flush::No {
            // It owed the sending: the other members still go.
            let _ = core.send_batch(&self.batch, None);
        }
        core.leave_if_driver(self.key);
        if settle_alone {
            core.spawn_settler();
        }
    }
}
