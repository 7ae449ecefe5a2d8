//! Pipes: two ends, `a` and `b`, each with an inbox of at most `capacity` messages. A message
//! sent on one end lands in the other end's inbox, so messages sent before the other end was
//! first opened are kept. Each end is held by at most one connection.
//!
//! Closing an end (or its holder going away) *finishes* the pipe: the other end receives what
//! is left in its inbox and then `Closed`; sends get `Closed`. A finished pipe is *free* (the
//! broker drops it, and the next `open` creates a fresh one) once no end is held — except
//! that an end that was never claimed keeps its unread messages, so a writer may send and close
//! before the reader first opens.
//!
//! **Direct pipes** (docs/PROTOCOL.md §6.5.1). Once both ends are held by different
//! connections that can take descriptors, and no send is blocked in the broker, the broker
//! makes a socketpair and a counters page and the pipe goes *direct*. Messages still in an
//! inbox (the backlog, at most [`DIRECT_BACKLOG_MAX`] bytes of frames) are written into the
//! socketpair first, in order, and counted as sent in the page, so they are received before
//! anything sent on the socket and count against `capacity` exactly as before. Each end's next
//! op (or the ops blocked on it right then) is answered with that end's socket and page
//! instead, and from then on its holder sends and receives on the socket, peer to peer, with
//! the page's counters keeping the inbox bounded at `capacity` messages. After the switch the
//! broker accepts no message for this pipe. The broker keeps an end's socket only until it
//! hands it over, so when the holder closes it or dies the kernel gives the peer end of file
//! after the rest.

use crate::stored::Stored;
use crate::transport::{self, Descriptor, DirectPage};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{item_charge, Owner, WaiterId, Wake, Wakes};
use xproc_protocol::{End, ErrorCode};

/// One pipe's state.
#[derive(Debug)]
pub struct Pipe {
    /// `false`: only `a` sends and only `b` receives.
    duplex: bool,
    /// Most messages in one inbox.
    capacity: u64,
    ends: [PipeEnd; 2],
    finished: bool,
    /// Bytes of messages held: inboxes plus blocked sends.
    bytes: usize,
    /// Once the pipe runs direct: each end's side of the socketpair, and the counters page.
    direct: Option<Direct>,
}

/// A direct pipe's broker-side state.
#[derive(Debug)]
struct Direct {
    sides: [Side; 2],
    /// The counters page, mapped here for `stat` (docs/PROTOCOL.md §6.5.1).
    page: DirectPage,
}

/// Most descriptors the broker holds at once for direct-pipe ends whose holders have not
/// taken theirs yet (two per end: its socket and the counters page). A pipe that would take
/// the count past it stays brokered until sockets are handed or closed, so idle direct pipes
/// cannot use up the broker's descriptor table (docs/PROTOCOL.md §8).
pub const MAX_DIRECT_HELD: usize = 1024;

/// Descriptors held now for ends not handed their socket yet.
static DIRECT_HELD: AtomicUsize = AtomicUsize::new(0);

/// Most bytes of backlog frames the broker writes into a fresh socketpair when a pipe goes
/// direct: well inside any socket buffer, so the one non-blocking write that hands them over
/// always completes. A pipe with a larger backlog stays brokered until its reader has taken
/// enough (docs/PROTOCOL.md §6.5.1).
pub const DIRECT_BACKLOG_MAX: usize = 64 * 1024;

/// Byte offset in the counters page of `end`'s block (docs/PROTOCOL.md §6.5.1): `a` at 0,
/// `b` at 64 (its own cache line, so the two holders do not share one for writing).
const fn page_block(end: End) -> usize {
    match end {
        End::A => 0,
        End::B => 64,
    }
}
/// In an end's block: messages this end has put on the socket (u64).
pub const PAGE_SENT: usize = 0;
/// In an end's block: messages this end has received (u64).
pub const PAGE_RECEIVED: usize = 8;
/// In an end's block: 1 while this end's holder waits for credit to send (u32).
pub const PAGE_WAITING: usize = 16;

/// A socket and counters page the broker holds for an end, counted against
/// [`MAX_DIRECT_HELD`] while it lives.
#[derive(Debug)]
struct HeldSide(Option<Handoff>);

impl HeldSide {
    fn new(h: Handoff) -> HeldSide {
        DIRECT_HELD.fetch_add(2, Ordering::Relaxed);
        HeldSide(Some(h))
    }

    fn take(mut self) -> Option<Handoff> {
        self.0.take()
    }
}

impl Drop for HeldSide {
    fn drop(&mut self) {
        DIRECT_HELD.fetch_sub(2, Ordering::Relaxed);
    }
}

/// One end's side of a direct pipe's socketpair.
#[derive(Debug)]
enum Side {
    /// The broker holds it until the end's holder asks (or was blocked).
    Held(HeldSide),
    /// Given to the connection with this id, which alone holds it now.
    Handed(u64),
    /// Closed unhanded (its holder released the end first).
    Dropped,
}

/// An end's socket and the pipe's counters page on their way to the holder, in a reply
/// (descriptors in this order: docs/PROTOCOL.md §6.5.1). Two are equal only if they are the
/// same handoff (descriptors have no meaningful equality; tests compare wakes).
#[derive(Debug)]
pub struct Handoff {
    /// The end's side of the socketpair.
    pub sock: Descriptor,
    /// The counters page (a memfd of one page).
    pub page: Descriptor,
}

impl Handoff {
    /// The descriptors in wire order: socket, then page.
    pub fn into_fds(self) -> Vec<Descriptor> {
        vec![self.sock, self.page]
    }
}

impl PartialEq for Handoff {
    fn eq(&self, other: &Handoff) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Handoff {}

#[derive(Debug, Default)]
struct PipeEnd {
    holder: Option<Owner>,
    ever_claimed: bool,
    /// Messages sent by the other end, not yet received.
    inbox: VecDeque<Stored>,
    receivers: BTreeSet<WaiterId>,
    pollers: BTreeSet<WaiterId>,
    /// Sends from the other end blocked because this inbox is full.
    senders: BTreeMap<WaiterId, Stored>,
    /// Whether the holder can run the pipe direct (it was granted `direct_pipes`).
    direct_capable: bool,
}

/// Why a pipe op failed.
#[derive(Debug, PartialEq, Eq)]
pub enum PipeError {
    /// The caller does not hold the end; `holder` is the pid of whoever does.
    NotOwner {
        /// The pid of the connection holding the end, if any.
        holder: Option<u32>,
    },
    /// A one-way pipe: this end cannot do that.
    WrongDirection,
    /// The pipe is finished (for a receive: and nothing is left).
    Closed,
    /// The inbox is full and the caller would not wait.
    Full,
    /// Nothing to receive and the caller would not wait.
    Empty,
    /// The end is held by another connection (its pid).
    Busy {
        /// The pid of the connection holding the end.
        pid: u32,
    },
}

/// What a successful pipe op did.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Sent, or closed.
    Done,
    /// A received message.
    Value(Stored),
    /// The answer to a poll.
    Ready(bool),
    /// Waits under the given waiter id.
    Blocked,
    /// Not done: the pipe runs direct; use this end's socket (here, or handed already).
    Direct(Option<Handoff>),
}

/// Bytes of the frame `{"value": bin}` carrying a value of `len` bytes on a direct pipe's
/// socket: the 4-byte length, the map and key (7 bytes), the bin header.
fn frame_len(len: usize) -> usize {
    let bin_header = match len {
        0..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    };
    4 + 7 + bin_header + len
}

/// Appends `value` as a direct pipe's frame: a 4-byte big-endian length, then the map
/// `{"value": bin}` (docs/PROTOCOL.md §6.5.1).
fn push_frame(out: &mut Vec<u8>, value: &[u8]) {
    let total = frame_len(value.len());
    out.extend_from_slice(&((total - 4) as u32).to_be_bytes());
    out.extend_from_slice(b"\x81\xa5value");
    let n = value.len();
    match n {
        0..=0xff => out.extend_from_slice(&[0xc4, n as u8]),
        0x100..=0xffff => {
            out.push(0xc5);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xc6);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(value);
}

fn ix(end: End) -> usize {
    match end {
        End::A => 0,
        End::B => 1,
    }
}

impl Pipe {
    /// A fresh pipe; `capacity` is at least 1 (the broker checks).
    pub fn new(duplex: bool, capacity: u64) -> Self {
        Pipe {
            duplex,
            capacity,
            ends: Default::default(),
            finished: false,
            bytes: 0,
            direct: None,
        }
    }

    /// Whether the pipe runs direct (peer to peer).
    pub fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Records whether `end`'s holder (just claimed) can run the pipe direct.
    pub fn set_direct_capable(&mut self, end: End, capable: bool) {
        self.ends[ix(end)].direct_capable = capable;
    }

    /// Whether the pipe may go direct now: both ends held by different direct-capable
    /// connections, not finished, no send blocked in the broker, a backlog of at most
    /// [`DIRECT_BACKLOG_MAX`] bytes of frames, and room under [`MAX_DIRECT_HELD`].
    pub fn can_go_direct(&self) -> bool {
        let [a, b] = &self.ends;
        self.direct.is_none()
            && !self.finished
            && a.direct_capable
            && b.direct_capable
            && matches!((a.holder, b.holder), (Some(x), Some(y)) if x.conn != y.conn)
            && self.ends.iter().all(|e| e.senders.is_empty())
            && self.backlog_bytes() <= DIRECT_BACKLOG_MAX
            && DIRECT_HELD.load(Ordering::Relaxed) + 4 <= MAX_DIRECT_HELD
    }

    /// Bytes of the frames the inboxes would become on the socket.
    fn backlog_bytes(&self) -> usize {
        self.ends
            .iter()
            .flat_map(|e| e.inbox.iter())
            .map(|v| frame_len(v.len()))
            .sum()
    }

    /// Goes direct ([`can_go_direct`] first): makes the socketpair and the counters page,
    /// writes each inbox into the socket its reader will read (the frames a holder would have
    /// sent, in order) and counts them as sent by the other end. Requests blocked on an end
    /// (receives, polls: blocked sends cannot exist) are answered at once: the first with the
    /// end's socket, any other with `direct` alone. On an error (out of descriptors, a backlog
    /// that did not fit) nothing changed: the pipe stays brokered, and the next op retries.
    pub fn go_direct(&mut self, wakes: &mut Wakes) -> std::io::Result<()> {
        let (a_sock, b_sock) = transport::direct_pair()?;
        let (page, page_fd, b_page) = DirectPage::new()?;
        // What waits for `b` is read from b's side, so it is written into a's side (and the
        // other way round), and counted as sent by the end that sent it.
        let mut frames = Vec::new();
        for (from_sock, to) in [(&a_sock, End::B), (&b_sock, End::A)] {
            frames.clear();
            let inbox = &self.ends[ix(to)].inbox;
            for v in inbox {
                push_frame(&mut frames, v);
            }
            if !transport::direct_write_all_now(from_sock, &frames) {
                return Err(std::io::Error::other(
                    "the backlog did not fit in the socketpair at once",
                ));
            }
            page.store(page_block(to.other()) + PAGE_SENT, inbox.len() as u64);
        }
        for e in &mut self.ends {
            let held: usize = e.inbox.drain(..).map(|v| item_charge(v.len())).sum();
            self.bytes -= held;
        }
        let mut sides = [
            Side::Held(HeldSide::new(Handoff {
                sock: a_sock,
                page: page_fd,
            })),
            Side::Held(HeldSide::new(Handoff {
                sock: b_sock,
                page: b_page,
            })),
        ];
        for (e, side) in self.ends.iter_mut().zip(sides.iter_mut()) {
            let mut blocked: Vec<WaiterId> = std::mem::take(&mut e.receivers)
                .into_iter()
                .chain(std::mem::take(&mut e.pollers))
                .collect();
            blocked.sort();
            for (i, w) in blocked.into_iter().enumerate() {
                let handoff = if i == 0 {
                    let conn = e.holder.map_or(0, |h| h.conn);
                    match std::mem::replace(side, Side::Handed(conn)) {
                        Side::Held(held) => held.take(),
                        _ => None,
                    }
                } else {
                    None
                };
                wakes.push((w, Wake::Direct(handoff)));
            }
        }
        self.direct = Some(Direct { sides, page });
        Ok(())
    }

    /// Messages sent to `end` and not yet received by it: the inbox of a brokered pipe, the
    /// counters page's `sent` of the other end minus `received` of this one for a direct pipe
    /// (as the holders keep them; only shown, never trusted).
    pub fn inbox_count(&self, end: End) -> u64 {
        match &self.direct {
            Some(d) => {
                let sent = d.page.load(page_block(end.other()) + PAGE_SENT);
                let received = d.page.load(page_block(end) + PAGE_RECEIVED);
                sent.wrapping_sub(received)
            }
            None => self.ends[ix(end)].inbox.len() as u64,
        }
    }

    /// For an op of `owner` on `end` (which it holds) of a direct pipe: its socket, or
    /// `Direct(None)` if it has it already. `None`: not direct for this caller (the pipe is
    /// brokered, or `end` was claimed again after the pipe finished and its side is gone).
    fn direct_step(&mut self, end: End, owner: Owner) -> Option<Flow> {
        let side = &mut self.direct.as_mut()?.sides[ix(end)];
        match side {
            Side::Held(_) => match std::mem::replace(side, Side::Handed(owner.conn)) {
                Side::Held(held) => Some(Flow::Direct(held.take())),
                _ => None,
            },
            Side::Handed(conn) if *conn == owner.conn => Some(Flow::Direct(None)),
            Side::Handed(_) | Side::Dropped => None,
        }
    }

    /// Whether both ends may send (false: `a` sends, `b` receives).
    pub fn duplex(&self) -> bool {
        self.duplex
    }
    /// Most messages in one inbox.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
    /// Whether an end was closed.
    pub fn finished(&self) -> bool {
        self.finished
    }
    /// Bytes of messages held (inboxes and blocked sends).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Who holds `end`.
    pub fn holder(&self, end: End) -> Option<Owner> {
        self.ends[ix(end)].holder
    }
    /// Messages waiting in `end`'s inbox.
    pub fn inbox_len(&self, end: End) -> usize {
        self.ends[ix(end)].inbox.len()
    }
    /// Messages in both inboxes.
    pub fn len(&self) -> usize {
        self.ends.iter().map(|e| e.inbox.len()).sum()
    }
    /// Whether both inboxes are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Requests blocked on the pipe.
    pub fn waiter_count(&self) -> usize {
        self.ends
            .iter()
            .map(|e| e.receivers.len() + e.pollers.len() + e.senders.len())
            .sum()
    }
    /// Every blocked request, for `delete`.
    pub fn waiters(&self, out: &mut Vec<WaiterId>) {
        for e in &self.ends {
            out.extend(e.receivers.iter().copied());
            out.extend(e.pollers.iter().copied());
            out.extend(e.senders.keys().copied());
        }
    }

    /// Claims `end` for `owner` (again, harmlessly, if it already holds it).
    pub fn claim(&mut self, end: End, owner: Owner) -> Result<(), PipeError> {
        let e = &mut self.ends[ix(end)];
        match e.holder {
            Some(h) if h.conn != owner.conn => Err(PipeError::Busy { pid: h.pid }),
            _ => {
                e.holder = Some(owner);
                e.ever_claimed = true;
                Ok(())
            }
        }
    }

    fn check(&self, end: End, owner: Owner) -> Result<(), PipeError> {
        match self.ends[ix(end)].holder {
            Some(h) if h.conn == owner.conn => Ok(()),
            other => Err(PipeError::NotOwner {
                holder: other.map(|h| h.pid),
            }),
        }
    }

    /// Sends `value` from `end` to the other end's inbox.
    pub fn send(
        &mut self,
        end: End,
        owner: Owner,
        value: Stored,
        wait: Option<WaiterId>,
        wakes: &mut Wakes,
    ) -> Result<Flow, PipeError> {
        self.check(end, owner)?;
        if !self.duplex && end == End::B {
            return Err(PipeError::WrongDirection);
        }
        if let Some(flow) = self.direct_step(end, owner) {
            return Ok(flow);
        }
        if self.finished {
            return Err(PipeError::Closed);
        }
        let capacity = self.capacity;
        let dst = &mut self.ends[ix(end.other())];
        if let Some(r) = dst.receivers.pop_first() {
            // Receivers only wait on an empty inbox, so handing over keeps order.
            wakes.push((r, Wake::Value(value)));
            return Ok(Flow::Done);
        }
        if (dst.inbox.len() as u64) < capacity {
            self.bytes += item_charge(value.len());
            dst.inbox.push_back(value);
            wakes.extend(
                std::mem::take(&mut dst.pollers)
                    .into_iter()
                    .map(|p| (p, Wake::Ready(true))),
            );
            return Ok(Flow::Done);
        }
        match wait {
            Some(w) => {
                self.bytes += item_charge(value.len());
                dst.senders.insert(w, value);
                Ok(Flow::Blocked)
            }
            None => Err(PipeError::Full),
        }
    }

    /// Receives the oldest message in `end`'s inbox; makes room for a blocked send.
    pub fn recv(
        &mut self,
        end: End,
        owner: Owner,
        wait: Option<WaiterId>,
        wakes: &mut Wakes,
    ) -> Result<Flow, PipeError> {
        self.check(end, owner)?;
        if !self.duplex && end == End::A {
            return Err(PipeError::WrongDirection);
        }
        if let Some(flow) = self.direct_step(end, owner) {
            return Ok(flow);
        }
        let finished = self.finished;
        let e = &mut self.ends[ix(end)];
        if let Some(v) = e.inbox.pop_front() {
            self.bytes -= item_charge(v.len());
            if let Some((s, sv)) = e.senders.pop_first() {
                e.inbox.push_back(sv);
                wakes.push((s, Wake::Done));
            }
            return Ok(Flow::Value(v));
        }
        if finished {
            return Err(PipeError::Closed);
        }
        match wait {
            Some(w) => {
                e.receivers.insert(w);
                Ok(Flow::Blocked)
            }
            None => Err(PipeError::Empty),
        }
    }

    /// Whether a message waits in `end`'s inbox (or a receive would report `Closed`).
    pub fn poll(
        &mut self,
        end: End,
        owner: Owner,
        wait: Option<WaiterId>,
    ) -> Result<Flow, PipeError> {
        self.check(end, owner)?;
        if !self.duplex && end == End::A {
            return Err(PipeError::WrongDirection);
        }
        if let Some(flow) = self.direct_step(end, owner) {
            return Ok(flow);
        }
        let finished = self.finished;
        let e = &mut self.ends[ix(end)];
        if finished || !e.inbox.is_empty() {
            return Ok(Flow::Ready(true));
        }
        match wait {
            Some(w) => {
                e.pollers.insert(w);
                Ok(Flow::Blocked)
            }
            None => Ok(Flow::Ready(false)),
        }
    }

    /// Closes and releases `end`: the pipe is finished. Messages sent to the closed end and not
    /// received are dropped.
    pub fn close(&mut self, end: End, owner: Owner, wakes: &mut Wakes) -> Result<(), PipeError> {
        self.check(end, owner)?;
        self.finish(wakes);
        if let Some(Direct { sides, .. }) = &mut self.direct {
            // An end closed before its holder took its socket: close the socket now, so the
            // peer reads what is left, then end of file.
            if let Side::Held(_) = sides[ix(end)] {
                sides[ix(end)] = Side::Dropped;
            }
        }
        let e = &mut self.ends[ix(end)];
        e.holder = None;
        e.direct_capable = false;
        let dropped: usize = e.inbox.drain(..).map(|v| item_charge(v.len())).sum();
        self.bytes -= dropped;
        Ok(())
    }

    /// Closes every end `owner` holds (its connection went away). Returns the ends closed.
    pub fn release_owner(&mut self, owner: Owner, wakes: &mut Wakes) -> Vec<End> {
        let mut closed = Vec::new();
        for end in [End::A, End::B] {
            if self.close(end, owner, wakes).is_ok() {
                closed.push(end);
            }
        }
        closed
    }

    fn finish(&mut self, wakes: &mut Wakes) {
        if self.finished {
            return;
        }
        self.finished = true;
        for e in &mut self.ends {
            // Receivers wait only on an empty inbox: nothing is left for them.
            wakes.extend(
                std::mem::take(&mut e.receivers)
                    .into_iter()
                    .map(|r| (r, Wake::Fail(ErrorCode::Closed))),
            );
            wakes.extend(
                std::mem::take(&mut e.pollers)
                    .into_iter()
                    .map(|p| (p, Wake::Ready(true))),
            );
            for (s, v) in std::mem::take(&mut e.senders) {
                self.bytes -= item_charge(v.len());
                wakes.push((s, Wake::Fail(ErrorCode::Closed)));
            }
        }
    }

    /// Finished, no end held, and no unread message waits for an end never claimed: the
    /// broker may drop the pipe.
    pub fn is_free(&self) -> bool {
        self.finished
            && self
                .ends
                .iter()
                .all(|e| e.holder.is_none() && (e.ever_claimed || e.inbox.is_empty()))
    }

    /// Forgets a blocked request; a blocked send's message is dropped.
    pub fn cancel(&mut self, w: WaiterId) -> bool {
        for e in &mut self.ends {
            if let Some(v) = e.senders.remove(&w) {
                self.bytes -= item_charge(v.len());
                return true;
            }
            if e.receivers.remove(&w) || e.pollers.remove(&w) {
                return true;
            }
        }
        false
    }

    /// Timeouts: `send`/`recv` fail with `Timeout`; `poll` answers `ready: false`.
    pub fn timeout(&mut self, w: WaiterId, wakes: &mut Wakes) {
        for e in &mut self.ends {
            if let Some(v) = e.senders.remove(&w) {
                self.bytes -= item_charge(v.len());
                wakes.push((w, Wake::Fail(ErrorCode::Timeout)));
                return;
            }
            if e.receivers.remove(&w) {
                wakes.push((w, Wake::Fail(ErrorCode::Timeout)));
                return;
            }
            if e.pollers.remove(&w) {
                wakes.push((w, Wake::Ready(false)));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Owner = Owner { conn: 1, pid: 100 };
    const B: Owner = Owner { conn: 2, pid: 200 };

    fn v(b: u8) -> Stored {
        Stored::from(&[b][..])
    }

    #[test]
    fn messages_sent_before_the_reader_opens_are_kept() {
        let mut p = Pipe::new(true, 4);
        let mut wakes = Wakes::new();
        p.claim(End::A, A).unwrap();
        p.send(End::A, A, v(1), None, &mut wakes).unwrap();
        assert_eq!(p.claim(End::A, B), Err(PipeError::Busy { pid: 100 }));
        p.claim(End::B, B).unwrap();
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Ok(Flow::Value(v(1))));
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Err(PipeError::Empty));
        assert_eq!(
            p.recv(End::A, B, None, &mut wakes),
            Err(PipeError::NotOwner { holder: Some(100) })
        );
    }

    #[test]
    fn capacity_blocks_sends_until_a_recv() {
        let mut p = Pipe::new(true, 1);
        let mut wakes = Wakes::new();
        p.claim(End::A, A).unwrap();
        p.claim(End::B, B).unwrap();
        p.send(End::A, A, v(1), None, &mut wakes).unwrap();
        assert_eq!(
            p.send(End::A, A, v(2), None, &mut wakes),
            Err(PipeError::Full)
        );
        assert_eq!(
            p.send(End::A, A, v(2), Some(WaiterId(1)), &mut wakes),
            Ok(Flow::Blocked)
        );
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Ok(Flow::Value(v(1))));
        assert_eq!(wakes, vec![(WaiterId(1), Wake::Done)]);
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Ok(Flow::Value(v(2))));
    }

    #[test]
    fn one_way_pipes_refuse_the_wrong_direction() {
        let mut p = Pipe::new(false, 4);
        let mut wakes = Wakes::new();
        p.claim(End::A, A).unwrap();
        p.claim(End::B, B).unwrap();
        assert_eq!(
            p.send(End::B, B, v(1), None, &mut wakes),
            Err(PipeError::WrongDirection)
        );
        assert_eq!(
            p.recv(End::A, A, None, &mut wakes),
            Err(PipeError::WrongDirection)
        );
    }

    #[test]
    fn close_finishes_the_other_end_gets_the_rest_then_closed() {
        let mut p = Pipe::new(true, 4);
        let mut wakes = Wakes::new();
        p.claim(End::A, A).unwrap();
        p.claim(End::B, B).unwrap();
        p.send(End::A, A, v(1), None, &mut wakes).unwrap();
        assert_eq!(p.poll(End::A, A, Some(WaiterId(1))), Ok(Flow::Blocked));
        p.close(End::A, A, &mut wakes).unwrap();
        assert_eq!(wakes, vec![(WaiterId(1), Wake::Ready(true))]);
        assert!(!p.is_free());
        assert_eq!(
            p.send(End::B, B, v(2), None, &mut wakes),
            Err(PipeError::Closed)
        );
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Ok(Flow::Value(v(1))));
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Err(PipeError::Closed));
        assert_eq!(p.release_owner(B, &mut wakes), vec![End::B]);
        assert!(p.is_free());
        assert_eq!(p.bytes(), 0);
    }

    #[test]
    fn blocked_receiver_gets_closed_and_unclaimed_end_keeps_messages() {
        let mut p = Pipe::new(true, 4);
        let mut wakes = Wakes::new();
        p.claim(End::B, B).unwrap();
        p.recv(End::B, B, Some(WaiterId(7)), &mut wakes).unwrap();
        p.claim(End::A, A).unwrap();
        p.close(End::A, A, &mut wakes).unwrap();
        assert_eq!(wakes, vec![(WaiterId(7), Wake::Fail(ErrorCode::Closed))]);

        // A writer sends and closes before the reader ever opens: the pipe stays.
        let mut q = Pipe::new(true, 4);
        q.claim(End::A, A).unwrap();
        q.send(End::A, A, v(9), None, &mut wakes).unwrap();
        q.close(End::A, A, &mut wakes).unwrap();
        assert!(!q.is_free());
        q.claim(End::B, B).unwrap();
        assert_eq!(q.recv(End::B, B, None, &mut wakes), Ok(Flow::Value(v(9))));
        q.close(End::B, B, &mut wakes).unwrap();
        assert!(q.is_free());
    }

    #[test]
    fn timeouts() {
        let mut p = Pipe::new(true, 1);
        let mut wakes = Wakes::new();
        p.claim(End::A, A).unwrap();
        p.recv(End::A, A, Some(WaiterId(1)), &mut wakes).unwrap();
        p.poll(End::A, A, Some(WaiterId(2))).unwrap();
        p.timeout(WaiterId(1), &mut wakes);
        p.timeout(WaiterId(2), &mut wakes);
        assert_eq!(
            wakes,
            vec![
                (WaiterId(1), Wake::Fail(ErrorCode::Timeout)),
                (WaiterId(2), Wake::Ready(false))
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn goes_direct_with_the_backlog_counted_and_not_while_a_send_is_blocked() {
        let mut p = Pipe::new(true, 2);
        let mut wakes = Wakes::new();
        p.claim(End::A, A).unwrap();
        p.set_direct_capable(End::A, true);
        p.send(End::A, A, v(1), None, &mut wakes).unwrap();
        p.send(End::A, A, v(2), None, &mut wakes).unwrap();
        p.send(End::A, A, v(3), Some(WaiterId(1)), &mut wakes)
            .unwrap();
        p.claim(End::B, B).unwrap();
        p.set_direct_capable(End::B, true);
        // A send is blocked in the broker: it must be admitted first.
        assert!(!p.can_go_direct());
        assert_eq!(p.recv(End::B, B, None, &mut wakes), Ok(Flow::Value(v(1))));
        // The backlog (2, 3) goes into the socketpair, counted as sent by a.
        assert!(p.can_go_direct());
        assert_eq!(p.inbox_count(End::B), 2);
        p.go_direct(&mut wakes).unwrap();
        assert!(!p.can_go_direct());
        assert_eq!(p.len(), 0);
        assert_eq!(p.bytes(), 0);
        assert_eq!(p.inbox_count(End::B), 2);
        assert_eq!(p.inbox_count(End::A), 0);
        // b's next op takes its socket and page; after that it is told it has them.
        let Ok(Flow::Direct(Some(h))) = p.recv(End::B, B, None, &mut wakes) else {
            panic!("b is handed its socket");
        };
        assert_eq!(p.poll(End::B, B, None), Ok(Flow::Direct(None)));
        // The backlog is on b's socket, framed as a holder would have sent it.
        let mut buf = [0u8; 64];
        let n = unsafe {
            libc::recv(
                std::os::fd::AsRawFd::as_raw_fd(&h.sock),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        let mut want = Vec::new();
        push_frame(&mut want, &[2]);
        push_frame(&mut want, &[3]);
        assert_eq!(&buf[..n as usize], &want[..]);
        p.close(End::A, A, &mut wakes).unwrap();
        assert!(p.finished());
    }

    #[cfg(unix)]
    #[test]
    fn a_blocked_receiver_is_handed_its_socket_at_the_switch() {
        let mut p = Pipe::new(true, 4);
        let mut wakes = Wakes::new();
        for (end, o) in [(End::A, A), (End::B, B)] {
            p.claim(end, o).unwrap();
        }
        p.recv(End::B, B, Some(WaiterId(3)), &mut wakes).unwrap();
        p.set_direct_capable(End::A, true);
        p.set_direct_capable(End::B, true);
        p.go_direct(&mut wakes).unwrap();
        assert!(matches!(&wakes[..], [(WaiterId(3), Wake::Direct(Some(_)))]));
        assert!(matches!(
            p.send(End::A, A, v(2), None, &mut wakes),
            Ok(Flow::Direct(Some(_)))
        ));
    }

    #[test]
    fn frames_match_their_announced_length() {
        for len in [0usize, 1, 255, 256, 65535, 65536] {
            let mut out = Vec::new();
            push_frame(&mut out, &vec![7; len]);
            assert_eq!(out.len(), frame_len(len));
            assert_eq!(
                u32::from_be_bytes([out[0], out[1], out[2], out[3]]) as usize,
                out.len() - 4
            );
        }
    }

    #[test]
    fn a_holder_that_cannot_take_descriptors_keeps_the_pipe_brokered() {
        let mut p = Pipe::new(true, 4);
        p.claim(End::A, A).unwrap();
        p.set_direct_capable(End::A, true);
        p.claim(End::B, B).unwrap();
        p.set_direct_capable(End::B, false);
        assert!(!p.can_go_direct());
        // One connection holding both ends: no point in a socket.
        let mut q = Pipe::new(true, 4);
        for end in [End::A, End::B] {
            q.claim(end, A).unwrap();
            q.set_direct_capable(end, true);
        }
        assert!(!q.can_go_direct());
    }
}
