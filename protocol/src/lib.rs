//! The xproc wire protocol, shared by the broker and every client. Pure: no IO.
//!
//! # Layout
//!
//! - [`frame`]: the 4-byte length prefix; checks a buffer for a whole frame before anything
//!   allocates.
//! - [`value`]: checks that user values are one well-formed MessagePack value.
//! - [`request`]: requests on the wire ([`RequestFields`]) and checked ([`Request`]).
//! - `fields`: reads a request map's named fields, typing each only when its op reads it.
//! - [`reply`]: replies on the wire ([`ReplyFields`]) and the admin structs they carry.
//! - [`error`]: the stable error codes.
//! - [`kind`]: object kinds by wire name.
//! - [`auth`]: the authkey handshake of TCP connections and the heartbeat interval.
//! - [`idle`]: how long the broker and clients poll before sleeping (opt-in, adaptive).
//!
//! docs/PROTOCOL.md is the specification; this crate is its reference implementation.

#![warn(missing_docs)]

pub mod auth;
pub mod error;
mod fields;
pub mod frame;
pub mod idle;
pub mod kind;
pub mod reply;
pub mod request;
pub mod value;

pub use error::ErrorCode;
pub use kind::Kind;
pub use reply::{ClientInfo, Info, InfoValue, Limits, ObjectSummary, ReplyFields};
pub use request::{
    End, Name, OpenOptions, RawRequest, Request, RequestError, RequestFields, Target, Wait,
    CAP_DIRECT_PIPES, CAP_FDS, CAP_RINGS, DEFAULT_LEASE_MS, MAX_BATCH, MAX_WAIT_OBJECTS,
    SCAN_DEFAULT_COUNT, SCAN_MAX_BYTES, SCAN_MAX_COUNT,
};
pub use serde_bytes::Bytes;

/// The protocol version this crate speaks. A broker answers a `hello` with another version with
/// `BadVersion`.
pub const PROTOCOL_VERSION: u64 = 1;
