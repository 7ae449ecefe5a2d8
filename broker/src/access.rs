//! Per-object access rules for TCP keys (docs/SECURITY.md §7): which names a key may use, and
//! whether only to look or also to change them. Pure: no IO, no broker state; `dispatch`
//! asks [`Rules::check`] before routing a request of a restricted connection.
//!
//! A key configured as `[keys.NAME]` with `read_write = [...]` and `read_only = [...]` glob
//! patterns may change objects whose name matches a `read_write` pattern, and only look at
//! those matching a `read_only` one; any other name is refused with `Denied`, naming the key
//! and its patterns. The `default` key (`--authkey-file`) and local clients are unrestricted.

use xproc_protocol::Request;

/// Most patterns in one key's rules: 256. Every restricted request is matched against them,
/// so the list is short by design; a config that needs more wants a naming scheme.
pub const MAX_PATTERNS: usize = 256;

/// What a request does to the object it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Looks without changing anything (`stat`, `qsize`, `dict.get`, `event.wait`, ...).
    Read,
    /// Changes the object, or creates or deletes it (`put`, `get`, `acquire`, `open` of a
    /// new name, ...). A get is a write: it takes the item away from everyone else.
    Write,
    /// Lists every object or client (`list`, `scan`, `clients`): unrestricted keys only,
    /// since names and peers outside the rules would be shown.
    Admin,
}

/// A name pattern: `*` matches any run of characters (also none), `?` exactly one, every
/// other character itself. `jobs.*` is a prefix rule, `*` matches every name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// A pattern from its text; `None` if empty or longer than a name may be (255 bytes).
    pub fn new(text: &str) -> Option<Pattern> {
        (!text.is_empty() && text.len() <= 255).then(|| Pattern(text.to_string()))
    }

    /// Whether `name` matches. Linear-time greedy matching with one backtrack point per `*`
    /// (the classic wildcard algorithm), so a hostile name cannot make it slow.
    pub fn matches(&self, name: &str) -> bool {
        let (p, n): (Vec<char>, Vec<char>) = (self.0.chars().collect(), name.chars().collect());
        let (mut pi, mut ni) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == n[ni])) {
                pi += 1;
                ni += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ni));
                pi += 1;
            } else if let Some((sp, sn)) = star {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// One key's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The key's name, as `[keys.NAME]` and `xproc clients` give it.
    pub key: String,
    /// Names this key may change (and look at).
    pub read_write: Vec<Pattern>,
    /// Names this key may only look at.
    pub read_only: Vec<Pattern>,
}

impl Rules {
    /// Whether this key may do `op` (`need`) on `name`; the `Denied` message otherwise.
    pub fn check(&self, op: &str, name: &str, need: Need) -> Result<(), String> {
        let rw = self.read_write.iter().find(|p| p.matches(name));
        let ro = self.read_only.iter().find(|p| p.matches(name));
        match (need, rw, ro) {
            (Need::Admin, _, _) => Err(format!(
                "key '{}' may not {op}: [keys.{}] grants access to named objects only, and \
                 {op} would show every object or client (use an unrestricted key)",
                self.key, self.key
            )),
            (_, Some(_), _) | (Need::Read, None, Some(_)) => Ok(()),
            (Need::Write, None, Some(p)) => Err(format!(
                "key '{}' may only read '{name}' ({op} changes it): it matches read_only \
                 pattern {p} of [keys.{}] and no read_write pattern",
                self.key, self.key
            )),
            (_, None, None) => Err(format!(
                "key '{}' may not use '{name}' ({op}): no pattern of [keys.{}] matches it \
                 (read_write = [{}], read_only = [{}])",
                self.key,
                self.key,
                list(&self.read_write),
                list(&self.read_only)
            )),
        }
    }
}

fn list(patterns: &[Pattern]) -> String {
    patterns
        .iter()
        .map(Pattern::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `req` needs, as (op as on the wire, object name, need); `None` for requests about the
/// connection itself (`hello`, `ping`, `cancel` of its own request), which every key may send.
/// `exists` tells whether an object of the name is there (opening a new name creates it).
///
/// Exhaustive on purpose: a new request kind does not compile until it is classified here,
/// so nothing is let through by default.
pub fn needs<'a>(
    req: &Request<'a>,
    exists: impl Fn(&str) -> bool,
) -> Option<(&'static str, &'a str, Need)> {
    use Need::{Admin, Read, Write};
    use Request as R;
    Some(match req {
        R::Hello { .. } | R::Ping | R::Cancel { .. } | R::RingOpen | R::RingFree => return None,
        R::List => ("list", "", Admin),
        R::Scan { .. } => ("scan", "", Admin),
        R::Clients => ("clients", "", Admin),
        R::Stat { name } => ("stat", name, Read),
        R::Delete { name } => ("delete", name, Write),
        // Opening an existing object looks at it; creating one, or claiming a pipe end, is a
        // change.
        R::Open { name, options, .. } => {
            let need = if exists(name) && options.end.is_none() {
                Read
            } else {
                Write
            };
            ("open", name, need)
        }
        R::QueuePut { name, .. } => ("queue.put", name, Write),
        R::QueueGet { name, .. } => ("queue.get", name, Write),
        R::QueueQsize { name } => ("queue.qsize", name, Read),
        R::QueueTaskDone { name } => ("queue.task_done", name, Write),
        R::QueueJoin { name, .. } => ("queue.join", name, Read),
        R::QueueGetLeased { name, .. } => ("queue.get_leased", name, Write),
        R::QueueAck { name, .. } => ("queue.ack", name, Write),
        R::QueueNack { name, .. } => ("queue.nack", name, Write),
        R::QueuePutMany { name, .. } => ("queue.put_many", name, Write),
        R::QueueGetMany { name, .. } => ("queue.get_many", name, Write),
        R::QueueGetManyLeased { name, .. } => ("queue.get_many_leased", name, Write),
        R::QueueAckMany { name, .. } => ("queue.ack_many", name, Write),
        R::QueueUnget { name, .. } => ("queue.unget", name, Write),
        R::QueueUnlease { name, .. } => ("queue.unlease", name, Write),
        // Several names: checked one by one through `needs_each`, which the caller asks first.
        R::QueueGetAny { .. } | R::Wait { .. } => return None,
        R::DictGet { name, .. } => ("dict.get", name, Read),
        R::DictSet { name, .. } => ("dict.set", name, Write),
        R::DictDelete { name, .. } => ("dict.delete", name, Write),
        R::DictContains { name, .. } => ("dict.contains", name, Read),
        R::DictLen { name } => ("dict.len", name, Read),
        R::DictKeys { name } => ("dict.keys", name, Read),
        R::DictValues { name } => ("dict.values", name, Read),
        R::DictItems { name } => ("dict.items", name, Read),
        R::DictUpdate { name, .. } => ("dict.update", name, Write),
        R::DictGetMany { name, .. } => ("dict.get_many", name, Read),
        R::DictPop { name, .. } => ("dict.pop", name, Write),
        R::DictPopItem { name } => ("dict.popitem", name, Write),
        R::DictSetDefault { name, .. } => ("dict.setdefault", name, Write),
        R::DictClear { name } => ("dict.clear", name, Write),
        R::DictScan { name, .. } => ("dict.scan", name, Read),
        R::DictIncr { name, .. } => ("dict.incr", name, Write),
        R::DictCompareAndSet { name, .. } => ("dict.compare_and_set", name, Write),
        R::PipeSend { name, .. } => ("pipe.send", name, Write),
        R::PipeRecv { name, .. } => ("pipe.recv", name, Write),
        R::PipePoll { name, .. } => ("pipe.poll", name, Read),
        R::PipeClose { name, .. } => ("pipe.close", name, Write),
        R::LockAcquire { name, .. } => ("lock.acquire", name, Write),
        R::LockRelease { name } => ("lock.release", name, Write),
        R::SemaphoreAcquire { name, .. } => ("semaphore.acquire", name, Write),
        R::SemaphoreRelease { name, .. } => ("semaphore.release", name, Write),
        R::EventSet { name } => ("event.set", name, Write),
        R::EventClear { name } => ("event.clear", name, Write),
        R::EventIsSet { name } => ("event.is_set", name, Read),
        R::EventWait { name, .. } => ("event.wait", name, Read),
        R::ConditionAcquire { name, .. } => ("condition.acquire", name, Write),
        R::ConditionRelease { name } => ("condition.release", name, Write),
        R::ConditionWait { name, .. } => ("condition.wait", name, Write),
        R::ConditionNotify { name, .. } => ("condition.notify", name, Write),
        R::ConditionNotifyAll { name } => ("condition.notify_all", name, Write),
        R::BarrierWait { name, .. } => ("barrier.wait", name, Write),
        R::BarrierAbort { name } => ("barrier.abort", name, Write),
        R::BarrierReset { name } => ("barrier.reset", name, Write),
        R::BarrierState { name } => ("barrier.state", name, Read),
    })
}

/// What a request over several objects (`queue.get_any`, `wait`) needs of each of them, as
/// (op, names, need); `None` for requests about one object or none ([`needs`]). Every name
/// must be granted: a key may not learn about, or take from, a name outside its rules by
/// hiding it among its own.
pub fn needs_each<'a>(req: &Request<'a>) -> Option<(&'static str, Vec<&'a str>, Need)> {
    match req {
        Request::QueueGetAny { names, .. } => Some(("queue.get_any", names.clone(), Need::Write)),
        Request::Wait { targets, .. } => {
            Some(("wait", targets.iter().map(|t| t.name).collect(), Need::Read))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::new(s).unwrap()
    }

    #[test]
    fn patterns_glob() {
        assert!(p("tasks").matches("tasks"));
        assert!(!p("tasks").matches("tasks2"));
        assert!(p("jobs.*").matches("jobs."));
        assert!(p("jobs.*").matches("jobs.a.b"));
        assert!(!p("jobs.*").matches("jobs"));
        assert!(p("*").matches("anything"));
        assert!(p("r?sults").matches("results"));
        assert!(p("*.dead").matches("tasks.dead"));
        assert!(p("a*b*c").matches("aXXbYYc"));
        assert!(!p("a*b*c").matches("aXXbYY"));
        assert!(p("ünï*").matches("ünïcode"));
        // Linear even for the classic worst case.
        let name = "a".repeat(255);
        assert!(!p(&format!("{}b", "*a".repeat(100))).matches(&name));
        assert!(Pattern::new("").is_none());
    }

    #[test]
    fn rules_grant_read_write_read_only_or_nothing_and_say_which() {
        let r = Rules {
            key: "worker".into(),
            read_write: vec![p("tasks"), p("results.*")],
            read_only: vec![p("config"), p("tasks")],
        };
        assert!(r.check("queue.get", "tasks", Need::Write).is_ok());
        assert!(r.check("queue.put", "results.7", Need::Write).is_ok());
        assert!(r.check("dict.get", "config", Need::Read).is_ok());
        let e = r.check("dict.set", "config", Need::Write).unwrap_err();
        assert!(
            e.contains("may only read 'config'") && e.contains("\"config\""),
            "{e}"
        );
        let e = r.check("queue.get", "secrets", Need::Read).unwrap_err();
        assert!(
            e.contains("no pattern of [keys.worker]") && e.contains("\"results.*\""),
            "{e}"
        );
        let e = r.check("list", "", Need::Admin).unwrap_err();
        assert!(e.contains("key 'worker' may not list"), "{e}");
    }
}
