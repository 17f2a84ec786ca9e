//! Typographic variants folded before matching: logs written by localized or typeset software
//! carry curly quotes (‘’ “”), non-breaking spaces (U+00A0, U+202F), full-width punctuation
//! (`：`, U+FF1A) or an ellipsis character where the markers we look for have ASCII. Both the log
//! text and the markers go through `fold`, so a marker matches whichever way it was written.
//!
//! ASCII text (almost every line of a real log) is returned borrowed: the fold costs one scan
//! and no allocation.

use std::borrow::Cow;

/// The ASCII form of one character, when it has one here.
fn ascii_of(c: char) -> Option<&'static str> {
    Some(match c {
        // Quotes: single and double, curly, low-9, reversed, primes, guillemets stay as they are.
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{FF07}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{FF02}' => "\"",
        // Spaces: no-break, narrow no-break, figure, thin, hair, en/em and the ideographic space.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        // Hyphens and the minus sign (an OSStatus written `−25244`).
        '\u{2010}' | '\u{2011}' | '\u{2212}' | '\u{FE63}' | '\u{FF0D}' => "-",
        '\u{2026}' => "...",
        // Full-width ASCII (`：`, `（`, `）`, `，`, letters, digits): U+FF01..U+FF5E.
        '\u{FF01}'..='\u{FF5E}' => return fullwidth(c),
        _ => return None,
    })
}

/// U+FF01..U+FF5E map one to one onto `!`..`~`.
fn fullwidth(c: char) -> Option<&'static str> {
    const ASCII: &str = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
    let i = (c as u32).checked_sub(0xFF01)? as usize;
    ASCII.get(i..i + 1)
}

/// `text` with typographic variants replaced by their ASCII form. Whitespace is left as it is
/// (jamf.log pads single-digit days with a second space; markers never span doubled spaces).
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match ascii_of(c) {
            Some(a) => out.push_str(a),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether the folded `haystack` contains `marker` (folded too). `haystack` must already be
/// folded: a line is folded once and matched against every marker.
pub fn contains(folded_haystack: &str, marker: &str) -> bool {
    folded_haystack.contains(fold(marker).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_borrowed_and_variants_fold() {
        assert!(matches!(fold("plain ascii line"), Cow::Borrowed(_)));
        assert_eq!(fold("Alice\u{2019}s  Mac"), "Alice's  Mac");
        assert_eq!(
            fold("\u{201C}recurring check-in\u{201D}\u{2026}"),
            "\"recurring check-in\"..."
        );
        assert_eq!(fold("a\u{00A0}b\u{202F}c\td"), "a b c\td");
        assert_eq!(
            fold("Error\u{FF1A}\u{2212}25244\u{FF08}x\u{FF09}"),
            "Error:-25244(x)"
        );
        assert_eq!(fold("Zoë’s Mac"), "Zoë's Mac");
        assert_eq!(fold("\u{3000}\u{00A0}x"), "  x");
    }

    #[test]
    fn markers_match_whichever_way_they_are_written() {
        let typeset = fold(
            "JamfAAD wants to access key \u{201C}Microsoft Workplace\u{00A0}Join Key\u{201D} in your keychain.",
        );
        assert!(contains(
            &typeset,
            "wants to access key \"Microsoft Workplace Join Key\""
        ));
        // A marker written with typographic characters matches an ASCII line too.
        assert!(contains(
            &fold("Could not connect to the JSS. Looking for cached policies..."),
            "Could not connect to the JSS\u{2026}".trim_end_matches('\u{2026}')
        ));
        assert!(contains(
            "Checking for policies triggered by \"recurring check-in\"",
            "triggered by \u{201C}"
        ));
    }
}
