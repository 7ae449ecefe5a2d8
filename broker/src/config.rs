//! Every limit the broker enforces, as one [`Config`] with a named, documented field per limit.
//! The defaults say why they are what they are; `xprocd --help` shows them.

use std::path::PathBuf;
use std::time::Duration;

/// Largest frame payload accepted: 16 MiB. A 1 MiB value (a typical "large message") fits with
/// plenty of room for a batch of them in `dict.update`, while a hostile length prefix cannot
/// make the broker buffer more than this per connection.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Most connections at once: 1024, the usual soft `RLIMIT_NOFILE`; past it the broker would
/// run out of file descriptors anyway, and a clear error beats an `EMFILE` in the accept loop.
pub const DEFAULT_MAX_CLIENTS: usize = 1024;

/// Most objects at once: 65536. Far above any real deployment's set of named queues and locks,
/// low enough that a client creating names in a loop hits a clear error instead of eating
/// memory with empty objects.
pub const DEFAULT_MAX_OBJECTS: usize = 65536;

/// Bytes of values held across all objects: 1 GiB. Unbounded queues are the classic way a
/// local broker takes a machine down; a budget turns that into a `LimitExceeded` error.
pub const DEFAULT_MEMORY_LIMIT: usize = 1024 * 1024 * 1024;

/// Pending output above which the broker stops reading a connection until it drains: 8 MiB.
/// A client that pipelines requests without reading replies then waits on its own socket
/// rather than growing the broker's buffers.
pub const DEFAULT_OUTPUT_SOFT_LIMIT: usize = 8 * 1024 * 1024;

/// Pending output above which the connection is closed: 64 MiB. Reached only by a client that
/// stopped reading while replies kept coming (woken waiters, snapshots); it is logged at warn.
pub const DEFAULT_OUTPUT_HARD_LIMIT: usize = 64 * 1024 * 1024;

/// How long shutdown may spend flushing replies (`ShuttingDown` to blocked requests): 2 s, so
/// that a stuck client cannot hold up a `systemctl stop`.
pub const DEFAULT_SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// How the broker runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Socket path; `None` uses the default endpoint (docs/PROTOCOL.md §1).
    pub socket: Option<PathBuf>,
    /// Largest frame payload accepted, in bytes ([`DEFAULT_MAX_FRAME`]).
    pub max_frame: usize,
    /// Most connections at once ([`DEFAULT_MAX_CLIENTS`]).
    pub max_clients: usize,
    /// Most objects at once ([`DEFAULT_MAX_OBJECTS`]).
    pub max_objects: usize,
    /// Bytes of values held across all objects ([`DEFAULT_MEMORY_LIMIT`]).
    pub memory_limit: usize,
    /// Pending output that pauses reading a connection ([`DEFAULT_OUTPUT_SOFT_LIMIT`]).
    pub output_soft_limit: usize,
    /// Pending output that closes a connection ([`DEFAULT_OUTPUT_HARD_LIMIT`]).
    pub output_hard_limit: usize,
    /// Longest time shutdown spends flushing replies ([`DEFAULT_SHUTDOWN_FLUSH`]).
    pub shutdown_flush: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            socket: None,
            max_frame: DEFAULT_MAX_FRAME,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_objects: DEFAULT_MAX_OBJECTS,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            output_soft_limit: DEFAULT_OUTPUT_SOFT_LIMIT,
            output_hard_limit: DEFAULT_OUTPUT_HARD_LIMIT,
            shutdown_flush: DEFAULT_SHUTDOWN_FLUSH,
        }
    }
}

impl Config {
    /// The limits as sent in the `hello` reply.
    pub fn limits(&self) -> xproc_protocol::Limits {
        xproc_protocol::Limits {
            max_frame: self.max_frame as u64,
            max_clients: self.max_clients as u64,
            max_objects: self.max_objects as u64,
            memory_limit: self.memory_limit as u64,
        }
    }
}
