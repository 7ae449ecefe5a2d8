//! Queue ops: `queue.put`, `queue.get`, `queue.qsize`, `queue.task_done`, `queue.join`, and
//! acknowledged delivery: `queue.get_leased`, `queue.ack`, `queue.nack` (see the lease notes in
//! `objects/queue.rs`; a delivery's record in the waiter table holds its holder and deadline).

use xproc_protocol::{ErrorCode, ReplyFields, Wait};

use crate::dispatch::{as_joinable, as_queue, lookup, may_block, Ctx, Handled};
use crate::objects::item_charge;
use crate::stored::Stored;
use std::time::{Duration, Instant};

use crate::objects::queue::{Get, GetLeased, Join, NotInFlight, Put, TooManyTaskDone};
use crate::objects::WaiterId;
use crate::state::{leased_reply, Failure, NOBODY};
use crate::waiters::WaitOp;

/// `queue.put`: appends a value; blocks while the queue is full.
pub fn put(cx: &mut Ctx, name: &str, value: Stored, wait: Wait) -> Handled {
    cx.b.check_memory(item_charge(value.len()))?;
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_queue(obj, "queue.put")?;
    let before = q.bytes();
    let put = q.put(value, may_block(wait).then_some(wid), &mut cx.b.wakes);
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
        Get::Value(v) => cx.out.send_value(cx.caller, ReplyFields::ok(cx.id), &v),
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

/// `queue.get_leased`: takes the oldest item on a lease (it stays in the broker, in flight,
/// until acked); blocks while the queue is empty.
pub fn get_leased(cx: &mut Ctx, name: &str, wait: Wait, lease_ms: u64) -> Handled {
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_queue(obj, "queue.get_leased")?;
    let before = q.bytes();
    let got = q.get_leased(wid, lease_ms, may_block(wait), &mut cx.b.wakes);
    let after = q.bytes();
    let object = obj.name.clone();
    cx.b.account(before, after);
    match got {
        GetLeased::Leased { attempt } => {
            cx.b.lease(wid, cx.caller, object, lease_ms);
            let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.get_leased")?;
            let value = q
                .in_flight_value(wid)
                .ok_or_else(|| Failure::new(ErrorCode::Internal, "a lease without its item"))?;
            cx.out
                .send(cx.caller, &leased_reply(cx.id, value, wid, attempt));
        }
        GetLeased::Empty => {
            return Err(Failure::new(
                ErrorCode::Empty,
                format!("queue '{name}' is empty"),
            ))
        }
        GetLeased::Blocked => cx.block(wid, WaitOp::QueueGetLeased, object, wait),
    }
    Ok(())
}

/// Checks that the caller holds `delivery` on queue `name` (after the queue itself is checked,
/// so a missing or mistyped queue gets its own error).
fn held(cx: &mut Ctx, name: &str, delivery: u64, op: &str) -> Result<WaiterId, Failure> {
    as_queue(lookup(&mut cx.b.objects, name)?, op)?;
    let id = WaiterId(delivery);
    match cx.b.waiters.get(id) {
        Some(w) if w.op == WaitOp::Lease && w.conn == cx.caller && &*w.object == name => Ok(id),
        _ => Err(Failure::new(
            ErrorCode::UnknownDelivery,
            format!(
                "{op}: delivery {delivery} of queue '{name}' is not held by this connection: \
                 it was acked or nacked already, its lease ran out (the item went back to the \
                 queue), or it was never handed to this connection"
            ),
        )),
    }
}

fn not_in_flight(name: &str, delivery: u64) -> Failure {
    Failure::new(
        ErrorCode::UnknownDelivery,
        format!("delivery {delivery} of queue '{name}' is not in flight"),
    )
}

/// `queue.unlease`: a delivery this connection holds goes back to the head of the queue at
/// once (or straight to the first waiting getter), and its hand-over does not count as an
/// attempt: the client's caller never saw it — it gave up a `queue.get_leased` the broker had
/// already answered (an async future dropped while the reply was on its way), and a nack
/// would have charged that attempt, sending an item that is given up often enough to the
/// dead letters without anyone having tried it.
pub fn unlease(cx: &mut Ctx, name: &str, delivery: u64) -> Handled {
    let id = held(cx, name, delivery, "queue.unlease")?;
    let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.unlease")?;
    let before = q.bytes();
    let given_back = q.unlease(id, &mut cx.b.wakes);
    let after = q.bytes();
    cx.b.account(before, after);
    given_back.map_err(|NotInFlight| not_in_flight(name, delivery))?;
    cx.b.end_delivery(id);
    cx.ok();
    Ok(())
}

/// `queue.ack`: the delivered item is done and leaves the queue for good (a joinable queue
/// counts it as `task_done`).
pub fn ack(cx: &mut Ctx, name: &str, delivery: u64) -> Handled {
    ack_one(cx, name, delivery)?;
    cx.ok();
    Ok(())
}

/// Acks one delivery without replying (for `queue.ack` and `queue.ack_many`).
pub fn ack_one(cx: &mut Ctx, name: &str, delivery: u64) -> Handled {
    let id = held(cx, name, delivery, "queue.ack")?;
    let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.ack")?;
    let before = q.bytes();
    let acked = q.ack(id, &mut cx.b.wakes);
    let after = q.bytes();
    cx.b.account(before, after);
    acked.map_err(|NotInFlight| not_in_flight(name, delivery))?;
    cx.b.end_delivery(id);
    Ok(())
}

/// `queue.nack`: gives the item back — to the head of the queue at once, or after `delay_ms`;
/// to `NAME.dead` if this was its last attempt.
pub fn nack(cx: &mut Ctx, name: &str, delivery: u64, delay_ms: u64) -> Handled {
    let id = held(cx, name, delivery, "queue.nack")?;
    let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.nack")?;
    let before = q.bytes();
    let nacked = q.nack(id, delay_ms > 0, &mut cx.b.wakes);
    let after = q.bytes();
    cx.b.account(before, after);
    let delayed = nacked.map_err(|NotInFlight| not_in_flight(name, delivery))?;
    if delayed {
        // Held by nobody now: its record waits out the delay in the deadline table.
        let deadline = Instant::now().checked_add(Duration::from_millis(delay_ms));
        cx.b.waiters
            .convert(id, WaitOp::Delay, NOBODY, deadline, delay_ms);
        if let Some(s) = cx.b.session_mut(cx.caller) {
            s.leases.remove(&id);
        }
    } else {
        cx.b.end_delivery(id);
    }
    cx.b.route_dead_letters(name);
    cx.ok();
    Ok(())
}
