//! The benchmark binary's one error type: a scenario either measures or says why it could not.

use thiserror::Error;

/// Why a scenario could not run to the end.
#[derive(Debug, Error)]
pub enum BenchError {
    /// A socket, pipe or child-process call failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The xproc client reported an error.
    #[error("xproc: {0}")]
    Xproc(#[from] xproc::Error),
    /// Redis answered something a scenario did not expect (an error reply, a wrong type).
    #[error("redis: {0}")]
    Redis(String),
    /// The raw echo peer broke the framing.
    #[error("echo: {0}")]
    Echo(String),
    /// A helper process misbehaved (did not start, said something unexpected, exited early).
    #[error("child process: {0}")]
    Child(String),
    /// The result line could not be written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
