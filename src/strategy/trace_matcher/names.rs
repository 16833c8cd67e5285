//! Names in free text: the words of a name standing together, as people write a name, not anywhere in the
//! text. A name of common words ("Queue Sales") must not match every call log line "queue: sales" of other
//! people, nor "Jana went to Nováková street" the name "Jana Nováková".
//!
//! A name is split into words (runs of letters and digits) and parts (words joined without whitespace or a
//! comma: "Nováková-Dvořáková", "O'Brien"). It is found as stored, with its last part moved first (the
//! surname-first form of lists and forms: "Nováková Jana Marie" for "Jana Marie Nováková"), and with its first
//! part moved last (the other way round, for a name stored surname first: first and last name columns are
//! joined in the table's column order). Other orders of three or more parts are not looked for.
//!
//! Between two words the text may have whitespace, or the punctuation the stored name has there (one hyphen or
//! apostrophe also as another: "O’Brien" for "O'Brien"), and after the first part a comma ("NOVÁKOVÁ, Jana"),
//! each with or without whitespace around it. Any other character between two words (':' or another word)
//! breaks the name.

use crate::interrupts::Steps;

/// Characters that join the words of one part interchangeably: hyphens, dashes and apostrophes.
const JOINERS: &str = "-\u{2010}\u{2011}\u{2012}\u{2013}'\u{2018}\u{2019}\u{2BC}`\u{B4}";

/// A name looked for: the orders its words may stand in (the stored order first).
pub(super) struct Name {
    pub(super) orders: Vec<Vec<NameWord>>,
}

/// A folded word of a name in one order, and what may stand between it and the word before it.
pub(super) struct NameWord {
    pub(super) text: String,
    /// The stored punctuation (whitespace aside) before this word: "" between most parts, "-" in
    /// "Nováková-Dvořáková".
    punctuation: String,
    /// This word starts the second part: a comma may stand before it.
    comma: bool,
}

impl Name {
    /// The name in the folded `value`. `None` with fewer than two distinct words of two or more characters: a
    /// lone first name or surname (or one with an initial, "J. Novák") is too common to mean this person.
    pub(super) fn parse(folded: &str) -> Option<Name> {
        // Each part: its words, each with the punctuation before it.
        let mut parts: Vec<Vec<(String, String)>> = Vec::new();
        let mut gap: Option<String> = None;
        let mut steps = Steps::default();
        let mut chars = folded.chars().peekable();
        while let Some(&c) = chars.peek() {
            steps.step();
            if !c.is_alphanumeric() {
                gap.get_or_insert_with(String::new).push(c);
                chars.next();
                continue;
            }
            let mut word = String::new();
            while let Some(c) = chars.next_if(|c| c.is_alphanumeric()) {
                steps.step();
                word.push(c);
            }
            let gap = gap.take().unwrap_or_default();
            let punctuation: String = gap.chars().filter(|&c| c != ' ').collect();
            match parts.last_mut() {
                Some(part) if !gap.contains([' ', ',']) => part.push((punctuation, word)),
                Some(_) => parts.push(vec![(punctuation, word)]),
                None => parts.push(vec![(String::new(), word)]),
            }
        }
        let mut long_words: Vec<&str> = parts
            .iter()
            .flatten()
            .map(|(_, w)| w.as_str())
            .filter(|w| w.chars().count() >= 2)
            .collect();
        long_words.sort_unstable();
        long_words.dedup();
        if long_words.len() < 2 {
            return None;
        }
        let mut orders = vec![order(parts.iter())];
        if let (Some((last, init)), Some((first, tail))) = (parts.split_last(), parts.split_first())
        {
            for rotated in [
                order(std::iter::once(last).chain(init)),
                order(tail.iter().chain(std::iter::once(first))),
            ] {
                let texts =
                    |o: &Vec<NameWord>| o.iter().map(|w| w.text.clone()).collect::<Vec<_>>();
                if !orders.iter().any(|o| texts(o) == texts(&rotated)) {
                    orders.push(rotated);
                }
            }
        }
        Some(Name { orders })
    }

    /// The longest word (of the stored order): the most selective for the prefilter, which needs only one.
    pub(super) fn longest_word(&self) -> &str {
        self.orders[0]
            .iter()
            .map(|w| w.text.as_str())
            .max_by_key(|w| w.chars().count())
            .unwrap_or_default()
    }

    /// Folded bytes the name takes in memory (all orders).
    pub(super) fn len(&self) -> usize {
        self.orders.iter().flatten().map(|w| w.text.len()).sum()
    }
}

/// The words of `parts` in this order, each with the punctuation stored before it (a part keeps the gap before
/// it, the first word's is never read); the first word of the second part may have a comma instead.
fn order<'a>(parts: impl Iterator<Item = &'a Vec<(String, String)>>) -> Vec<NameWord> {
    let mut words = Vec::new();
    for (part_index, part) in parts.enumerate() {
        for (word_index, (punctuation, text)) in part.iter().enumerate() {
            words.push(NameWord {
                text: text.clone(),
                punctuation: punctuation.clone(),
                comma: part_index == 1 && word_index == 0,
            });
        }
    }
    words
}

impl NameWord {
    /// Whether `gap` (folded text between two words, without letters and digits) may stand before this word.
    fn accepts(&self, gap: &str) -> bool {
        let punctuation: String = gap.chars().filter(|&c| c != ' ').collect();
        punctuation.is_empty()
            || punctuation == self.punctuation
            || (self.comma && punctuation == ",")
            || (is_joiner(&punctuation) && is_joiner(&self.punctuation))
    }

    /// The longest gap `accepts` can accept, in characters: the punctuation with a space on each side.
    fn longest_gap(&self) -> usize {
        2 * self.punctuation.chars().count().max(1) + 1
    }
}

/// One hyphen, dash or apostrophe.
fn is_joiner(punctuation: &str) -> bool {
    let mut chars = punctuation.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if JOINERS.contains(c))
}

/// Whether the words of `order` after its first one follow in `folded` from byte `at` (where the first one
/// ends); their byte ranges are pushed to `ranges`. Linear in the name's length: a gap is read only as far as
/// it could be accepted.
pub(super) fn rest_follows(
    order: &[NameWord],
    folded: &str,
    mut at: usize,
    steps: &mut Steps,
    ranges: &mut Vec<(usize, usize)>,
) -> bool {
    for word in &order[1..] {
        steps.step();
        let rest = &folded[at..];
        let Some((gap_len, _)) = rest
            .char_indices()
            .take(word.longest_gap() + 1)
            .find(|(_, c)| c.is_alphanumeric())
        else {
            return false;
        };
        if gap_len == 0 || !word.accepts(&rest[..gap_len]) {
            return false;
        }
        let start = at + gap_len;
        let end = start + word.text.len();
        if !folded[start..].starts_with(&word.text)
            || folded[end..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric)
        {
            return false;
        }
        ranges.push((start, end));
        at = end;
    }
    true
}
