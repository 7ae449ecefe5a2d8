//! What each command does. Every command returns its standard output as a string, or a
//! [`Failure`]: one line for stderr and an exit status.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rmpv::Value;
use xproc::{
    Client, ConnectOptions, End, Error, ErrorCode, InfoValue, Kind, QueueOptions, RawQueue,
};

use crate::args::{Cli, Command, DictCommand};
use crate::json;

/// The operation failed (empty, timeout, missing, or a broker error).
pub const EXIT_FAILED: u8 = 1;
/// Bad usage or an unreadable value (clap uses 2 for its own usage errors too).
pub const EXIT_USAGE: u8 = 2;
/// No broker at the path, or the connection was lost.
pub const EXIT_NO_BROKER: u8 = 3;

/// A failed command: what to print on stderr (after `xproc: `) and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    fn failed(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: EXIT_FAILED,
        }
    }
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: EXIT_USAGE,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::NoBroker { .. } | Error::Disconnected(_) => EXIT_NO_BROKER,
            Error::Encode(_) => EXIT_USAGE,
            _ => EXIT_FAILED,
        };
        Failure {
            message: e.to_string(),
            status,
        }
    }
}

type Outcome = Result<String, Failure>;

/// How often `ping --wait` tries again.
const PING_RETRY: Duration = Duration::from_millis(50);

/// Runs one command line.
pub fn run(cli: Cli) -> Outcome {
    let options = ConnectOptions {
        path: cli.socket,
        client_name: "xproc-cli".to_string(),
        tls_ca: cli.tls_ca,
        tls_server_name: cli.tls_server_name,
        ..ConnectOptions::default()
    };
    if let Command::Ping { wait: Some(wait) } = cli.command {
        return ping_wait(options, wait);
    }
    let client = Client::connect_with(options)?;
    match cli.command {
        Command::Ping { .. } => ping(&client),
        Command::Ls => ls(&client),
        Command::Stat { name } => stat(&client, &name),
        Command::Put {
            name,
            value,
            stdin,
            timeout,
        } => match value {
            Some(value) if !stdin => put(&client, &name, &value, timeout),
            _ => put_lines(&client, &name, std::io::stdin().lock()),
        },
        Command::Get {
            name,
            timeout,
            count,
        } => {
            if count == 1 {
                get(&client, &name, timeout)
            } else {
                get_count(&client, &name, timeout, count)
            }
        }
        Command::Delete { name } => delete(&client, &name),
        Command::Clients => clients(&client),
        Command::Dict(cmd) => dict(&client, cmd),
        Command::Send {
            pipe,
            end,
            value,
            timeout,
        } => send(&client, &pipe, &end, &value, timeout),
        Command::Recv { pipe, end, timeout } => recv(&client, &pipe, &end, timeout),
    }
}

/// `ping --wait`: connects and pings until a broker answers or `wait` has passed. Only "no
/// broker" outcomes are retried (nothing listens, a stale socket file, a connection lost
/// while a broker starts or stops); any other error is final.
fn ping_wait(options: ConnectOptions, wait: Duration) -> Outcome {
    let deadline = Instant::now() + wait;
    loop {
        let last = match Client::connect_with(options.clone()) {
            Ok(client) => match ping(&client) {
                Err(f) if f.status == EXIT_NO_BROKER => f,
                done => return done,
            },
            Err(e) => {
                let f = Failure::from(e);
                if f.status != EXIT_NO_BROKER {
                    return Err(f);
                }
                f
            }
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(Failure {
                message: format!(
                    "no broker answered within {:.1} s: {}",
                    wait.as_secs_f64(),
                    last.message
                ),
                status: EXIT_NO_BROKER,
            });
        }
        std::thread::sleep(PING_RETRY.min(deadline - now));
    }
}

fn ping(client: &Client) -> Outcome {
    let start = Instant::now();
    client.ping()?;
    let rtt = start.elapsed();
    let rtt = if rtt < Duration::from_millis(1) {
        format!("{} µs", rtt.as_micros())
    } else {
        format!("{:.2} ms", rtt.as_secs_f64() * 1000.0)
    };
    Ok(format!(
        "pong from {} at {}: round trip {rtt}\n",
        if client.server().is_empty() {
            "xprocd"
        } else {
            client.server()
        },
        client.path().display()
    ))
}

fn ls(client: &Client) -> Outcome {
    // By scan, in name order, a page per request: however many objects there are.
    let objects = client.scan().collect::<Result<Vec<_>, _>>()?;
    let rows = objects
        .iter()
        .map(|o| {
            vec![
                o.name.clone(),
                o.kind.clone(),
                o.len.to_string(),
                o.waiters.to_string(),
            ]
        })
        .collect();
    Ok(table(&["NAME", "TYPE", "LENGTH", "WAITERS"], rows))
}

fn stat(client: &Client, name: &str) -> Outcome {
    let s = client.stat(name).map_err(|e| not_found(e, name))?;
    let mut fields = vec![
        ("name".to_string(), name.to_string()),
        ("kind".to_string(), s.kind),
    ];
    let mut deliveries = None;
    for (k, v) in &s.info.0 {
        match (k.as_str(), v) {
            // A queue's deliveries in flight get a table of their own below.
            ("deliveries", InfoValue::List(rows)) => deliveries = Some(rows),
            _ => fields.push((k.clone(), v.to_string())),
        }
    }
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in fields {
        writeln!(out, "{k:width$}  {v}").unwrap();
    }
    if let Some(rows) = deliveries.filter(|r| !r.is_empty()) {
        out.push('\n');
        out.push_str(&deliveries_table(rows));
    }
    Ok(out)
}

/// In-flight deliveries (`stat`'s `[delivery, attempt, age_ms, holder_pid]` rows) as a table.
fn deliveries_table(rows: &[InfoValue]) -> String {
    let cell = |v: Option<&InfoValue>| v.map_or("-".to_string(), InfoValue::to_string);
    let rows = rows
        .iter()
        .map(|row| {
            let r = match row {
                InfoValue::List(r) => r.as_slice(),
                _ => &[],
            };
            let age = match r.get(2) {
                Some(InfoValue::Int(ms)) => format!("{:.1}s", *ms as f64 / 1000.0),
                other => cell(other),
            };
            vec![cell(r.first()), cell(r.get(1)), age, cell(r.get(3))]
        })
        .collect();
    table(&["DELIVERY", "ATTEMPT", "AGE", "HOLDER PID"], rows)
}

fn clients(client: &Client) -> Outcome {
    let list = client.clients()?;
    let join = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.conn_id.to_string(),
                c.pid.to_string(),
                match (&c.addr, &c.key) {
                    (Some(addr), Some(key)) => format!("{addr} key={key}"),
                    (Some(addr), None) => addr.clone(),
                    _ => c.uid.to_string(),
                },
                if c.name.is_empty() {
                    "-".into()
                } else {
                    c.name.clone()
                },
                if c.lang.is_empty() {
                    "-".into()
                } else {
                    c.lang.clone()
                },
                join(&c.holds),
                join(&c.waits),
            ]
        })
        .collect();
    Ok(table(
        &["CONN", "PID", "UID/PEER", "NAME", "LANG", "HOLDS", "WAITS"],
        rows,
    ))
}

fn delete(client: &Client, name: &str) -> Outcome {
    if client.delete(name)? {
        Ok(String::new())
    } else {
        Err(Failure::failed(format!("no object named '{name}'")))
    }
}

/// Opens `name` as the queue kind it already has, or as a new plain queue.
fn open_queue(client: &Client, name: &str) -> Result<RawQueue, Failure> {
    let kind = match client.stat(name) {
        Ok(s) => match Kind::parse(&s.kind) {
            Some(k @ (Kind::Queue | Kind::JoinableQueue)) => k,
            _ => {
                return Err(Failure::failed(format!(
                    "'{name}' is a {}, not a queue",
                    s.kind
                )))
            }
        },
        Err(e) if e.code() == Some(ErrorCode::NotFound) => Kind::Queue,
        Err(e) => return Err(e.into()),
    };
    Ok(client.raw_queue(name, kind, QueueOptions::default())?)
}

fn put(client: &Client, name: &str, value: &str, timeout: Option<Duration>) -> Outcome {
    let value = value_arg(value)?;
    let queue = open_queue(client, name)?;
    match queue.put(&value, timeout) {
        Ok(()) => Ok(String::new()),
        Err(Error::Full) => Err(Failure::failed(format!("queue '{name}' is full"))),
        Err(Error::Timeout) => Err(Failure::failed(format!(
            "queue '{name}' stayed full for {}",
            secs(timeout)
        ))),
        Err(e) => Err(e.into()),
    }
}

fn get(client: &Client, name: &str, timeout: Option<Duration>) -> Outcome {
    let queue = open_queue(client, name)?;
    match queue.get(timeout) {
        Ok(bytes) => show(&bytes),
        Err(Error::Empty) => Err(Failure::failed(format!("queue '{name}' is empty"))),
        Err(Error::Timeout) => Err(Failure::failed(format!(
            "queue '{name}' stayed empty for {}",
            secs(timeout)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `put NAME --stdin`: one JSON value per line, streamed with `put_async`.
fn put_lines(client: &Client, name: &str, input: impl std::io::BufRead) -> Outcome {
    let queue = open_queue(client, name)?;
    // put_async positions count values, not lines: keep the line of each.
    let mut lines_of = Vec::new();
    let at_line = |lines: &[u64], e: Error| match e {
        Error::PutAsync { position, source } => {
            let line = lines.get(position as usize).copied().unwrap_or(0);
            Failure::failed(format!(
                "line {line} was not put (nor any after it): {source}"
            ))
        }
        e => e.into(),
    };
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| Failure::failed(format!("cannot read standard input: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let value = match value_arg(&line) {
            Ok(v) => v,
            Err(e) => {
                queue.flush().map_err(|e| at_line(&lines_of, e))?;
                return Err(Failure::failed(format!("line {}: {}", i + 1, e.message)));
            }
        };
        lines_of.push(i as u64 + 1);
        queue.put_async(&value).map_err(|e| at_line(&lines_of, e))?;
    }
    queue.flush().map_err(|e| at_line(&lines_of, e))?;
    Ok(String::new())
}

/// Most values `get --count` asks for per round trip.
const GET_COUNT_BATCH: u64 = 1024;

/// `get NAME --count N`: N values in batches, each printed as soon as its batch comes.
fn get_count(client: &Client, name: &str, timeout: Option<Duration>, count: u64) -> Outcome {
    use std::io::Write;
    let queue = open_queue(client, name)?;
    let mut got = 0;
    let stdout = std::io::stdout();
    while got < count {
        let max = (count - got).min(GET_COUNT_BATCH) as usize;
        match queue.get_many(max, timeout) {
            Ok(values) => {
                let mut out = stdout.lock();
                for v in &values {
                    let text = show(v)?;
                    out.write_all(text.as_bytes())
                        .map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
                }
                out.flush()
                    .map_err(|e| Failure::failed(format!("cannot write: {e}")))?;
                got += values.len() as u64;
            }
            Err(Error::Empty | Error::Timeout) => {
                return Err(Failure::failed(format!(
                    "queue '{name}' stayed empty for {} after {got} of {count} values",
                    secs(timeout)
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(String::new())
}

fn dict(client: &Client, cmd: DictCommand) -> Outcome {
    match cmd {
        DictCommand::Set { name, key, value } => {
            let (key, value) = (key_arg(&key)?, value_arg(&value)?);
            client.raw_dict(&name)?.set(&key, &value)?;
            Ok(String::new())
        }
        DictCommand::Get { name, key } => {
            let text = key;
            let key = key_arg(&text)?;
            match existing_dict(client, &name)?.get(&key)? {
                Some(v) => show(&v),
                None => Err(Failure::failed(format!(
                    "key {} not found in dict '{name}'",
                    key_shown(&key)
                ))),
            }
        }
        DictCommand::Del { name, key } => {
            let key = key_arg(&key)?;
            if existing_dict(client, &name)?.delete(&key)? {
                Ok(String::new())
            } else {
                Err(Failure::failed(format!(
                    "key {} not found in dict '{name}'",
                    key_shown(&key)
                )))
            }
        }
        DictCommand::Keys { name } => {
            let mut out = String::new();
            // A cursor scan, page by page: works for a dict too large for one snapshot frame.
            for entry in existing_dict(client, &name)?.scan() {
                out.push_str(&show(&entry?.0)?);
            }
            Ok(out)
        }
        DictCommand::Items { name } => {
            let mut out = String::new();
            for entry in existing_dict(client, &name)?.scan() {
                let (k, v) = entry?;
                let pair = Value::Array(vec![decoded(&k)?, decoded(&v)?]);
                writeln!(out, "{}", json::print(&pair)).unwrap();
            }
            Ok(out)
        }
    }
}

/// Opens a dict that must exist already (reading commands do not create one).
fn existing_dict(client: &Client, name: &str) -> Result<xproc::RawDict, Failure> {
    let s = client.stat(name).map_err(|e| not_found(e, name))?;
    if s.kind != Kind::Dict.as_str() {
        return Err(Failure::failed(format!(
            "'{name}' is a {}, not a dict",
            s.kind
        )));
    }
    Ok(client.raw_dict(name)?)
}

fn end_arg(end: &str) -> Result<End, Failure> {
    End::parse(end).ok_or_else(|| Failure::usage(format!("pipe end must be a or b, not {end:?}")))
}

fn send(client: &Client, pipe: &str, end: &str, value: &str, timeout: Option<Duration>) -> Outcome {
    let value = value_arg(value)?;
    let p = client.raw_pipe(pipe, end_arg(end)?, Default::default())?;
    match p.send(&value, timeout) {
        Ok(()) => Ok(String::new()),
        Err(Error::Full) => Err(Failure::failed(format!("pipe '{pipe}' is full"))),
        Err(Error::Timeout) => Err(Failure::failed(format!(
            "pipe '{pipe}' stayed full for {}",
            secs(timeout)
        ))),
        Err(Error::Closed(_)) => Err(Failure::failed(format!(
            "pipe '{pipe}' is closed at the other end"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn recv(client: &Client, pipe: &str, end: &str, timeout: Option<Duration>) -> Outcome {
    let p = client.raw_pipe(pipe, end_arg(end)?, Default::default())?;
    match p.recv(timeout) {
        Ok(bytes) => show(&bytes),
        Err(Error::Empty) => Err(Failure::failed(format!("pipe '{pipe}' has no message"))),
        Err(Error::Timeout) => Err(Failure::failed(format!(
            "no message on pipe '{pipe}' for {}",
            secs(timeout)
        ))),
        Err(Error::Closed(_)) => Err(Failure::failed(format!(
            "pipe '{pipe}': end of file (the other end is closed)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A JSON value argument, encoded as MessagePack.
fn value_arg(text: &str) -> Result<Vec<u8>, Failure> {
    json::parse(text).map(|v| json::encode(&v)).map_err(|e| {
        Failure::usage(format!(
            "invalid JSON value {text:?}: {e} (a string needs quotes: '\"text\"')"
        ))
    })
}

/// A dict key argument: JSON if it parses, else the text as a string.
fn key_arg(text: &str) -> Result<Vec<u8>, Failure> {
    let v = json::parse(text).unwrap_or_else(|_| Value::from(text));
    Ok(json::encode(&v))
}

fn key_shown(key: &[u8]) -> String {
    json::decode(key).map_or_else(|_| "?".to_string(), |v| json::print(&v))
}

fn decoded(bytes: &[u8]) -> Result<Value, Failure> {
    json::decode(bytes).map_err(Failure::failed)
}

/// One value as a line of JSON.
fn show(bytes: &[u8]) -> Outcome {
    Ok(format!("{}\n", json::print(&decoded(bytes)?)))
}

fn not_found(e: Error, name: &str) -> Failure {
    if e.code() == Some(ErrorCode::NotFound) {
        Failure::failed(format!("no object named '{name}'"))
    } else {
        e.into()
    }
}

fn secs(timeout: Option<Duration>) -> String {
    format!("{}s", timeout.unwrap_or_default().as_secs_f64())
}

/// Left-aligned columns, two spaces apart, with a header row.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len() - 1;
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let pad = w - cell.chars().count() + 2;
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_print_as_a_table() {
        let row = |d: i64, a: i64, age: i64, pid: InfoValue| {
            InfoValue::List(vec![
                InfoValue::Int(d),
                InfoValue::Int(a),
                InfoValue::Int(age),
                pid,
            ])
        };
        let t = deliveries_table(&[
            row(17, 1, 1500, InfoValue::Int(4242)),
            row(18, 2, 20, InfoValue::Nil),
        ]);
        assert_eq!(
            t,
            "DELIVERY  ATTEMPT  AGE   HOLDER PID\n17        1        1.5s  4242\n18        2        0.0s  -\n"
        );
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["NAME", "N"],
            vec![
                vec!["long-name".into(), "1".into()],
                vec!["x".into(), "22".into()],
            ],
        );
        assert_eq!(t, "NAME       N\nlong-name  1\nx          22\n");
    }

    #[test]
    fn keys_are_json_or_bare_words() {
        assert_eq!(key_arg("host").unwrap(), json::encode(&Value::from("host")));
        assert_eq!(key_arg("42").unwrap(), vec![42]);
        assert_eq!(key_arg("\"42\"").unwrap(), json::encode(&Value::from("42")));
    }

    #[test]
    fn bad_values_are_usage_errors_with_a_hint() {
        let f = value_arg("hello").unwrap_err();
        assert_eq!(f.status, EXIT_USAGE);
        assert!(f.message.contains("needs quotes"), "{}", f.message);
    }
}
