//! `put_async`: puts that do not wait for the broker. Values are gathered into batches, each
//! batch is one `queue.put_many` request (docs/PROTOCOL.md §6.3), and at most
//! [`PUT_ASYNC_WINDOW`] batches are in flight per handle; a producer out of window waits for
//! the oldest batch's reply. That window is the flow control: the broker's memory holds at most
//! a window of one producer's values beyond what the queue itself holds, and the queue's bound
//! is the broker's — a batch's values enter a bounded queue only as room frees (the rest wait
//! in the broker like a blocked put, ahead of later puts), so `maxsize` is never exceeded.
//!
//! # When a batch is sent
//!
//! When it holds [`PUT_ASYNC_BATCH_ITEMS`] values or [`PUT_ASYNC_BATCH_BYTES`] bytes; when a
//! value is handed over more than [`PUT_ASYNC_LINGER`] after the previous batch was sent (so a
//! slow producer's values go out at once, and only a fast one's are gathered); on `flush`; and
//! before any other request of the handle, so requests stay in order (a `qsize` after
//! `put_async` counts the item). Values gathered at the end of a burst wait for the next call:
//! call `flush` when a burst is over (dropping the last handle flushes too).
//!
//! [`PUT_ASYNC_LINGER`] is Kafka's `linger.ms` checked on the next call rather than by a timer:
//! Kafka's producer has a sender thread that sends a lingering batch when its time is up;
//! this client has no thread of its own (a timer thread per handle, or a wake-up per batch,
//! would cost every producer for the sake of the last batch of a burst), so a batch that is
//! not full waits at most until the handle's next call, `flush`, or drop. The bound is
//! therefore the producer's own pace, and `flush` makes it zero.
//!
//! # Large values
//!
//! A value of at least the ring threshold ([`RING_VALUE_MIN`](crate::RING_VALUE_MIN)) on a
//! connection with rings (docs/PROTOCOL.md §4.2; the first such value opens them) is not
//! batched: it is written into a free up-ring region and sent as its own `queue.put` with
//! `ring_off`, after the batch gathered before it (so order is kept), and it takes one place
//! in the same window. Its region is released when its reply is read (the broker copied the
//! value out and checked its copy by then). So the producer writes value n+1 into another
//! region while the broker copies value n; a bounded queue holds the put in the broker, as a
//! batch's values, until there is room. When no region is free, the values in flight that
//! hold one are settled, oldest first, until one is; a value that does not fit even then
//! (larger than the ring, or the ring held by other calls) joins the batch like a small one.
//! A typed value is sized first (a pass that writes nothing) only after a large one, so that
//! a stream of small values never pays for it; the first large value after small ones is
//! encoded into the batch buffer and moved into the ring (one copy more).
//!
//! # Errors
//!
//! A batch or a large value's put refused by the broker (the queue was deleted, the memory
//! budget is spent, a value too large or not well-formed) is recorded with the position of the first value that was not put (0-based,
//! counted over every `put_async` of the handle and its clones) and returned, once, as
//! [`Error::PutAsync`] by the next `put_async` (which then does not take its value) or by
//! `flush`. Values after it in the same batch were not put; batches sent after it may have
//! been. Nothing is dropped silently.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_bytes::Bytes;
use xproc_protocol::{ReplyFields, RequestFields};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::rings::{Rings, UpRegion};

/// Most values in one `put_async` batch.
pub const PUT_ASYNC_BATCH_ITEMS: usize = 1024;

/// Most value bytes in one `put_async` batch (less if the broker's `max_frame` is smaller).
pub const PUT_ASYNC_BATCH_BYTES: usize = 256 * 1024;

/// Most `put_async` batches of one handle in flight (sent, reply not yet read).
pub const PUT_ASYNC_WINDOW: usize = 4;

/// A value handed to `put_async` this long after the last batch went out is sent at once.
pub const PUT_ASYNC_LINGER: Duration = Duration::from_micros(500);

/// Room left in a batch frame for everything but the values (fields, per-value headers).
const FRAME_SLACK: usize = 64 * 1024;

/// The `put_async` state of one queue handle (shared by its clones).
pub(crate) struct Stream {
    client: Client,
    name: String,
    /// The batch being filled: values back to back, and where each ends.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    /// Position of the next value handed over.
    next: u64,
    in_flight: VecDeque<Batch>,
    /// The first failure not yet reported.
    error: Option<Error>,
    last_send: Instant,
}

/// A batch (or one large value's `queue.put`) sent and not yet answered.
struct Batch {
    id: u64,
    /// Position of its first value.
    first: u64,
    /// The up-ring region of a value sent through the ring, released with the reply.
    up: Option<UpRegion>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("gathered", &self.ends.len())
            .field("in_flight", &self.in_flight.len())
            .field("next", &self.next)
            .finish()
    }
}

impl Stream {
    pub(crate) fn new(client: Client, name: String) -> Stream {
        Stream {
            client,
            name,
            bytes: Vec::new(),
            ends: Vec::new(),
            next: 0,
            in_flight: VecDeque::new(),
            error: None,
            last_send: Instant::now(),
        }
    }

    /// Most value bytes in a batch for this broker.
    fn batch_bytes(&self) -> usize {
        let max_frame = usize::try_from(self.client.limits().max_frame).unwrap_or(usize::MAX);
        PUT_ASYNC_BATCH_BYTES.min(max_frame.saturating_sub(FRAME_SLACK).max(1))
    }

    /// Hands one value over: `len` is its encoded length when known up front, `fill` writes
    /// exactly that many bytes into an up-ring region, `write` appends its MessagePack bytes to
    /// the batch buffer it is given; one of them is called. Returns a pending error instead
    /// (the value is then not taken).
    ///
    /// A value of at least the ring threshold goes through the up ring when the connection
    /// has rings and a region is free (after the values in flight that hold ring regions are
    /// settled, if need be): its own `queue.put` with `ring_off`, sent after the values
    /// gathered before it. Otherwise it joins the batch, as every value did before rings.
    pub(crate) fn push(
        &mut self,
        len: Option<usize>,
        fill: impl FnOnce(&mut [u8]) -> Result<()>,
        write: impl FnOnce(&mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(len) = len {
            if let Some(mut region) = self.ring_region(len) {
                fill(region.bytes_mut(len))?;
                self.send_placed(region, len);
                return Ok(());
            }
        }
        let at = self.bytes.len();
        if let Err(e) = write(&mut self.bytes) {
            self.bytes.truncate(at);
            return Err(e);
        }
        let n = self.bytes.len() - at;
        if len.is_none() {
            // Its size was not known up front (a typed value after small ones): a large one
            // still goes through the ring, at the price of this one copy.
            if let Some(mut region) = self.ring_region_after(at, n) {
                // The value is the buffer's last `n` bytes (alone in it if a batch went out).
                let start = self.bytes.len() - n;
                region.bytes_mut(n).copy_from_slice(&self.bytes[start..]);
                self.bytes.truncate(start);
                self.send_placed(region, n);
                return Ok(());
            }
        }
        self.ends.push(self.bytes.len());
        self.next += 1;
        if self.ends.len() >= PUT_ASYNC_BATCH_ITEMS
            || self.bytes.len() >= self.batch_bytes()
            || self.last_send.elapsed() >= PUT_ASYNC_LINGER
        {
            self.send();
        }
        Ok(())
    }

    /// An up-ring region of `len` bytes for the next value, with the gathered batch sent and
    /// room in the window; `None` (nothing sent, nothing waited for) when the value is below
    /// the ring threshold or the connection has no rings, and `None` too when no region frees
    /// up once every value in flight that holds one is settled.
    fn ring_region(&mut self, len: usize) -> Option<UpRegion> {
        let rings = self.client.rings_for(len)?;
        self.send();
        self.wait_for_region(&rings, len)
    }

    /// [`ring_region`](Self::ring_region) for a value of `len` bytes already appended to the
    /// batch buffer at `at`: the values gathered before it are sent first, the value itself
    /// kept (moved to the buffer's start).
    fn ring_region_after(&mut self, at: usize, len: usize) -> Option<UpRegion> {
        let rings = self.client.rings_for(len)?;
        if at > 0 {
            let value = self.bytes.split_off(at);
            self.send();
            self.bytes = value;
        }
        // `None`: back to the batch path, the value the only one gathered now.
        self.wait_for_region(&rings, len)
    }

    /// Waits for room in the window, then for an up-ring region of `len` bytes, settling the
    /// oldest values in flight while any of them holds one; `None` when none does and still no
    /// region is free.
    fn wait_for_region(&mut self, rings: &Arc<Rings>, len: usize) -> Option<UpRegion> {
        self.make_room();
        loop {
            if let Some(region) = rings.alloc_up(len) {
                return Some(region);
            }
            if !self.in_flight.iter().any(|b| b.up.is_some()) {
                return None;
            }
            self.settle_oldest();
        }
    }

    /// Settles what has come back and waits until the window has room for one more request.
    fn make_room(&mut self) {
        self.reap();
        while self.in_flight.len() >= PUT_ASYNC_WINDOW {
            self.settle_oldest();
        }
    }

    /// Sends the value in `region` (`len` bytes) as its own `queue.put`, counted in the
    /// window like a batch; the region is held until its reply came (the broker has copied
    /// the value out by then). A failure is recorded, as for a batch.
    fn send_placed(&mut self, region: UpRegion, len: usize) {
        let first = self.next;
        self.next += 1;
        let rings = self.client.rings_for(len);
        let frees = rings.as_ref().and_then(|r| r.take_frees());
        let req = RequestFields {
            name: Some(self.name.as_str().into()),
            ring_off: Some(region.off()),
            value_len: Some(len as u64),
            ring_free: frees.clone(),
            ..RequestFields::new(0, "queue.put")
        };
        match self.client.conn().start(req) {
            Ok(id) => self.in_flight.push_back(Batch {
                id,
                first,
                up: Some(region),
            }),
            Err(e) => {
                if let (Some(r), Some(f)) = (rings, frees) {
                    r.untake_frees(f);
                }
                self.fail(first, e);
            }
        }
        self.last_send = Instant::now();
    }

    /// Sends the gathered values as one batch, after waiting for room in the window. A
    /// failure is recorded (reported by the next call), never returned here.
    pub(crate) fn send(&mut self) {
        if self.ends.is_empty() {
            return;
        }
        self.make_room();
        let first = self.next - self.ends.len() as u64;
        let mut start = 0;
        let values: Vec<&Bytes> = self
            .ends
            .iter()
            .map(|&end| {
                let v = Bytes::new(&self.bytes[start..end]);
                start = end;
                v
            })
            .collect();
        let req = RequestFields {
            name: Some(self.name.as_str().into()),
            values: Some(values),
            ..RequestFields::new(0, "queue.put_many")
        };
        match self.client.conn().start(req) {
            Ok(id) => self.in_flight.push_back(Batch {
                id,
                first,
                up: None,
            }),
            Err(e) => self.fail(first, e),
        }
        self.bytes.clear();
        self.ends.clear();
        self.last_send = Instant::now();
    }

    /// Sends what is gathered and waits for every batch in flight; returns the first failure
    /// not yet reported.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.send();
        while !self.in_flight.is_empty() {
            self.settle_oldest();
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Settles the batches at the front of the window whose replies have come.
    fn reap(&mut self) {
        while let Some(b) = self.in_flight.front() {
            let Some(reply) = self.client.conn().ready(b.id) else {
                return;
            };
            let first = b.first;
            // Its ring region (if any) is released here, after the reply.
            drop(self.in_flight.pop_front());
            self.settle(first, reply);
        }
    }

    /// Waits for the oldest batch's reply and settles it.
    fn settle_oldest(&mut self) {
        if let Some(b) = self.in_flight.pop_front() {
            let reply = self.client.conn().finish(b.id, None);
            self.settle(b.first, reply);
        }
    }

    fn settle(&mut self, first: u64, reply: Result<Vec<u8>>) {
        let payload = match reply {
            Ok(p) => p,
            Err(e) => return self.fail(first, e),
        };
        match ReplyFields::decode(&payload) {
            Ok(r) => {
                if let Some(code) = r.error {
                    let e = Error::from_reply(code, r.message.unwrap_or(""));
                    self.fail(first + r.put.unwrap_or(0), e);
                }
            }
            Err(e) => self.fail(first, Error::Protocol(format!("undecodable reply: {e}"))),
        }
    }

    /// Records a failure at `position`, unless an earlier one is still unreported.
    fn fail(&mut self, position: u64, e: Error) {
        if self.error.is_none() {
            self.error = Some(Error::PutAsync {
                position,
                source: Box::new(e),
            });
        }
    }
}

impl Drop for Stream {
    /// Closing flushes: what was handed over reaches the broker (errors are lost here; call
    /// `flush` to see them).
    fn drop(&mut self) {
        if !self.ends.is_empty() || !self.in_flight.is_empty() {
            let _ = self.flush();
        }
    }
}
