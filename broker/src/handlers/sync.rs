//! Sync primitive ops: locks and rlocks, conditions, semaphores, events and barriers.

use xproc_protocol::{ErrorCode, ReplyFields, Wait};

use crate::dispatch::{
    as_barrier, as_condition, as_event, as_lock, as_semaphore, lookup, may_block, Ctx, Handled,
};
use crate::objects::barrier::BarrierWait;
use crate::objects::event::EventWait;
use crate::objects::lock::{self, Lock};
use crate::objects::semaphore::{self, OverRelease};
use crate::objects::Owner;
use crate::state::Failure;
use crate::waiters::WaitOp;

fn not_owner(kind: &str, name: &str, l: &Lock) -> Failure {
    let message = match l.holder() {
        Some(h) => format!(
            "{kind} '{name}' is held by another connection (pid {}, conn {}), not by this one",
            h.pid, h.conn
        ),
        None => format!("{kind} '{name}' is not held"),
    };
    Failure::new(ErrorCode::NotOwner, message)
}

fn acquired(cx: &mut Ctx, acquired: bool, abandoned_by: Option<u32>) {
    let r = ReplyFields {
        acquired: Some(acquired),
        abandoned_by,
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
}

/// `lock.acquire` and `condition.acquire` differ only in the object they reach.
fn acquire_with(
    cx: &mut Ctx,
    name: &str,
    wait: Wait,
    op: WaitOp,
    acquire: impl FnOnce(
        &mut crate::state::Object,
        Owner,
        Option<crate::objects::WaiterId>,
    ) -> Result<lock::Acquire, Failure>,
) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let outcome = acquire(obj, owner, may_block(wait).then_some(wid))?;
    let object = obj.name.clone();
    cx.b.touch(cx.caller, &object);
    match outcome {
        lock::Acquire::Acquired { abandoned_by } => acquired(cx, true, abandoned_by),
        lock::Acquire::WouldBlock => acquired(cx, false, None),
        lock::Acquire::Blocked => cx.block(wid, op, object, wait),
    }
    Ok(())
}

/// `lock.acquire` (lock and rlock).
pub fn lock_acquire(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    acquire_with(cx, name, wait, WaitOp::LockAcquire, |obj, owner, w| {
        Ok(as_lock(obj, "lock.acquire")?.acquire(owner, w))
    })
}

/// `lock.release`: `NotOwner` unless the caller holds it.
pub fn lock_release(cx: &mut Ctx, name: &str) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let obj = lookup(&mut cx.b.objects, name)?;
    let kind = obj.kind.as_str();
    let l = as_lock(obj, "lock.release")?;
    if l.release(owner, &mut cx.b.wakes).is_err() {
        return Err(not_owner(kind, name, l));
    }
    cx.ok();
    Ok(())
}

/// `condition.acquire`: the condition's (reentrant) lock.
pub fn condition_acquire(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    acquire_with(cx, name, wait, WaitOp::ConditionAcquire, |obj, owner, w| {
        Ok(as_condition(obj, "condition.acquire")?.acquire(owner, w))
    })
}

/// `condition.release`.
pub fn condition_release(cx: &mut Ctx, name: &str) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let c = as_condition(lookup(&mut cx.b.objects, name)?, "condition.release")?;
    if c.release(owner, &mut cx.b.wakes).is_err() {
        return Err(not_owner("condition", name, c.lock()));
    }
    cx.ok();
    Ok(())
}

/// Releases the lock fully and waits for a notify; always answered through a wake, after the
/// lock is held again (possibly in this same turn, for a zero timeout and a free lock).
pub fn condition_wait(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let c = as_condition(obj, "condition.wait")?;
    if c.wait(owner, wid, may_block(wait), &mut cx.b.wakes)
        .is_err()
    {
        return Err(not_owner("condition", name, c.lock()));
    }
    let object = obj.name.clone();
    cx.block(wid, WaitOp::ConditionWait, object, wait);
    Ok(())
}

/// `condition.notify` and `condition.notify_all` (`n` = `u64::MAX`).
pub fn condition_notify(cx: &mut Ctx, name: &str, n: u64, op: &str) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let c = as_condition(lookup(&mut cx.b.objects, name)?, op)?;
    let woken = c
        .notify(owner, n, &mut cx.b.wakes)
        .map_err(|_| not_owner("condition", name, c.lock()))?;
    let r = ReplyFields {
        n: Some(woken as i64),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `semaphore.acquire` (both kinds).
pub fn semaphore_acquire(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let s = as_semaphore(obj, "semaphore.acquire")?;
    let outcome = s.acquire(owner, may_block(wait).then_some(wid));
    let object = obj.name.clone();
    cx.b.touch(cx.caller, &object);
    match outcome {
        semaphore::Acquire::Acquired => acquired(cx, true, None),
        semaphore::Acquire::WouldBlock => acquired(cx, false, None),
        semaphore::Acquire::Blocked => cx.block(wid, WaitOp::SemaphoreAcquire, object, wait),
    }
    Ok(())
}

/// `semaphore.release`: `InvalidArgument` above `initial` for a bounded one.
pub fn semaphore_release(cx: &mut Ctx, name: &str, n: u64) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let obj = lookup(&mut cx.b.objects, name)?;
    let kind = obj.kind;
    let s = as_semaphore(obj, "semaphore.release")?;
    s.release(owner, n, &mut cx.b.wakes)
        .map_err(|OverRelease { value, initial }| {
            Failure::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{kind} '{name}': releasing {n} would take its value from {value} above its initial value {initial}"
                ),
            )
        })?;
    cx.ok();
    Ok(())
}

/// `event.set`: wakes every waiter.
pub fn event_set(cx: &mut Ctx, name: &str) -> Handled {
    as_event(lookup(&mut cx.b.objects, name)?, "event.set")?.set(&mut cx.b.wakes);
    cx.ok();
    Ok(())
}

/// `event.clear`.
pub fn event_clear(cx: &mut Ctx, name: &str) -> Handled {
    as_event(lookup(&mut cx.b.objects, name)?, "event.clear")?.clear();
    cx.ok();
    Ok(())
}

/// `event.is_set`.
pub fn event_is_set(cx: &mut Ctx, name: &str) -> Handled {
    let set = as_event(lookup(&mut cx.b.objects, name)?, "event.is_set")?.is_set();
    cx.reply(&ReplyFields {
        set: Some(set),
        ..ReplyFields::ok(cx.id)
    });
    Ok(())
}

/// `event.wait`: answers at once if set, else waits.
pub fn event_wait(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    match as_event(obj, "event.wait")?.wait(may_block(wait).then_some(wid)) {
        EventWait::Now(set) => cx.reply(&ReplyFields {
            set: Some(set),
            ..ReplyFields::ok(cx.id)
        }),
        EventWait::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::EventWait, object, wait);
        }
    }
    Ok(())
}

fn broken(name: &str) -> Failure {
    Failure::new(
        ErrorCode::BrokenBarrier,
        format!("barrier '{name}' is broken"),
    )
}

/// `barrier.wait`: an index once `parties` have arrived; `BrokenBarrier` otherwise.
pub fn barrier_wait(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let b = as_barrier(obj, "barrier.wait")?;
    match b.wait(may_block(wait).then_some(wid), &mut cx.b.wakes) {
        BarrierWait::Index(i) => cx.reply(&ReplyFields {
            index: Some(i),
            ..ReplyFields::ok(cx.id)
        }),
        BarrierWait::Broken => return Err(broken(name)),
        BarrierWait::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::BarrierWait, object, wait);
        }
    }
    Ok(())
}

/// `barrier.abort`: breaks the barrier.
pub fn barrier_abort(cx: &mut Ctx, name: &str) -> Handled {
    as_barrier(lookup(&mut cx.b.objects, name)?, "barrier.abort")?.abort(&mut cx.b.wakes);
    cx.ok();
    Ok(())
}

/// `barrier.reset`: breaks current waits and makes the barrier usable again.
pub fn barrier_reset(cx: &mut Ctx, name: &str) -> Handled {
    as_barrier(lookup(&mut cx.b.objects, name)?, "barrier.reset")?.reset(&mut cx.b.wakes);
    cx.ok();
    Ok(())
}

/// `barrier.state`: parties, waiters and whether it is broken.
pub fn barrier_state(cx: &mut Ctx, name: &str) -> Handled {
    let b = as_barrier(lookup(&mut cx.b.objects, name)?, "barrier.state")?;
    let r = ReplyFields {
        parties: Some(b.parties()),
        n_waiting: Some(b.n_waiting()),
        broken: Some(b.broken()),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}
