//! Helper processes for the two-process scenarios: this same binary, started with a hidden
//! subcommand, that says `ready` on stdout once connected and reports back through stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::error::BenchError;

/// A running helper process; killed (by its own pid, through `Child`) if dropped early.
pub struct Peer {
    child: Child,
    lines: BufReader<ChildStdout>,
    /// Its stdin, for a helper that runs until told to stop ([`Peer::close_stdin`]).
    stdin: Option<ChildStdin>,
}

impl Peer {
    /// Starts `xproc-bench <sub> --socket S --name N` and waits for its `ready` line.
    pub fn spawn(sub: &str, socket: &Path, name: &str) -> Result<Self, BenchError> {
        Peer::start(sub, socket, name, false)
    }

    /// Like [`spawn`](Self::spawn), with a pipe to the helper's stdin: closing it
    /// ([`close_stdin`](Self::close_stdin)) tells the helper to stop.
    pub fn spawn_with_stdin(sub: &str, socket: &Path, name: &str) -> Result<Self, BenchError> {
        Peer::start(sub, socket, name, true)
    }

    /// Closes the helper's stdin (its signal to stop).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn start(sub: &str, socket: &Path, name: &str, stdin: bool) -> Result<Self, BenchError> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg(sub)
            .arg("--socket")
            .arg(socket)
            .arg("--name")
            .arg(name)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Child("no stdout pipe".into()))?;
        let stdin = child.stdin.take();
        let mut peer = Peer {
            child,
            lines: BufReader::new(stdout),
            stdin,
        };
        let line = peer.read_line()?;
        if line != "ready" {
            return Err(BenchError::Child(format!(
                "{sub} said {line:?} instead of ready"
            )));
        }
        Ok(peer)
    }

    /// The next line the helper printed (without the newline).
    pub fn read_line(&mut self) -> Result<String, BenchError> {
        let mut line = String::new();
        if self.lines.read_line(&mut line)? == 0 {
            return Err(BenchError::Child("helper exited without reporting".into()));
        }
        Ok(line.trim_end().to_owned())
    }

    /// Waits for the helper to exit; an unsuccessful exit is an error.
    pub fn finish(mut self) -> Result<(), BenchError> {
        let status = self.child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(BenchError::Child(format!("helper exited with {status}")))
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Only reached with the child still running on an error path; after `finish` the
        // child is reaped and `try_wait` reports that.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Tells the parent this helper is connected and about to serve.
pub fn say(line: &str) -> Result<(), BenchError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
