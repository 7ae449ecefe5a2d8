//! The `xproc` binary without a broker: help text, usage errors, and "no broker at PATH".
//! (Tests against a running broker are in tests/tests/cli.rs; this file also makes
//! `cargo test --workspace` build a fresh `xproc` binary for them.)

use std::process::{Command, Output};

fn xproc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xproc"))
        .args(args)
        .env_remove("XPROC_SOCKET")
        .output()
        .expect("run xproc")
}

#[test]
fn help_documents_values_and_exit_statuses() {
    let o = xproc(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "$bin",
        "$map",
        "$timestamp",
        "NaN",
        "18446744073709551615",
        "EXIT STATUS",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(xproc(&[]).status.code(), Some(2));
    assert_eq!(xproc(&["get"]).status.code(), Some(2));
    assert_eq!(xproc(&["send", "p", "c", "1"]).status.code(), Some(2));
}

#[test]
fn no_broker_exits_with_3_and_names_the_path() {
    let path = std::env::temp_dir().join("xproc-usage-test-nobody.sock");
    let o = xproc(&["--socket", path.to_str().unwrap(), "ls"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!("xproc: no broker at {}", path.display())),
        "{err}"
    );
}
