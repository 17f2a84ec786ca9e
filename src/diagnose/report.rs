//! What `diagnose` found: the JSON document (`--json`) and the human rendering.
//!
//! Ids are the article's: `P1`–`P7` for problems, `C1`–`C7` for causes of P3
//! (see shared/reference/troubleshooting.md).

use serde::{Deserialize, Serialize};

/// Exit status when at least one finding was made (0 when none; errors exit 1).
pub const EXIT_FOUND: i32 = 5;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Problems only the servers show, with the check the admin should make.
    pub not_visible_from_device: Vec<NotVisible>,
    /// Evidence that exists but could not be read; never guessed around.
    pub could_not_read: Vec<CouldNotRead>,
    /// Log lines that look like entries but could not be parsed, per source: findings may be
    /// missing, so they are counted and shown, never skipped silently.
    #[serde(default)]
    pub unparsed_lines: Vec<UnparsedLines>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `P1`…`P7` or `C1`…`C7`.
    pub id: String,
    /// One line.
    pub title: String,
    pub evidence: Vec<Evidence>,
    pub confidence: Confidence,
    pub remedy: Remedy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// A Mac path (`/var/log/jamf.log.0.gz`), a host path (the server log as given), or a named
    /// source (`alice's login keychain`, `profiles status -type enrollment`).
    pub source: String,
    /// 1-based line number in `source`, for files.
    pub line: Option<u64>,
    /// RFC 3339 when the time is known (server log times as written: their zone is unknown).
    pub time: Option<String>,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// What resolves a finding; any combination may be set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    /// `cause6` or `reregister`: `reenroll run PLAYBOOK`.
    pub playbook: Option<String>,
    /// Exactly what to change on Jamf Pro, Entra ID or Intune.
    pub server: Option<String>,
    /// What a person does on the Mac (the article's fixes for P1, P2 and Cause 7 are the user's).
    pub manual: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotVisible {
    pub id: String,
    pub title: String,
    pub check: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnparsedLines {
    /// A Mac path (`/var/log/jamf.log`) or a named source (`unified log`).
    pub source: String,
    pub count: u64,
    /// 1-based number of the first such line.
    pub first_line: u64,
    /// That line, cut like evidence.
    pub example: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouldNotRead {
    pub source: String,
    pub reason: String,
}

impl Report {
    pub fn exit_code(&self) -> i32 {
        if self.findings.is_empty() {
            0
        } else {
            EXIT_FOUND
        }
    }

    /// Most certain first, then in the article's order.
    pub(crate) fn sort(&mut self) {
        self.findings
            .sort_by_key(|f| (f.confidence, id_order(&f.id)));
    }

    /// The report for a terminal `width` columns wide (at least 40 are used).
    pub fn render(&self, width: usize) -> String {
        let width = width.max(40);
        let mut out = String::new();
        let n = self.findings.len();
        out.push_str(&match n {
            0 => "No documented problem found on this Mac.\n".to_string(),
            1 => "1 documented problem found on this Mac.\n".to_string(),
            n => format!("{n} documented problems found on this Mac.\n"),
        });
        for f in &self.findings {
            out.push('\n');
            push_labelled(
                &mut out,
                &f.id,
                &format!("{} [{}]", f.title, f.confidence.as_str()),
                0,
                width,
            );
            let mut previous: Option<&str> = None;
            for e in &f.evidence {
                // Keychain items of one keychain read as a list under a single "seen:".
                let same_place =
                    e.line.is_none() && e.time.is_none() && previous == Some(&e.source);
                previous = Some(&e.source);
                if same_place {
                    push_wrapped(&mut out, &e.text, 10, 10, width);
                    continue;
                }
                let mut place = e.source.clone();
                if let Some(line) = e.line {
                    place.push_str(&format!(":{line}"));
                }
                if let Some(time) = &e.time {
                    place.push_str(&format!("  {time}"));
                }
                push_wrapped(&mut out, &format!("seen: {place}"), 4, 10, width);
                push_wrapped(&mut out, &e.text, 10, 10, width);
            }
            let r = &f.remedy;
            if let Some(p) = &r.playbook {
                push_wrapped(&mut out, &format!("fix:  reenroll run {p}"), 4, 10, width);
            }
            if let Some(s) = &r.server {
                push_wrapped(&mut out, &format!("server: {s}"), 4, 12, width);
            }
            if let Some(m) = &r.manual {
                push_wrapped(&mut out, &format!("on the Mac: {m}"), 4, 16, width);
            }
        }
        if !self.not_visible_from_device.is_empty() {
            out.push_str("\nCannot be seen from the device (check these on the servers):\n");
            for nv in &self.not_visible_from_device {
                push_labelled(&mut out, &nv.id, &nv.title, 2, width);
                push_wrapped(&mut out, &format!("check: {}", nv.check), 6, 13, width);
            }
        }
        if !self.could_not_read.is_empty() {
            out.push_str("\nCould not read (findings may be missing):\n");
            for c in &self.could_not_read {
                push_wrapped(
                    &mut out,
                    &format!("{}: {}", c.source, c.reason),
                    2,
                    6,
                    width,
                );
            }
        }
        if !self.unparsed_lines.is_empty() {
            out.push_str("\nLines that could not be parsed (findings may be missing):\n");
            for u in &self.unparsed_lines {
                let lines = if u.count == 1 { "line" } else { "lines" };
                push_wrapped(
                    &mut out,
                    &format!(
                        "{}: {} {lines}, the first at line {}: {}",
                        u.source, u.count, u.first_line, u.example
                    ),
                    2,
                    6,
                    width,
                );
            }
        }
        out
    }
}

fn id_order(id: &str) -> (u8, u32) {
    let kind = match id.as_bytes().first() {
        Some(b'P') => 0,
        Some(b'C') => 1,
        _ => 2,
    };
    (kind, id.get(1..).and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// `text` wrapped after a 4-column `label` (an article id) at `indent`; continuation lines align
/// with the text.
fn push_labelled(out: &mut String, label: &str, text: &str, indent: usize, width: usize) {
    let mut block = String::new();
    push_wrapped(&mut block, text, indent + 4, indent + 4, width);
    if block.len() >= indent + 4 {
        block.replace_range(indent..indent + 4, &format!("{label:<4}"));
    }
    out.push_str(&block);
}

/// Word-wrap `text` to `width`, the first line indented by `first`, the rest by `rest`. Words
/// longer than a line (paths, URLs) are cut, so no line exceeds `width`.
fn push_wrapped(out: &mut String, text: &str, first: usize, rest: usize, width: usize) {
    let mut indent = first;
    let mut line = String::new();
    let mut line_len = 0;
    let flush = |out: &mut String, line: &mut String, indent: usize| {
        out.push_str(&" ".repeat(indent));
        out.push_str(line.trim_end());
        out.push('\n');
        line.clear();
    };
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let avail = width.saturating_sub(indent).max(10);
            let need = if line_len == 0 {
                word.len()
            } else {
                line_len + 1 + word.len()
            };
            if need <= avail {
                if line_len > 0 {
                    line.push(' ');
                }
                line.extend(word.iter());
                line_len = need;
                break;
            }
            if line_len > 0 {
                flush(out, &mut line, indent);
                indent = rest;
                line_len = 0;
                continue;
            }
            let rest_of_word = word.split_off(avail);
            line.extend(word.iter());
            flush(out, &mut line, indent);
            indent = rest;
            word = rest_of_word;
        }
    }
    if line_len > 0 {
        flush(out, &mut line, indent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            findings: vec![Finding {
                id: "C6".into(),
                title: "Registered more than once: 2 MS-Organization-Access certificates in \
                        alice's login keychain"
                    .into(),
                evidence: vec![Evidence {
                    source: "/Users/alice/Library/Logs/Company Portal/Company Portal.log".into(),
                    line: Some(12),
                    time: Some("2025-01-04T10:00:01+01:00".into()),
                    text: "x".repeat(130),
                }],
                confidence: Confidence::High,
                remedy: Remedy {
                    playbook: Some("cause6".into()),
                    ..Default::default()
                },
            }],
            not_visible_from_device: vec![NotVisible {
                id: "C1".into(),
                title: "t".into(),
                check: "c".into(),
            }],
            could_not_read: vec![],
            unparsed_lines: vec![],
        }
    }

    #[test]
    fn unparsed_lines_are_shown_and_in_the_json() {
        let mut r = sample();
        r.unparsed_lines.push(UnparsedLines {
            source: "/var/log/jamf.log".into(),
            count: 3,
            first_line: 7,
            example: "Mon Nov 20 10:15:32 Alice's MacBook Pro jamf: no pid".into(),
        });
        let text = r.render(80);
        assert!(text.contains("Lines that could not be parsed"), "{text}");
        assert!(text.contains("/var/log/jamf.log: 3 lines, the first at line 7"));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["unparsed_lines"][0]["count"], 3);
        assert_eq!(v["unparsed_lines"][0]["first_line"], 7);
        // A report written before the field existed still reads.
        let mut old = serde_json::to_value(sample()).unwrap();
        old.as_object_mut().unwrap().remove("unparsed_lines");
        let back: Report = serde_json::from_value(old).unwrap();
        assert!(back.unparsed_lines.is_empty());
    }

    #[test]
    fn renders_within_80_columns() {
        let text = sample().render(80);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
        assert!(text.contains("C6  Registered more than once"));
        assert!(text.contains("reenroll run cause6"));
        assert!(text.contains("Company Portal.log:12"));
        assert_eq!(sample().exit_code(), EXIT_FOUND);
        assert_eq!(Report::default().exit_code(), 0);
    }

    #[test]
    fn json_shape() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["findings"][0]["confidence"], "high");
        assert_eq!(v["findings"][0]["remedy"]["playbook"], "cause6");
        assert!(v["findings"][0]["remedy"]["server"].is_null());
        assert_eq!(v["findings"][0]["evidence"][0]["line"], 12);
        assert_eq!(v["not_visible_from_device"][0]["check"], "c");
        assert!(v["could_not_read"].as_array().unwrap().is_empty());
    }

    #[test]
    fn sorts_by_confidence_then_article_order() {
        let f = |id: &str, c| Finding {
            id: id.into(),
            title: String::new(),
            evidence: vec![],
            confidence: c,
            remedy: Remedy::default(),
        };
        let mut r = Report {
            findings: vec![
                f("C6", Confidence::High),
                f("P1", Confidence::Low),
                f("P1", Confidence::High),
                f("C10", Confidence::High),
            ],
            ..Default::default()
        };
        r.sort();
        let ids: Vec<_> = r
            .findings
            .iter()
            .map(|f| (f.id.as_str(), f.confidence))
            .collect();
        assert_eq!(
            ids,
            [
                ("P1", Confidence::High),
                ("C6", Confidence::High),
                ("C10", Confidence::High),
                ("P1", Confidence::Low)
            ]
        );
    }
}
