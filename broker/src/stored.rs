//! The stored-value type: a value's encoded bytes held inline, or a sealed memfd a client
//! passed (docs/PROTOCOL.md §4.1). Objects hold [`Stored`] and read it as bytes (it derefs to
//! `[u8]`), so every op, snapshot and size count works on either; only the reply path asks
//! [`Stored::shared`] whether the value can go on as its descriptor.

use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use xproc_protocol::value;

use crate::transport::{Descriptor, SealError, SealedValue};

/// Most values the broker holds as memfds at once, across all objects. Each is a descriptor
/// (and a mapping); the broker raises `RLIMIT_NOFILE` by this much at start, so shared values
/// can never starve `accept` (docs/PROTOCOL.md §8).
pub const MAX_SHARED_VALUES: usize = 4096;

/// Shared values held now.
static SHARED_VALUES: AtomicUsize = AtomicUsize::new(0);

/// A value as an object holds it.
#[derive(Debug, Clone)]
pub enum Stored {
    /// Its bytes, copied from the request.
    Inline(Box<[u8]>),
    /// A sealed memfd, shared by every holder (an object, replies waiting to be written).
    Shared(Rc<Shared>),
    /// Copied by a handoff into the down ring of the consumer waiting for it
    /// (docs/PROTOCOL.md §4.2).
    InRing(Rc<crate::rings::RingValue>),
}

impl Deref for Stored {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Stored::Inline(b) => b,
            Stored::Shared(s) => s.0.bytes(),
            Stored::InRing(r) => r.bytes(),
        }
    }
}

/// Values compare by their bytes, however they are held.
impl PartialEq for Stored {
    fn eq(&self, other: &Stored) -> bool {
        **self == **other
    }
}

impl Eq for Stored {}

impl From<Box<[u8]>> for Stored {
    fn from(b: Box<[u8]>) -> Stored {
        Stored::Inline(b)
    }
}

impl From<&[u8]> for Stored {
    fn from(b: &[u8]) -> Stored {
        Stored::Inline(b.into())
    }
}

impl Stored {
    /// The memfd behind this value, if it is one.
    pub fn shared(&self) -> Option<&Rc<Shared>> {
        match self {
            Stored::Shared(s) => Some(s),
            _ => None,
        }
    }
}

/// A sealed, validated memfd value, counted against [`MAX_SHARED_VALUES`] while it lives.
#[derive(Debug)]
pub struct Shared(SealedValue);

impl Shared {
    /// The descriptor, to pass to a client that negotiated `fds`.
    pub fn fd(&self) -> &Descriptor {
        self.0.fd()
    }

    /// The value's size in bytes.
    pub fn size(&self) -> usize {
        self.0.size()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        SHARED_VALUES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a descriptor sent as a value was refused.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// Not a sealed memfd of the announced size.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Its bytes are not one well-formed MessagePack value.
    #[error("the memfd's bytes are not one well-formed MessagePack value: {0}")]
    Invalid(String),
    /// Above what an inline value could be (`max_frame` less the reply's fields).
    #[error("value_len {len} is above max_frame less 64 bytes ({max} bytes): a memfd value is at most what an inline one can be, so that every reader can take it")]
    TooLarge {
        /// `value_len`.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// [`MAX_SHARED_VALUES`] reached.
    #[error("the broker holds {MAX_SHARED_VALUES} (MAX_SHARED_VALUES) memfd values already; send this one inline or later")]
    Full,
}

/// Checks a descriptor sent as a value of `len` bytes and takes it as one: a memfd sealed
/// against change, of exactly `len` bytes, at most `max` bytes, whose bytes are one
/// well-formed MessagePack value. The bytes are validated once here, through a read-only
/// mapping; the seals guarantee no peer can change them afterwards, so they are never checked
/// again (docs/SECURITY.md).
pub fn take(fd: Descriptor, len: u64, max: usize) -> Result<Stored, SharedError> {
    if len > max as u64 {
        return Err(SharedError::TooLarge { len, max });
    }
    if SHARED_VALUES.load(Ordering::Relaxed) >= MAX_SHARED_VALUES {
        return Err(SharedError::Full);
    }
    let sealed = SealedValue::open(fd, len)?;
    SHARED_VALUES.fetch_add(1, Ordering::Relaxed);
    let shared = Shared(sealed);
    value::validate(shared.0.bytes()).map_err(|e| SharedError::Invalid(e.to_string()))?;
    Ok(Stored::Shared(Rc::new(shared)))
}
