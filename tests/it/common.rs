//! Helpers shared by the integration tests (each test module uses some of them).
#![allow(dead_code)]

use std::process::{Command, Output};

/// The binary under test.
pub fn stopaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stopaudit"))
}

/// Runs a command that must succeed (its stderr is shown when it does not)
/// and returns what it wrote to stdout.
pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    cmd.succeeds().stdout
}

/// [`stdout_of`], parsed as JSON.
pub fn json_of(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_slice(&stdout_of(cmd)).unwrap()
}

/// Running a command that must exit 0.
pub trait Succeeds {
    /// Runs the command to its end; fails the test with its stderr unless it exited 0.
    fn succeeds(&mut self) -> Output;
}

impl Succeeds for Command {
    fn succeeds(&mut self) -> Output {
        let out = self.output().unwrap();
        assert!(
            out.status.success(),
            "{:?} exited with {}; stderr: {}",
            self,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}
