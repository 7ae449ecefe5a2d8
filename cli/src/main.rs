//! `xproc`: the command-line client. Thin: parse, run, print, and turn failures into one line
//! on stderr and an exit status (see `args.rs` for the list).

mod args;
mod commands;
mod json;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(out) => {
            // A closed stdout (`xproc ls | head -1`) is not worth a message.
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("xproc: {}", f.message);
            ExitCode::from(f.status)
        }
    }
}
