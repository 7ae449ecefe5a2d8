//! Waits over many objects: `queue.get_any` (one item from the first of several queues to have
//! one) and `wait` (readiness of queues, pipe ends, events, locks and semaphores); and
//! `queue.unget`, which async clients use to give back an item a cancelled get received. The set is
//! checked whole before anything happens, so a bad set takes nothing and registers nothing;
//! a blocked request is one waiter record (see `multi.rs`).

use xproc_protocol::{Bytes, ErrorCode, Kind, ReplyFields, Target, Wait};

use crate::dispatch::{as_queue, lookup, may_block, Ctx, Handled};
use crate::multi::{ready_indices, MultiKind, MultiWait, MULTI_ENTRY_OVERHEAD};
use crate::objects::claim::Claim;
use crate::objects::item_charge;
use crate::objects::queue::{Get, Item};
use crate::state::{Body, Failure};
use crate::waiters::WaitOp;

/// `'a', 'b', 'c'` (and how many more), for messages about a set of names.
fn some_names(names: &[&str]) -> String {
    let shown: Vec<String> = names.iter().take(3).map(|n| format!("'{n}'")).collect();
    match names.len() {
        n if n > 3 => format!("{}, and {} more", shown.join(", "), n - 3),
        _ => shown.join(", "),
    }
}

/// `queue.get_any`: takes the oldest item of the first queue in `names` that has one; if none
/// has, waits as one getter in every queue's FIFO until the first of them hands it an item.
pub fn get_any(cx: &mut Ctx, names: &[&str], wait: Wait) -> Handled {
    // Every name is checked before anything is taken; the same pass finds the first queue
    // with an item, so the common case looks each name up once (and that one twice).
    let mut first = names.len();
    for (index, name) in names.iter().enumerate() {
        let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.get_any")?;
        if first == names.len() && !q.is_empty() {
            first = index;
        }
    }
    for (index, name) in names.iter().enumerate().skip(first) {
        let Some(Body::Queue(q)) = cx.b.objects.get_mut(*name).map(|o| &mut o.body) else {
            continue;
        };
        if q.is_empty() {
            continue;
        }
        let before = q.bytes();
        let got = q.get(None, &mut cx.b.wakes);
        let after = q.bytes();
        cx.b.account(before, after);
        if let Get::Value(v) = got {
            let r = ReplyFields {
                value: Some(Bytes::new(&v)),
                index: Some(index as u64),
                ..ReplyFields::ok(cx.id)
            };
            cx.reply(&r);
            return Ok(());
        }
    }
    if !may_block(wait) {
        return Err(Failure::new(
            ErrorCode::Empty,
            format!("none of the queues {} has an item", some_names(names)),
        ));
    }
    cx.b.check_memory(names.len() * MULTI_ENTRY_OVERHEAD)?;
    let wid = cx.b.waiters.next_id();
    let claim = Claim::new();
    let mut targets = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let Some(obj) = cx.b.objects.get_mut(*name) else {
            continue;
        };
        if let Body::Queue(q) = &mut obj.body {
            q.wait_any(wid, claim.clone(), index as u32);
            targets.push((obj.name.clone(), None));
        }
    }
    let first = targets[0].0.clone();
    cx.block(wid, WaitOp::QueueGetAny, first, wait);
    cx.b.multi.insert(
        wid,
        MultiWait {
            kind: MultiKind::Any(claim),
            targets,
        },
    );
    Ok(())
}

/// `queue.unget`: puts `value` back at the head of the queue (or straight to the first
/// waiting getter), past `maxsize`: the value was admitted when it was first put, and a client
/// whose caller gave up a get the broker had already answered (an async future dropped while
/// the reply was on its way) returns it here, so that nothing is lost and FIFO order holds.
pub fn unget(cx: &mut Ctx, name: &str, value: &[u8]) -> Handled {
    cx.b.check_memory(item_charge(value.len()))?;
    let q = as_queue(lookup(&mut cx.b.objects, name)?, "queue.unget")?;
    let before = q.bytes();
    q.requeue(
        Item {
            value: value.into(),
            attempts: 0,
        },
        &mut cx.b.wakes,
    );
    let after = q.bytes();
    cx.b.account(before, after);
    cx.ok();
    Ok(())
}

/// Checks one `wait` target: an object of a kind `wait` watches; for a pipe, an end this
/// connection holds and may receive at.
fn check_target(cx: &mut Ctx, i: usize, t: &Target) -> Handled {
    let conn = cx.caller.id;
    let obj = lookup(&mut cx.b.objects, t.name)?;
    let name = t.name;
    match (&obj.body, t.end) {
        (Body::Pipe(_), None) => Err(Failure::new(
            ErrorCode::InvalidArgument,
            format!("names[{i}] '{name}' is a pipe: ends[{i}] must say which end (\"a\" or \"b\") to watch"),
        )),
        (Body::Pipe(p), Some(end)) => {
            let e = end.as_str();
            if p.holder(end).is_none_or(|h| h.conn != conn) {
                return Err(Failure::new(
                    ErrorCode::NotOwner,
                    format!("pipe '{name}' end {e} is not held by this connection (open it with end \"{e}\")"),
                ));
            }
            if !p.duplex() && e == "a" {
                return Err(Failure::new(
                    ErrorCode::InvalidArgument,
                    format!("pipe '{name}' is one-way (duplex false): end a never receives"),
                ));
            }
            Ok(())
        }
        (_, Some(_)) => Err(Failure::new(
            ErrorCode::InvalidArgument,
            format!("ends[{i}] must be \"\": names[{i}] '{name}' is a {}, not a pipe", obj.kind),
        )),
        (Body::Queue(_) | Body::Event(_) | Body::Lock(_) | Body::Semaphore(_), None) => Ok(()),
        (_, None) => Err(Failure::new(
            ErrorCode::TypeMismatch,
            format!(
                "wait watches queues, pipe ends, events, locks and semaphores, but names[{i}] \
                 '{name}' is a {}",
                obj.kind
            ),
        )),
    }
}

/// `wait`: answers with the positions of the targets that are ready now; if none is, waits
/// until one becomes ready (or the timeout passes: `indices: []`). Takes nothing.
pub fn wait(cx: &mut Ctx, targets: &[Target], wait: Wait) -> Handled {
    for (i, t) in targets.iter().enumerate() {
        check_target(cx, i, t)?;
    }
    let mut resolved = Vec::with_capacity(targets.len());
    for t in targets {
        if let Some(obj) = cx.b.objects.get(t.name) {
            let end = (obj.kind == Kind::Pipe).then_some(t.end).flatten();
            resolved.push((obj.name.clone(), end));
        }
    }
    let indices = ready_indices(cx.b, &resolved);
    if !indices.is_empty() || !may_block(wait) {
        let r = ReplyFields {
            indices: Some(indices),
            ..ReplyFields::ok(cx.id)
        };
        cx.reply(&r);
        return Ok(());
    }
    cx.b.check_memory(resolved.len() * MULTI_ENTRY_OVERHEAD)?;
    let wid = cx.b.waiters.next_id();
    let first = resolved[0].0.clone();
    cx.block(wid, WaitOp::Wait, first, wait);
    cx.b.multi.insert(
        wid,
        MultiWait {
            kind: MultiKind::Ready,
            targets: resolved,
        },
    );
    Ok(())
}
