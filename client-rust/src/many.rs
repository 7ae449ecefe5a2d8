//! Waiting on many objects with one request (docs/PROTOCOL.md §6.9): [`Client::get_any`]
//! takes one value from the first of several queues to have one, and [`Client::wait`] reports
//! which of several queues, pipe ends, events, locks and semaphores are ready.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use xproc_protocol::RequestFields;

use crate::client::{need, value_of, Client};
use crate::codec::{decode, Wait};
use crate::error::{Error, Result};
use crate::{Event, Lock, Pipe, Queue, RawPipe, RawQueue, Semaphore};

/// An object [`Client::wait`] can watch: a queue, a pipe end, an event, a lock or a semaphore.
pub trait Waitable {
    /// The object's name, and for a pipe the end it holds (`"a"`/`"b"`; `""` otherwise).
    fn wait_target(&self) -> (&str, &'static str);
}

impl Waitable for RawQueue {
    fn wait_target(&self) -> (&str, &'static str) {
        (self.name(), "")
    }
}

impl<T: Serialize + DeserializeOwned> Waitable for Queue<T> {
    fn wait_target(&self) -> (&str, &'static str) {
        (self.name(), "")
    }
}

impl Waitable for RawPipe {
    fn wait_target(&self) -> (&str, &'static str) {
        (self.name(), self.end().as_str())
    }
}

impl<T: Serialize + DeserializeOwned> Waitable for Pipe<T> {
    fn wait_target(&self) -> (&str, &'static str) {
        self.raw().wait_target()
    }
}

impl Waitable for Event {
    fn wait_target(&self) -> (&str, &'static str) {
        (self.name(), "")
    }
}

impl Waitable for Lock {
    fn wait_target(&self) -> (&str, &'static str) {
        (self.name(), "")
    }
}

impl Waitable for Semaphore {
    fn wait_target(&self) -> (&str, &'static str) {
        (self.name(), "")
    }
}

impl Client {
    /// Takes the oldest value of the first of `queues` that has one and returns its position in
    /// `queues` with the value. If none has one, waits up to `timeout` (`None`: as long as it
    /// takes) for the first value put to any of them, in each queue's line with its other
    /// getters: exactly one value is taken. [`Error::Empty`] when not waiting
    /// (`Some(Duration::ZERO)`) and all are empty, [`Error::Timeout`] when the wait ran out;
    /// `NotFound` if one of them is deleted meanwhile. Each queue may appear once; at most
    /// [`MAX_WAIT_OBJECTS`](crate::protocol::MAX_WAIT_OBJECTS) of them.
    pub fn get_any<T: Serialize + DeserializeOwned>(
        &self,
        queues: &[&Queue<T>],
        timeout: Option<Duration>,
    ) -> Result<(usize, T)> {
        let names: Vec<&str> = queues.iter().map(|q| q.name()).collect();
        let (index, bytes) = self.get_any_names(&names, timeout)?;
        Ok((index, decode(&bytes)?))
    }

    /// [`get_any`](Self::get_any) over raw queues: the value's MessagePack bytes.
    pub fn get_any_raw(
        &self,
        queues: &[&RawQueue],
        timeout: Option<Duration>,
    ) -> Result<(usize, Vec<u8>)> {
        let names: Vec<&str> = queues.iter().map(|q| q.name()).collect();
        self.get_any_names(&names, timeout)
    }

    /// [`get_any`](Self::get_any) by queue names.
    pub fn get_any_names(
        &self,
        names: &[&str],
        timeout: Option<Duration>,
    ) -> Result<(usize, Vec<u8>)> {
        let wait = Wait::new(timeout);
        let req = RequestFields {
            names: Some(names.to_vec()),
            timeout_ms: wait.timeout_ms,
            ..RequestFields::new(0, "queue.get_any")
        };
        self.exchange(req, wait.deadline, |r| {
            let value = value_of(r, "queue.get_any")?.to_vec();
            let index = need(r.index, "queue.get_any", "index")? as usize;
            if index >= names.len() {
                return Err(Error::Protocol(format!(
                    "queue.get_any: index {index} of {} names",
                    names.len()
                )));
            }
            Ok((index, value))
        })
    }

    /// Waits up to `timeout` (`None`: as long as it takes) until at least one of `objects` is
    /// ready, and returns the positions of those ready, ascending; empty when the timeout
    /// passed (`Some(Duration::ZERO)` only looks). Ready means: a queue holds an item, a pipe
    /// end has a message or is at end of file, an event is set, a lock is free, a semaphore is
    /// above 0. Nothing is taken or reserved: follow it with a non-blocking get or a bounded
    /// acquire, which may still find the object taken by someone faster.
    pub fn wait(&self, objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>> {
        let (names, ends): (Vec<&str>, Vec<&str>) = objects.iter().map(|o| o.wait_target()).unzip();
        let any_pipe = ends.iter().any(|e| !e.is_empty());
        let wait = Wait::new(timeout);
        let req = RequestFields {
            names: Some(names),
            ends: any_pipe.then_some(ends),
            timeout_ms: wait.timeout_ms,
            ..RequestFields::new(0, "wait")
        };
        self.exchange(req, wait.deadline, |r| {
            let indices = need(r.indices.as_ref(), "wait", "indices")?;
            Ok(indices.iter().map(|&i| i as usize).collect())
        })
    }
}
