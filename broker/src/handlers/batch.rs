//! Batch queue ops: `queue.put_many`, `queue.get_many`, `queue.get_many_leased`,
//! `queue.ack_many` — many items for one request, one reply, one pass through the loop. They
//! drive the same queue machine as the single-item ops, so order, bounds, leases and the
//! memory budget behave exactly as if the items had come one by one.

use xproc_protocol::{Bytes, ErrorCode, ReplyFields, Wait};

use crate::dispatch::{as_queue, lookup, may_block, Ctx, Handled};
use crate::objects::item_charge;
use crate::objects::queue::{Get, GetLeased, PutMany};
use crate::state::Failure;
use crate::stored::Stored;
use crate::waiters::WaitOp;

/// `queue.put_many`: puts every value in order; once the queue is full the rest wait (as one
/// blocked put) or, not waiting, are refused with `Full` and `put` (how many went in).
pub fn put_many(cx: &mut Ctx, name: &str, values: &[&[u8]], wait: Wait) -> Handled {
    let charge = values.iter().map(|v| item_charge(v.len())).sum();
    cx.b.check_memory(charge)?;
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_queue(obj, "queue.put_many")?;
    let before = q.bytes();
    let owned = values.iter().map(|&v| Stored::from(v)).collect();
    let done = q.put_many(owned, may_block(wait).then_some(wid), &mut cx.b.wakes);
    let (after, maxsize) = (q.bytes(), q.maxsize());
    let object = obj.name.clone();
    cx.b.account(before, after);
    match done {
        PutMany::Done => cx.ok(),
        PutMany::Full { put } => {
            let message = format!(
                "queue '{name}' is full (maxsize {maxsize}): {put} of {} values were put",
                values.len()
            );
            cx.reply(&ReplyFields {
                put: Some(put),
                ..ReplyFields::err(cx.id, ErrorCode::Full, &message)
            });
        }
        PutMany::Blocked => cx.block(wid, WaitOp::QueuePutMany, object, wait),
    }
    Ok(())
}

/// Bytes of values one batch reply carries at most (it always carries at least one item): the
/// broker's `max_frame`, so a batch reply is never much larger than a request may be.
fn batch_bytes(cx: &Ctx) -> usize {
    cx.b.config.max_frame
}

/// `queue.get_many`: takes up to `max` items (and at most [`batch_bytes`] of values); blocks
/// while the queue is empty, and is then answered with the first item that comes.
pub fn get_many(cx: &mut Ctx, name: &str, max: u64, wait: Wait) -> Handled {
    let limit = batch_bytes(cx);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let q = as_queue(obj, "queue.get_many")?;
    let before = q.bytes();
    let mut taken: Vec<Stored> = Vec::new();
    let mut bytes = 0;
    while (taken.len() as u64) < max && (taken.is_empty() || bytes < limit) {
        match q.get(None, &mut cx.b.wakes) {
            Get::Value(v) => {
                bytes += v.len();
                taken.push(v);
            }
            Get::Empty | Get::Blocked => break,
        }
    }
    let blocked =
        taken.is_empty() && may_block(wait) && q.get(Some(wid), &mut cx.b.wakes) == Get::Blocked;
    let after = q.bytes();
    let object = obj.name.clone();
    cx.b.account(before, after);
    if blocked {
        cx.block(wid, WaitOp::QueueGetMany, object, wait);
        return Ok(());
    }
    if taken.is_empty() {
        return Err(Failure::new(
            ErrorCode::Empty,
            format!("queue '{name}' is empty"),
        ));
    }
    let values = taken.iter().map(|v| Some(Bytes::new(v))).collect();
    cx.reply(&ReplyFields {
        values: Some(values),
        ..ReplyFields::ok(cx.id)
    });
    Ok(())
}

/// `queue.get_many_leased`: leases up to `max` items, each under its own delivery id; blocks
/// while the queue is empty, and is then answered with the first item that comes.
pub fn get_many_leased(cx: &mut Ctx, name: &str, max: u64, wait: Wait, lease_ms: u64) -> Handled {
    let limit = batch_bytes(cx);
    let mut leased = Vec::new();
    let mut bytes = 0;
    while (leased.len() as u64) < max && (leased.is_empty() || bytes < limit) {
        let wid = cx.b.waiters.next_id();
        let obj = lookup(&mut cx.b.objects, name)?;
        let q = as_queue(obj, "queue.get_many_leased")?;
        let before = q.bytes();
        let got = q.get_leased(wid, lease_ms, false, &mut cx.b.wakes);
        let after = q.bytes();
        let object = obj.name.clone();
        cx.b.account(before, after);
        match got {
            GetLeased::Leased { attempt } => {
                bytes += q_value_len(cx, name, wid);
                cx.b.lease(wid, cx.caller, object, lease_ms);
                leased.push((wid, attempt));
            }
            GetLeased::Empty | GetLeased::Blocked => break,
        }
    }
    if leased.is_empty() {
        let wid = cx.b.waiters.next_id();
        let obj = lookup(&mut cx.b.objects, name)?;
        let q = as_queue(obj, "queue.get_many_leased")?;
        if may_block(wait)
            && q.get_leased(wid, lease_ms, true, &mut cx.b.wakes) == GetLeased::Blocked
        {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::QueueGetManyLeased, object, wait);
            return Ok(());
        }
        return Err(Failure::new(
            ErrorCode::Empty,
            format!("queue '{name}' is empty"),
        ));
    }
    let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.get_many_leased")?;
    let mut values = Vec::with_capacity(leased.len());
    for &(wid, _) in &leased {
        let v = q
            .in_flight_value(wid)
            .ok_or_else(|| Failure::new(ErrorCode::Internal, "a lease without its item"))?;
        values.push(Some(Bytes::new(v)));
    }
    let r = ReplyFields {
        values: Some(values),
        deliveries: Some(leased.iter().map(|(w, _)| w.0).collect()),
        attempts: Some(leased.iter().map(|(_, a)| u64::from(*a)).collect()),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

fn q_value_len(cx: &mut Ctx, name: &str, wid: crate::objects::WaiterId) -> usize {
    match lookup(&mut cx.b.objects, name).and_then(|o| as_queue(o, "queue.get_many_leased")) {
        Ok(q) => q.in_flight_value(wid).map_or(0, <[u8]>::len),
        Err(_) => 0,
    }
}

/// `queue.ack_many`: acks every delivery this connection holds on the queue; the others are
/// listed in `unknown` (acked already, lease ran out, never handed out here) and change
/// nothing.
pub fn ack_many(cx: &mut Ctx, name: &str, deliveries: &[u64]) -> Handled {
    as_queue(lookup(&mut cx.b.objects, name)?, "queue.ack_many")?;
    let mut unknown = Vec::new();
    for &d in deliveries {
        if super::queue::ack_one(cx, name, d).is_err() {
            unknown.push(d);
        }
    }
    cx.reply(&ReplyFields {
        unknown: Some(unknown),
        ..ReplyFields::ok(cx.id)
    });
    Ok(())
}
