//! The matcher for a subject's identifiers: every needle derived from them (whole values, URL-encoded forms,
//! parts of names and addresses), lower-cased, in Aho-Corasick automata of bounded size.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{check_interrupts, Steps};
use crate::error::{GdprError, Result};
use crate::normalize::url_encoded;
use crate::strategy::automata::{self, LITERAL_BYTES};

/// Upper bound on the (distinct, lower-cased) needle bytes: the automata take about ten times as much memory,
/// which Rust cannot fail gracefully to allocate.
const MAX_NEEDLE_BYTES: usize = 64 * 1024 * 1024;

/// The compiled matcher for one subject's identifiers.
pub(super) struct Identifiers {
    /// Automata over consecutive runs of the sorted, lower-cased needles, with each pattern's placeholder.
    automata: Vec<(AhoCorasick, Vec<u32>)>,
    /// Needles too long for an automaton, with their placeholders.
    literals: Vec<(String, u32)>,
    /// `[email]`, `[name]`, …: indexed by the numbers above.
    placeholders: Vec<String>,
}

impl Identifiers {
    pub(super) fn new(values: &[Option<String>], kinds: &[Option<String>]) -> Result<Identifiers> {
        let mut placeholders: Vec<String> = Vec::new();
        let mut placeholder_ids: HashMap<&str, u32> = HashMap::new();
        let mut needles: HashMap<String, u32> = HashMap::new();
        let mut bytes = 0usize;
        let mut steps = Steps::default();
        let mut add = |needle: &str, placeholder: u32| -> Result<()> {
            steps.step();
            let needle = needle.trim();
            if needle.chars().count() < 3 {
                return Ok(());
            }
            if let Entry::Vacant(e) = needles.entry(needle.to_lowercase()) {
                bytes += e.key().len();
                if bytes > MAX_NEEDLE_BYTES {
                    return Err(GdprError::InvalidParameter(format!(
                        "scrub: the identifiers to replace add up to more than {} MiB",
                        MAX_NEEDLE_BYTES >> 20
                    )));
                }
                e.insert(placeholder);
            }
            Ok(())
        };
        for (value, kind) in values
            .iter()
            .zip(kinds.iter().chain(std::iter::repeat(&None)))
        {
            let (Some(value), kind) = (value, kind.as_deref().unwrap_or("redacted")) else {
                continue;
            };
            let next = placeholder_ids.len() as u32;
            let p = *placeholder_ids.entry(kind).or_insert_with(|| {
                placeholders.push(format!("[{kind}]"));
                next
            });
            let encoded = url_encoded(value);
            add(value, p)?;
            add(&encoded, p)?;
            add(&encoded.replace("%20", "+"), p)?;
            // Parts only of values made of words (names, addresses, companies); a user agent's or a
            // note's words are too common to hunt for one by one.
            // Comma-separated segments too, so that "Vinohradská 12" goes with its short house number.
            if matches!(kind, "name" | "address" | "company") {
                for segment in value.split([',', ';']) {
                    add(segment, p)?;
                }
                for part in value.split(|c: char| c.is_whitespace() || ",;/|()".contains(c)) {
                    add(part, p)?;
                }
            }
        }
        check_interrupts();
        let (literals, needles): (Vec<_>, Vec<_>) = needles
            .into_iter()
            .partition(|(n, _)| n.len() > LITERAL_BYTES);
        let mut sorted: Vec<(&str, u32)> = needles.iter().map(|(n, p)| (n.as_str(), *p)).collect();
        sorted.sort_unstable();
        // Leftmost-longest over the lower-cased text: each automaton builds in milliseconds, where a
        // case-insensitive Unicode regex over the same alternation would take far longer to compile.
        let automata = automata::chunked(&sorted, MatchKind::LeftmostLongest, &mut steps, "scrub")?;
        Ok(Identifiers {
            automata,
            literals,
            placeholders,
        })
    }

    /// Replaces whole-word occurrences (a needle that starts or ends with a letter or digit must not continue
    /// a longer word there), case-insensitively; where two overlap, the leftmost and then the longest wins.
    pub(super) fn replace(&self, text: &str) -> String {
        if self.automata.is_empty() && self.literals.is_empty() {
            return text.to_string();
        }
        // Match on the lower-cased text; `origin[i]` is where the character behind its byte i starts in `text`
        // (lower-casing may change a character's length).
        let mut lower = String::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len() + 1);
        let mut steps = Steps::default();
        for (i, c) in text.char_indices() {
            steps.step();
            for l in c.to_lowercase() {
                lower.push(l);
                origin.resize(lower.len(), i);
            }
        }
        origin.push(text.len());
        // Whole-word occurrences as (start, end, placeholder) in `text`.
        let mut found: Vec<(usize, usize, u32)> = Vec::new();
        let mut keep = |start: usize, end: usize, placeholder: u32| {
            steps.step();
            let (start, end) = (origin[start], origin[end]);
            if end <= start {
                return;
            }
            let found_text = &text[start..end];
            let glued = |edge: Option<char>, neighbour: Option<char>| {
                edge.is_some_and(char::is_alphanumeric)
                    && neighbour.is_some_and(char::is_alphanumeric)
            };
            if glued(found_text.chars().next(), text[..start].chars().next_back())
                || glued(found_text.chars().next_back(), text[end..].chars().next())
            {
                return;
            }
            found.push((start, end, placeholder));
        };
        for (automaton, placeholders) in &self.automata {
            check_interrupts();
            for m in automaton.find_iter(&lower) {
                keep(m.start(), m.end(), placeholders[m.pattern().as_usize()]);
            }
        }
        for (needle, placeholder) in &self.literals {
            check_interrupts();
            for (start, _) in lower.match_indices(needle.as_str()) {
                keep(start, start + needle.len(), *placeholder);
            }
        }
        if self.automata.len() + self.literals.len() > 1 {
            found.sort_unstable_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (start, end, placeholder) in found {
            if start < last {
                continue;
            }
            out.push_str(&text[last..start]);
            out.push_str(&self.placeholders[placeholder as usize]);
            last = end;
        }
        out.push_str(&text[last..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::automata::CHUNK_BYTES;

    fn scrub(text: &str, values: &[Option<String>]) -> String {
        Identifiers::new(values, &[]).unwrap().replace(text)
    }

    /// Many identifiers are split into automata of bounded size (what keeps building linear and cancellable;
    /// the time itself is the benchmark's business, not a unit test's).
    #[test]
    fn many_identifiers_are_split_into_bounded_automata() {
        let values: Vec<Option<String>> = (0..200_000u64)
            .map(|i| Some(format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))))
            .collect();
        let ids = Identifiers::new(&values, &[]).expect("matcher");
        let patterns: usize = ids.automata.iter().map(|(_, p)| p.len()).sum();
        // Each value gives one needle (its URL-encoded forms are the same string).
        assert_eq!(patterns, 200_000);
        assert!(ids.automata.len() >= 200_000 * 16 / CHUNK_BYTES);
        for (_, placeholders) in &ids.automata {
            assert!(placeholders.len() * 16 <= CHUNK_BYTES + 16);
        }
    }

    #[test]
    fn identifiers_across_automata_leftmost_longest() {
        // Enough identifiers for several automata, sorting between "jan" and "jan novák": the two overlapping
        // needles end up in different automata.
        let mut values: Vec<Option<String>> =
            (0..40_000).map(|i| Some(format!("jan {i:08}"))).collect();
        values.push(Some("Jan".to_string()));
        values.push(Some("Jan Novák".to_string()));
        values.push(Some("zzz-last-one".to_string()));
        let out = scrub(
            "jan novák, JAN, Janek, Jan 00000007 and zzz-last-one.",
            &values,
        );
        assert_eq!(
            out,
            "[redacted], [redacted], Janek, [redacted] and [redacted]."
        );
        assert!(
            Identifiers::new(&values, &[]).unwrap().automata.len() > 1,
            "the test must span automata"
        );
    }

    #[test]
    fn too_many_identifier_bytes_is_an_error() {
        let big = Some("x".repeat(LITERAL_BYTES + 1));
        let ids = Identifiers::new(std::slice::from_ref(&big), &[]).unwrap();
        assert_eq!(ids.literals.len(), 1);
        assert_eq!(
            ids.replace(&format!("a {} b", "X".repeat(LITERAL_BYTES + 1))),
            "a [redacted] b"
        );
        let values: Vec<Option<String>> = (0..(MAX_NEEDLE_BYTES / (LITERAL_BYTES / 2) + 1))
            .map(|i| Some(format!("{i}{}", "y".repeat(LITERAL_BYTES / 2))))
            .collect();
        assert!(Identifiers::new(&values, &[]).is_err());
    }
}
