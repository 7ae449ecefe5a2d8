//! Queue ops: `queue.put`, `queue.get`, `queue.qsize`, `queue.task_done`, `queue.join`.

use xproc_protocol::{Bytes, ErrorCode, ReplyFields, Wait};

use crate::dispatch::{as_joinable, as_queue, lookup, may_block, Ctx, Handled};
use crate::objects::item_charge;
use crate::objects::queue::{Get, Join, Put, TooManyTaskDone};
use crate::state::Failure;
use crate::waiters::WaitOp;

/// `queue.put`: appends a value; blocks while the queue is full.
pub fn put(cx: &mut Ctx, name: &str, value: &[u8], wait: Wait) -> Handled {
    cx.b.check_memory(item_charge(value.len()))?;
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_queue(obj, "queue.put")?;
    let before = q.bytes();
    let put = q.put(
        value.into(),
        may_block(wait).then_some(wid),
        &mut cx.b.wakes,
    );
    let (after, maxsize) = (q.bytes(), q.maxsize());
    cx.b.memory = cx.b.memory - before + after;
    match put {
        Put::Done => cx.ok(),
        Put::Full => {
            return Err(Failure::new(
                ErrorCode::Full,
                format!("queue '{name}' is full (maxsize {maxsize})"),
            ))
        }
        Put::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::QueuePut, object, wait);
        }
    }
    Ok(())
}

/// `queue.get`: takes the oldest item; blocks while the queue is empty.
pub fn get(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_queue(obj, "queue.get")?;
    let before = q.bytes();
    let got = q.get(may_block(wait).then_some(wid), &mut cx.b.wakes);
    let after = q.bytes();
    cx.b.memory = cx.b.memory - before + after;
    match got {
        Get::Value(v) => {
            let r = ReplyFields {
                value: Some(Bytes::new(&v)),
                ..ReplyFields::ok(cx.id)
            };
            cx.out.send(cx.caller, &r);
        }
        Get::Empty => {
            return Err(Failure::new(
                ErrorCode::Empty,
                format!("queue '{name}' is empty"),
            ))
        }
        Get::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::QueueGet, object, wait);
        }
    }
    Ok(())
}

/// `queue.qsize`: length, maxsize and unfinished-task count.
pub fn qsize(cx: &mut Ctx, name: &str) -> Handled {
    let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.qsize")?;
    let r = ReplyFields {
        len: Some(q.len() as u64),
        maxsize: Some(q.maxsize()),
        unfinished: Some(q.unfinished()),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `queue.task_done`: marks one task done (joinable queues).
pub fn task_done(cx: &mut Ctx, name: &str) -> Handled {
    let q = as_joinable(lookup(&mut cx.b.objects, name)?, "queue.task_done")?;
    q.task_done(&mut cx.b.wakes).map_err(|TooManyTaskDone| {
        Failure::new(
            ErrorCode::InvalidArgument,
            format!("task_done called more times than items were put on '{name}'"),
        )
    })?;
    cx.ok();
    Ok(())
}

/// `queue.join`: waits until every task is done (joinable queues).
pub fn join(cx: &mut Ctx, name: &str, wait: Wait) -> Handled {
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_joinable(obj, "queue.join")?;
    match q.join(may_block(wait).then_some(wid)) {
        Join::Done => cx.ok(),
        Join::WouldBlock => {
            return Err(Failure::new(
                ErrorCode::Timeout,
                format!("queue '{name}' has {} unfinished tasks", q.unfinished()),
            ))
        }
        Join::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::QueueJoin, object, wait);
        }
    }
    Ok(())
}
