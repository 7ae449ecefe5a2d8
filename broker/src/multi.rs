//! Waits over many objects at once: `queue.get_any` (take one item from the first of several
//! queues to have one) and `wait` (readiness of queues, pipe ends, events, locks and
//! semaphores). State only, no IO: replies leave through the [`Outbox`].
//!
//! Each such request is **one** record in the waiter table (one `max_blocked` slot, one
//! deadline, one `cancel` target), plus an entry here listing its objects:
//!
//! - A `queue.get_any` registers as a getter in each of its queues (in their FIFO with the
//!   other getters, so per-queue fairness is kept) sharing one [`Claim`]: the first queue to
//!   hand it an item claims it and the others skip it. When the broker delivers that wake it
//!   removes the other registrations ([`Broker::finish_multi`]).
//! - A `wait` takes nothing, so it stays out of the objects' own FIFOs: it is listed here by
//!   object name, and whatever may make an object ready (a put, a send, a close, a release, a
//!   set, a disconnect, a lease coming back) marks the name *dirty* with
//!   [`Broker::touch_ready`]. [`Broker::check_ready`], run with every wake delivery, answers
//!   the watchers of dirty objects that are now ready. With no `wait` blocked, `touch_ready` is
//!   one empty-map check.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use xproc_protocol::{Bytes, End, ErrorCode, ReplyFields};

use crate::objects::claim::Claim;
use crate::objects::{WaiterId, Wake};
use crate::state::{Body, Broker, Outbox};

/// Bytes charged to the memory budget for each object a blocked multi-wait names, on top of
/// the waiter record: the name's handle and its registration in the object (a getter entry or
/// a watcher entry), rounded up.
pub const MULTI_ENTRY_OVERHEAD: usize = 64;

/// Which multi-object op a record belongs to.
#[derive(Debug, Clone)]
pub enum MultiKind {
    /// `queue.get_any`, with the claim its queues share.
    Any(Claim),
    /// `wait`.
    Ready,
}

/// One blocked multi-object request.
#[derive(Debug, Clone)]
pub struct MultiWait {
    /// What it is.
    pub kind: MultiKind,
    /// Its objects, in the request's order (a reply's `index`/`indices` point here), with the
    /// pipe end a `wait` watches.
    pub targets: Vec<(Rc<str>, Option<End>)>,
}

/// Every blocked multi-object request.
#[derive(Debug, Default)]
pub struct Multi {
    /// By waiter id.
    pub waits: HashMap<WaiterId, MultiWait>,
    /// `wait` records by object name, oldest first.
    watchers: HashMap<Rc<str>, BTreeSet<WaiterId>>,
    /// Watched objects that may have become ready since the last check.
    dirty: Vec<Rc<str>>,
    /// Objects named by blocked records, for the memory budget.
    entries: usize,
}

impl Multi {
    /// Whether `id` is a multi-object record.
    pub fn is_multi(&self, id: WaiterId) -> bool {
        !self.waits.is_empty() && self.waits.contains_key(&id)
    }

    /// Bytes charged for the objects blocked records name.
    pub fn held(&self) -> usize {
        self.entries * MULTI_ENTRY_OVERHEAD
    }

    /// Records a blocked request.
    pub fn insert(&mut self, id: WaiterId, w: MultiWait) {
        self.entries += w.targets.len();
        if matches!(w.kind, MultiKind::Ready) {
            for (name, _) in &w.targets {
                self.watchers.entry(name.clone()).or_default().insert(id);
            }
        }
        self.waits.insert(id, w);
    }

    /// Drops a record (and its watcher entries); the caller undoes queue registrations.
    fn remove(&mut self, id: WaiterId) -> Option<MultiWait> {
        let w = self.waits.remove(&id)?;
        self.entries -= w.targets.len();
        if matches!(w.kind, MultiKind::Ready) {
            for (name, _) in &w.targets {
                if let Some(set) = self.watchers.get_mut(name) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.watchers.remove(name);
                    }
                }
            }
        }
        Some(w)
    }
}

/// Whether object `name` is ready for a `wait` by connection `conn` (docs/PROTOCOL.md §6.9):
/// a queue with an item, a pipe end with a message or at end of file (or whose pipe runs
/// direct), a set event, a lock
/// nobody holds, a semaphore above 0. `None` if the object is gone.
pub fn is_ready(b: &Broker, name: &str, end: Option<End>) -> Option<bool> {
    let obj = b.objects.get(name)?;
    Some(match &obj.body {
        Body::Queue(q) => !q.is_empty(),
        // A direct pipe's messages go by a socket the broker cannot see (§6.5.1): its ends are
        // reported ready, a hint the client checks on the socket.
        Body::Pipe(p) => end.is_some_and(|e| p.finished() || p.inbox_len(e) > 0 || p.is_direct()),
        Body::Event(e) => e.is_set(),
        Body::Lock(l) => l.holder().is_none(),
        Body::Semaphore(s) => s.value() > 0,
        _ => false,
    })
}

/// The positions of the ready targets, ascending.
pub fn ready_indices(b: &Broker, targets: &[(Rc<str>, Option<End>)]) -> Vec<u64> {
    targets
        .iter()
        .enumerate()
        .filter(|(_, (name, end))| is_ready(b, name, *end) == Some(true))
        .map(|(i, _)| i as u64)
        .collect()
}

impl Broker {
    /// Notes that object `name` may have become ready (see the module docs). Cheap when no
    /// `wait` watches it.
    pub fn touch_ready(&mut self, name: &str) {
        if self.multi.watchers.is_empty() {
            return;
        }
        if let Some((key, _)) = self.multi.watchers.get_key_value(name) {
            let key = key.clone();
            self.multi.dirty.push(key);
        }
    }

    /// Answers every `wait` on a dirty object that is now ready, with all its ready objects.
    pub fn check_ready(&mut self, out: &mut dyn Outbox) {
        while let Some(name) = self.multi.dirty.pop() {
            let Some(ids) = self.multi.watchers.get(&name) else {
                continue;
            };
            let ids: Vec<WaiterId> = ids.iter().copied().collect();
            for id in ids {
                let Some(w) = self.multi.waits.get(&id) else {
                    continue;
                };
                // Only this object changed: look at its own entries before the whole set.
                let mine = w
                    .targets
                    .iter()
                    .any(|(n, end)| *n == name && is_ready(self, n, *end).unwrap_or(true));
                if !mine {
                    continue;
                }
                let indices = ready_indices(self, &w.targets);
                if indices.is_empty() {
                    // The object is gone: `delete` answers it.
                    continue;
                }
                self.answer_multi(id, out, |r| r.indices = Some(indices));
            }
        }
    }

    /// Ends multi record `id` (answered, timed out, cancelled, or its connection went away):
    /// drops its registrations, its waiter record and its place in the session.
    fn end_multi(&mut self, id: WaiterId) -> Option<(MultiWait, crate::waiters::Waiter)> {
        let m = self.multi.remove(id)?;
        if let MultiKind::Any(_) = m.kind {
            for (name, _) in &m.targets {
                if let Some(Body::Queue(q)) = self.objects.get_mut(&**name).map(|o| &mut o.body) {
                    q.cancel(id, &mut self.wakes);
                }
            }
        }
        let w = self.waiters.remove(id)?;
        if let Some(s) = self.session_mut(w.conn) {
            s.waits.remove(&id);
        }
        Some((m, w))
    }

    /// Answers multi record `id` with a success reply that `fill` completes.
    fn answer_multi<'v>(
        &mut self,
        id: WaiterId,
        out: &mut dyn Outbox,
        fill: impl FnOnce(&mut ReplyFields<'v>),
    ) {
        if let Some((_, w)) = self.end_multi(id) {
            let mut r = ReplyFields::ok(w.req);
            fill(&mut r);
            out.send(w.conn, &r);
        }
    }

    /// A connection went away: forget its multi record `id`; nothing it waited for happens.
    pub fn forget_multi(&mut self, id: WaiterId) {
        self.end_multi(id);
    }

    /// Record `id`'s timeout passed, or it was cancelled: `queue.get_any` fails with `Timeout`,
    /// `wait` answers `indices: []`.
    pub fn time_out_multi(&mut self, id: WaiterId, out: &mut dyn Outbox) {
        let Some((m, w)) = self.end_multi(id) else {
            return;
        };
        let mut r = ReplyFields::ok(w.req);
        let message;
        match m.kind {
            MultiKind::Ready => r.indices = Some(Vec::new()),
            MultiKind::Any(_) => {
                message = format!(
                    "queue.get_any on {} queues ('{}', ...) timed out after {} ms",
                    m.targets.len(),
                    w.object,
                    w.timeout_ms
                );
                r.error = Some(ErrorCode::Timeout.as_str());
                r.message = Some(&message);
            }
        }
        out.send(w.conn, &r);
    }

    /// Delivers a wake an object pushed for multi record `id`: a `queue.get_any`'s item
    /// (answered with the value and the index of its queue) or a failure (`NotFound` when one
    /// of its objects was deleted).
    pub fn finish_multi(&mut self, id: WaiterId, wake: Wake, out: &mut dyn Outbox) {
        let claimed = match self.multi.waits.get(&id).map(|m| &m.kind) {
            Some(MultiKind::Any(claim)) => claim.taken_by(),
            _ => None,
        };
        match wake {
            Wake::Value(v) => {
                let Some(index) = claimed else {
                    tracing::error!(?id, "broker bug: a get_any item without a claim");
                    return;
                };
                self.answer_multi(id, out, |r| {
                    r.value = Some(Bytes::new(&v));
                    r.index = Some(u64::from(index));
                });
            }
            Wake::Fail(code) => self.fail_multi(id, code, out),
            other => tracing::error!(?id, ?other, "broker bug: an unexpected multi wake"),
        }
    }

    /// Fails multi record `id` with `code`; for `NotFound`, the message names the objects that
    /// are gone.
    fn fail_multi(&mut self, id: WaiterId, code: ErrorCode, out: &mut dyn Outbox) {
        let Some((m, w)) = self.end_multi(id) else {
            return;
        };
        let message = match code {
            ErrorCode::NotFound => {
                let gone: Vec<String> = m
                    .targets
                    .iter()
                    .enumerate()
                    .filter(|(_, (n, _))| !self.objects.contains_key(&**n))
                    .map(|(i, (n, _))| format!("names[{i}] '{n}'"))
                    .collect();
                format!(
                    "{} was deleted while {} waited on it",
                    gone.join(", "),
                    w.op.as_str()
                )
            }
            ErrorCode::ShuttingDown => "the broker is shutting down".into(),
            other => format!("{} failed: {other}", w.op.as_str()),
        };
        let r = ReplyFields {
            error: Some(code.as_str()),
            message: Some(&message),
            ..ReplyFields::ok(w.req)
        };
        out.send(w.conn, &r);
    }

    /// Object `name` was deleted: every `wait` watching it fails with `NotFound` (a
    /// `queue.get_any` is among the queue's getters, which `delete` answers).
    pub fn deleted_multi(&mut self, name: &str, out: &mut dyn Outbox) {
        let Some(ids) = self.multi.watchers.get(name) else {
            return;
        };
        let ids: Vec<WaiterId> = ids.iter().copied().collect();
        for id in ids {
            self.fail_multi(id, ErrorCode::NotFound, out);
        }
    }
}
