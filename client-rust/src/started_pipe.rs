//! Started (non-blocking) forms of the pipe calls: `pipe.send`, `pipe.recv`, `pipe.poll`. All
//! pipe event-loop code lives here, apart from the other objects' (`started.rs`).
//!
//! A brokered end's calls are requests like any other. A **direct** end (docs/PROTOCOL.md
//! §6.5.1) has no broker request to start: its messages are on a socket shared with the peer.
//! A started call on it is first tried at once, without waiting; one that has to wait is
//! carried by a thread of the client that waits on the socket in slices of
//! [`SLICE`] (so that a cancel or a closed end is seen within one) and files the completion
//! like a reply (the loop's descriptor becomes readable). Only such waiting calls take a
//! thread; a loop that keeps up with its pipe never starts one. A started call the broker
//! answers `direct` (the pipe switched while it was on its way) is redone that way when its
//! reply is processed, with what is left of its timeout; its ticket stays the same.
//!
//! A cancelled request the broker had answered first: a `pipe.send` that went out stays sent
//! (it took nothing from anyone); a `pipe.poll` took nothing; a `pipe.recv`'s completion
//! carries the message, which is the caller's — a pipe end has one receiver, so there is no
//! one else to give it to: the caller delivers it as the next message received (the async
//! clients do: `aio::Pipe` hands it to the next `recv`, Python and C# return it from the
//! cancelled call). The message is older than any a later receive could get, so handing it
//! out first keeps the order. The same holds for a direct call cancelled as its message came.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde_bytes::Bytes;
use xproc_protocol::{End, ReplyFields, RequestFields};

use crate::client::Client;
use crate::codec::Wait;
use crate::conn::IdMap;
use crate::direct::{DirectEnd, Until};
use crate::error::{Error, Result};
use crate::transport::Descriptor;
use crate::RawPipe;

/// How long a thread carrying a direct call waits on the socket before it looks whether the
/// call was cancelled or the end closed.
const SLICE: Duration = Duration::from_millis(20);

/// How long a call answered `direct` without the socket waits for the call that was handed it
/// to install it (both replies are in already; a formality).
const HANDOFF_WAIT: Duration = Duration::from_secs(5);

/// An end's direct socket, shared by its handle and the event-loop core.
#[derive(Clone, Default, Debug)]
pub(crate) struct DirectSlot(Arc<Mutex<Option<Arc<DirectEnd>>>>);

impl DirectSlot {
    fn lock(&self) -> MutexGuard<'_, Option<Arc<DirectEnd>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self) -> Option<Arc<DirectEnd>> {
        self.lock().clone()
    }

    /// Installs the socket and counters page a `direct` reply brought (docs/PROTOCOL.md
    /// §6.5.1), if it brought them; an end installed already is kept (a second socket for the
    /// same end cannot come; if it did, it is closed here).
    pub(crate) fn install_from(
        &self,
        fds: Vec<Descriptor>,
        end: End,
        capacity: u64,
        name: &str,
    ) -> Result<()> {
        let mut fds = fds.into_iter();
        let Some(sock) = fds.next() else {
            return Ok(());
        };
        let page = fds.next().ok_or_else(|| {
            Error::Protocol(format!(
                "pipe '{name}': the broker handed a direct socket without its counters page"
            ))
        })?;
        let d = DirectEnd::new(sock, page, end, capacity, name)?;
        self.lock().get_or_insert(Arc::new(d));
        Ok(())
    }

    /// The end once installed: by the call whose reply brought the socket, which may be
    /// another thread's (both replies are in already, so this waits [`HANDOFF_WAIT`] at most).
    pub(crate) fn wait(&self, name: &str) -> Result<Arc<DirectEnd>> {
        let until = Instant::now() + HANDOFF_WAIT;
        loop {
            if let Some(d) = self.get() {
                return Ok(d);
            }
            if Instant::now() >= until {
                return Err(Error::Protocol(format!(
                    "pipe '{name}': the broker said direct but no socket came"
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub(crate) fn clear(&self) {
        self.lock().take();
    }
}

#[derive(Clone)]
enum Op {
    Send(Vec<u8>),
    Recv,
    Poll,
}

/// A brokered started pipe call, kept until its reply says whether the broker did it.
struct Started {
    op: Op,
    slot: DirectSlot,
    name: String,
    end: End,
    capacity: u64,
    deadline: Option<Instant>,
    cancelled: bool,
}

/// The event-loop core's pipe state (kept in `events.rs`'s per-client state).
#[derive(Default)]
pub(crate) struct PipeStarts {
    /// Brokered started calls, by ticket. Locked around sending one, so that its reply can
    /// never be processed before it is recorded.
    brokered: Mutex<IdMap<Started>>,
    /// Direct calls carried by a thread, by ticket: set to cancel.
    running: Mutex<IdMap<Arc<AtomicBool>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PipeStarts {
    /// The cancel flag of direct call `ticket`, carried from now on (made before the thread
    /// that carries it starts, so that a cancel right after the start is seen).
    fn carried(&self, ticket: u64) -> Arc<AtomicBool> {
        Arc::clone(lock(&self.running).entry(ticket).or_default())
    }

    /// Cancels a direct call carried by a thread, or marks a brokered one cancelled (its
    /// `cancel` still goes to the broker). True when the broker need not be told.
    pub(crate) fn cancel(&self, ticket: u64) -> bool {
        if let Some(flag) = lock(&self.running).get(&ticket) {
            flag.store(true, Ordering::Release);
            return true;
        }
        if let Some(s) = lock(&self.brokered).get_mut(&ticket) {
            s.cancelled = true;
        }
        false
    }

    /// Looks at a finished request: a started pipe call the broker answered `direct` is
    /// redone on the end's socket (and true is returned: it is not finished yet).
    pub(crate) fn redo_if_direct(
        &self,
        client: &Client,
        ticket: u64,
        outcome: &Result<Vec<u8>>,
    ) -> bool {
        let started = {
            let mut b = lock(&self.brokered);
            if b.is_empty() || !b.contains_key(&ticket) {
                return false;
            }
            let direct = match outcome {
                Ok(payload) => rmp_serde::from_slice::<ReplyFields<'_>>(payload)
                    .is_ok_and(|r| r.direct == Some(true)),
                Err(_) => false,
            };
            if !direct {
                b.remove(&ticket);
                return false;
            }
            // Carried from here on: a cancel from now finds its flag (made before the
            // brokered record goes, so no cancel falls between the two).
            self.carried(ticket);
            match b.remove(&ticket) {
                Some(s) => s,
                None => return false,
            }
        };
        let fds = client.conn().take_fds(ticket);
        let installed =
            started
                .slot
                .install_from(fds, started.end, started.capacity, &started.name);
        if installed.is_err() || started.cancelled {
            lock(&self.running).remove(&ticket);
            let outcome = match installed {
                Err(e) => Err(e),
                Ok(()) => given_up(&started.op),
            };
            client.file_completion(ticket, outcome);
            return true;
        }
        let Started {
            op,
            slot,
            name,
            deadline,
            ..
        } = started;
        std::thread::spawn({
            let client = client.clone();
            move || match slot.wait(&name) {
                Ok(d) => client.run_direct(ticket, d, op, deadline),
                Err(e) => {
                    if let Ok(ev) = client.events() {
                        lock(&ev.pipes.running).remove(&ticket);
                    }
                    client.file_completion(ticket, Err(e));
                }
            }
        });
        true
    }
}

/// The outcome of a call given up before it did anything (its timeout outcome).
fn given_up(op: &Op) -> Result<Vec<u8>> {
    match op {
        Op::Poll => Ok(payload(ReplyFields {
            ready: Some(false),
            ..Default::default()
        })),
        Op::Send(_) | Op::Recv => Err(Error::Timeout),
    }
}

/// A reply payload (unframed), as the broker would have sent it.
fn payload(r: ReplyFields<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode_into(&mut out);
    out.drain(..xproc_protocol::frame::HEADER_LEN);
    out
}

/// One try of `op` on `d`, waiting up to `until`: `None` when it found nothing (or no room)
/// in that time, else its outcome as a completion.
fn attempt(d: &DirectEnd, op: &Op, wait: Duration) -> Option<Result<Vec<u8>>> {
    let until = Until::new(Some(wait));
    let outcome = match op {
        Op::Send(v) => d.send(v, until).map(|()| payload(ReplyFields::default())),
        Op::Recv => d.recv(until, |bytes| {
            Ok(payload(ReplyFields {
                value: Some(Bytes::new(bytes)),
                ..Default::default()
            }))
        }),
        Op::Poll => match d.poll(wait) {
            Ok(false) => return None,
            Ok(true) => Ok(payload(ReplyFields {
                ready: Some(true),
                ..Default::default()
            })),
            Err(e) => Err(e),
        },
    };
    match outcome {
        Err(Error::Empty | Error::Full | Error::Timeout) => None,
        other => Some(other),
    }
}

impl Client {
    /// Starts `op` on a direct end: done now if it need not wait (or `timeout` is zero),
    /// else carried by a thread (see the module docs).
    fn start_direct(&self, d: &Arc<DirectEnd>, op: Op, timeout: Option<Duration>) -> Result<u64> {
        self.events()?;
        let ticket = self.conn().reserve_id()?;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        match attempt(d, &op, Duration::ZERO) {
            Some(outcome) => self.file_completion(ticket, outcome),
            None if timeout == Some(Duration::ZERO) => {
                let outcome = match op {
                    Op::Send(_) => Err(Error::Full),
                    Op::Recv => Err(Error::Empty),
                    Op::Poll => given_up(&op),
                };
                self.file_completion(ticket, outcome);
            }
            None => {
                self.events()?.pipes.carried(ticket);
                let client = self.clone();
                let d = Arc::clone(d);
                std::thread::spawn(move || client.run_direct(ticket, d, op, deadline));
            }
        }
        Ok(ticket)
    }

    /// Carries direct call `ticket` to its end, on this thread (see the module docs).
    fn run_direct(&self, ticket: u64, d: Arc<DirectEnd>, op: Op, deadline: Option<Instant>) {
        let Ok(ev) = self.events() else { return };
        let cancel = ev.pipes.carried(ticket);
        // Only a weak hold between slices: closing the end drops the socket at once.
        let end: Weak<DirectEnd> = Arc::downgrade(&d);
        drop(d);
        let outcome = loop {
            if cancel.load(Ordering::Acquire) {
                break given_up(&op);
            }
            let slice = match deadline {
                Some(at) => match at.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(SLICE),
                    _ => break given_up(&op),
                },
                None => SLICE,
            };
            let Some(d) = end.upgrade() else {
                break Err(Error::Closed("this pipe end was closed".into()));
            };
            // A send waits for credit inside `send` (it reads wake frames); a receive or
            // poll tries without waiting, then waits for the socket without the receive lock.
            let tried = match op {
                Op::Send(_) => attempt(&d, &op, slice),
                Op::Recv | Op::Poll => attempt(&d, &op, Duration::ZERO)
                    .or_else(|| d.wait_readable(slice).err().map(Err)),
            };
            if let Some(outcome) = tried {
                break outcome;
            }
        };
        lock(&ev.pipes.running).remove(&ticket);
        self.file_completion(ticket, outcome);
    }
}

impl RawPipe {
    fn started(&self, op: &'static str, timeout: Option<Duration>) -> RequestFields<'_> {
        RequestFields {
            name: Some(self.name().into()),
            end: Some(self.end().as_str()),
            timeout_ms: Wait::new(timeout).timeout_ms,
            ..RequestFields::new(0, op)
        }
    }

    /// Starts `op`: on the socket if this end runs direct, else as a broker request
    /// remembered until its reply says whether the broker did it.
    fn start_op(&self, op: Op, req: RequestFields<'_>, timeout: Option<Duration>) -> Result<u64> {
        if let Some(d) = self.direct_end() {
            self.check_direction(matches!(op, Op::Send(_)))?;
            return self.client().start_direct(&d, op, timeout);
        }
        let ev = self.client().events()?;
        let mut brokered = lock(&ev.pipes.brokered);
        let ticket = self.client().start(&req)?;
        brokered.insert(
            ticket,
            Started {
                op,
                slot: self.direct_slot(),
                name: self.name().to_string(),
                end: self.end(),
                capacity: self.capacity(),
                deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
                cancelled: false,
            },
        );
        Ok(ticket)
    }

    /// Starts a `pipe.send` of `value` (MessagePack bytes, at most the broker's `max_frame`:
    /// a started send does not travel as a memfd); its completion has no fields, or is
    /// [`Error::Full`] / `Timeout` / [`Error::Closed`].
    pub fn start_send(&self, value: &[u8], timeout: Option<Duration>) -> Result<u64> {
        let req = RequestFields {
            value: Some(Bytes::new(value)),
            ..self.started("pipe.send", timeout)
        };
        self.start_op(Op::Send(value.to_vec()), req, timeout)
    }

    /// Starts a `pipe.recv`; its completion's `value` is the message, or it is
    /// [`Error::Empty`] / `Timeout` / [`Error::Closed`] (end of file). A cancelled one that
    /// completes with a message: that message is the caller's, and older than any a later
    /// receive gets (see the module docs).
    pub fn start_recv(&self, timeout: Option<Duration>) -> Result<u64> {
        self.start_op(Op::Recv, self.started("pipe.recv", timeout), timeout)
    }

    /// Starts a `pipe.poll` waiting up to `timeout` (`Duration::MAX`: as long as it takes,
    /// as [`poll`](Self::poll)); its completion says `ready`.
    pub fn start_poll(&self, timeout: Duration) -> Result<u64> {
        let wait = (timeout != Duration::MAX).then_some(timeout);
        self.start_op(Op::Poll, self.started("pipe.poll", Some(timeout)), wait)
    }
}
