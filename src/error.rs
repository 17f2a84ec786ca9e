//! Exit codes, the contract with scripts and Jamf policies (README "Exit codes").

use std::fmt;

pub const OK: i32 = 0;
/// A step failed; the journal is intact: `resume` or `rollback`.
pub const FAILED: i32 = 1;
/// Invalid invocation or playbook; nothing changed.
pub const INVALID: i32 = 2;
/// Paused: waiting for a restart, a timer, an operator or the user; `resume` continues.
pub const PAUSED: i32 = 3;
/// Refused before starting: not root, the lock is held, a run is already paused, unsupported host;
/// also a confirmation declined (`[y/N]` answered no, `run --step` stopped before its first step):
/// nothing was changed.
pub const REFUSED: i32 = 4;
/// `diagnose` found something.
pub const FINDINGS: i32 = 5;
/// Completed with exceptions: some planned changes could not be made (each is listed).
pub const EXCEPTIONS: i32 = 6;

pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  done
  1  a step failed (journal intact: resume or rollback)
  2  invalid invocation or playbook; nothing changed
  3  paused (waiting for a restart, a timer, an operator or the user; `resume` continues)
  4  refused before starting (not root, lock held, a run already paused, unsupported host) or declined at a confirmation; nothing changed
  5  diagnose found something
  6  completed with exceptions (some planned changes could not be made; each is listed)";

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Coded {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

pub fn invalid(message: impl Into<String>) -> anyhow::Error {
    Coded {
        code: INVALID,
        message: message.into(),
    }
    .into()
}

pub fn refused(message: impl Into<String>) -> anyhow::Error {
    Coded {
        code: REFUSED,
        message: message.into(),
    }
    .into()
}

/// The exit code for an error: its own code if it carries one, 1 otherwise.
pub fn code_of(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
    }
    FAILED
}
