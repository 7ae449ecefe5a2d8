//! [`ValueBuf`]: a value's bytes as a get hands them over — an owned buffer for a value that
//! came inline, or the read-only mapping of a value that came as a sealed memfd (docs/PROTOCOL.md
//! §4.1), borrowed from the kernel's pages without a copy. Either way it derefs to `[u8]` and
//! owns what it holds: dropping it frees the buffer or unmaps the pages.

use std::ops::Deref;

use crate::error::{Error, Result};
use crate::rings::DownRegion;
use crate::transport::{Descriptor, Mapped};

/// A value's bytes, owned or mapped; see the module docs. `Send` and `Sync`: the mapping is
/// read-only and sealed, so no process can change the bytes while it lives.
#[derive(Debug)]
pub struct ValueBuf(Held);

#[derive(Debug)]
enum Held {
    Owned(Vec<u8>),
    Mapped(Mapped),
    /// A down-ring region (docs/PROTOCOL.md §4.2), freed when the `ValueBuf` drops.
    Ring(DownRegion),
}

impl ValueBuf {
    /// Whether the bytes are a memfd's mapping (no copy was made) rather than an owned buffer.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Held::Mapped(_) | Held::Ring(_))
    }

    /// Whether the bytes are a region of the connection's down ring (docs/PROTOCOL.md §4.2),
    /// freed for the broker's next value when this `ValueBuf` drops.
    pub fn is_in_ring(&self) -> bool {
        matches!(self.0, Held::Ring(_))
    }

    /// The bytes as an owned vector: free for an inline value, one copy for a mapped one.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Held::Owned(v) => v,
            Held::Mapped(m) => m.bytes().to_vec(),
            Held::Ring(r) => r.bytes().to_vec(),
        }
    }

    pub(crate) fn owned(v: Vec<u8>) -> ValueBuf {
        ValueBuf(Held::Owned(v))
    }
}

impl Deref for ValueBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Held::Owned(v) => v,
            Held::Mapped(m) => m.bytes(),
            Held::Ring(r) => r.bytes(),
        }
    }
}

impl AsRef<[u8]> for ValueBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// A reply's value that came as a sealed memfd or in the down ring, not read yet: each caller
/// takes it the way it needs (an owned copy, or the bytes in place, zero-copy).
#[derive(Debug)]
pub(crate) enum SharedReply {
    /// A sealed memfd of `len` bytes (docs/PROTOCOL.md §4.1).
    Memfd { fd: Descriptor, len: u64 },
    /// A down-ring region (§4.2).
    Ring(DownRegion),
}

/// The bytes of a reply's value, however it came, while borrowed.
pub(crate) enum SharedBytes {
    Mapped(Mapped),
    Ring(DownRegion),
}

impl SharedBytes {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            SharedBytes::Mapped(m) => m.bytes(),
            SharedBytes::Ring(r) => r.bytes(),
        }
    }
}

impl SharedReply {
    pub(crate) fn new(fd: Descriptor, len: u64) -> SharedReply {
        SharedReply::Memfd { fd, len }
    }

    /// An owned copy: one `pread` for a memfd, which costs less than mapping and copying out
    /// (no page-table work on the way in, no TLB flush on the way out); one copy out of the
    /// down ring, whose region is freed at once.
    pub(crate) fn read(self) -> Result<Vec<u8>> {
        match self {
            SharedReply::Memfd { fd, len } => crate::transport::read_sealed(&fd, len)
                .map_err(|e| Error::Protocol(format!("cannot read a memfd value: {e}"))),
            SharedReply::Ring(r) => Ok(r.bytes().to_vec()),
        }
    }

    /// The bytes without a copy: the memfd's read-only mapping, or the ring region.
    pub(crate) fn map(self) -> Result<SharedBytes> {
        match self {
            SharedReply::Memfd { fd, len } => Mapped::open(&fd, len)
                .map(SharedBytes::Mapped)
                .map_err(|e| Error::Protocol(format!("cannot map a value: {e}"))),
            SharedReply::Ring(r) => Ok(SharedBytes::Ring(r)),
        }
    }

    /// The bytes as a [`ValueBuf`] (no copy).
    pub(crate) fn into_buf(self) -> Result<ValueBuf> {
        Ok(ValueBuf(match self.map()? {
            SharedBytes::Mapped(m) => Held::Mapped(m),
            SharedBytes::Ring(r) => Held::Ring(r),
        }))
    }
}
