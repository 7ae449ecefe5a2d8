//! The one disconnect-cleanup path, run whenever a connection goes away for any reason (EOF,
//! error, protocol violation, output above the hard limit).
//!
//! Order matters: the connection's own blocked requests are forgotten first, so that releasing
//! its locks cannot hand a lock straight back to it. Then everything it holds is released:
//! locks (abandoned: the next acquirer learns the dead holder's pid), semaphore permits, pipe
//! ends (the other end gets what is left, then `Closed`). Barriers it waited at break as its
//! waits are cancelled. Whatever that wakes on other connections is answered at once.

use crate::state::{Body, Broker, ConnKey, Outbox};

/// Forgets the blocked requests of connection `key` — nothing they asked for happens (a `get`
/// takes no item) — then gives back the deliveries it holds: each goes back to the head of its
/// queue at once (or to the dead-letter queue after its last attempt). Called as soon as a
/// connection is marked for closing — so that an item put later in the same loop turn is not
/// handed to a client that is gone — and again by [`disconnect`].
///
/// Blocked requests go first, so that a returning delivery is never handed to a get of the
/// very connection that is going away.
pub fn forget_waiters(b: &mut Broker, key: ConnKey, out: &mut dyn Outbox) {
    let Some(session) = b.session_mut(key) else {
        return;
    };
    let waits = std::mem::take(&mut session.waits);
    let leases = std::mem::take(&mut session.leases);
    // A wake caused by one cancel (a broken barrier) may answer another of its requests
    // first; those records are gone by the time the loop reaches them.
    for wid in waits {
        if b.multi.is_multi(wid) {
            b.forget_multi(wid);
            continue;
        }
        let Some(w) = b.waiters.remove(wid) else {
            continue;
        };
        if let Some(obj) = b.objects.get_mut(&*w.object) {
            let before = obj.bytes();
            obj.cancel(wid, &mut b.wakes);
            let after = obj.bytes();
            b.memory = b.memory - before + after;
        }
        b.deliver(out);
    }
    for id in leases {
        let Some(w) = b.waiters.remove(id) else {
            continue;
        };
        if let Some(obj) = b.objects.get_mut(&*w.object) {
            let before = obj.bytes();
            obj.cancel(id, &mut b.wakes);
            let after = obj.bytes();
            b.account(before, after);
        }
        b.touch_ready(&w.object);
        b.route_dead_letters(&w.object);
        b.deliver(out);
    }
}

/// Cleans up after connection `key`: forgets its blocked requests, releases what it holds, and
/// removes its session.
pub fn disconnect(b: &mut Broker, key: ConnKey, out: &mut dyn Outbox) {
    forget_waiters(b, key, out);
    let Some(session) = b
        .sessions
        .get_mut(key.slot)
        .and_then(|s| s.take_if(|s| s.key == key))
    else {
        return;
    };
    let owner = session.owner();

    // What it holds.
    for name in &session.touched {
        let Some(obj) = b.objects.get_mut(&**name) else {
            continue;
        };
        let before = obj.bytes();
        let mut free = false;
        match &mut obj.body {
            Body::Lock(l) => {
                l.abandon(owner, &mut b.wakes);
            }
            Body::Condition(c) => {
                c.abandon(owner, &mut b.wakes);
            }
            Body::Semaphore(s) => {
                s.return_permits(owner, &mut b.wakes);
            }
            Body::Pipe(p) => {
                let closed = p.release_owner(owner, &mut b.wakes);
                free = !closed.is_empty() && p.is_free();
            }
            _ => {}
        }
        let after = obj.bytes();
        b.memory = b.memory - before + after;
        if free {
            b.remove_object(name);
        }
        // A lock, permits or a pipe end given back may make the object ready for a `wait`.
        b.touch_ready(name);
        b.deliver(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::dispatch::dispatch;
    use crate::state::PeerCred;
    use xproc_protocol::{End, ErrorCode, Kind, OpenOptions, ReplyFields, Request, Wait};

    /// A reply as (connection id, request id, error code, acquired, abandoned_by).
    type Seen = (u64, u64, Option<ErrorCode>, Option<bool>, Option<u32>);

    /// Records replies.
    #[derive(Default)]
    struct Recorder(Vec<Seen>);

    impl Outbox for Recorder {
        fn send(&mut self, to: ConnKey, r: &ReplyFields<'_>) {
            self.0
                .push((to.id, r.id, r.error_code(), r.acquired, r.abandoned_by));
        }
    }

    fn broker() -> (Broker, ConnKey, ConnKey) {
        let mut b = Broker::new(Config::default());
        let (a, w) = (ConnKey { slot: 0, id: 1 }, ConnKey { slot: 1, id: 2 });
        b.connect(
            a,
            PeerCred {
                pid: 100,
                uid: 0,
                gid: 0,
            },
        );
        b.connect(
            w,
            PeerCred {
                pid: 200,
                uid: 0,
                gid: 0,
            },
        );
        (b, a, w)
    }

    fn open(
        b: &mut Broker,
        out: &mut Recorder,
        c: ConnKey,
        name: &str,
        kind: Kind,
        end: Option<End>,
    ) {
        let options = OpenOptions {
            end,
            initial: Some(1),
            parties: Some(2),
            ..OpenOptions::default()
        };
        dispatch(
            b,
            out,
            c,
            0,
            Request::Open {
                name,
                kind,
                options,
            },
        );
    }

    #[test]
    fn disconnect_releases_everything_and_wakes_the_next() {
        let (mut b, a, w) = broker();
        let mut out = Recorder::default();
        for (name, kind) in [
            ("l", Kind::Lock),
            ("s", Kind::Semaphore),
            ("bar", Kind::Barrier),
        ] {
            open(&mut b, &mut out, a, name, kind, None);
        }
        open(&mut b, &mut out, a, "p", Kind::Pipe, Some(End::A));
        open(&mut b, &mut out, w, "p", Kind::Pipe, Some(End::B));
        dispatch(
            &mut b,
            &mut out,
            a,
            1,
            Request::LockAcquire {
                name: "l",
                wait: Wait::Forever,
            },
        );
        dispatch(
            &mut b,
            &mut out,
            a,
            2,
            Request::SemaphoreAcquire {
                name: "s",
                wait: Wait::Forever,
            },
        );
        dispatch(
            &mut b,
            &mut out,
            a,
            3,
            Request::BarrierWait {
                name: "bar",
                wait: Wait::Forever,
            },
        );
        dispatch(
            &mut b,
            &mut out,
            w,
            4,
            Request::LockAcquire {
                name: "l",
                wait: Wait::Forever,
            },
        );
        dispatch(
            &mut b,
            &mut out,
            w,
            5,
            Request::SemaphoreAcquire {
                name: "s",
                wait: Wait::Forever,
            },
        );
        dispatch(
            &mut b,
            &mut out,
            w,
            6,
            Request::PipeRecv {
                name: "p",
                end: End::B,
                wait: Wait::Forever,
            },
        );
        assert_eq!(b.waiters.len(), 4);
        out.0.clear();

        disconnect(&mut b, a, &mut out);
        let mut got = out.0.clone();
        got.sort_by_key(|r| r.1);
        assert_eq!(
            got,
            vec![
                (2, 4, None, Some(true), Some(100)),
                (2, 5, None, Some(true), None),
                (2, 6, Some(ErrorCode::Closed), None, None),
            ]
        );
        assert!(b.waiters.is_empty());
        assert!(b.session(a).is_none());
        // The barrier lost its waiting party: broken.
        match &b.objects.get("bar").map(|o| &o.body) {
            Some(Body::Barrier(bar)) => assert!(bar.broken() && bar.n_waiting() == 0),
            other => panic!("not a barrier: {other:?}"),
        }
    }

    #[test]
    fn a_pipe_is_freed_when_its_last_holder_goes() {
        let (mut b, a, w) = broker();
        let mut out = Recorder::default();
        open(&mut b, &mut out, a, "p", Kind::Pipe, Some(End::A));
        open(&mut b, &mut out, w, "p", Kind::Pipe, Some(End::B));
        dispatch(
            &mut b,
            &mut out,
            a,
            1,
            Request::PipeSend {
                name: "p",
                end: End::A,
                value: &[0x01],
                wait: Wait::Forever,
            },
        );
        assert_eq!(b.memory, crate::objects::item_charge(1));
        disconnect(&mut b, w, &mut out);
        assert!(b.objects.contains_key("p"), "a still holds end a");
        assert_eq!(b.memory, 0, "messages to the closed end are dropped");
        disconnect(&mut b, a, &mut out);
        assert!(!b.objects.contains_key("p"));
    }

    /// Records who got a leased item: (connection id, request id, delivery, attempt).
    #[derive(Default)]
    struct Leases(Vec<(u64, u64, Option<u64>, Option<u64>)>);

    impl Outbox for Leases {
        fn send(&mut self, to: ConnKey, r: &ReplyFields<'_>) {
            self.0.push((to.id, r.id, r.delivery, r.attempt));
        }
    }

    #[test]
    fn a_lease_holders_disconnect_hands_the_item_to_a_waiting_getter_not_to_itself() {
        let (mut b, a, w) = broker();
        let mut out = Leases::default();
        let open = Request::Open {
            name: "q",
            kind: Kind::Queue,
            options: OpenOptions::default(),
        };
        dispatch(&mut b, &mut out, a, 0, open);
        let put = Request::QueuePut {
            name: "q",
            value: &[0x07],
            wait: Wait::Forever,
        };
        dispatch(&mut b, &mut out, a, 1, put);
        let leased = |wait| Request::QueueGetLeased {
            name: "q",
            wait,
            lease_ms: 60_000,
        };
        // `a` leases the item, then blocks for another; `w` blocks too, after it.
        dispatch(&mut b, &mut out, a, 2, leased(Wait::Ms(0)));
        let delivery = out.0.last().and_then(|r| r.2).expect("a delivery");
        dispatch(&mut b, &mut out, a, 3, leased(Wait::Forever));
        dispatch(&mut b, &mut out, w, 4, leased(Wait::Forever));
        out.0.clear();

        disconnect(&mut b, a, &mut out);
        // Not to `a`'s own waiting get (it is gone), but to `w`, as attempt 2.
        assert_eq!(out.0.len(), 1, "{:?}", out.0);
        let (conn, req, d, attempt) = out.0[0];
        assert_eq!((conn, req, attempt), (2, 4, Some(2)));
        assert_ne!(d, Some(delivery));
        assert!(b.session(w).is_some_and(|s| s.leases.len() == 1));
        assert_eq!(
            b.memory,
            crate::objects::item_charge(1),
            "still charged, in flight"
        );
    }
}
