//! The kinds of object a broker holds, by their wire names.

/// An object's kind. The wire name is [`Kind::as_str`].
///
/// # Example
///
/// ```
/// use xproc_protocol::Kind;
///
/// assert_eq!(Kind::JoinableQueue.as_str(), "joinable_queue");
/// assert_eq!(Kind::parse("rlock"), Some(Kind::RLock));
/// assert_eq!(Kind::parse("queue.get"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A FIFO queue (`queue`).
    Queue,
    /// A queue with `task_done` and `join` (`joinable_queue`).
    JoinableQueue,
    /// A dictionary (`dict`).
    Dict,
    /// A pipe with two ends (`pipe`).
    Pipe,
    /// A lock, not reentrant (`lock`).
    Lock,
    /// A reentrant lock (`rlock`).
    RLock,
    /// A counting semaphore (`semaphore`).
    Semaphore,
    /// A semaphore that refuses a release above its initial value (`bounded_semaphore`).
    BoundedSemaphore,
    /// An event flag (`event`).
    Event,
    /// A condition variable with its own reentrant lock (`condition`).
    Condition,
    /// A barrier for a fixed number of parties (`barrier`).
    Barrier,
}

impl Kind {
    /// All kinds, in documentation order.
    pub const ALL: &'static [Kind] = &[
        Kind::Queue,
        Kind::JoinableQueue,
        Kind::Dict,
        Kind::Pipe,
        Kind::Lock,
        Kind::RLock,
        Kind::Semaphore,
        Kind::BoundedSemaphore,
        Kind::Event,
        Kind::Condition,
        Kind::Barrier,
    ];

    /// The kind's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Queue => "queue",
            Kind::JoinableQueue => "joinable_queue",
            Kind::Dict => "dict",
            Kind::Pipe => "pipe",
            Kind::Lock => "lock",
            Kind::RLock => "rlock",
            Kind::Semaphore => "semaphore",
            Kind::BoundedSemaphore => "bounded_semaphore",
            Kind::Event => "event",
            Kind::Condition => "condition",
            Kind::Barrier => "barrier",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
