//! Maps a checked [`Request`] to its handler, after the central checks every object op shares:
//! the object exists (`NotFound`) and is of a kind the op works on (`TypeMismatch`, naming the
//! object and both kinds). Handlers (in `handlers/`) then assume valid input; they append
//! replies through the [`Outbox`] and never touch a socket. After each request the wakes it
//! caused are delivered, so waiters are answered in the same loop turn.

use std::rc::Rc;

use xproc_protocol::{ErrorCode, Kind, ReplyFields, Request, Wait};

use crate::access;
use crate::handlers::{admin, batch, dict, pipe, queue, sync, wait};
use crate::objects::barrier::Barrier;
use crate::objects::condition::Condition;
use crate::objects::dict::Dict;
use crate::objects::event::Event;
use crate::objects::lock::Lock;
use crate::objects::pipe::Pipe;
use crate::objects::queue::Queue;
use crate::objects::semaphore::Semaphore;
use crate::objects::WaiterId;
use crate::state::{Body, Broker, ConnKey, Failure, Object, Outbox};
use crate::stored::Stored;
use crate::waiters::WaitOp;

/// What a handler works with: the broker, where replies go, and which request it answers.
pub struct Ctx<'a> {
    /// The broker state.
    pub b: &'a mut Broker,
    /// Where replies go.
    pub out: &'a mut dyn Outbox,
    /// The connection that sent the request.
    pub caller: ConnKey,
    /// The request id, echoed in the reply.
    pub id: u64,
}

/// A handler's result: `Ok` once it replied (or blocked the request), `Err` for an error reply.
pub type Handled = Result<(), Failure>;

impl Ctx<'_> {
    /// Sends `reply` to the caller.
    pub fn reply(&mut self, reply: &ReplyFields<'_>) {
        self.out.send(self.caller, reply);
    }

    /// Sends an empty success reply.
    pub fn ok(&mut self) {
        self.out.send(self.caller, &ReplyFields::ok(self.id));
    }

    /// Records the request as blocked under `wid` on `object`.
    pub fn block(&mut self, wid: WaiterId, op: WaitOp, object: Rc<str>, wait: Wait) {
        self.b.block(wid, self.caller, self.id, op, object, wait);
    }
}

/// Whether a request with this timeout may wait (`timeout_ms: 0` may not).
pub fn may_block(wait: Wait) -> bool {
    wait != Wait::Ms(0)
}

/// The wait of a request that may block, `None` for the others.
fn blocking_wait(req: &Request) -> Option<Wait> {
    use Request as R;
    match req {
        R::QueuePut { wait, .. }
        | R::QueueGet { wait, .. }
        | R::QueueJoin { wait, .. }
        | R::QueueGetLeased { wait, .. }
        | R::QueuePutMany { wait, .. }
        | R::QueueGetMany { wait, .. }
        | R::QueueGetManyLeased { wait, .. }
        | R::QueueGetAny { wait, .. }
        | R::Wait { wait, .. }
        | R::PipeSend { wait, .. }
        | R::PipeRecv { wait, .. }
        | R::PipePoll { wait, .. }
        | R::LockAcquire { wait, .. }
        | R::ConditionAcquire { wait, .. }
        | R::ConditionWait { wait, .. }
        | R::SemaphoreAcquire { wait, .. }
        | R::EventWait { wait, .. }
        | R::BarrierWait { wait, .. } => Some(*wait),
        _ => None,
    }
}

/// `max_blocked`: a connection with that many requests blocked gets `LimitExceeded` for any
/// further request that may block, before anything happens (no undo needed). Blocked requests
/// produce no reply, so nothing else would stop a client from piling them up.
fn check_blocked(b: &Broker, caller: ConnKey, req: &Request) -> Result<(), Failure> {
    if !blocking_wait(req).is_some_and(may_block) {
        return Ok(());
    }
    let blocked = b.session(caller).map_or(0, |s| s.waits.len());
    if blocked >= b.config.max_blocked {
        return Err(Failure::new(
            ErrorCode::LimitExceeded,
            format!(
                "max_blocked ({}) reached: this connection already has {blocked} requests \
                 blocked; wait for some to complete, or use another connection",
                b.config.max_blocked
            ),
        ));
    }
    Ok(())
}

/// A restricted key's rules (docs/SECURITY.md §7): `Denied`, naming the rule, for a name or
/// an op they do not grant, before anything happens. Local clients and unrestricted keys
/// have no rules and pass at the cost of one lookup.
fn check_access(b: &Broker, caller: ConnKey, req: &Request) -> Result<(), Failure> {
    let Some(rules) = b.session(caller).and_then(|s| s.rules.as_ref()) else {
        return Ok(());
    };
    let deny = |op: &str, name: &str, need| {
        rules.check(op, name, need).map_err(|message| {
            tracing::debug!(key = %rules.key, op, name, "denied by the key's rules");
            Failure::new(ErrorCode::Denied, message)
        })
    };
    if let Some((op, names, need)) = access::needs_each(req) {
        return names.iter().try_for_each(|name| deny(op, name, need));
    }
    match access::needs(req, |n| b.objects.contains_key(n)) {
        Some((op, name, need)) => deny(op, name, need),
        None => Ok(()),
    }
}

/// The object a request may make ready for a `wait` (an item, a message, end of file, a
/// release, a set), `None` for the others.
fn readies<'r>(req: &Request<'r>) -> Option<&'r str> {
    use Request as R;
    match req {
        R::QueuePut { name, .. }
        | R::QueuePutMany { name, .. }
        | R::QueueUnget { name, .. }
        | R::QueueUnlease { name, .. }
        | R::QueueNack { name, .. }
        | R::PipeSend { name, .. }
        | R::PipeClose { name, .. }
        // A recv, a poll or an open that claims an end may switch a pipe to direct.
        | R::PipeRecv { name, .. }
        | R::PipePoll { name, .. }
        | R::Open { name, .. }
        | R::LockRelease { name }
        | R::SemaphoreRelease { name, .. }
        | R::EventSet { name } => Some(name),
        _ => None,
    }
}

/// Handles one request of connection `caller` (the handshake is done).
pub fn dispatch(b: &mut Broker, out: &mut dyn Outbox, caller: ConnKey, id: u64, req: Request) {
    dispatch_shared(b, out, caller, id, req, None)
}

/// [`dispatch`] for a request whose value came as a sealed memfd (`shared`; the request's own
/// `value` is then empty: docs/PROTOCOL.md §4.1).
pub fn dispatch_shared(
    b: &mut Broker,
    out: &mut dyn Outbox,
    caller: ConnKey,
    id: u64,
    req: Request,
    shared: Option<Stored>,
) {
    let mut cx = Ctx { b, out, caller, id };
    let touched = readies(&req);
    let result = check_access(cx.b, caller, &req)
        .and_then(|()| check_blocked(cx.b, caller, &req))
        .and_then(|()| route(&mut cx, req, shared));
    if let Err(f) = result {
        tracing::debug!(id, code = %f.code, message = %f.message, "error reply");
        cx.out
            .send(caller, &ReplyFields::err(id, f.code, &f.message));
    }
    if let Some(name) = touched {
        cx.b.touch_ready(name);
    }
    cx.b.deliver(cx.out);
}

fn route(cx: &mut Ctx, req: Request, shared: Option<Stored>) -> Handled {
    use Request as R;
    match req {
        R::Hello {
            client,
            lang,
            pid,
            fds,
            direct_pipes,
            rings,
            ..
        } => admin::hello(cx, client, lang, pid, fds, direct_pipes, rings),
        // `ring.open` is the connection's (server.rs); `ring.free`'s regions were freed when
        // the connection admitted it.
        R::Ping | R::RingOpen | R::RingFree => {
            cx.ok();
            Ok(())
        }
        R::Cancel { target } => {
            let cancelled = cx.b.cancel(cx.caller, target, cx.out);
            cx.reply(&ReplyFields {
                cancelled: Some(cancelled),
                ..ReplyFields::ok(cx.id)
            });
            Ok(())
        }
        R::List => admin::list(cx),
        R::Scan { after, count } => admin::scan(cx, after, count),
        R::Clients => admin::clients(cx),
        R::Stat { name } => admin::stat(cx, name),
        R::Delete { name } => admin::delete(cx, name),
        R::Open {
            name,
            kind,
            options,
        } => admin::open(cx, name, kind, options),

        R::QueuePut { name, value, wait } => {
            queue::put(cx, name, shared.unwrap_or_else(|| value.into()), wait)
        }
        R::QueueGet { name, wait } => queue::get(cx, name, wait),
        R::QueueQsize { name } => queue::qsize(cx, name),
        R::QueueTaskDone { name } => queue::task_done(cx, name),
        R::QueueJoin { name, wait } => queue::join(cx, name, wait),
        R::QueueGetLeased {
            name,
            wait,
            lease_ms,
        } => queue::get_leased(cx, name, wait, lease_ms),
        R::QueueAck { name, delivery } => queue::ack(cx, name, delivery),
        R::QueueNack {
            name,
            delivery,
            delay_ms,
        } => queue::nack(cx, name, delivery, delay_ms),
        R::QueueUnlease { name, delivery } => queue::unlease(cx, name, delivery),
        R::QueuePutMany { name, values, wait } => batch::put_many(cx, name, &values, wait),
        R::QueueGetMany { name, max, wait } => batch::get_many(cx, name, max, wait),
        R::QueueGetManyLeased {
            name,
            max,
            wait,
            lease_ms,
        } => batch::get_many_leased(cx, name, max, wait, lease_ms),
        R::QueueAckMany { name, deliveries } => batch::ack_many(cx, name, &deliveries),
        R::QueueGetAny { names, wait: w } => wait::get_any(cx, &names, w),
        R::QueueUnget { name, value } => wait::unget(cx, name, value),
        R::Wait { targets, wait: w } => wait::wait(cx, &targets, w),

        R::DictGet { name, key } => dict::get(cx, name, key),
        R::DictSet { name, key, value } => {
            dict::set(cx, name, key, shared.unwrap_or_else(|| value.into()))
        }
        R::DictDelete { name, key } => dict::delete(cx, name, key),
        R::DictContains { name, key } => dict::contains(cx, name, key),
        R::DictLen { name } => dict::len(cx, name),
        R::DictKeys { name } => dict::keys(cx, name),
        R::DictValues { name } => dict::values(cx, name),
        R::DictItems { name } => dict::items(cx, name),
        R::DictUpdate { name, items } => dict::update(cx, name, &items),
        R::DictGetMany { name, keys } => dict::get_many(cx, name, &keys),
        R::DictPop { name, key } => dict::pop(cx, name, key),
        R::DictPopItem { name } => dict::popitem(cx, name),
        R::DictSetDefault { name, key, value } => dict::setdefault(cx, name, key, value),
        R::DictClear { name } => dict::clear(cx, name),
        R::DictScan {
            name,
            cursor,
            count,
        } => dict::scan(cx, name, cursor, count),
        R::DictIncr { name, key, delta } => dict::incr(cx, name, key, delta),
        R::DictCompareAndSet {
            name,
            key,
            expected,
            value,
        } => dict::compare_and_set(cx, name, key, expected, value),

        R::PipeSend {
            name,
            end,
            value,
            wait,
        } => pipe::send(cx, name, end, shared.unwrap_or_else(|| value.into()), wait),
        R::PipeRecv { name, end, wait } => pipe::recv(cx, name, end, wait),
        R::PipePoll { name, end, wait } => pipe::poll(cx, name, end, wait),
        R::PipeClose { name, end } => pipe::close(cx, name, end),

        R::LockAcquire { name, wait } => sync::lock_acquire(cx, name, wait),
        R::LockRelease { name } => sync::lock_release(cx, name),
        R::ConditionAcquire { name, wait } => sync::condition_acquire(cx, name, wait),
        R::ConditionRelease { name } => sync::condition_release(cx, name),
        R::ConditionWait { name, wait } => sync::condition_wait(cx, name, wait),
        R::ConditionNotify { name, n } => sync::condition_notify(cx, name, n, "condition.notify"),
        R::ConditionNotifyAll { name } => {
            sync::condition_notify(cx, name, u64::MAX, "condition.notify_all")
        }
        R::SemaphoreAcquire { name, wait } => sync::semaphore_acquire(cx, name, wait),
        R::SemaphoreRelease { name, n } => sync::semaphore_release(cx, name, n),
        R::EventSet { name } => sync::event_set(cx, name),
        R::EventClear { name } => sync::event_clear(cx, name),
        R::EventIsSet { name } => sync::event_is_set(cx, name),
        R::EventWait { name, wait } => sync::event_wait(cx, name, wait),
        R::BarrierWait { name, wait } => sync::barrier_wait(cx, name, wait),
        R::BarrierAbort { name } => sync::barrier_abort(cx, name),
        R::BarrierReset { name } => sync::barrier_reset(cx, name),
        R::BarrierState { name } => sync::barrier_state(cx, name),
    }
}

/// The object named `name`, or `NotFound`.
pub fn lookup<'o>(
    objects: &'o mut std::collections::HashMap<Rc<str>, Object>,
    name: &str,
) -> Result<&'o mut Object, Failure> {
    objects.get_mut(name).ok_or_else(|| {
        Failure::new(
            ErrorCode::NotFound,
            format!("no object named '{name}' (objects are created by open)"),
        )
    })
}

/// `TypeMismatch` for `op` on an object of another kind.
pub fn mismatch(op: &str, wanted: &str, obj: &Object) -> Failure {
    Failure::new(
        ErrorCode::TypeMismatch,
        format!(
            "{op} needs a {wanted}, but '{}' is a {}",
            obj.name, obj.kind
        ),
    )
}

macro_rules! accessor {
    ($(#[$doc:meta])* $fn:ident, $variant:ident, $ty:ty, $wanted:literal) => {
        $(#[$doc])*
        /// Checked access to the object's state machine; `TypeMismatch` for another kind.
        pub fn $fn<'o>(obj: &'o mut Object, op: &str) -> Result<&'o mut $ty, Failure> {
            // Checked first: returning the borrow from one arm and using `obj` in the other is
            // a case the borrow checker does not accept yet.
            if !matches!(obj.body, Body::$variant(_)) {
                return Err(mismatch(op, $wanted, obj));
            }
            match &mut obj.body {
                Body::$variant(x) => Ok(x),
                _ => Err(Failure::new(ErrorCode::Internal, "object kind changed")),
            }
        }
    };
}

accessor!(
    /// A `queue` or `joinable_queue`.
    as_queue, Queue, Queue, "queue or joinable_queue"
);
accessor!(as_dict, Dict, Dict, "dict");
accessor!(as_pipe, Pipe, Pipe, "pipe");
accessor!(
    /// A `lock` or `rlock`.
    as_lock, Lock, Lock, "lock or rlock"
);
accessor!(
    /// A `semaphore` or `bounded_semaphore`.
    as_semaphore, Semaphore, Semaphore, "semaphore or bounded_semaphore"
);
accessor!(as_event, Event, Event, "event");
accessor!(as_condition, Condition, Condition, "condition");
accessor!(as_barrier, Barrier, Barrier, "barrier");

/// A `joinable_queue` (for `task_done` and `join`).
pub fn as_joinable<'o>(obj: &'o mut Object, op: &str) -> Result<&'o mut Queue, Failure> {
    if obj.kind != Kind::JoinableQueue {
        return Err(mismatch(op, "joinable_queue", obj));
    }
    as_queue(obj, op)
}
