//! The `xproc` CLI binary against a real xprocd: output, JSON round trips including the tagged
//! MessagePack types, errors and exit statuses.

use std::process::{Command, Output, Stdio};

use serde::{Deserialize, Serialize};
use xproc::{End, Error};
use xproc_tests::{cli_exe, Broker};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the CLI and requires success; returns stdout.
fn ok(broker: &Broker, args: &[&str]) -> String {
    let o = broker.cli(args);
    assert!(
        o.status.success(),
        "xproc {args:?} failed ({}): {}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// Runs the CLI and requires exit status `code`; returns stderr.
fn fails(broker: &Broker, args: &[&str], code: i32) -> String {
    let o = broker.cli(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "xproc {args:?}: stdout {:?}, stderr {:?}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("xproc: "), "{err:?}");
    err
}

#[test]
fn ping_prints_the_round_trip_time() {
    let broker = Broker::start();
    let out = ok(&broker, &["ping"]);
    assert!(out.starts_with("pong from "), "{out}");
    assert!(out.contains("round trip"), "{out}");
    assert!(
        out.contains(&broker.socket().display().to_string()),
        "{out}"
    );
}

#[test]
fn json_values_round_trip_through_put_and_get_exactly() {
    let broker = Broker::start();
    for text in [
        r#"null"#,
        r#"true"#,
        r#"42"#,
        r#"-7"#,
        r#"18446744073709551615"#,
        r#"-9223372036854775808"#,
        r#"1.5"#,
        r#"2.0"#,
        r#""héllo \"quoted\"""#,
        r#"[1,"two",[3.25,null]]"#,
        r#"{"zeta":1,"alpha":{"nested":[true,false]}}"#,
        r#"{"$bin":"00ff7f"}"#,
        r#"{"$f32":0.5}"#,
        r#"{"$float":"NaN"}"#,
        r#"{"$float":"inf"}"#,
        r#"{"$float":"-inf"}"#,
        r#"{"$map":[[1,"one"],[[2,3],"pair"],[null,{"$bin":"01"}]]}"#,
        r#"{"$map":[["$bin","a real map whose key looks like a tag"]]}"#,
        r#"{"$timestamp":"2024-05-01T12:00:00.123456789Z"}"#,
        r#"{"$timestamp":"1970-01-01T00:00:00Z"}"#,
        r#"{"$ext":[42,"cafe"]}"#,
    ] {
        ok(&broker, &["put", "values", text]);
        let got = ok(&broker, &["get", "values", "--timeout", "0"]);
        assert_eq!(got.trim_end(), text, "round trip of {text}");
    }
}

#[test]
fn the_cli_reads_what_rust_wrote_and_rust_reads_what_the_cli_wrote() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Task {
        n: u32,
        big: u64,
        #[serde(with = "serde_bytes")]
        blob: Vec<u8>,
        tags: Vec<String>,
    }
    let broker = Broker::start();
    let client = broker.client();
    let q = client.queue::<Task>("tasks").unwrap();
    let task = Task {
        n: 7,
        big: u64::MAX,
        blob: vec![1, 2],
        tags: vec!["a".into()],
    };
    q.put(&task).unwrap();
    let shown = ok(&broker, &["get", "tasks"]);
    assert_eq!(
        shown.trim_end(),
        r#"{"n":7,"big":18446744073709551615,"blob":{"$bin":"0102"},"tags":["a"]}"#
    );
    ok(&broker, &["put", "tasks", shown.trim_end()]);
    assert_eq!(q.try_get().unwrap(), task);
}

#[test]
fn get_on_an_empty_queue_fails_with_status_1_and_a_clear_message() {
    let broker = Broker::start();
    let err = fails(&broker, &["get", "nothing", "--timeout", "0"], 1);
    assert!(err.contains("queue 'nothing' is empty"), "{err}");
    let err = fails(&broker, &["get", "nothing", "--timeout", "0.05"], 1);
    assert!(err.contains("stayed empty"), "{err}");

    // A full queue: put --timeout 0.
    broker
        .client()
        .queue_with::<i64>(
            "tiny",
            xproc::QueueOptions {
                maxsize: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    ok(&broker, &["put", "tiny", "1"]);
    let err = fails(&broker, &["put", "tiny", "2", "--timeout", "0"], 1);
    assert!(err.contains("queue 'tiny' is full"), "{err}");
}

#[test]
fn put_and_get_use_the_existing_kind_and_refuse_other_kinds() {
    let broker = Broker::start();
    let client = broker.client();
    let jq = client.joinable_queue::<i64>("jobs").unwrap();
    ok(&broker, &["put", "jobs", "5"]);
    assert_eq!(jq.raw().qsize().unwrap().unfinished, 1);
    assert_eq!(ok(&broker, &["get", "jobs"]).trim_end(), "5");

    client.dict::<String, i64>("cfg").unwrap();
    let err = fails(&broker, &["put", "cfg", "1"], 1);
    assert!(err.contains("'cfg' is a dict, not a queue"), "{err}");
}

#[test]
fn ls_stat_and_delete() {
    let broker = Broker::start();
    ok(&broker, &["put", "jobs", "1"]);
    ok(&broker, &["put", "jobs", "2"]);
    ok(&broker, &["dict", "set", "cfg", "host", r#""localhost""#]);

    let ls = ok(&broker, &["ls"]);
    let rows: Vec<Vec<&str>> = ls.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "TYPE", "LENGTH", "WAITERS"]);
    assert!(rows.contains(&vec!["jobs", "queue", "2", "0"]), "{ls}");
    assert!(rows.contains(&vec!["cfg", "dict", "1", "0"]), "{ls}");

    let stat = ok(&broker, &["stat", "jobs"]);
    assert!(
        stat.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["kind", "queue"]),
        "{stat}"
    );
    assert!(
        stat.lines().count() > 2,
        "stat shows the info fields: {stat}"
    );

    ok(&broker, &["delete", "jobs"]);
    let err = fails(&broker, &["delete", "jobs"], 1);
    assert!(err.contains("no object named 'jobs'"), "{err}");
    let err = fails(&broker, &["stat", "jobs"], 1);
    assert!(err.contains("no object named 'jobs'"), "{err}");
}

#[test]
fn clients_lists_connections() {
    let broker = Broker::start();
    let client = xproc::Client::connect_with(xproc::ConnectOptions {
        path: Some(broker.socket().to_path_buf()),
        client_name: "watcher".into(),
        ..Default::default()
    })
    .unwrap();
    let out = ok(&broker, &["clients"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["CONN", "PID", "UID/PEER", "NAME", "LANG", "HOLDS", "WAITS"]
    );
    let pid = std::process::id().to_string();
    assert!(
        out.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.first() == Some(&client.conn_id().to_string().as_str())
                && cols.get(1) == Some(&pid.as_str())
                && cols.get(3) == Some(&"watcher")
        }),
        "{out}"
    );
}

#[test]
fn dict_commands() {
    let broker = Broker::start();
    ok(&broker, &["dict", "set", "cfg", "host", r#""db.local""#]);
    ok(&broker, &["dict", "set", "cfg", "42", r#"{"port":5432}"#]);
    ok(&broker, &["dict", "set", "cfg", r#""42""#, "[1]"]);
    assert_eq!(
        ok(&broker, &["dict", "get", "cfg", "host"]),
        "\"db.local\"\n"
    );
    assert_eq!(
        ok(&broker, &["dict", "get", "cfg", "42"]),
        "{\"port\":5432}\n"
    );
    assert_eq!(ok(&broker, &["dict", "get", "cfg", r#""42""#]), "[1]\n");
    assert_eq!(
        ok(&broker, &["dict", "keys", "cfg"]),
        "\"host\"\n42\n\"42\"\n"
    );
    assert_eq!(
        ok(&broker, &["dict", "items", "cfg"]).lines().next(),
        Some(r#"["host","db.local"]"#)
    );

    // What Rust sees.
    let d = broker.client().dict::<String, String>("cfg").unwrap();
    assert_eq!(d.get("host").unwrap().as_deref(), Some("db.local"));

    let err = fails(&broker, &["dict", "get", "cfg", "nope"], 1);
    assert!(
        err.contains(r#"key "nope" not found in dict 'cfg'"#),
        "{err}"
    );
    ok(&broker, &["dict", "del", "cfg", "host"]);
    fails(&broker, &["dict", "del", "cfg", "host"], 1);
    let err = fails(&broker, &["dict", "keys", "missing"], 1);
    assert!(err.contains("no object named 'missing'"), "{err}");
}

#[test]
fn send_and_recv_on_pipes() {
    let broker = Broker::start();
    let client = broker.client();

    // CLI sends from a; the Rust end b gets the message, then end of file (the CLI released a).
    let b = client.pipe::<String>("chan", End::B).unwrap();
    ok(&broker, &["send", "chan", "a", r#""hi""#]);
    assert_eq!(b.recv().unwrap(), "hi");
    assert!(matches!(b.recv(), Err(Error::Closed(_))));
    b.close().unwrap();

    // Rust sends from a; the CLI receives at b.
    let a = client.pipe::<Vec<i64>>("chan2", End::A).unwrap();
    a.send(&vec![1, 2, 3]).unwrap();
    assert_eq!(
        ok(&broker, &["recv", "chan2", "b", "--timeout", "5"]),
        "[1,2,3]\n"
    );
    // The CLI released b, so the pipe is finished for a too.
    assert!(matches!(a.send(&vec![4]), Err(Error::Closed(_))));

    let _hold = client.pipe::<i64>("chan3", End::A).unwrap();
    let err = fails(&broker, &["recv", "chan3", "b", "--timeout", "0"], 1);
    assert!(err.contains("no message"), "{err}");
    let err = fails(&broker, &["recv", "chan3", "a"], 1);
    assert!(err.to_lowercase().contains("busy"), "{err}");
}

#[test]
fn bad_input_is_a_usage_error() {
    let broker = Broker::start();
    let err = fails(&broker, &["put", "q", "not json"], 2);
    assert!(err.contains("invalid JSON"), "{err}");
    assert!(err.contains("quotes"), "{err}");
    let err = fails(&broker, &["put", "q", r#"{"$bin":"xyz"}"#], 2);
    assert!(err.contains("hex"), "{err}");
    // clap's own usage errors also exit with 2.
    let o = broker.cli(&["put"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn no_broker_is_status_3_and_names_the_path() {
    let path = std::env::temp_dir().join("xproc-cli-test-nobody.sock");
    for args in [vec!["ping"], vec!["ls"], vec!["get", "q"]] {
        let o = Command::new(cli_exe())
            .arg("--socket")
            .arg(&path)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("xproc: no broker at {}", path.display())),
            "{err}"
        );
    }
    // XPROC_SOCKET is honoured too.
    let o = Command::new(cli_exe())
        .arg("ping")
        .env("XPROC_SOCKET", &path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains(&path.display().to_string()));
}

/// `ping --wait`: a script's way to wait for a broker. A socket file proves nothing (a
/// SIGKILLed broker leaves its file), so it retries until a broker answers: here over a
/// stale socket file (no broker: status 3 once the time is up), then with a broker that
/// starts while it waits. On Windows (no socket file; a pipe name goes with its broker) the
/// same over a name nobody serves.
#[test]
fn ping_wait_waits_for_a_late_broker_not_for_a_stale_socket_file() {
    use std::time::{Duration, Instant};
    let dir = std::env::temp_dir().join(format!("xpw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = xproc_tests::test_endpoint(&dir);
    // A stale socket file, as a killed broker leaves it: the file exists, nothing listens.
    #[cfg(unix)]
    {
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
    }
    let ping = |wait: &str| {
        Command::new(cli_exe())
            .arg("--socket")
            .arg(&path)
            .args(["ping", "--wait", wait])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let start = Instant::now();
    let o = ping("0.3").wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(start.elapsed() >= Duration::from_millis(300));
    let err = stderr(&o);
    assert!(
        err.starts_with("xproc: no broker answered within 0.3 s: no broker at"),
        "{err}"
    );
    // Now a broker comes up half a second after the waiting ping started.
    let waiting = ping("30");
    std::thread::sleep(Duration::from_millis(500));
    let mut broker = Command::new(xproc_tests::xprocd_exe())
        .arg("--socket")
        .arg(&path)
        .env_remove("XPROC_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let o = waiting.wait_with_output().unwrap();
    xproc_tests::request_stop(broker.id());
    broker.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("pong from "), "{}", stdout(&o));
}

#[test]
fn dict_keys_items_and_ls_scan_past_max_frame() {
    let broker = Broker::start_with(&["--max-frame", "4096"]);
    let client = broker.client();
    let d = client.dict::<String, String>("big").unwrap();
    for i in 0..300 {
        d.set(&format!("key-{i:04}"), &"v".repeat(40)).unwrap();
        client
            .event(&format!("ev-{i:04}-{}", "x".repeat(20)))
            .unwrap();
    }
    assert!(d.items().is_err(), "one snapshot would not fit a frame");
    let keys = ok(&broker, &["dict", "keys", "big"]);
    let want: String = (0..300).map(|i| format!("\"key-{i:04}\"\n")).collect();
    assert_eq!(keys, want);
    assert_eq!(ok(&broker, &["dict", "items", "big"]).lines().count(), 300);
    let ls = ok(&broker, &["ls"]);
    assert_eq!(
        ls.lines().filter(|l| l.starts_with("ev-")).count(),
        300,
        "{ls}"
    );
}
