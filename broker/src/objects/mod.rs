//! The objects a broker holds, one pure state machine per kind. No sockets, no clocks, no
//! replies: each machine takes an operation and says what happens, and when an operation
//! completes requests that were blocked on the object, it pushes a [`Wake`] for each of them
//! onto a caller-provided list. The broker turns those into replies.
//!
//! Blocked requests are known here only by their [`WaiterId`]. Ids grow with arrival, so an
//! ordered map keyed by id is a FIFO from which any waiter can also be removed in O(log n)
//! (on timeout or disconnect) — that is how every machine keeps "first come, first served".

pub mod arena;
pub mod barrier;
pub mod claim;
pub mod condition;
pub mod dict;
pub mod event;
pub mod lock;
pub mod pipe;
pub mod queue;
pub mod semaphore;

use xproc_protocol::ErrorCode;

/// Bytes charged against the memory budget for each queue item, pipe message or blocked
/// put/send on top of its value's bytes: its slot in the container and the allocator's
/// overhead for the value (about 48 bytes for a tiny value here, rounded up). Without it, a
/// flood of one-byte values would cost the broker far more memory than the budget says.
pub const ITEM_OVERHEAD: usize = 64;

/// Bytes charged for each dict entry on top of its key and value: a hash-table slot (at its
/// load factor, and the table's doubling), an order-map entry, the shared key's reference
/// counts, and two allocations — about 220 bytes for a small entry, measured by the flood
/// test (tests/tests/soak.rs), rounded up.
pub const DICT_ENTRY_OVERHEAD: usize = 256;

/// What a queue item or pipe message of `len` value bytes is charged.
pub fn item_charge(len: usize) -> usize {
    len + ITEM_OVERHEAD
}

/// What a dict entry with `key` and `value` bytes is charged.
pub fn dict_charge(key: usize, value: usize) -> usize {
    key + value + DICT_ENTRY_OVERHEAD
}

/// A blocked request. Allocated by the broker in arrival order, so comparing two ids compares
/// arrival times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaiterId(pub u64);

/// Who holds something (a lock, permits, a pipe end): a connection, and the pid its peer
/// credentials reported (for `abandoned_by` and for messages that name a holder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The connection id (unique for the broker's lifetime).
    pub conn: u64,
    /// The peer's process id.
    pub pid: u32,
}

/// How a blocked request completes; the broker encodes it as the reply to that request.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    /// Success with no result fields (`queue.put`, `queue.join`, `pipe.send`).
    Done,
    /// A value handed over (`queue.get`, `pipe.recv`), as stored: perhaps a memfd
    /// (docs/PROTOCOL.md §4.1).
    Value(crate::stored::Stored),
    /// The outcome of an acquire (lock, condition, semaphore).
    Acquired {
        /// Whether the acquire succeeded (false: its timeout passed).
        acquired: bool,
        /// Set when the lock's previous owner disconnected while holding it: that owner's pid.
        abandoned_by: Option<u32>,
    },
    /// The outcome of `condition.wait`, sent once the lock is held again.
    Notified {
        /// Whether a notify woke it (false: its timeout passed).
        notified: bool,
        /// As for `Acquired`.
        abandoned_by: Option<u32>,
    },
    /// The outcome of `event.wait`.
    Set(bool),
    /// The outcome of `pipe.poll`.
    Ready(bool),
    /// The index `barrier.wait` returns.
    Index(u64),
    /// The request fails with this code (`Timeout`, `Closed`, `BrokenBarrier`, ...).
    Fail(ErrorCode),
    /// A blocked `queue.put_many` fails with this code after its first `put` values went in.
    PartlyPut {
        /// `Timeout`.
        code: ErrorCode,
        /// Values put before it failed.
        put: u64,
    },
    /// A blocked `queue.get_leased` got an item, now in flight under the waiter's own id: the
    /// broker turns the waiter's record into the lease (deadline `lease_ms` from now) and
    /// answers with the value, that id as `delivery`, and `attempt`.
    Leased {
        /// Which leased delivery of the item this is (1-based).
        attempt: u32,
        /// The lease the getter asked for.
        lease_ms: u64,
    },
    /// A pipe op answered with `direct`: the pipe runs peer to peer; the end's socket comes
    /// with this reply (`Some`) or came with another (docs/PROTOCOL.md §6.5.1).
    Direct(Option<pipe::Handoff>),
    /// A lease ended without an ack (it ran out, or a nack's delay did): drop its record, and
    /// answer nobody.
    Forget,
}

/// Where machines put the wakes an operation causes. The broker reuses one list.
pub type Wakes = Vec<(WaiterId, Wake)>;
