//! Every occurrence (overlapping ones too) of many needles in a text, in time linear in the needles' and the
//! text's length whatever the needles repeat: a subject's login may be a 16 MiB run of one letter.
//!
//! Aho-Corasick's default automaton (a DFA for few needles) takes time quadratic in a repetitive needle's
//! length to build, in one call no cancel can stop. The needles therefore go into noncontiguous NFAs (linear to
//! build) of bounded size, sorted so that needles sharing a prefix share an automaton; needles longer than
//! `LITERAL_BYTES` are searched one by one with Knuth-Morris-Pratt (linear, also over overlapping occurrences),
//! where an automaton would spend a state of tens of bytes on each of their bytes.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::error::Result;
use crate::interrupts::{check_interrupts, Steps};
use crate::strategy::automata;
pub(super) use crate::strategy::automata::LITERAL_BYTES;

/// The compiled search for a list of needles, reporting needles by their index in that list.
pub(super) struct Search {
    /// Automata over consecutive runs of the sorted needles, with each pattern's needle index.
    automata: Vec<(AhoCorasick, Vec<usize>)>,
    /// Needles too long for an automaton, with their needle index.
    literals: Vec<(Literal, usize)>,
}

impl Search {
    /// The search for `needles` (non-empty strings).
    pub(super) fn new<'a>(needles: impl Iterator<Item = &'a str>) -> Result<Search> {
        let mut steps = Steps::default();
        let (long, mut short): (Vec<_>, Vec<_>) = needles
            .enumerate()
            .map(|(id, n)| (n, id))
            .partition(|(n, _)| n.len() > LITERAL_BYTES);
        short.sort_unstable();
        // Standard semantics, so that every occurrence is seen: a longer needle that is not a whole word
        // there must not hide a shorter one that is.
        let automata =
            automata::chunked(&short, MatchKind::Standard, &mut steps, "the trace matcher")?;
        let literals = long
            .into_iter()
            .map(|(n, id)| (Literal::new(n, &mut steps), id))
            .collect();
        Ok(Search { automata, literals })
    }

    /// Calls `found(start, end, needle)` for every occurrence of every needle in `text`, overlapping ones too
    /// (not in the order of `start`).
    pub(super) fn each_match(
        &self,
        text: &str,
        steps: &mut Steps,
        mut found: impl FnMut(usize, usize, usize, &mut Steps),
    ) {
        for (automaton, ids) in &self.automata {
            check_interrupts();
            for m in automaton.find_overlapping_iter(text) {
                steps.step();
                found(m.start(), m.end(), ids[m.pattern().as_usize()], steps);
            }
        }
        for (literal, id) in &self.literals {
            check_interrupts();
            literal.each_match(text.as_bytes(), steps, |start, end, steps| {
                found(start, end, *id, steps)
            });
        }
    }
}

/// One needle for Knuth-Morris-Pratt: linear to prepare and to search, overlapping occurrences included.
pub(super) struct Literal {
    needle: Box<[u8]>,
    /// `border[i]`: the length of the longest proper prefix of `needle[..=i]` that is also its suffix.
    border: Box<[u32]>,
}

impl Literal {
    /// Panics if `needle` is empty or longer than 4 GiB.
    pub(super) fn new(needle: &str, steps: &mut Steps) -> Literal {
        let needle = needle.as_bytes();
        assert!(!needle.is_empty() && u32::try_from(needle.len()).is_ok());
        let mut border = vec![0u32; needle.len()];
        let mut k = 0usize;
        for i in 1..needle.len() {
            steps.step();
            while k > 0 && needle[i] != needle[k] {
                k = border[k - 1] as usize;
            }
            if needle[i] == needle[k] {
                k += 1;
            }
            border[i] = k as u32;
        }
        Literal {
            needle: needle.into(),
            border: border.into(),
        }
    }

    /// Calls `found(start, end)` for every occurrence of the needle in `text`, in order. A needle that is
    /// UTF-8 occurs in UTF-8 only at character boundaries.
    pub(super) fn each_match(
        &self,
        text: &[u8],
        steps: &mut Steps,
        mut found: impl FnMut(usize, usize, &mut Steps),
    ) {
        let needle = &self.needle;
        let mut k = 0usize;
        for (i, &b) in text.iter().enumerate() {
            steps.step();
            while k > 0 && b != needle[k] {
                k = self.border[k - 1] as usize;
            }
            if b == needle[k] {
                k += 1;
            }
            if k == needle.len() {
                found(i + 1 - k, i + 1, steps);
                k = self.border[k - 1] as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(needles: &[&str], text: &str) -> Vec<(usize, usize, usize)> {
        let search = Search::new(needles.iter().copied()).unwrap();
        let mut found = Vec::new();
        search.each_match(text, &mut Steps::default(), |s, e, id, _| {
            found.push((s, e, id))
        });
        found.sort_unstable();
        found
    }

    #[test]
    fn every_occurrence_overlapping_ones_too() {
        assert_eq!(
            matches(&["aa", "aaa", "b"], "aaaab"),
            vec![
                (0, 2, 0),
                (0, 3, 1),
                (1, 3, 0),
                (1, 4, 1),
                (2, 4, 0),
                (4, 5, 2)
            ]
        );
    }

    #[test]
    fn long_needles_are_literals_with_overlapping_occurrences() {
        let long = "ab".repeat(LITERAL_BYTES);
        let search = Search::new([long.as_str(), "ba"].into_iter()).unwrap();
        assert_eq!(search.literals.len(), 1);
        let text = format!("x{}x", "ab".repeat(LITERAL_BYTES + 2));
        let mut starts = Vec::new();
        search.each_match(&text, &mut Steps::default(), |s, e, id, _| {
            if id == 0 {
                assert_eq!(e - s, long.len());
                starts.push(s);
            }
        });
        assert_eq!(starts, vec![1, 3, 5]);
    }

    #[test]
    fn many_needles_are_split_into_bounded_automata() {
        let needles: Vec<String> = (0..40_000).map(|i| format!("needle {i:08}")).collect();
        let search = Search::new(needles.iter().map(String::as_str)).unwrap();
        assert!(search.automata.len() > 1);
        let text = "x needle 00000007 needle 00039999 y";
        let ids: Vec<usize> = matches(
            &needles.iter().map(String::as_str).collect::<Vec<_>>(),
            text,
        )
        .iter()
        .map(|m| m.2)
        .collect();
        assert_eq!(ids, vec![7, 39_999]);
    }
}
