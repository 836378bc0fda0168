//! The command line on its own: bad input is refused with a clear message and a
//! non-zero exit. (Its checks against a real log are in the server's e2e suite,
//! `crates/kinora/tests/e2e/transparency.rs`, which needs this binary built: having
//! this test makes `cargo test --workspace` build it.)
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kinora-audit")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn an_unreachable_log_fails_naming_it() {
    // A port nothing listens on: connection refused at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/log");
    let (code, out) = run(&["verify", "--log", &url, "--key", "example.com/log+01234567+AQ"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED:") && out.contains("/log/checkpoint"), "{out}");
}

#[test]
fn arguments_are_required() {
    let (code, out) = run(&["verify", "--log", "http://127.0.0.1:1/log"]);
    assert_ne!(code, 0);
    assert!(out.contains("--key"), "{out}");
}
