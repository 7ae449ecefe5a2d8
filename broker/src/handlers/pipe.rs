//! Pipe ops: `pipe.send`, `pipe.recv`, `pipe.poll`, `pipe.close`. Ends are claimed by `open`.

use xproc_protocol::{End, ErrorCode, ReplyFields, Wait};

use crate::dispatch::{as_pipe, lookup, may_block, Ctx, Handled};
use crate::objects::item_charge;
use crate::objects::pipe::{Flow, Handoff, PipeError};
use crate::state::{Body, Failure};
use crate::stored::Stored;
use crate::waiters::WaitOp;

/// Answers a pipe op with `direct: true`, handing over the end's socket and the counters page
/// if they come now (docs/PROTOCOL.md §6.5.1). The op itself was not done.
fn direct_reply(cx: &mut Ctx, handoff: Option<Handoff>) {
    let r = ReplyFields {
        direct: Some(true),
        ..ReplyFields::ok(cx.id)
    };
    match handoff {
        Some(h) => cx.out.send_fds(cx.caller, r, h.into_fds()),
        None => cx.reply(&r),
    }
}

/// Makes pipe `name` direct if it can go now (both ends held by different direct-capable
/// connections, no send blocked, a small enough backlog). Called after every op that could
/// make that true: a claim, a send, a receive, a poll. If the switch cannot be made (out of
/// descriptors), the pipe just stays brokered and the next op tries again.
pub fn maybe_direct(cx: &mut Ctx, name: &str) {
    let Some(obj) = cx.b.objects.get_mut(name) else {
        return;
    };
    let Body::Pipe(p) = &mut obj.body else {
        return;
    };
    if !p.can_go_direct() {
        return;
    }
    let before = p.bytes();
    let went = p.go_direct(&mut cx.b.wakes);
    // The backlog left the broker's memory for the socketpair.
    cx.b.memory = cx.b.memory - before + p.bytes();
    match went {
        Ok(()) => tracing::info!(pipe = name, "pipe goes direct"),
        Err(e) => {
            tracing::warn!(pipe = name, error = %e, "cannot make a direct pipe's socketpair; it stays brokered")
        }
    }
}

fn failure(name: &str, end: End, capacity: u64, e: PipeError) -> Failure {
    let end_s = end.as_str();
    match e {
        PipeError::NotOwner { holder: Some(pid) } => Failure::new(
            ErrorCode::NotOwner,
            format!("pipe '{name}' end {end_s} is held by another connection (pid {pid})"),
        ),
        PipeError::NotOwner { holder: None } => Failure::new(
            ErrorCode::NotOwner,
            format!("pipe '{name}' end {end_s} is not held by this connection (open it with end \"{end_s}\")"),
        ),
        PipeError::WrongDirection => Failure::new(
            ErrorCode::InvalidArgument,
            format!("pipe '{name}' is one-way (duplex false): only end a sends and only end b receives"),
        ),
        PipeError::Closed => Failure::new(
            ErrorCode::Closed,
            format!("pipe '{name}': the other end is closed"),
        ),
        PipeError::Full => Failure::new(
            ErrorCode::Full,
            format!(
                "pipe '{name}': the inbox of end {} is full (capacity {capacity})",
                end.other().as_str()
            ),
        ),
        PipeError::Empty => Failure::new(
            ErrorCode::Empty,
            format!("pipe '{name}': nothing to receive at end {end_s}"),
        ),
        PipeError::Busy { pid } => Failure::new(
            ErrorCode::Busy,
            format!("pipe '{name}' end {end_s} is held by another connection (pid {pid})"),
        ),
    }
}

/// `pipe.send`: from `end` to the other end's inbox; blocks while that inbox is full.
/// The value is the request's bytes, or the memfd that came with it (docs/PROTOCOL.md §4.1).
pub fn send(cx: &mut Ctx, name: &str, end: End, value: Stored, wait: Wait) -> Handled {
    cx.b.check_memory(item_charge(value.len()))?;
    let owner = cx.b.owner(cx.caller);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let p = as_pipe(obj, "pipe.send")?;
    let before = p.bytes();
    let sent = p.send(
        end,
        owner,
        value,
        may_block(wait).then_some(wid),
        &mut cx.b.wakes,
    );
    let (after, capacity) = (p.bytes(), p.capacity());
    cx.b.memory = cx.b.memory - before + after;
    match sent.map_err(|e| failure(name, end, capacity, e))? {
        Flow::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::PipeSend, object, wait);
        }
        Flow::Direct(h) => direct_reply(cx, h),
        _ => {
            cx.ok();
            maybe_direct(cx, name);
        }
    }
    Ok(())
}

/// `pipe.recv`: the oldest message in `end`'s inbox; blocks while it is empty.
pub fn recv(cx: &mut Ctx, name: &str, end: End, wait: Wait) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let p = as_pipe(obj, "pipe.recv")?;
    let before = p.bytes();
    let got = p.recv(end, owner, may_block(wait).then_some(wid), &mut cx.b.wakes);
    let (after, capacity) = (p.bytes(), p.capacity());
    cx.b.memory = cx.b.memory - before + after;
    match got.map_err(|e| failure(name, end, capacity, e))? {
        Flow::Value(v) => {
            cx.out.send_value(cx.caller, ReplyFields::ok(cx.id), &v);
            // The inbox may be empty now: the pipe may go direct.
            maybe_direct(cx, name);
        }
        Flow::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::PipeRecv, object, wait);
        }
        Flow::Direct(h) => direct_reply(cx, h),
        Flow::Done | Flow::Ready(_) => cx.ok(),
    }
    Ok(())
}

/// `pipe.poll`: whether `end` has a message (or is at end of file); may wait for one.
pub fn poll(cx: &mut Ctx, name: &str, end: End, wait: Wait) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let wid = cx.b.waiters.next_id();
    let obj = lookup(&mut cx.b.objects, name)?;
    let p = as_pipe(obj, "pipe.poll")?;
    let capacity = p.capacity();
    match p
        .poll(end, owner, may_block(wait).then_some(wid))
        .map_err(|e| failure(name, end, capacity, e))?
    {
        Flow::Blocked => {
            let object = obj.name.clone();
            cx.block(wid, WaitOp::PipePoll, object, wait);
        }
        Flow::Ready(ready) => {
            let r = ReplyFields {
                ready: Some(ready),
                ..ReplyFields::ok(cx.id)
            };
            cx.out.send(cx.caller, &r);
            // A switch that could not be made earlier (out of descriptors) is retried.
            maybe_direct(cx, name);
        }
        Flow::Direct(h) => direct_reply(cx, h),
        Flow::Done | Flow::Value(_) => cx.ok(),
    }
    Ok(())
}

/// Closes `end`: the pipe is finished. A pipe left free (no end held) is dropped, so the next
/// `open` creates a fresh one.
pub fn close(cx: &mut Ctx, name: &str, end: End) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let obj = lookup(&mut cx.b.objects, name)?;
    let p = as_pipe(obj, "pipe.close")?;
    let before = p.bytes();
    let closed = p.close(end, owner, &mut cx.b.wakes);
    let (after, capacity, free) = (p.bytes(), p.capacity(), p.is_free());
    cx.b.memory = cx.b.memory - before + after;
    closed.map_err(|e| failure(name, end, capacity, e))?;
    if free {
        cx.b.remove_object(name);
    }
    cx.ok();
    Ok(())
}
