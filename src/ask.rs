//! Questions to the person at the terminal. Only the commands ask (`app`, `server_cleanup`,
//! `interactive`); the layers below take the answers as plain values.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use crate::error;

/// Ask once on the terminal. Without a terminal there is nobody to ask: exit 2 unless --yes.
/// Anything but yes (no, an empty line, the end of input) is `false`: every caller then changes
/// nothing and exits 4 (`error::REFUSED`), declined rather than done.
pub fn confirm(question: &str) -> Result<bool> {
    can_ask()?;
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Whether anyone can answer: without a terminal, the invalid-invocation error (exit 2).
pub fn can_ask() -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(error::invalid(
            "standard input is not a terminal, so nobody can confirm: pass --yes to go ahead unattended",
        ));
    }
    Ok(())
}
