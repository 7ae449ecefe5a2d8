//! [`ValueBuf`]: a value's bytes as a get hands them over — an owned buffer for a value that
//! came inline, or the read-only mapping of a value that came as a sealed memfd (docs/PROTOCOL.md
//! §4.1), borrowed from the kernel's pages without a copy. Either way it derefs to `[u8]` and
//! owns what it holds: dropping it frees the buffer or unmaps the pages.

use std::ops::Deref;

use crate::error::{Error, Result};
use crate::transport::{Descriptor, Mapped};

/// A value's bytes, owned or mapped; see the module docs. `Send` and `Sync`: the mapping is
/// read-only and sealed, so no process can change the bytes while it lives.
#[derive(Debug)]
pub struct ValueBuf(Held);

#[derive(Debug)]
enum Held {
    Owned(Vec<u8>),
    Mapped(Mapped),
}

impl ValueBuf {
    /// Whether the bytes are a memfd's mapping (no copy was made) rather than an owned buffer.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Held::Mapped(_))
    }

    /// The bytes as an owned vector: free for an inline value, one copy for a mapped one.
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Held::Owned(v) => v,
            Held::Mapped(m) => m.bytes().to_vec(),
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
        }
    }
}

impl AsRef<[u8]> for ValueBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// A reply's value that came as a sealed memfd, not read yet: each caller takes it the way it
/// needs (an owned copy by `pread`, or the mapping, zero-copy).
#[derive(Debug)]
pub(crate) struct SharedReply {
    fd: Descriptor,
    len: u64,
}

impl SharedReply {
    pub(crate) fn new(fd: Descriptor, len: u64) -> SharedReply {
        SharedReply { fd, len }
    }

    /// An owned copy: one `pread`, which costs less than mapping and copying out (no
    /// page-table work on the way in, no TLB flush on the way out).
    pub(crate) fn read(&self) -> Result<Vec<u8>> {
        crate::transport::read_sealed(&self.fd, self.len)
            .map_err(|e| Error::Protocol(format!("cannot read a memfd value: {e}")))
    }

    /// The read-only mapping: no copy.
    pub(crate) fn map(&self) -> Result<Mapped> {
        Mapped::open(&self.fd, self.len)
            .map_err(|e| Error::Protocol(format!("cannot map a value: {e}")))
    }

    /// The mapping as a [`ValueBuf`].
    pub(crate) fn into_buf(self) -> Result<ValueBuf> {
        self.map().map(|m| ValueBuf(Held::Mapped(m)))
    }
}
