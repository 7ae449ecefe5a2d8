//! A connection's value rings (docs/PROTOCOL.md §4.2): the state behind `ring.open`,
//! `ring_off`, `ring_min` and `ring_free`. No sockets here; the mappings are the transport's
//! [`RingMap`].
//!
//! The up ring is the client's to write. The broker copies a value out of it while it
//! dispatches the request that names it, and validates and keeps only its copy: the client can
//! write the ring at any time, so a value in it is never trusted or kept (docs/SECURITY.md).
//!
//! The down ring is the broker's to write. Replies place values in it in FIFO order; the
//! client frees regions (by offset, in any order) once its caller is done with the bytes, and
//! the space behind the oldest region still held is reused. When the client holds nothing,
//! the next value starts at offset 0 again, so the same pages — faulted once per connection,
//! and cache-hot — carry every value.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use xproc_protocol::{value, ErrorCode};

use crate::state::ConnKey;
use crate::transport::{Descriptor, RingMap};

/// Regions start on this boundary: aligned copies run faster, and it costs at most 63 bytes.
const REGION_ALIGN: usize = 64;

/// Most down-ring regions one connection may hold unfreed. Bounds the bookkeeping (and the
/// cost of freeing by offset); a reply past it goes inline or as a memfd, as without rings.
pub const MAX_RING_REGIONS: usize = 1024;

/// A value a put copied straight from its producer's up ring into the down ring of the
/// consumer whose `queue.get` was waiting for it (one broker copy instead of two), validated
/// there: only the broker writes a down ring, so the bytes cannot change under it. Held as a
/// [`Stored`](crate::stored::Stored) until the wake delivers it; its reply then names the
/// region. Dropped undelivered, the region goes back to the ring.
#[derive(Debug)]
pub struct RingValue {
    map: Rc<RingMap>,
    off: usize,
    len: usize,
    /// The consumer and the request it is for.
    pub conn: ConnKey,
    /// The `queue.get` it answers.
    pub req: u64,
    orphans: Rc<RefCell<Vec<usize>>>,
    delivered: Cell<bool>,
}

impl RingValue {
    /// The value's bytes (in the down ring).
    pub fn bytes(&self) -> &[u8] {
        self.map.bytes(self.off, self.len)
    }

    /// Marks it delivered in its region (the reply names `ring_off`); returns the offset.
    pub fn deliver(&self) -> usize {
        self.delivered.set(true);
        self.off
    }
}

impl Drop for RingValue {
    fn drop(&mut self) {
        if !self.delivered.get() {
            self.orphans.borrow_mut().push(self.off);
        }
    }
}

/// A handoff's value: `len` bytes copied from `src` at `from` into `rings`' down ring for
/// request `req` of connection `conn`, validated there. `None` when the down ring has no room.
pub fn handoff(
    src: &RingMap,
    from: usize,
    len: usize,
    rings: &mut Rings,
    conn: ConnKey,
    req: u64,
) -> Option<Result<RingValue, RingError>> {
    let off = rings.reserve_down(len)?;
    let (map, orphans) = rings.down_parts();
    map.copy_from(off, src, from, len);
    let v = RingValue {
        map,
        off,
        len,
        conn,
        req,
        orphans,
        delivered: Cell::new(false),
    };
    // Dropped on failure: the region goes back.
    Some(match value::validate(v.bytes()) {
        Ok(()) => Ok(v),
        Err(e) => Err(RingError::Invalid {
            off: from as u64,
            why: e.to_string(),
        }),
    })
}

/// Why a ring field or op was refused (`BadRequest` or `InvalidValue`, the connection stays).
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// `ring.open` or a ring field without the capability.
    #[error("this connection did not negotiate rings (hello caps [\"fds\", \"rings\"] on the broker's Unix socket, docs/PROTOCOL.md §4.2)")]
    NotGranted,
    /// A ring field before `ring.open`.
    #[error("this connection has no rings: send ring.open first (docs/PROTOCOL.md §4.2)")]
    NotOpen,
    /// `ring.open` twice.
    #[error("this connection's rings are open already (ring.open once per connection)")]
    AlreadyOpen,
    /// `ring_off` + `value_len` outside the up ring.
    #[error("ring_off {off} + value_len {len} is outside the up ring ({size} bytes)")]
    OutOfRange {
        /// `ring_off`.
        off: u64,
        /// `value_len`.
        len: u64,
        /// The ring's size.
        size: usize,
    },
    /// `value_len` 0.
    #[error("value_len is 0: a value is at least one byte")]
    Empty,
    /// Above what an inline value could be.
    #[error("value_len {len} is above max_frame less 64 bytes ({max} bytes): a ring value is at most what an inline one can be, so that every reader can take it")]
    TooLarge {
        /// `value_len`.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The copied bytes are not one well-formed value.
    #[error(
        "the up ring's bytes at ring_off {off} are not one well-formed MessagePack value: {why}"
    )]
    Invalid {
        /// `ring_off`.
        off: u64,
        /// What is wrong.
        why: String,
    },
    /// `ring_free` names an offset that is no region the client holds.
    #[error("ring_free names offset {0}, which is no down-ring region this connection holds (each region is freed once)")]
    UnknownFree(u64),
}

impl RingError {
    /// The error code the request is answered with.
    pub fn code(&self) -> ErrorCode {
        match self {
            RingError::Invalid { .. } => ErrorCode::InvalidValue,
            RingError::TooLarge { .. } => ErrorCode::TooLarge,
            _ => ErrorCode::BadRequest,
        }
    }
}

/// One down-ring region handed to the client.
#[derive(Debug)]
struct Region {
    off: usize,
    freed: bool,
}

/// A connection's open rings.
#[derive(Debug)]
pub struct Rings {
    up: RingMap,
    /// Shared with [`RingValue`]s placed here by a handoff, which read it until delivered.
    down: Rc<RingMap>,
    /// Regions a handoff reserved whose value was never delivered here (its put was refused,
    /// say): freed at the next allocation.
    orphans: Rc<RefCell<Vec<usize>>>,
    /// Down-ring regions the client holds, oldest first (freed ones stay until every older
    /// one is freed too: the space is reused in order).
    held: VecDeque<Region>,
    /// Where the next down-ring region would start.
    head: usize,
    /// Highest up-ring byte a request named, and highest down-ring byte written: what the
    /// rings charge to the memory budget (pages below it have likely been touched).
    up_high: usize,
    down_high: usize,
}

impl Rings {
    /// Creates both rings of `size` bytes; returns them with the descriptors to hand out (up
    /// ring first).
    pub fn open(size: usize) -> std::io::Result<(Rings, Descriptor, Descriptor)> {
        let (up, down, up_fd, down_fd) = crate::transport::ring_pair(size)?;
        Ok((
            Rings {
                up,
                down: Rc::new(down),
                orphans: Rc::default(),
                held: VecDeque::new(),
                head: 0,
                up_high: 0,
                down_high: 0,
            },
            up_fd,
            down_fd,
        ))
    }

    /// Bytes the rings charge to the memory budget: the high-water marks of both.
    pub fn charged(&self) -> usize {
        self.up_high + self.down_high
    }

    /// Checks that `[off, off + len)` is a possible value in the up ring: not empty, at most
    /// `max`, inside the ring (overflow-safe). Returns its end.
    pub fn check_up(&self, off: u64, len: u64, max: usize) -> Result<usize, RingError> {
        if len == 0 {
            return Err(RingError::Empty);
        }
        if len > max as u64 {
            return Err(RingError::TooLarge { len, max });
        }
        let size = self.up.len();
        match off.checked_add(len).filter(|&e| e <= size as u64) {
            Some(end) => Ok(end as usize),
            None => Err(RingError::OutOfRange { off, len, size }),
        }
    }

    /// Copies the value at `off`, `len` bytes, out of the up ring and validates the copy.
    pub fn take_up(&mut self, off: u64, len: u64, max: usize) -> Result<Box<[u8]>, RingError> {
        let end = self.check_up(off, len, max)?;
        let bytes = self.up.copy_out(off as usize, len as usize);
        value::validate(&bytes).map_err(|e| RingError::Invalid {
            off,
            why: e.to_string(),
        })?;
        self.note_up(end);
        Ok(bytes)
    }

    /// Records that a request named the up ring up to byte `end` (the memory charge).
    pub fn note_up(&mut self, end: usize) {
        self.up_high = self.up_high.max(end);
    }

    /// The up ring, for a handoff's copy (bounds checked with [`check_up`](Self::check_up)).
    pub fn up(&self) -> &RingMap {
        &self.up
    }

    /// Reserves a down-ring region of `len` bytes for a value the broker copies in itself
    /// (the handoff), as [`put_down`](Self::put_down) would place it.
    pub fn reserve_down(&mut self, len: usize) -> Option<usize> {
        self.reap_orphans();
        let off = self.place(len.checked_next_multiple_of(REGION_ALIGN)?)?;
        let end = off + len.next_multiple_of(REGION_ALIGN);
        self.held.push_back(Region { off, freed: false });
        self.head = end;
        self.down_high = self.down_high.max(end);
        Some(off)
    }

    /// The down ring and the orphan list, for a [`RingValue`] placed in it.
    pub fn down_parts(&self) -> (Rc<RingMap>, Rc<RefCell<Vec<usize>>>) {
        (self.down.clone(), self.orphans.clone())
    }

    /// Frees regions whose handoff value was dropped undelivered.
    fn reap_orphans(&mut self) {
        let orphans = std::mem::take(&mut *self.orphans.borrow_mut());
        if !orphans.is_empty() {
            let offs: Vec<u64> = orphans.iter().map(|&o| o as u64).collect();
            let _ = self.free(&offs);
        }
    }

    /// Places `bytes` in a free down-ring region and returns its offset, or `None` when no
    /// region is free (the caller sends the value as it would without rings).
    pub fn put_down(&mut self, bytes: &[u8]) -> Option<usize> {
        self.reap_orphans();
        let len = bytes.len().checked_next_multiple_of(REGION_ALIGN)?;
        let off = self.place(len)?;
        self.down.write(off, bytes);
        self.held.push_back(Region { off, freed: false });
        self.head = off + len;
        self.down_high = self.down_high.max(self.head);
        Some(off)
    }

    /// Where a region of `len` bytes fits, FIFO: after the newest region, or wrapped to the
    /// start of the ring ahead of the oldest.
    fn place(&self, len: usize) -> Option<usize> {
        let size = self.down.len();
        let (Some(oldest), Some(newest)) = (self.held.front(), self.held.back()) else {
            return (len <= size).then_some(0);
        };
        if self.held.len() >= MAX_RING_REGIONS {
            return None;
        }
        if newest.off >= oldest.off {
            // Not wrapped: the held bytes are [oldest.off, head).
            if self.head + len <= size {
                Some(self.head)
            } else {
                (len <= oldest.off).then_some(0)
            }
        } else {
            // Wrapped: the held bytes are [oldest.off, size) and [0, head).
            (self.head + len <= oldest.off).then_some(self.head)
        }
    }

    /// Frees the down-ring regions starting at `offs` (in any order).
    pub fn free(&mut self, offs: &[u64]) -> Result<(), RingError> {
        for &off in offs {
            let r = self
                .held
                .iter_mut()
                .find(|r| r.off as u64 == off && !r.freed)
                .ok_or(RingError::UnknownFree(off))?;
            r.freed = true;
        }
        while self.held.front().is_some_and(|r| r.freed) {
            self.held.pop_front();
        }
        if self.held.is_empty() {
            self.head = 0;
        }
        Ok(())
    }

    /// Regions the client holds (for tests and `stat`-like views).
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn down_ring_is_fifo_and_restarts_at_zero() {
        let (mut r, _, _) = Rings::open(4096).unwrap();
        let v = vec![0x90u8; 1000];
        let a = r.put_down(&v).unwrap();
        let b = r.put_down(&v).unwrap();
        let c = r.put_down(&v).unwrap();
        assert_eq!((a, b, c), (0, 1024, 2048));
        assert!(r.put_down(&v[..100]).is_some());
        assert!(r.put_down(&v).is_none(), "full");
        // Out of order: freeing b frees nothing yet; freeing a frees both.
        r.free(&[b as u64]).unwrap();
        assert_eq!(r.held(), 4);
        assert!(r.free(&[b as u64]).is_err(), "twice");
        r.free(&[a as u64]).unwrap();
        assert_eq!(r.held(), 2);
        // Wraps to 0, ahead of the oldest (c at 2048).
        assert_eq!(r.put_down(&v), Some(0));
        assert!(r.put_down(&v).is_some());
        assert!(r.put_down(&v).is_none());
        assert!(r.free(&[12345]).is_err());
        let offs: Vec<u64> = r.held.iter().map(|x| x.off as u64).collect();
        r.free(&offs).unwrap();
        assert_eq!(r.held(), 0);
        assert_eq!(r.put_down(&v), Some(0), "restarts at 0 when all is free");
    }

    #[test]
    fn up_ring_bounds_are_checked_before_copying() {
        let (mut r, _, _) = Rings::open(4096).unwrap();
        assert!(matches!(
            r.take_up(4000, 200, 1 << 20),
            Err(RingError::OutOfRange { .. })
        ));
        assert!(matches!(
            r.take_up(u64::MAX, 2, 1 << 20),
            Err(RingError::OutOfRange { .. })
        ));
        assert!(matches!(r.take_up(0, 0, 1 << 20), Err(RingError::Empty)));
        assert!(matches!(
            r.take_up(0, 100, 50),
            Err(RingError::TooLarge { .. })
        ));
        // Zeroed pages are 0x00 bytes: one positive fixint, then trailing bytes.
        assert!(matches!(
            r.take_up(0, 2, 1 << 20),
            Err(RingError::Invalid { .. })
        ));
        assert_eq!(&*r.take_up(0, 1, 1 << 20).unwrap(), &[0]);
    }
}
