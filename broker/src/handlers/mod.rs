//! Request handlers, one file per family of ops. Each gets a [`Ctx`](crate::dispatch::Ctx)
//! and checked arguments, drives an object's state machine, and appends the reply (or records
//! the request as blocked). Errors come back as a [`Failure`](crate::state::Failure) that the
//! dispatcher turns into an error reply.

pub mod admin;
pub mod batch;
pub mod dict;
pub mod pipe;
pub mod queue;
pub mod sync;
pub mod wait;
