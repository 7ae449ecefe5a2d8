//! The async client for tokio (feature `tokio`): the same objects and names as the blocking
//! client, as futures — `q.get().await`, `lock.lock().await` returning a guard,
//! `client.get_any(..).await`, `client.wait(..).await` — on the client's event descriptor
//! (`events.rs`) registered with tokio's reactor. Nothing runs behind the caller's back: no
//! runtime is started and no thread is spawned; the futures read the connection when polled.
//!
//! ```no_run
//! # async fn demo() -> xproc::Result<()> {
//! let c = xproc::aio::Client::new(xproc::Client::connect_default()?)?;
//! let jobs = c.queue::<String>("jobs")?;
//! let job = tokio::time::timeout(std::time::Duration::from_secs(5), jobs.get()).await;
//! let device = c.lock("device")?;
//! let _guard = device.lock().await?;                 // released on drop
//! # Ok(()) }
//! ```
//!
//! # Cancellation
//!
//! Timeouts come from the runtime (`tokio::time::timeout`, `select!`): dropping a future
//! cancels its request at the broker (docs/PROTOCOL.md §5 `cancel`), so it takes nothing. If
//! the broker had already answered when the cancel reached it, the client undoes what the
//! answer gave: a get's item goes back to the head of its queue (`queue.unget`), an acquired
//! lock or permit is released. That clean-up is driven by the next future polled on the client,
//! or, when none is, by a small task spawned on the current runtime.
//!
//! # Platforms
//!
//! Linux only: the futures wait on [`Client::event_fd`](crate::Client::event_fd), an epoll
//! descriptor registered with tokio's reactor (`AsyncFd`, a Unix type). The module is compiled
//! on Unix (elsewhere `aio::Client::new` fails as the event-loop API does) and not on Windows.
//!
//! # Limits
//!
//! Every pending future is one blocked request at the broker: at most `max_blocked` (1024 by
//! default) per connection; use more clients for more.

mod objects;

use std::collections::HashMap;
use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::unix::AsyncFd;
use xproc_protocol::RequestFields;

pub use objects::{Event, Guard, Lock, Queue, Semaphore};

use crate::client::{need, value_of, Reply};
use crate::codec::decode;
use crate::error::{Error, Result};
use crate::Waitable;

/// The client's event descriptor, for tokio's reactor (owned by the client: never closed
/// here).
struct EventFd(RawFd);

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// What to undo when a dropped future's request completes anyway.
#[derive(Debug, Clone)]
pub(crate) enum Undo {
    /// Nothing (its outcome takes nothing, or it is an internal request).
    Nothing,
    /// A get: put its item back at the head of this queue.
    Get(String),
    /// A `queue.get_any` over these queues: put its item back in the one `index` names.
    GetAny(Vec<String>),
    /// An acquire: release it (op `lock.release` or `semaphore.release`, object name).
    Acquire(&'static str, String),
}

/// Shared by an async client's handles and futures.
pub(crate) struct Core {
    /// Declared first so that it is dropped (deregistered) before the client that owns the
    /// descriptor.
    fd: AsyncFd<EventFd>,
    pub(crate) client: crate::Client,
    /// Tickets of dropped futures whose completion has not come yet, and what to undo.
    abandoned: Mutex<HashMap<u64, Undo>>,
    /// The tasks waiting for a completion, by ticket. Only one of them at a time is registered
    /// with the reactor (the *driver*: the last to poll); it reads for all and wakes those whose
    /// completion came, so a reply costs one wake-up, not one per waiting task.
    wakers: Mutex<HashMap<u64, Waker>>,
}

impl Core {
    fn abandoned(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Undo>> {
        self.abandoned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads what came and settles the completions of dropped futures; appends the tickets
    /// that finished to `finished`.
    fn process(&self, finished: &mut Vec<u64>) -> Result<()> {
        self.client.process_tickets(finished)?;
        let mut ab = self.abandoned();
        if ab.is_empty() {
            return Ok(());
        }
        let done: Vec<(u64, Undo, Result<Reply>)> = ab
            .iter()
            .filter_map(|(&t, undo)| self.client.take_completion(t).map(|r| (t, undo.clone(), r)))
            .collect();
        for (t, _, _) in &done {
            ab.remove(t);
        }
        drop(ab);
        for (_, undo, outcome) in done {
            let Ok(reply) = outcome else { continue };
            let Ok(r) = reply.fields() else { continue };
            let req = match (&undo, r.value, r.acquired) {
                (Undo::Get(q), Some(v), _) => Some(RequestFields {
                    name: Some(q.as_str().into()),
                    value: Some(v),
                    ..RequestFields::new(0, "queue.unget")
                }),
                (Undo::GetAny(qs), Some(v), _) => {
                    qs.get(r.index.unwrap_or(0) as usize)
                        .map(|q| RequestFields {
                            name: Some(q.as_str().into()),
                            value: Some(v),
                            ..RequestFields::new(0, "queue.unget")
                        })
                }
                (Undo::Acquire(op, name), _, Some(true)) => Some(RequestFields {
                    name: Some(name.as_str().into()),
                    ..RequestFields::new(0, op)
                }),
                _ => None,
            };
            if let Some(req) = req {
                let t = self.client.start(&req)?;
                self.abandoned().insert(t, Undo::Nothing);
            }
        }
        Ok(())
    }

    fn wakers(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waker>> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls for started request `ticket`'s completion: reads for every waiting task when the
    /// descriptor is ready, and wakes the tasks whose completions came.
    fn poll_complete(&self, ticket: u64, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        loop {
            if let Some(r) = self.client.take_completion(ticket) {
                let mut w = self.wakers();
                w.remove(&ticket);
                // This task may have been the driver: let another waiter take over.
                if let Some(next) = w.values().next() {
                    next.wake_by_ref();
                }
                return Poll::Ready(r);
            }
            self.wakers().insert(ticket, cx.waker().clone());
            let mut ready = match self.fd.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    return Poll::Ready(Err(Error::Disconnected(format!("event descriptor: {e}"))))
                }
                Poll::Ready(Ok(r)) => r,
            };
            let mut finished = Vec::new();
            if let Err(e) = self.process(&mut finished) {
                return Poll::Ready(Err(e));
            }
            ready.clear_ready();
            let w = self.wakers();
            for t in finished {
                if t != ticket {
                    if let Some(waker) = w.get(&t) {
                        waker.wake_by_ref();
                    }
                }
            }
        }
    }
}

/// The future of [`Core::poll_complete`].
struct Complete<'a> {
    core: &'a Core,
    ticket: u64,
}

impl Future for Complete<'_> {
    type Output = Result<Reply>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Reply>> {
        self.core.poll_complete(self.ticket, cx)
    }
}

impl Drop for Complete<'_> {
    fn drop(&mut self) {
        self.core.wakers().remove(&self.ticket);
    }
}

/// A started request: completes once; dropped early, it cancels at the broker.
pub(crate) struct Pending {
    core: Arc<Core>,
    ticket: u64,
    undo: Undo,
    done: bool,
}

impl Pending {
    pub(crate) fn start(core: &Arc<Core>, req: &RequestFields<'_>, undo: Undo) -> Result<Pending> {
        let ticket = core.client.start(req)?;
        Ok(Pending {
            core: core.clone(),
            ticket,
            undo,
            done: false,
        })
    }

    pub(crate) async fn reply(mut self) -> Result<Reply> {
        let r = Complete {
            core: &self.core,
            ticket: self.ticket,
        }
        .await;
        self.done = true;
        r
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let core = &self.core;
        if core.client.cancel(self.ticket).is_err() {
            return; // disconnected: the broker forgets the request itself
        }
        let first = {
            let mut ab = core.abandoned();
            let first = ab.is_empty();
            ab.insert(
                self.ticket,
                std::mem::replace(&mut self.undo, Undo::Nothing),
            );
            first
        };
        // Settle it even if no other future is polled on this client.
        if first {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let core = core.clone();
                rt.spawn(async move {
                    while !core.abandoned().is_empty() {
                        let Ok(mut ready) = core.fd.readable().await else {
                            return;
                        };
                        if core.process(&mut Vec::new()).is_err() {
                            return;
                        }
                        ready.clear_ready();
                    }
                });
            }
        }
    }
}

/// An async client: a blocking [`Client`](crate::Client) whose calls are futures. Cheap to
/// clone (shares the connection). Make it inside a tokio runtime (it registers with the
/// reactor).
#[derive(Clone)]
pub struct Client {
    core: Arc<Core>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("aio::Client")
            .field(&self.core.client)
            .finish()
    }
}

impl Client {
    /// Wraps a connected client; must be called from within a tokio runtime. The blocking
    /// client keeps working beside it (from other threads).
    pub fn new(client: crate::Client) -> Result<Client> {
        let fd = client.event_fd()?;
        // SAFETY: the descriptor belongs to `client`, which `Core` keeps alive (and drops
        // after the AsyncFd), and it is never closed or replaced while the client lives.
        let fd =
            unsafe { AsyncFd::register_with_interest(EventFd(fd), tokio::io::Interest::READABLE) }
                .map_err(|e| Error::Protocol(format!("cannot register with tokio: {e}")))?;
        Ok(Client {
            core: Arc::new(Core {
                client,
                fd,
                abandoned: Mutex::new(HashMap::new()),
                wakers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The blocking client underneath (admin calls, objects not offered here).
    pub fn blocking(&self) -> &crate::Client {
        &self.core.client
    }

    /// Opens (or creates) the queue `name` of `T`s (a quick blocking round trip).
    pub fn queue<T: Serialize + DeserializeOwned>(&self, name: &str) -> Result<Queue<T>> {
        Ok(Queue::new(&self.core, self.core.client.queue::<T>(name)?))
    }

    /// Opens (or creates) the lock `name`.
    pub fn lock(&self, name: &str) -> Result<Lock> {
        Ok(Lock::new(&self.core, self.core.client.lock(name)?))
    }

    /// Opens (or creates) the semaphore `name` with `initial` permits.
    pub fn semaphore(&self, name: &str, initial: u64) -> Result<Semaphore> {
        Ok(Semaphore::new(
            &self.core,
            self.core.client.semaphore(name, initial)?,
        ))
    }

    /// Opens (or creates) the event `name`.
    pub fn event(&self, name: &str) -> Result<Event> {
        Ok(Event::new(&self.core, self.core.client.event(name)?))
    }

    /// [`crate::Client::get_any`] as a future: the position in `queues` and the value of the
    /// first item of any of them. `timeout`: the broker's (`None`: as long as it takes); or
    /// drop the future (a runtime timeout) to give up, taking nothing.
    pub async fn get_any<T: Serialize + DeserializeOwned>(
        &self,
        queues: &[&Queue<T>],
        timeout: Option<Duration>,
    ) -> Result<(usize, T)> {
        let names: Vec<&str> = queues.iter().map(|q| q.name()).collect();
        let req = RequestFields {
            names: Some(names.clone()),
            timeout_ms: crate::codec::Wait::new(timeout).timeout_ms,
            ..RequestFields::new(0, "queue.get_any")
        };
        let undo = Undo::GetAny(names.iter().map(|n| n.to_string()).collect());
        let reply = Pending::start(&self.core, &req, undo)?.reply().await?;
        let r = reply.fields()?;
        let index = need(r.index, "queue.get_any", "index")? as usize;
        Ok((index, decode(value_of(&r, "queue.get_any")?)?))
    }

    /// [`crate::Client::wait`] as a future: the positions of the ready objects.
    pub async fn wait(
        &self,
        objects: &[&dyn Waitable],
        timeout: Option<Duration>,
    ) -> Result<Vec<usize>> {
        let ticket = self.core.client.start_wait(objects, timeout)?;
        let pending = Pending {
            core: self.core.clone(),
            ticket,
            undo: Undo::Nothing,
            done: false,
        };
        let reply = pending.reply().await?;
        let r = reply.fields()?;
        let indices = need(r.indices.as_ref(), "wait", "indices")?;
        Ok(indices.iter().map(|&i| i as usize).collect())
    }
}
