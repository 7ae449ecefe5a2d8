//! `xproc put NAME --stdin` (one JSON value per line, streamed) and `xproc get NAME --count N`
//! against a real broker.

use std::io::Write;
use std::process::{Command, Stdio};

use xproc_tests::{cli_exe, Broker};

fn put_stdin(broker: &Broker, name: &str, input: &str) -> std::process::Output {
    let mut child = Command::new(cli_exe())
        .args(["put", name, "--stdin"])
        .env("XPROC_SOCKET", broker.socket())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xproc");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn put_stdin_streams_every_line_and_get_count_prints_them_back() {
    let broker = Broker::start();
    let input: String = (0..3000).map(|n| format!("{{\"n\": {n}}}\n\n")).collect();
    let out = put_stdin(&broker, "lines", &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = broker.client().queue::<serde_json::Value>("lines").unwrap();
    assert_eq!(q.qsize().unwrap(), 3000);
    let out = broker.cli(&["get", "lines", "--count", "2500", "--timeout", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2500);
    assert_eq!(lines[0], "{\"n\":0}");
    assert_eq!(lines[2499], "{\"n\":2499}");
    // Fewer left than asked: prints them, then fails naming how many came.
    let out = broker.cli(&["get", "lines", "--count", "600", "--timeout", "0.2"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 500);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("after 500 of 600"), "{err}");
}

#[test]
fn a_line_that_is_not_json_stops_put_stdin_naming_it() {
    let broker = Broker::start();
    let out = put_stdin(&broker, "bad", "1\n2\nnot json\n4\n");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    let q = broker.client().queue::<i64>("bad").unwrap();
    assert_eq!(q.qsize().unwrap(), 2, "the lines before it are put");
}
