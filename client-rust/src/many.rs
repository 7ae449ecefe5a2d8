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

/// How often [`Client::wait`] looks at the socket of a direct pipe end (docs/PROTOCOL.md
/// §6.5.1) while it also waits at the broker for the other objects: a message on such an end
/// is noticed within this time.
pub const DIRECT_WAIT_SLICE: Duration = Duration::from_millis(5);

/// An object [`Client::wait`] can watch: a queue, a pipe end, an event, a lock or a semaphore.
pub trait Waitable {
    /// The object's name, and for a pipe the end it holds (`"a"`/`"b"`; `""` otherwise).
    fn wait_target(&self) -> (&str, &'static str);

    /// For a pipe end: the handle, whose readiness [`Client::wait`] checks itself once the
    /// pipe runs direct (the broker cannot see a direct pipe's socket). `None` otherwise.
    fn pipe_end(&self) -> Option<&RawPipe> {
        None
    }
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

    fn pipe_end(&self) -> Option<&RawPipe> {
        Some(self)
    }
}

impl<T: Serialize + DeserializeOwned> Waitable for Pipe<T> {
    fn wait_target(&self) -> (&str, &'static str) {
        self.raw().wait_target()
    }

    fn pipe_end(&self) -> Option<&RawPipe> {
        Some(self.raw())
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
        // Decoded from the reply in place (no copy of the value).
        self.get_any_with(names, timeout, |index, bytes| Ok((index, decode(bytes)?)))
    }

    /// [`get_any`](Self::get_any) over raw queues: the value's MessagePack bytes.
    pub fn get_any_raw(
        &self,
        queues: &[&RawQueue],
        timeout: Option<Duration>,
    ) -> Result<(usize, Vec<u8>)> {
        let names: Vec<&str> = queues.iter().map(|q| q.name()).collect();
        self.get_any_with(names, timeout, |index, bytes| Ok((index, bytes.to_vec())))
    }

    /// [`get_any`](Self::get_any) by queue names.
    pub fn get_any_names(
        &self,
        names: &[&str],
        timeout: Option<Duration>,
    ) -> Result<(usize, Vec<u8>)> {
        self.get_any_with(names.to_vec(), timeout, |index, bytes| {
            Ok((index, bytes.to_vec()))
        })
    }

    /// `queue.get_any` over `names`, handing the position and the value's bytes (borrowed
    /// from the reply) to `f`.
    fn get_any_with<R>(
        &self,
        names: Vec<&str>,
        timeout: Option<Duration>,
        f: impl FnOnce(usize, &[u8]) -> Result<R>,
    ) -> Result<R> {
        let wait = Wait::new(timeout);
        let count = names.len();
        let req = RequestFields {
            names: Some(names),
            timeout_ms: wait.timeout_ms,
            ..RequestFields::new(0, "queue.get_any")
        };
        self.exchange(req, wait.deadline, |r| {
            let value = value_of(r, "queue.get_any")?;
            let index = need(r.index, "queue.get_any", "index")? as usize;
            if index >= count {
                return Err(Error::Protocol(format!(
                    "queue.get_any: index {index} of {count} names"
                )));
            }
            f(index, value)
        })
    }

    /// Waits up to `timeout` (`None`: as long as it takes) until at least one of `objects` is
    /// ready, and returns the positions of those ready, ascending; empty when the timeout
    /// passed (`Some(Duration::ZERO)` only looks). Ready means: a queue holds an item, a pipe
    /// end has a message or is at end of file, an event is set, a lock is free, a semaphore is
    /// above 0. Nothing is taken or reserved: follow it with a non-blocking get or a bounded
    /// acquire, which may still find the object taken by someone faster.
    pub fn wait(&self, objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let remaining = || deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let direct = |i: &usize| objects[*i].pipe_end().is_some_and(RawPipe::is_direct);
        loop {
            // A pipe end that runs direct is watched here, on its socket; the rest at the
            // broker. With none direct (the usual case) this is one request, as it always was.
            let (local, remote): (Vec<usize>, Vec<usize>) = (0..objects.len()).partition(direct);
            let mut ready = Vec::new();
            for &i in &local {
                if objects[i]
                    .pipe_end()
                    .is_some_and(|p| p.poll(Duration::ZERO).unwrap_or(true))
                {
                    ready.push(i);
                }
            }
            // While a direct end is watched, the broker is asked in slices so that its socket
            // is looked at again every DIRECT_WAIT_SLICE.
            let slice = match (ready.is_empty(), local.is_empty()) {
                (false, _) => Some(Duration::ZERO),
                (true, true) => remaining(),
                (true, false) => {
                    Some(remaining().map_or(DIRECT_WAIT_SLICE, |r| r.min(DIRECT_WAIT_SLICE)))
                }
            };
            if remote.is_empty() {
                if ready.is_empty() && slice.is_some_and(|s| !s.is_zero()) {
                    // Only direct ends: sleep on the first one's socket for the slice.
                    let _ = objects[local[0]]
                        .pipe_end()
                        .map(|p| p.poll(slice.unwrap_or_default()));
                    continue;
                }
            } else {
                let subset: Vec<&dyn Waitable> = remote.iter().map(|&i| objects[i]).collect();
                for k in self.wait_at_broker(&subset, slice)? {
                    let i = remote[k];
                    // The broker calls a pipe end that has gone direct ready (§6.9): whether it
                    // is, its socket says, once this end has taken it (`poll` does).
                    match objects[i].pipe_end() {
                        Some(p) if !p.poll(Duration::ZERO).unwrap_or(true) => {}
                        _ => ready.push(i),
                    }
                }
            }
            ready.sort_unstable();
            if !ready.is_empty() || remaining().is_some_and(|r| r.is_zero()) {
                return Ok(ready);
            }
        }
    }

    /// One `wait` request for `objects` (none of them a direct pipe end this client knows of).
    fn wait_at_broker(
        &self,
        objects: &[&dyn Waitable],
        timeout: Option<Duration>,
    ) -> Result<Vec<usize>> {
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
