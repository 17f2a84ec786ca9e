//! Where output goes. The `Printer` owns stdout: one plain line per step event (no escape codes
//! when stdout is not a terminal), nothing at all with `--json` (the JSON document is printed once
//! at the end), and the indicatif draw target for progress and countdowns. Knows nothing of plans
//! or runs: the renderings are `report`'s.

use std::io::{IsTerminal, Write};

/// The tracing target of events that repeat what the Printer already showed (a failed step, a
/// change a rollback could not put back): `logging` keeps them out of stderr on a terminal.
pub const SHOWN: &str = "reenroll::shown";

pub struct Printer {
    json: bool,
    tty: bool,
    /// The spinner of the step in progress (terminal only).
    spinner: std::cell::RefCell<Option<indicatif::ProgressBar>>,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        // NO_COLOR, TERM=dumb: plain lines, as when stdout is not a terminal.
        Printer {
            json,
            tty: styled(),
            spinner: std::cell::RefCell::new(None),
        }
    }

    pub fn is_tty(&self) -> bool {
        self.tty && !self.json
    }

    fn print(&self, s: &str) {
        if self.json {
            return;
        }
        let print = || {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
        };
        match self.spinner.borrow().as_ref() {
            Some(sp) => sp.suspend(print),
            None => print(),
        }
    }

    /// A step starts: on a terminal, a spinner with its title until `step` reports how it ended
    /// (not for steps that draw their own countdown or wait for a person).
    pub fn begin(&self, id: &str, title: &str, spin: bool) {
        if !self.is_tty() || !spin {
            return;
        }
        let sp = indicatif::ProgressBar::new_spinner();
        sp.set_style(
            indicatif::ProgressStyle::with_template("  {spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        // One line, or every redraw leaves a wrapped copy behind.
        let msg = format!("{id}: {title}");
        let msg = if msg.chars().count() > 66 {
            format!("{}…", msg.chars().take(65).collect::<String>())
        } else {
            msg
        };
        sp.set_message(msg);
        sp.enable_steady_tick(std::time::Duration::from_millis(120));
        *self.spinner.borrow_mut() = Some(sp);
    }

    fn end_spinner(&self) {
        if let Some(sp) = self.spinner.borrow_mut().take() {
            sp.finish_and_clear();
        }
    }

    pub fn step(&self, what: &str, id: &str, summary: &str) {
        self.end_spinner();
        const INDENT: &str = "           ";
        let plain = format!("{what:<8}");
        let first = summary.lines().next().unwrap_or("");
        let head = if id == "-" {
            first.to_string()
        } else {
            format!("{id}: {first}")
        };
        let mut text = wrap_keep_words(&format!("  {plain} "), INDENT, &head, width());
        for more in summary.lines().skip(1) {
            text.push_str(&wrap_keep_words(
                INDENT,
                &format!("{INDENT}  "),
                more.trim_start(),
                width(),
            ));
        }
        if self.is_tty() {
            let color = match what {
                "done" | "restored" => "32",
                "failed" => "31",
                "paused" | "waiting" => "33",
                _ => "",
            };
            if !color.is_empty() {
                text = text.replacen(&plain, &format!("\x1b[{color}m{plain}\x1b[0m"), 1);
            }
        }
        self.print(text.trim_end_matches('\n'));
    }

    pub fn detail(&self, s: &str) {
        self.print(
            wrap_keep_words("           ", "             ", s, width()).trim_end_matches('\n'),
        );
    }

    /// A message line, wrapped to the terminal (not at all elsewhere).
    pub fn line(&self, s: &str) {
        let mut text = String::new();
        for l in s.lines() {
            let indent: String = l.chars().take_while(|c| *c == ' ').collect();
            text.push_str(&wrap_keep_words(
                &indent,
                &format!("{indent}  "),
                l.trim_start(),
                width(),
            ));
        }
        self.print(text.trim_end_matches('\n'));
    }

    /// A countdown of `total` with `message`: a bar on a terminal, one line otherwise.
    pub fn countdown(&self, total: std::time::Duration, message: &str) -> Countdown {
        if std::io::stdout().is_terminal() && !self.json {
            let b = indicatif::ProgressBar::new(total.as_secs());
            b.set_style(
                indicatif::ProgressStyle::with_template("  waiting  [{bar:25}] {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(message.to_string());
            Countdown(Some(b))
        } else {
            self.print(&format!(
                "  waiting  {message} ({} left)",
                humantime::format_duration(std::time::Duration::from_secs(total.as_secs()))
            ));
            Countdown(None)
        }
    }

    /// Print one JSON document: `value`'s fields after `"format_version"`, which every document
    /// carries first (`FORMAT_VERSION`). Every `--json` output goes through here, so none can
    /// forget it; `value` must serialize as an object (a struct or a map).
    pub fn json<T: serde::Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let text = json_document(value)?;
        let mut out = std::io::stdout().lock();
        // A reader that went away is not an error of the command (see `app::main`).
        let _ = writeln!(out, "{text}");
        Ok(())
    }
}

/// The version of every JSON document reenroll prints (`plan`, `status`, `diagnose`,
/// `playbooks`, `server cleanup`; docs/json.md, docs/schemas/). It changes only when a field
/// is removed, renamed or changes its type; new fields keep it.
pub const FORMAT_VERSION: u32 = 1;

/// `value` as a pretty-printed JSON document with `"format_version"` as its first field.
pub fn json_document<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Document<'a, T> {
        format_version: u32,
        #[serde(flatten)]
        document: &'a T,
    }
    let text = serde_json::to_string_pretty(&Document {
        format_version: FORMAT_VERSION,
        document: value,
    })
    .map_err(|e| anyhow::anyhow!("encoding the JSON document: {e}"))?;
    Ok(text)
}

/// A countdown on the terminal (`Printer::countdown`); nothing more off a terminal.
pub struct Countdown(Option<indicatif::ProgressBar>);

impl Countdown {
    /// `left` remains; `message` says until when.
    pub fn left(&self, left: std::time::Duration, message: &str) {
        if let Some(b) = &self.0 {
            b.set_position(b.length().unwrap_or(0).saturating_sub(left.as_secs()));
            b.set_message(message.to_string());
        }
    }

    /// Stopped before the end: the bar stays as it was.
    pub fn abandon(self) {
        if let Some(b) = self.0 {
            b.abandon();
        }
    }

    /// Done: the bar goes.
    pub fn finish(self) {
        if let Some(b) = self.0 {
            b.finish_and_clear();
        }
    }
}

/// The width of a terminal when neither it nor `COLUMNS` says.
pub const WIDTH: usize = 80;

/// The narrowest width wrapping goes down to: below it, lines would be mostly indentation.
pub const MIN_WIDTH: usize = 40;

/// The width human output wraps at: on a terminal, `COLUMNS` when it is set to a number (as
/// `ls` and Python read it), else the terminal's own width, else `WIDTH` (at least
/// `MIN_WIDTH`, never capped: a wide terminal gets long lines); anywhere else (a log file, a
/// pipe, the policy log Jamf Pro shows) no wrapping at all, so a line stays one line for
/// whoever reads or greps it.
///
/// Asked once per process: a plan wraps hundreds of lines, each would otherwise ask the terminal.
pub fn width() -> usize {
    static ONCE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        if !std::io::stdout().is_terminal() {
            return usize::MAX;
        }
        let tty = || match console::Term::stdout().size_checked() {
            Some((_, cols)) if cols > 0 => Some(usize::from(cols)),
            _ => None,
        };
        terminal_width(std::env::var(crate::env_vars::COLUMNS).ok().as_deref(), tty)
    })
}

/// The width of a terminal from `COLUMNS` (when it is a positive number) or else the terminal.
fn terminal_width(columns: Option<&str>, tty: impl FnOnce() -> Option<usize>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .or_else(tty)
        .unwrap_or(WIDTH)
        .max(MIN_WIDTH)
}

/// Whether human output may carry colours and symbols: stdout is a terminal, `NO_COLOR` is
/// unset or empty (https://no-color.org) and `TERM` is set and not `dumb`. Off a terminal (a
/// pipe, a log) output is plain text.
pub fn styled() -> bool {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        std::io::stdout().is_terminal()
            && style_allowed(
                std::env::var_os(crate::env_vars::NO_COLOR).as_deref(),
                std::env::var_os(crate::env_vars::TERM).as_deref(),
            )
    })
}

/// `NO_COLOR` and `TERM` allow styling (stdout being a terminal is checked apart).
fn style_allowed(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty()) && term.is_some_and(|t| !t.is_empty() && t != "dumb")
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Wrap `text` to `width` columns: the first line after `first`, the others after `rest`.
/// Breaks at spaces, or after a `/` in a long path, so a Mac path stays readable at 80 columns.
pub fn wrap(first: &str, rest: &str, text: &str, width: usize) -> String {
    wrap_with(first, rest, text, width, true)
}

/// Like `wrap`, but a word longer than the line (a path) stays whole: for messages, where a
/// path is more useful copied than folded.
pub fn wrap_keep_words(first: &str, rest: &str, text: &str, width: usize) -> String {
    wrap_with(first, rest, text, width, false)
}

fn wrap_with(first: &str, rest: &str, text: &str, width: usize, break_paths: bool) -> String {
    // A `command in backquotes` is never broken, so it can be copied as it stands.
    const KEEP: char = '\u{1f}';
    let mut protected = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '`' {
            inside = !inside;
        }
        protected.push(if inside && c == ' ' { KEEP } else { c });
    }
    wrap_words(first, rest, &protected, width, break_paths).replace(KEEP, " ")
}

fn wrap_words(first: &str, rest: &str, text: &str, width: usize, break_paths: bool) -> String {
    let mut out = String::new();
    let mut prefix = first.to_string();
    let mut line = String::new();
    let room = |prefix: &str| width.saturating_sub(prefix.chars().count()).max(20);
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let sep = if line.is_empty() { 0 } else { 1 };
            if line.chars().count() + sep + word.chars().count() <= room(&prefix) {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if line.is_empty() {
                // A single word longer than the line: break it after a '/' if it has one, else
                // after a '.' or '-' (a long file name), else where the line ends.
                let limit = room(&prefix);
                let cut_after = |seps: &[char]| {
                    word.char_indices()
                        .take_while(|(i, _)| *i < limit)
                        .filter(|(_, c)| seps.contains(c))
                        .map(|(i, c)| i + c.len_utf8())
                        .last()
                };
                let cut = if !break_paths {
                    None
                } else {
                    cut_after(&['/'])
                        .or_else(|| cut_after(&['.', '-']))
                        .or_else(|| word.char_indices().nth(limit).map(|(i, _)| i))
                };
                match cut {
                    Some(c) if c > 1 => {
                        out.push_str(&format!("{prefix}{}\n", &word[..c]));
                        prefix = rest.to_string();
                        word = word[c..].to_string();
                        continue;
                    }
                    _ => {
                        line = word.clone();
                        break;
                    }
                }
            }
            out.push_str(&format!("{prefix}{line}\n"));
            prefix = rest.to_string();
            line.clear();
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push_str(&format!("{prefix}{line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_starts_with_its_format_version() {
        #[derive(serde::Serialize)]
        struct Doc {
            zeta: Vec<u32>,
            alpha: &'static str,
        }
        let text = json_document(&Doc {
            zeta: vec![1, 2],
            alpha: "a",
        })
        .unwrap();
        assert!(
            text.starts_with("{\n  \"format_version\": 1,\n  \"zeta\""),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["zeta"], serde_json::json!([1, 2]));
        // Only an object can carry the key: anything else is an error, never a bare value.
        assert!(json_document(&vec![1, 2]).is_err());
    }

    #[test]
    fn the_width_is_columns_then_the_terminal_then_80_and_never_below_40() {
        assert_eq!(terminal_width(Some("132"), || Some(100)), 132);
        assert_eq!(terminal_width(Some(" 200 "), || None), 200);
        assert_eq!(terminal_width(None, || Some(100)), 100);
        assert_eq!(terminal_width(Some("wide"), || Some(90)), 90);
        assert_eq!(terminal_width(Some("0"), || Some(90)), 90);
        assert_eq!(terminal_width(None, || None), WIDTH);
        assert_eq!(terminal_width(Some("12"), || None), MIN_WIDTH);
        assert_eq!(terminal_width(Some("400"), || None), 400);
    }

    #[test]
    fn no_color_and_a_dumb_terminal_turn_styling_off() {
        use std::ffi::OsStr;
        let t = |s: &'static str| Some(OsStr::new(s));
        assert!(style_allowed(None, t("xterm-256color")));
        assert!(style_allowed(t(""), t("xterm")));
        assert!(!style_allowed(t("1"), t("xterm")));
        assert!(!style_allowed(None, t("dumb")));
        assert!(!style_allowed(None, None));
        assert!(!style_allowed(None, t("")));
    }

    #[test]
    fn a_file_name_longer_than_the_line_breaks_after_a_dot_or_where_the_line_ends() {
        let name = "com.microsoft.CompanyPortalMac.8E2F4B1C-6D3A-4F5E-9A7B-0C1D2E3F4A5B.plist";
        let w = wrap(
            "    ",
            "    ",
            &format!("~/Library/Preferences/ByHost/{name}"),
            50,
        );
        for l in w.lines() {
            assert!(l.chars().count() <= 50, "{w}");
        }
        assert_eq!(
            w.replace("\n    ", "").trim(),
            format!("~/Library/Preferences/ByHost/{name}")
        );
        let long = "x".repeat(120);
        let w = wrap("", "", &long, 50);
        assert!(w.lines().all(|l| l.chars().count() <= 50), "{w}");
        assert_eq!(w.replace('\n', ""), long);
        // Messages keep a long word whole.
        assert_eq!(wrap_keep_words("", "", &long, 50).trim_end(), long);
    }

    #[test]
    fn wraps_at_80_columns_breaking_long_paths_after_a_slash() {
        let text = "/Users/alice/Library/Application Support/com.microsoft.CompanyPortalMac.usercontext.info (301 B)";
        let w = wrap("    remove   ", "             ", text, 80);
        for l in w.lines() {
            assert!(l.chars().count() <= 80, "{l}");
        }
        assert_eq!(
            w.replace("\n             ", " ")
                .replace('\n', "")
                .split_whitespace()
                .collect::<String>(),
            format!("remove{}", text.split_whitespace().collect::<String>())
        );
    }
}
