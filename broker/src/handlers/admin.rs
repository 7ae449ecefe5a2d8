//! Connection and admin ops: `hello`, `list`, `stat`, `clients`, `delete`, `open`.

use std::collections::BTreeMap;
use std::rc::Rc;

use xproc_protocol::{
    ClientInfo, ErrorCode, InfoValue, Kind, ObjectSummary, OpenOptions, ReplyFields,
    CAP_DIRECT_PIPES, CAP_FDS, CAP_RINGS, PROTOCOL_VERSION, SCAN_MAX_BYTES,
};

use crate::connection::MAX_FDS_PER_FRAME;
use crate::dispatch::{lookup, Ctx, Handled};
use crate::objects::barrier::Barrier;
use crate::objects::condition::Condition;
use crate::objects::dict::Dict;
use crate::objects::event::Event;
use crate::objects::lock::Lock;
use crate::objects::pipe::{Pipe, PipeError};
use crate::objects::queue::Queue;
use crate::objects::semaphore::Semaphore;
use crate::objects::{WaiterId, Wake};
use crate::state::{Body, Failure, Object};

/// The server string in the `hello` reply.
pub const SERVER: &str = concat!("xprocd ", env!("CARGO_PKG_VERSION"));

/// Default pipe inbox capacity, in messages (docs/PROTOCOL.md §6.2).
pub const DEFAULT_PIPE_CAPACITY: u64 = 1024;

/// Default `max_attempts` of a queue (docs/PROTOCOL.md §6.2): an item whose leased deliveries
/// all failed 5 times is almost certainly poison (it crashes or hangs its consumer), and 5
/// tries ride out a consumer dying for unrelated reasons a few times in a row.
pub const DEFAULT_MAX_ATTEMPTS: u64 = 5;

/// Most in-flight deliveries `stat` lists one by one (oldest first); `in_flight` counts all.
pub const STAT_MAX_DELIVERIES: usize = 1000;

/// The smallest encoding of a `list` row besides its name: a 4-entry map header, the four
/// field names (`name`, `kind`, `len`, `waiters`: 22 bytes with their headers), the name's
/// string header, the shortest kind (`dict`, 5) and two one-byte integers.
const LIST_ROW_MIN: usize = 1 + 22 + 1 + 5 + 2;

/// Records who the client says it is and answers with the broker's version and limits. (The
/// connection checked the version before this runs.)
///
/// `fds` is what the connection granted of the client's `caps` (`None`: it listed none, and
/// the reply has no `caps` either, so older clients see the reply they always did).
/// `direct_pipes` (the client listed it) is granted only with `fds`: a pipe end's socket is
/// handed over as a descriptor.
pub fn hello(
    cx: &mut Ctx,
    client: &str,
    lang: &str,
    pid: u32,
    fds: Option<bool>,
    direct_pipes: bool,
    rings: bool,
) -> Handled {
    cx.b.name_session(cx.caller, client, lang, pid);
    let granted = fds == Some(true);
    let direct = granted && direct_pipes;
    // The connection grants rings by the same rule (server.rs).
    let rings = granted && rings && cx.b.config.ring_size > 0;
    if let Some(s) = cx.b.session_mut(cx.caller) {
        s.direct_pipes = direct;
    }
    let caps = fds.map(|_| {
        let mut caps = Vec::new();
        if granted {
            caps.push(CAP_FDS);
        }
        if direct {
            caps.push(CAP_DIRECT_PIPES);
        }
        if rings {
            caps.push(CAP_RINGS);
        }
        caps
    });
    let r = ReplyFields {
        version: Some(PROTOCOL_VERSION),
        server: Some(SERVER),
        conn_id: Some(cx.caller.id),
        limits: Some(cx.b.config.limits()),
        caps,
        max_fds: granted.then_some(MAX_FDS_PER_FRAME as u64),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}

/// `list`: every object with its kind, length and waiter count, sorted by name.
pub fn list(cx: &mut Ctx) -> Handled {
    // Refuse before copying every name when the reply cannot fit: each row is a map with
    // four named fields (at least LIST_ROW_MIN bytes) plus the name.
    let max = cx.b.config.max_frame;
    let at_least =
        cx.b.objects
            .keys()
            .map(|n| n.len() + LIST_ROW_MIN)
            .sum::<usize>();
    if at_least > max {
        return Err(Failure::new(
            ErrorCode::TooLarge,
            format!(
                "list of {} objects would be a reply of at least {at_least} bytes, above \
                 max_frame ({max} bytes): read the objects in pages with scan",
                cx.b.objects.len()
            ),
        ));
    }
    let mut objects: Vec<ObjectSummary> =
        cx.b.objects
            .values()
            .map(|o| ObjectSummary {
                name: o.name.to_string(),
                kind: o.kind.as_str().to_string(),
                len: o.len() as u64,
                waiters: o.waiter_count() as u64,
            })
            .collect();
    objects.sort_by(|a, b| a.name.cmp(&b.name));
    let r = ReplyFields {
        objects: Some(objects),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}

/// Bytes a `scan` page counts per object beyond its name: the most the rest of its row encodes
/// to (`{name, kind, len, waiters}` with a kind name and two u64s).
const SCAN_OBJECT_OVERHEAD: usize = 64;

/// `scan`: one page of the object list in name (byte) order, after the name `after`, from the
/// name index: O(log n + count) (docs/PROTOCOL.md §6.1).
pub fn scan(cx: &mut Ctx, after: Option<&str>, count: u64) -> Handled {
    use std::ops::Bound;
    let b = &*cx.b;
    let from = match after {
        Some(a) => Bound::Excluded(a),
        None => Bound::Unbounded,
    };
    // Bounded like a dict.scan page, so that a page fits a frame whatever max_frame is.
    let budget = SCAN_MAX_BYTES.min(b.config.max_frame / 2);
    let mut names = b.names.range::<str, _>((from, Bound::Unbounded)).peekable();
    let mut objects: Vec<ObjectSummary> = Vec::new();
    let mut bytes = 0;
    while let Some(n) = names.peek() {
        let size = n.len() + SCAN_OBJECT_OVERHEAD;
        if objects.len() as u64 >= count || (!objects.is_empty() && bytes + size > budget) {
            break;
        }
        bytes += size;
        if let Some(o) = b.objects.get(*n) {
            objects.push(ObjectSummary {
                name: o.name.to_string(),
                kind: o.kind.as_str().to_string(),
                len: o.len() as u64,
                waiters: o.waiter_count() as u64,
            });
        }
        names.next();
    }
    let more = names.peek().is_some();
    let next = objects.last().filter(|_| more).map(|o| o.name.clone());
    let r = ReplyFields {
        objects: Some(objects),
        next: next.as_deref(),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `stat`: an object's kind and its `info` fields (docs/PROTOCOL.md §6.8).
pub fn stat(cx: &mut Ctx, name: &str) -> Handled {
    let b = &*cx.b;
    let obj = b.objects.get(name).ok_or_else(|| {
        Failure::new(
            ErrorCode::NotFound,
            format!("no object named '{name}' (objects are created by open)"),
        )
    })?;
    let mut info = obj.info();
    if let Body::Queue(q) = &obj.body {
        // Each delivery in flight: [delivery, attempt, age_ms, holder_pid], oldest first.
        let now = std::time::Instant::now();
        let rows = q
            .in_flight()
            .take(STAT_MAX_DELIVERIES)
            .map(|(id, attempt)| {
                let w = b.waiters.get(id);
                let age = w.map(|w| now.saturating_duration_since(w.since).as_millis() as u64);
                let pid = w.and_then(|w| b.session(w.conn)).map(|s| s.owner().pid);
                InfoValue::List(vec![id.0.into(), attempt.into(), age.into(), pid.into()])
            })
            .collect();
        info.0.push(("deliveries".into(), InfoValue::List(rows)));
    }
    let r = ReplyFields {
        kind: Some(obj.kind.as_str()),
        info: Some(info),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// `clients`: every connection with its peer credentials, what it holds and what it waits on.
pub fn clients(cx: &mut Ctx) -> Handled {
    let b = &*cx.b;
    let max = b.config.max_frame;
    // Rows are built while their encoded size is summed (a lower bound: the strings and
    // LIST_ROW_MIN per row), and building stops once it passes max_frame: holds and waits
    // can be many per connection, so the reply's size is not known before walking them.
    let mut size = 0usize;
    let clients: Vec<ClientInfo> = b
        .sessions
        .iter()
        .flatten()
        .map(|s| {
            let mut touched: Vec<&Rc<str>> = s.touched.iter().collect();
            touched.sort();
            let mut holds = Vec::new();
            for name in touched {
                if let Some(o) = b.objects.get(name) {
                    o.holds(s.key.id, &mut holds);
                }
            }
            // Deliveries held, per queue: "lease tasks" or "lease tasks x3".
            let mut leased: BTreeMap<&str, usize> = BTreeMap::new();
            for w in s.leases.iter().filter_map(|id| b.waiters.get(*id)) {
                *leased.entry(&w.object).or_default() += 1;
            }
            holds.extend(leased.into_iter().map(|(q, n)| match n {
                1 => format!("lease {q}"),
                n => format!("lease {q} x{n}"),
            }));
            let waits = s
                .waits
                .iter()
                .filter_map(|w| b.waiters.get(*w))
                .map(|w| format!("{} {}", w.op.as_str(), w.object))
                .collect();
            let row = ClientInfo {
                conn_id: s.key.id,
                pid: s.owner().pid,
                uid: s.peer.uid,
                gid: s.peer.gid,
                name: s.client.clone(),
                lang: s.lang.clone(),
                holds,
                waits,
                addr: s.remote.as_ref().map(|r| r.0.clone()),
                key: s.remote.as_ref().map(|r| r.1.clone()),
            };
            size += LIST_ROW_MIN
                + row.name.len()
                + row.lang.len()
                + row.addr.as_ref().map_or(0, |a| a.len())
                + row.key.as_ref().map_or(0, |k| k.len())
                + row
                    .holds
                    .iter()
                    .chain(&row.waits)
                    .map(String::len)
                    .sum::<usize>();
            (size <= max).then_some(row)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Failure::new(
                ErrorCode::TooLarge,
                format!(
                    "clients would be a reply above max_frame ({max} bytes): too many \
                     connections, holds or blocked requests to list at once"
                ),
            )
        })?;
    let r = ReplyFields {
        clients: Some(clients),
        ..ReplyFields::ok(cx.id)
    };
    cx.out.send(cx.caller, &r);
    Ok(())
}

/// Deletes an object; requests blocked on it are answered `NotFound`.
pub fn delete(cx: &mut Ctx, name: &str) -> Handled {
    let deleted = match cx.b.remove_object(name) {
        Some(obj) => {
            let mut waiting: Vec<WaiterId> = Vec::new();
            obj.waiters(&mut waiting);
            waiting.sort();
            cx.b.wakes.extend(
                waiting
                    .into_iter()
                    .map(|w| (w, Wake::Fail(ErrorCode::NotFound))),
            );
            // Its deliveries in flight are gone with it: their records go, unanswered (a
            // later ack gets NotFound).
            if let Body::Queue(q) = &obj.body {
                let mut leases = Vec::new();
                q.leases(&mut leases);
                cx.b.wakes
                    .extend(leases.into_iter().map(|id| (id, Wake::Forget)));
            }
            cx.b.deleted_multi(name, cx.out);
            true
        }
        None => false,
    };
    let r = ReplyFields {
        deleted: Some(deleted),
        ..ReplyFields::ok(cx.id)
    };
    cx.reply(&r);
    Ok(())
}

/// Opens (creating if the name is free) an object, and for a pipe claims `end`.
pub fn open(cx: &mut Ctx, name: &str, kind: Kind, opts: OpenOptions) -> Handled {
    let owner = cx.b.owner(cx.caller);
    let direct_capable = cx.b.session(cx.caller).is_some_and(|s| s.direct_pipes);
    let created = !cx.b.objects.contains_key(name);
    if created {
        if cx.b.objects.len() >= cx.b.config.max_objects {
            return Err(Failure::new(
                ErrorCode::LimitExceeded,
                format!(
                    "max_objects ({}) reached: delete objects or raise the limit",
                    cx.b.config.max_objects
                ),
            ));
        }
        let body = new_body(kind, &opts)?;
        cx.b.insert_object(name, kind, body);
    }
    let obj = lookup(&mut cx.b.objects, name)?;
    if obj.kind != kind {
        return Err(Failure::new(
            ErrorCode::TypeMismatch,
            format!("'{name}' is a {}, not a {kind}", obj.kind),
        ));
    }
    if !created {
        check_options(obj, &opts)?;
    }
    let mut r = ReplyFields {
        kind: Some(kind.as_str()),
        created: Some(created),
        ..ReplyFields::ok(cx.id)
    };
    let mut claimed = false;
    match &mut obj.body {
        Body::Queue(q) => {
            r.maxsize = Some(q.maxsize());
            r.max_attempts = Some(q.max_attempts());
        }
        Body::Semaphore(s) => r.initial = Some(s.initial()),
        Body::Barrier(b) => r.parties = Some(b.parties()),
        Body::Pipe(p) => {
            r.duplex = Some(p.duplex());
            r.capacity = Some(p.capacity());
            if let Some(end) = opts.end {
                if let Err(PipeError::Busy { pid }) = p.claim(end, owner) {
                    return Err(Failure::new(
                        ErrorCode::Busy,
                        format!(
                            "pipe '{name}' end {} is held by another connection (pid {pid})",
                            end.as_str()
                        ),
                    ));
                }
                p.set_direct_capable(end, direct_capable);
                claimed = true;
            }
        }
        _ => {}
    }
    if claimed {
        let name = obj.name.clone();
        cx.b.touch(cx.caller, &name);
    }
    cx.reply(&r);
    if claimed {
        // With both ends now held, the pipe may go peer to peer.
        super::pipe::maybe_direct(cx, name);
    }
    Ok(())
}

fn new_body(kind: Kind, opts: &OpenOptions) -> Result<Body, Failure> {
    let invalid = |m: &str| Failure::new(ErrorCode::InvalidArgument, m);
    Ok(match kind {
        Kind::Queue | Kind::JoinableQueue => Body::Queue(Queue::new(
            opts.maxsize.unwrap_or(0),
            kind == Kind::JoinableQueue,
            opts.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
        )),
        Kind::Dict => Body::Dict(Dict::new()),
        Kind::Pipe => {
            let capacity = opts.capacity.unwrap_or(DEFAULT_PIPE_CAPACITY);
            if capacity == 0 {
                return Err(invalid("a pipe's capacity must be at least 1"));
            }
            Body::Pipe(Pipe::new(opts.duplex.unwrap_or(true), capacity))
        }
        Kind::Lock => Body::Lock(Lock::new(false)),
        Kind::RLock => Body::Lock(Lock::new(true)),
        Kind::Semaphore => Body::Semaphore(Semaphore::new(opts.initial.unwrap_or(1), false)),
        Kind::BoundedSemaphore => Body::Semaphore(Semaphore::new(opts.initial.unwrap_or(1), true)),
        Kind::Event => Body::Event(Event::new()),
        Kind::Condition => Body::Condition(Condition::new()),
        Kind::Barrier => match opts.parties {
            None => {
                return Err(Failure::new(
                    ErrorCode::BadRequest,
                    "creating a barrier needs field 'parties'",
                ))
            }
            Some(0) => return Err(invalid("a barrier needs at least 1 party")),
            Some(n) => Body::Barrier(Barrier::new(n)),
        },
    })
}

/// `OptionMismatch` when reopening with an option that differs from the object's.
fn check_options(obj: &Object, opts: &OpenOptions) -> Result<(), Failure> {
    fn differs<T: PartialEq + std::fmt::Display>(
        obj: &Object,
        option: &str,
        asked: Option<T>,
        has: T,
    ) -> Result<(), Failure> {
        match asked {
            Some(a) if a != has => Err(Failure::new(
                ErrorCode::OptionMismatch,
                format!(
                    "{} '{}' exists with {option} {has}; open asked for {option} {a}",
                    obj.kind, obj.name
                ),
            )),
            _ => Ok(()),
        }
    }
    match &obj.body {
        Body::Queue(q) => {
            differs(obj, "maxsize", opts.maxsize, q.maxsize())?;
            differs(obj, "max_attempts", opts.max_attempts, q.max_attempts())
        }
        Body::Semaphore(s) => differs(obj, "initial", opts.initial, s.initial()),
        Body::Barrier(b) => differs(obj, "parties", opts.parties, b.parties()),
        Body::Pipe(p) => {
            differs(obj, "duplex", opts.duplex, p.duplex())?;
            differs(obj, "capacity", opts.capacity, p.capacity())
        }
        _ => Ok(()),
    }
}
