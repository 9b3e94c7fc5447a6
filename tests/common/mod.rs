//! Helpers shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use assert_cmd::Command;

/// The binary under test.
pub fn stopaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stopaudit"))
}

/// Runs a command that must succeed (its stderr is shown when it does not)
/// and returns what it wrote to stdout.
pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// [`stdout_of`], parsed as JSON.
pub fn json_of(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_slice(&stdout_of(cmd)).unwrap()
}
