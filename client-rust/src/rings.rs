//! This connection's value rings (docs/PROTOCOL.md §4.2), on the client's side: the up ring
//! it writes large values into (a region is free again once the reply to the request that
//! named it arrived: the broker copies the value out while it dispatches the request), and
//! the down ring the broker places large reply values in (a region is held until the caller
//! is done with the bytes, then its offset is told to the broker in the next request's
//! `ring_free`).
//!
//! Both rings are allocated FIFO, and when nothing is held the next value starts at offset 0
//! again, so the same pages — faulted once per connection, and cache-hot — carry every value.
//! A value that does not fit is never waited for: it goes as it would without rings.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::transport::{Descriptor, RingMapping};

/// Regions start on this boundary (the broker aligns its down-ring regions the same way).
const REGION_ALIGN: usize = 64;

/// Values of at least this many bytes use the rings (both ways) once a connection has them.
/// Below it, one copy through the socket costs less than the ring's bookkeeping and the extra
/// round trip's worth of fields (docs/BENCHMARKS.md, "Large values by rings").
/// `$XPROC_RING_VALUE_MIN` overrides it.
pub const RING_VALUE_MIN: usize = 16 * 1024;

/// The environment variable that keeps a process's connections off rings (docs/PROTOCOL.md
/// §4.2): set to anything but empty or `0`, `hello` does not ask for `rings`, and large values
/// travel as sealed memfds or inline, as before rings existed.
pub const NO_RINGS_ENV: &str = "XPROC_NO_RINGS";

/// Whether the environment opts this process out of rings.
pub(crate) fn rings_opted_out() -> bool {
    std::env::var_os(NO_RINGS_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The threshold in force: [`RING_VALUE_MIN`], or `$XPROC_RING_VALUE_MIN` (bytes) when set.
pub(crate) fn ring_value_min() -> usize {
    static MIN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MIN.get_or_init(|| {
        std::env::var("XPROC_RING_VALUE_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(RING_VALUE_MIN)
    })
}

/// A FIFO allocator over a ring of `size` bytes: regions are handed out in order and may be
/// released in any order; space is reused behind the oldest region still held.
#[derive(Debug)]
struct Fifo {
    size: usize,
    /// Held regions, oldest first: `(offset, released)`.
    held: VecDeque<(usize, bool)>,
    /// Where the next region would start.
    head: usize,
}

impl Fifo {
    fn new(size: usize) -> Fifo {
        Fifo {
            size,
            held: VecDeque::new(),
            head: 0,
        }
    }

    /// A region of `len` bytes, or `None` when none is free.
    fn alloc(&mut self, len: usize) -> Option<usize> {
        let len = len.checked_next_multiple_of(REGION_ALIGN)?;
        let off = match (self.held.front(), self.held.back()) {
            (Some(&(oldest, _)), Some(&(newest, _))) => {
                if newest >= oldest {
                    if self.head + len <= self.size {
                        self.head
                    } else if len <= oldest {
                        0
                    } else {
                        return None;
                    }
                } else if self.head + len <= oldest {
                    self.head
                } else {
                    return None;
                }
            }
            _ if len <= self.size => 0,
            _ => return None,
        };
        self.held.push_back((off, false));
        self.head = off + len;
        Some(off)
    }

    /// Releases the region at `off` (handed out by [`alloc`](Self::alloc), once).
    fn release(&mut self, off: usize) {
        if let Some(r) = self.held.iter_mut().find(|r| r.0 == off && !r.1) {
            r.1 = true;
        }
        while self.held.front().is_some_and(|r| r.1) {
            self.held.pop_front();
        }
        if self.held.is_empty() {
            self.head = 0;
        }
    }
}

/// A connection's open rings.
#[derive(Debug)]
pub(crate) struct Rings {
    up: RingMapping,
    down: RingMapping,
    up_alloc: Mutex<Fifo>,
    /// Down-ring regions callers are done with, not yet told to the broker.
    to_free: Mutex<Vec<u64>>,
}

impl Rings {
    /// Maps the two rings `ring.open` handed over (up ring first).
    pub(crate) fn map(up: &Descriptor, down: &Descriptor) -> std::io::Result<Rings> {
        let up = RingMapping::map(up, true)?;
        let down = RingMapping::map(down, false)?;
        let up_alloc = Mutex::new(Fifo::new(up.len()));
        Ok(Rings {
            up,
            down,
            up_alloc,
            to_free: Mutex::new(Vec::new()),
        })
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `value` into a free up-ring region; `None` when none is free. The region is
    /// released when the returned guard drops: after the request's reply arrived.
    pub(crate) fn put_up(self: &Arc<Self>, value: &[u8]) -> Option<UpRegion> {
        let off = Self::lock(&self.up_alloc).alloc(value.len())?;
        self.up.write(off, value);
        Some(UpRegion {
            rings: self.clone(),
            off,
        })
    }

    /// A region of `len` bytes of the up ring, filled in place by `fill` (a typed value
    /// encoded straight into the ring, no intermediate buffer); `None` when none is free or
    /// `fill` fails (the region is released then).
    pub(crate) fn fill_up(
        self: &Arc<Self>,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> bool,
    ) -> Option<UpRegion> {
        let off = Self::lock(&self.up_alloc).alloc(len)?;
        let region = UpRegion {
            rings: self.clone(),
            off,
        };
        fill(self.up.slice_mut(off, len)).then_some(region)
    }

    /// A free region of `len` bytes of the up ring, for the caller to fill through
    /// [`UpRegion::bytes_mut`]; `None` when none is free.
    pub(crate) fn alloc_up(self: &Arc<Self>, len: usize) -> Option<UpRegion> {
        let off = Self::lock(&self.up_alloc).alloc(len)?;
        Some(UpRegion {
            rings: self.clone(),
            off,
        })
    }

    /// The down-ring offsets callers freed since the last call, to send as `ring_free`.
    pub(crate) fn take_frees(&self) -> Option<Vec<u64>> {
        let mut f = Self::lock(&self.to_free);
        (!f.is_empty()).then(|| std::mem::take(&mut *f))
    }

    /// Gives frees taken by [`take_frees`](Self::take_frees) back (their request was not sent).
    pub(crate) fn untake_frees(&self, offs: Vec<u64>) {
        Self::lock(&self.to_free).extend(offs);
    }
}

/// An up-ring region holding a value in flight; released on drop.
#[derive(Debug)]
pub(crate) struct UpRegion {
    rings: Arc<Rings>,
    off: usize,
}

impl UpRegion {
    /// Its offset (the request's `ring_off`).
    pub(crate) fn off(&self) -> u64 {
        self.off as u64
    }

    /// Its first `len` bytes, to write the value into (only this process writes the up ring,
    /// and only into regions it holds).
    pub(crate) fn bytes_mut(&mut self, len: usize) -> &mut [u8] {
        self.rings.up.slice_mut(self.off, len)
    }
}

impl Drop for UpRegion {
    fn drop(&mut self) {
        Rings::lock(&self.rings.up_alloc).release(self.off);
    }
}

/// A value the broker placed in the down ring; the region is the holder's until it drops,
/// then freed (told to the broker with the next request).
#[derive(Debug)]
pub(crate) struct DownRegion {
    rings: Arc<Rings>,
    off: usize,
    len: usize,
}

impl DownRegion {
    /// Takes region `off` of `len` bytes, checked against the ring's bounds.
    pub(crate) fn new(rings: Arc<Rings>, off: u64, len: u64) -> Option<DownRegion> {
        let (off, len) = (usize::try_from(off).ok()?, usize::try_from(len).ok()?);
        off.checked_add(len).filter(|&e| e <= rings.down.len())?;
        Some(DownRegion { rings, off, len })
    }

    /// The value's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.rings.down.bytes(self.off, self.len)
    }
}

impl Drop for DownRegion {
    fn drop(&mut self) {
        Rings::lock(&self.rings.to_free).push(self.off as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_reuses_from_zero_and_holds_out_of_order_releases() {
        let mut f = Fifo::new(4096);
        assert_eq!(f.alloc(1000), Some(0));
        assert_eq!(f.alloc(1000), Some(1024));
        assert_eq!(f.alloc(1000), Some(2048));
        assert_eq!(f.alloc(2000), None);
        f.release(1024);
        assert_eq!(f.alloc(1000), Some(3072));
        assert_eq!(f.alloc(1), None, "the oldest is still held");
        f.release(0);
        assert_eq!(f.alloc(1000), Some(0), "wraps ahead of the oldest");
        for off in [2048, 3072, 0] {
            f.release(off);
        }
        assert!(f.held.is_empty());
        assert_eq!(f.alloc(10), Some(0));
        assert_eq!(f.alloc(5000), None);
    }
}
