//! The Rust peer of the cross-language matrix (tests/cross-language/README.md).
//!
//! `matrix_peer <send|recv> <queue|pipe|dict> <object-name>`, with the broker at
//! `$XPROC_SOCKET` (or the default endpoint). The sender puts every value case of the matrix
//! on the object; the receiver takes each one and checks it against its own copy of the case,
//! built here natively with `rmpv` — never from the sender's bytes. Both print one line per
//! case, `ok <case>` or `FAIL <case>: expected ..., got ...`, and exit 1 if any case failed
//! (2 on a usage error).
//!
//! The case list, their names and the per-scenario protocol (queue order, pipe ends `a`/`b`
//! and end of file, the dict's `<name>.done` event and integer key) are the contract every
//! language's peer follows; the README spells it out.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use rmpv::Value;
use xproc::{Client, End, Error, Kind, PipeOptions, QueueOptions};

/// How long a receiver waits for each value (and the dict receiver for the `done` event):
/// generous, because the sender may still be starting (a cold Mono or Python start).
const RECV_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a sender waits for room (queues and pipes are unbounded or roomy here, so this
/// only bounds a broken broker).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Size of the `bytes_1mib` case.
const MIB: usize = 1 << 20;

/// Size of the `bytes_16mib` case: far above the clients' memfd threshold, so between
/// clients on the local socket it travels as a sealed memfd (docs/PROTOCOL.md §4.1).
const MIB16: usize = 16 << 20;

/// The dict scenario's extra entry: an integer key, which every language must encode in its
/// shortest form for the receiver's own encoding of it to find the entry (PROTOCOL.md §4).
const DICT_INT_KEY: i64 = 42;
/// The value stored under [`DICT_INT_KEY`].
const DICT_INT_VALUE: &str = "answer";

/// One named value of the matrix.
struct Case {
    name: &'static str,
    value: Value,
}

/// A string value.
fn s(text: &str) -> Value {
    Value::from(text)
}

/// A map value with string keys, in the order given.
fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// The 1 MiB pattern: byte `i` is `i % 251` (a prime, so the pattern does not line up with
/// any power-of-two block and a shifted or truncated copy shows).
fn mib_pattern() -> Vec<u8> {
    pattern(MIB)
}

/// `n` bytes of the same pattern.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Every value case, in the order the queue and pipe scenarios carry them.
fn cases() -> Vec<Case> {
    let case = |name, value| Case { name, value };
    vec![
        case("nil", Value::Nil),
        case("true", Value::Boolean(true)),
        case("false", Value::Boolean(false)),
        case("zero", Value::from(0)),
        case("minus_one", Value::from(-1)),
        case("i64_min", Value::from(i64::MIN)),
        case("i64_max", Value::from(i64::MAX)),
        case("u64_max", Value::from(u64::MAX)),
        case("two_pow_53_plus_1", Value::from(9_007_199_254_740_993_i64)),
        case("float_1_5", Value::F64(1.5)),
        case("nan", Value::F64(f64::NAN)),
        case("pos_inf", Value::F64(f64::INFINITY)),
        case("neg_inf", Value::F64(f64::NEG_INFINITY)),
        case("neg_zero", Value::F64(-0.0)),
        case("empty_string", s("")),
        case("unicode_string", s("héllo wörld ✓ 日本 🦀")),
        case("empty_bytes", Value::Binary(Vec::new())),
        case("bytes_with_zeros", Value::Binary(vec![0, 1, 0, 0, 0xff, 0])),
        case(
            "nested_array",
            Value::Array(vec![
                Value::from(1),
                Value::Array(vec![
                    Value::from(2),
                    Value::Array(vec![Value::from(3), Value::Array(vec![])]),
                ]),
                Value::Array(vec![]),
                Value::Array(vec![Value::Array(vec![s("deep")])]),
            ]),
        ),
        case(
            "nested_map",
            map(vec![
                ("name", s("matrix")),
                (
                    "inner",
                    map(vec![
                        (
                            "list",
                            Value::Array(vec![Value::from(1), Value::from(2), Value::from(3)]),
                        ),
                        (
                            "deep",
                            map(vec![("x", Value::from(-1)), ("empty", map(vec![]))]),
                        ),
                    ]),
                ),
                ("empty_list", Value::Array(vec![])),
            ]),
        ),
        case(
            "int_key_map",
            Value::Map(vec![
                (Value::from(1), s("one")),
                (Value::from(-2), s("minus two")),
            ]),
        ),
        case(
            "mixed_array",
            Value::Array(vec![
                Value::from(1),
                s("two"),
                Value::F64(3.25),
                Value::Boolean(true),
                Value::Nil,
                Value::Binary(vec![0, 0xff]),
                map(vec![("k", s("v"))]),
                Value::Array(vec![Value::from(-5)]),
            ]),
        ),
        case("bytes_1mib", Value::Binary(mib_pattern())),
        case("bytes_16mib", Value::Binary(pattern(MIB16))),
    ]
}

/// Encodes a value as MessagePack (rmpv writes integers in their shortest form).
fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// Decodes exactly one MessagePack value, refusing trailing bytes.
fn decode(bytes: &[u8]) -> Result<Value, String> {
    let mut rest = bytes;
    let value = rmpv::decode::read_value(&mut rest).map_err(|e| format!("undecodable: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the value", rest.len()));
    }
    Ok(value)
}

/// A short human description of a value, for FAIL lines (long strings and bytes abridged).
fn describe(value: &Value) -> String {
    let mut out = String::new();
    describe_into(value, &mut out);
    out
}

fn describe_into(value: &Value, out: &mut String) {
    match value {
        Value::Nil => out.push_str("nil"),
        Value::Boolean(b) => {
            let _ = write!(out, "bool {b}");
        }
        Value::Integer(n) => {
            let _ = write!(out, "int {n}");
        }
        Value::F32(x) => {
            let _ = write!(out, "float32 {x:?}");
        }
        Value::F64(x) => {
            let _ = write!(out, "float64 {x:?}");
        }
        Value::String(text) => match text.as_str() {
            Some(t) if t.chars().count() <= 40 => {
                let _ = write!(out, "str {t:?}");
            }
            Some(t) => {
                let head: String = t.chars().take(40).collect();
                let _ = write!(out, "str {head:?}... ({} bytes)", t.len());
            }
            None => out.push_str("str (not UTF-8)"),
        },
        Value::Binary(b) if b.len() <= 16 => {
            let _ = write!(out, "bytes {b:02x?}");
        }
        Value::Binary(b) => {
            let _ = write!(out, "bytes {:02x?}... ({} bytes)", &b[..16], b.len());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                describe_into(item, out);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                describe_into(k, out);
                out.push_str(": ");
                describe_into(v, out);
            }
            out.push('}');
        }
        Value::Ext(ty, data) => {
            let _ = write!(out, "ext type {ty} ({} bytes)", data.len());
        }
    }
}

/// Whether two floats are the same number: NaN matches NaN, and zeros must agree on their sign
/// bit (so `-0.0` arriving as `0.0` fails).
fn same_float(expected: f64, got: f64) -> bool {
    if expected.is_nan() {
        return got.is_nan();
    }
    expected == got && expected.is_sign_negative() == got.is_sign_negative()
}

/// Compares `got` with `expected` exactly: same types (a float is never an integer, a string
/// never bytes; a float must arrive as float 64, as every peer sends it), same numbers, same
/// elements; maps compare as sets of entries (order is not part of a map's meaning). Returns
/// where and how they first differ.
fn difference(expected: &Value, got: &Value, path: &str) -> Option<String> {
    let mismatch = || {
        Some(format!(
            "{}expected {}, got {}",
            at(path),
            describe(expected),
            describe(got)
        ))
    };
    match (expected, got) {
        (Value::Nil, Value::Nil) => None,
        (Value::Boolean(a), Value::Boolean(b)) if a == b => None,
        (Value::Integer(a), Value::Integer(b)) if a == b => None,
        (Value::F64(a), Value::F64(b)) if same_float(*a, *b) => None,
        (Value::String(a), Value::String(b)) if a.as_bytes() == b.as_bytes() => None,
        (Value::Binary(a), Value::Binary(b)) => bytes_difference(a, b, path),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, &format!("{path}[{i}]"))),
        (Value::Map(a), Value::Map(b)) if a.len() == b.len() => a.iter().find_map(|(k, v)| {
            let key_path = format!("{path}[{}]", describe(k));
            match b.iter().find(|(bk, _)| difference(k, bk, "").is_none()) {
                Some((_, bv)) => difference(v, bv, &key_path),
                None => Some(format!(
                    "{}expected a key {}, got {}",
                    at(path),
                    describe(k),
                    describe(got)
                )),
            }
        }),
        _ => mismatch(),
    }
}

/// Compares byte strings, naming the first differing index rather than dumping a megabyte.
fn bytes_difference(expected: &[u8], got: &[u8], path: &str) -> Option<String> {
    if expected == got {
        return None;
    }
    if expected.len() != got.len() {
        return Some(format!(
            "{}expected {} bytes, got {} bytes",
            at(path),
            expected.len(),
            got.len()
        ));
    }
    let i = expected.iter().zip(got).position(|(a, b)| a != b)?;
    Some(format!(
        "{}expected byte {i} = 0x{:02x}, got 0x{:02x}",
        at(path),
        expected[i],
        got[i]
    ))
}

/// The "at PATH: " prefix of a nested difference (nothing at the top level).
fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

/// Which side of a case this process plays.
#[derive(Clone, Copy)]
enum Role {
    Send,
    Recv,
}

/// The object the values travel through.
#[derive(Clone, Copy)]
enum Scenario {
    Queue,
    Pipe,
    Dict,
}

/// Counts and prints the outcome of each case.
#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, case: &str) {
        println!("ok {case}");
    }

    fn fail(&mut self, case: &str, why: impl std::fmt::Display) {
        self.failures += 1;
        println!("FAIL {case}: {why}");
    }

    /// Records a receiver's check of one case. `Err` when nothing was received: the receiver
    /// stops there, since every later wait would fail the same way (the runner reports the
    /// cases it then never printed).
    fn check(&mut self, case: &Case, got: Result<Vec<u8>, Error>) -> Result<(), ()> {
        let bytes = match got {
            Ok(bytes) => bytes,
            Err(e) => {
                self.fail(
                    case.name,
                    format!("expected {}, got error: {e}", describe(&case.value)),
                );
                return Err(());
            }
        };
        let outcome = decode(&bytes).and_then(|value| match difference(&case.value, &value, "") {
            None => Ok(()),
            Some(why) => Err(why),
        });
        match outcome {
            Ok(()) => self.ok(case.name),
            Err(why) => self.fail(case.name, why),
        }
        Ok(())
    }

    /// Records a sender's attempt at one step.
    fn sent(&mut self, case: &str, result: Result<(), Error>) -> Result<(), ()> {
        match result {
            Ok(()) => {
                self.ok(case);
                Ok(())
            }
            Err(e) => {
                self.fail(case, format!("send failed: {e}"));
                Err(())
            }
        }
    }
}

/// The sender: puts every case (and, for a dict, the integer key and the `done` event).
/// Stops at the first failed send: later ones would only repeat it.
fn send(client: &Client, scenario: Scenario, name: &str, report: &mut Report) -> Result<(), ()> {
    let cases = cases();
    match scenario {
        Scenario::Queue => {
            let queue = client
                .raw_queue(name, Kind::Queue, QueueOptions::default())
                .map_err(|e| report.fail("open", e))?;
            for case in &cases {
                let result = queue.put(&encode(&case.value), Some(SEND_TIMEOUT));
                report.sent(case.name, result)?;
            }
        }
        Scenario::Pipe => {
            let pipe = client
                .raw_pipe(name, End::A, PipeOptions::default())
                .map_err(|e| report.fail("open", e))?;
            for case in &cases {
                let result = pipe.send(&encode(&case.value), Some(SEND_TIMEOUT));
                report.sent(case.name, result)?;
            }
            // Closing is what tells the receiver that nothing more comes (end of file).
            report.sent("end", pipe.close())?;
        }
        Scenario::Dict => {
            let dict = client.raw_dict(name).map_err(|e| report.fail("open", e))?;
            for case in &cases {
                let result = dict.set(&encode(&s(case.name)), &encode(&case.value));
                report.sent(case.name, result)?;
            }
            let result = dict.set(
                &encode(&Value::from(DICT_INT_KEY)),
                &encode(&s(DICT_INT_VALUE)),
            );
            report.sent("dict_int_key", result)?;
            let done = client
                .event(&format!("{name}.done"))
                .and_then(|event| event.set());
            report.sent("end", done)?;
        }
    }
    Ok(())
}

/// The receiver: takes every case and checks it, then checks that nothing more is there.
fn recv(client: &Client, scenario: Scenario, name: &str, report: &mut Report) -> Result<(), ()> {
    let cases = cases();
    match scenario {
        Scenario::Queue => {
            let queue = client
                .raw_queue(name, Kind::Queue, QueueOptions::default())
                .map_err(|e| report.fail("open", e))?;
            for case in &cases {
                report.check(case, queue.get(Some(RECV_TIMEOUT)))?;
            }
            match queue.get(Some(Duration::ZERO)) {
                Err(Error::Empty) => report.ok("end"),
                Ok(bytes) => report.fail(
                    "end",
                    format!("expected an empty queue, got {}", shown(&bytes)),
                ),
                Err(e) => report.fail("end", format!("expected an empty queue, got error: {e}")),
            }
        }
        Scenario::Pipe => {
            let pipe = client
                .raw_pipe(name, End::B, PipeOptions::default())
                .map_err(|e| report.fail("open", e))?;
            for case in &cases {
                report.check(case, pipe.recv(Some(RECV_TIMEOUT)))?;
            }
            match pipe.recv(Some(RECV_TIMEOUT)) {
                Err(Error::Closed(_)) => report.ok("end"),
                Ok(bytes) => report.fail(
                    "end",
                    format!("expected end of file, got {}", shown(&bytes)),
                ),
                Err(e) => report.fail("end", format!("expected end of file, got error: {e}")),
            }
        }
        Scenario::Dict => {
            let done = client
                .event(&format!("{name}.done"))
                .and_then(|event| event.wait_timeout(RECV_TIMEOUT));
            match done {
                Ok(true) => {}
                Ok(false) => {
                    report.fail("done", "the sender's done event was not set in time");
                    return Err(());
                }
                Err(e) => {
                    report.fail("done", e);
                    return Err(());
                }
            }
            let dict = client.raw_dict(name).map_err(|e| report.fail("open", e))?;
            for case in &cases {
                let got = dict.get(&encode(&s(case.name))).and_then(|v| {
                    v.ok_or_else(|| Error::KeyNotFound(format!("no key {:?}", case.name)))
                });
                // A missing key does not block: check every key.
                let _ = report.check(case, got);
            }
            let int_key = Case {
                name: "dict_int_key",
                value: s(DICT_INT_VALUE),
            };
            let got = dict.get(&encode(&Value::from(DICT_INT_KEY))).and_then(|v| {
                v.ok_or_else(|| Error::KeyNotFound(format!("no key {DICT_INT_KEY}")))
            });
            let _ = report.check(&int_key, got);
            let want = cases.len() as u64 + 1;
            match dict.len() {
                Ok(n) if n == want => report.ok("end"),
                Ok(n) => report.fail("end", format!("expected {want} entries, got {n}")),
                Err(e) => report.fail("end", format!("expected {want} entries, got error: {e}")),
            }
        }
    }
    Ok(())
}

/// Describes bytes that should not have arrived.
fn shown(bytes: &[u8]) -> String {
    match decode(bytes) {
        Ok(v) => describe(&v),
        Err(e) => e,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: matrix_peer <send|recv> <queue|pipe|dict> <object-name>");
        ExitCode::from(2)
    };
    let [role, scenario, name] = args.as_slice() else {
        return usage();
    };
    let role = match role.as_str() {
        "send" => Role::Send,
        "recv" => Role::Recv,
        _ => return usage(),
    };
    let scenario = match scenario.as_str() {
        "queue" => Scenario::Queue,
        "pipe" => Scenario::Pipe,
        "dict" => Scenario::Dict,
        _ => return usage(),
    };
    let mut report = Report::default();
    match Client::connect_default() {
        Ok(client) => {
            // A failed step has already been reported; the count below decides the exit code.
            let _ = match role {
                Role::Send => send(&client, scenario, name, &mut report),
                Role::Recv => recv(&client, scenario, name, &mut report),
            };
        }
        Err(e) => report.fail("connect", e),
    }
    if report.failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
