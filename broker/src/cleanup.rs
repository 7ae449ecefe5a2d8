//! The one disconnect-cleanup path, run whenever a connection goes away for any reason (EOF,
//! error, protocol violation, output above the hard limit).
//!
//! Order matters: the connection's own blocked requests are forgotten first, so that releasing
//! its locks cannot hand a lock straight back to it. Then everything it holds is released:
//! locks (abandoned: the next acquirer learns the dead holder's pid), semaphore permits, pipe
//! ends (the other end gets what is left, then `Closed`). Barriers it waited at break as its
//! waits are cancelled. Whatever that wakes on other connections is answered at once.

use crate::state::{Body, Broker, ConnKey, Outbox};

/// Cleans up after connection `key`. Its session is removed.
pub fn disconnect(b: &mut Broker, key: ConnKey, out: &mut dyn Outbox) {
    let Some(session) = b
        .sessions
        .get_mut(key.slot)
        .and_then(|s| s.take_if(|s| s.key == key))
    else {
        return;
    };
    let owner = session.owner();

    // Its blocked requests: nothing they asked for happens (a `get` takes no item). A wake
    // caused by one cancel may answer another of its requests first; those are gone already.
    for wid in &session.waits {
        let Some(w) = b.waiters.remove(*wid) else {
            continue;
        };
        if let Some(obj) = b.objects.get_mut(&*w.object) {
            let before = obj.bytes();
            obj.cancel(*wid, &mut b.wakes);
            let after = obj.bytes();
            b.memory = b.memory - before + after;
        }
        b.deliver(out);
    }

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
            if let Some(obj) = b.objects.remove(&**name) {
                b.account(obj.bytes(), 0);
            }
        }
        b.deliver(out);
    }
}
