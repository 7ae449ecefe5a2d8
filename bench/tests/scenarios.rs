//! Each xproc scenario of `xproc-bench` runs to the end against a real `xprocd` and prints a
//! well-formed result line. This checks the harness, not speed: the counts are tiny and no
//! timing is asserted.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A broker started for this test, stopped (SIGKILL through `Child`) on drop.
struct Broker {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `xprocd` sits next to this test's executable's directory (target/<profile>/).
fn xprocd_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = profile_dir.join("xprocd");
    assert!(
        path.exists(),
        "{} not found: run `cargo build -p xproc-broker` first",
        path.display()
    );
    path
}

fn start_broker(tag: &str) -> Broker {
    let dir = std::env::temp_dir().join(format!("xpb-t-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let socket = dir.join("x.sock");
    let child = Command::new(xprocd_path())
        .arg("--socket")
        .arg(&socket)
        .arg("--log-level")
        .arg("warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("start xprocd");
    let broker = Broker { child, dir, socket };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&broker.socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "xprocd did not accept within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    broker
}

/// Runs one subcommand with small bounds; returns its parsed result line.
fn run(sub: &str, broker: &Broker) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xproc-bench"));
    cmd.arg(sub)
        .arg("--socket")
        .arg(&broker.socket)
        .args(["--iters", "400", "--secs", "10", "--warmup", "10"]);
    if sub == "xproc-put-many" {
        cmd.args(["--batch", "100"]);
    }
    let out = cmd.output().expect("run xproc-bench");
    assert!(
        out.status.success(),
        "{sub} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    // xproc-ping-stream prints its idle row first; the last line is the scenario's own.
    let line = text.trim().lines().last().expect("a result line");
    serde_json::from_str(line).expect("one JSON line")
}

#[test]
fn every_xproc_scenario_completes_and_reports() {
    let broker = start_broker("all");
    for (sub, scenario) in [
        ("xproc-putget", "xproc_put_get"),
        ("xproc-put-many", "xproc_put_many"),
        ("xproc-prodcons", "xproc_prodcons"),
        ("xproc-dict", "xproc_dict"),
        ("xproc-pipe", "xproc_pipe"),
        ("xproc-stream", "xproc_stream"),
        ("xproc-conns", "xproc_conns50"),
        ("xproc-evconns", "xproc_evconns50"),
        ("xproc-ping-stream", "xproc_ping_streaming"),
    ] {
        let v = run(sub, &broker);
        assert_eq!(v["scenario"], scenario);
        assert_eq!(v["ops"], 400, "{sub}: every bounded op is counted");
        assert!(
            v["ops_per_s"].as_f64().is_some_and(|x| x > 0.0),
            "{sub}: {v}"
        );
    }
}

/// Issue 15's scenarios (`bench/src/aio.rs`): each runs against a real xprocd and reports.
#[test]
fn the_async_and_get_any_scenarios_complete_and_report() {
    let broker = start_broker("aio");
    for (sub, scenario, want_ops) in [
        ("xproc-get-one", "xproc_get_one", Some(400)),
        ("xproc-get-any8", "xproc_get_any8", Some(400)),
        // One call is put_many 1000 + get_many 1000.
        ("xproc-sync-pipelined", "xproc_sync_pipelined", Some(2000)),
        (
            "xproc-sync-pipelined-single",
            "xproc_sync_pipelined_single",
            Some(2000),
        ),
        // Time-bound: 1000 tasks for --secs.
        ("xproc-tokio", "xproc_tokio", None),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_xproc-bench"))
            .arg(sub)
            .arg("--socket")
            .arg(&broker.socket)
            .args(["--iters", "400", "--secs", "0.3", "--warmup", "10"])
            .output()
            .expect("run xproc-bench");
        assert!(
            out.status.success(),
            "{sub} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("JSON");
        assert_eq!(v["scenario"], scenario);
        if let Some(n) = want_ops {
            assert_eq!(v["ops"], n, "{sub}: {v}");
        }
        assert!(
            v["ops_per_s"].as_f64().is_some_and(|x| x > 0.0),
            "{sub}: {v}"
        );
    }
}
