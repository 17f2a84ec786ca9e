//! A string that must never be shown: client secrets and bearer tokens.

use serde::Deserialize;

/// A secret value. `Debug` prints a placeholder and there is deliberately no `Display` or
/// `Serialize`, so a secret cannot slip into a log line, an error or the journal by accident;
/// the one way to read it is `expose`, used where it goes on the wire.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Replaces every occurrence of the given secrets in `text`. Used on server error bodies before
/// they become part of an error: a server may echo what it was sent.
pub(crate) fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        // Very short values would blank out ordinary words; real secrets are long.
        if s.0.len() >= 4 {
            out = out.replace(&s.0, "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let s = Secret::new("abcd1234");
        assert_eq!(
            redact("x abcd1234 y abcd1234", &[&s]),
            "x <redacted> y <redacted>"
        );
    }
}
