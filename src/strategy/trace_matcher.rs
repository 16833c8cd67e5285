//! Finds a subject's identifiers in free text the way people and systems write them (trace columns): call
//! logs, webhook payloads and anonymous chats that no key ties to the person.
//!
//! E-mails (also URL-encoded), identifiers and addresses are found as whole words in the folded text (case and
//! Latin accents ignored, see `normalize::fold_char`), names when their words stand together (see `names`),
//! phone numbers by their digits however they are grouped. `prefilter` gives PostgreSQL a regular expression
//! that every such text matches, so that a trigram index can skip the rows without any candidate.

mod names;
mod phone;
mod prefilter;
#[cfg(test)]
mod prefilter_tests;
mod search;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};

use self::names::{rest_follows, Name};
use self::phone::{written_digits, MIN_PHONE_DIGITS};
use self::search::{Literal, Search};
use crate::error::{GdprError, Result};
use crate::interrupts::{check_interrupts, Steps};
use crate::normalize::{self, fold, Folded};
use crate::strategy::SubjectIdentifiers;

/// A found identifier: byte offsets in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub category: &'static str,
}

/// The categories looked for, in the order that decides which one a span gets when several fit it exactly.
/// Other kinds (companies, redacted values) are too common to hunt for in other people's rows.
const CATEGORIES: [&str; 5] = ["email", "phone", "name", "address", "identifier"];

/// Identifiers, addresses and e-mails shorter than this would match everywhere.
const MIN_NEEDLE_CHARS: usize = 3;

/// Upper bound on the needle bytes (the automaton takes about ten times as much memory).
const MAX_NEEDLE_BYTES: usize = 16 * 1024 * 1024;

/// E-mails longer than this are compared with the original text by a search of their own (see `Exacts`), not
/// at each match: overlapping matches of a long, repetitive e-mail would cost its length each.
const SHORT_EXACT_BYTES: usize = 1024;

/// A folded string looked for, and what a whole-word match of it means.
struct Needle {
    text: String,
    /// A whole value found by this needle: its category and, for e-mails, the lower-cased form the original
    /// text must show (e-mails are case-insensitive, but "jan@priklad.cz" is not "jan@příklad.cz"), as an
    /// index into `TraceMatcher::exacts`.
    whole: Vec<(&'static str, Option<usize>)>,
    /// The names (index into `TraceMatcher::names`, order index) this needle is the first word of.
    name_starts: Vec<(usize, usize)>,
}

impl Needle {
    fn add_whole(&mut self, category: &'static str, exact: Option<usize>) {
        let whole = (category, exact);
        if !self.whole.contains(&whole) {
            self.whole.push(whole);
        }
    }
}

/// The compiled search for one subject's identifiers.
pub struct TraceMatcher {
    /// Assumed for numbers written without one.
    country_code: String,
    /// Every occurrence of the folded needles (a longer needle that is not a whole word there must not hide a
    /// shorter one that is).
    search: Option<Search>,
    needles: Vec<Needle>,
    /// The forms the original text must show e-mails in (`Needle::whole`), each once.
    exacts: Vec<String>,
    /// Those longer than `SHORT_EXACT_BYTES`, prepared for searching the lower-cased text (index in `exacts`).
    long_exacts: Vec<(usize, Literal)>,
    /// The names looked for: the automaton finds their first words (`Needle::name_starts`), the rest is read
    /// from the text after them.
    names: Vec<Name>,
    /// The subject's phone numbers in international form (digits only); ordered, for a stable prefilter.
    phones: BTreeSet<String>,
    /// Digits of the longest of them: longer windows of digit groups need not be normalized.
    longest_phone: usize,
}

/// Where `category` stands in `CATEGORIES`: the tie-break between spans covering the same text.
fn category_rank(category: &str) -> usize {
    CATEGORIES
        .iter()
        .position(|c| *c == category)
        .unwrap_or(CATEGORIES.len())
}

impl TraceMatcher {
    pub fn new(ids: &SubjectIdentifiers, country_code: &str) -> Result<TraceMatcher> {
        let country_code = normalize::country_code(country_code)?.to_string();
        let mut matcher = TraceMatcher {
            country_code,
            search: None,
            needles: Vec::new(),
            exacts: Vec::new(),
            long_exacts: Vec::new(),
            names: Vec::new(),
            phones: BTreeSet::new(),
            longest_phone: 0,
        };
        let mut needles = Needles::default();
        let mut exact_ids: HashMap<String, usize> = HashMap::new();
        let mut steps = Steps::default();
        for (value, kind) in ids.values.iter().zip(&ids.kinds) {
            steps.step();
            let Some(category) = CATEGORIES.iter().copied().find(|c| c == kind) else {
                continue;
            };
            match category {
                "email" => {
                    let Some(lower) = normalize::email(value) else {
                        continue;
                    };
                    let encoded = normalize::url_encoded(&lower).to_lowercase();
                    for form in [lower, encoded] {
                        if form.chars().count() >= MIN_NEEDLE_CHARS {
                            let id = needles.id(&fold(&form).text, &mut matcher.needles)?;
                            let next = matcher.exacts.len();
                            let exact = *exact_ids.entry(form.clone()).or_insert(next);
                            if exact == next {
                                if form.len() > SHORT_EXACT_BYTES {
                                    let literal = Literal::new(&form, &mut steps);
                                    matcher.long_exacts.push((exact, literal));
                                }
                                matcher.exacts.push(form);
                            }
                            matcher.needles[id].add_whole(category, Some(exact));
                        }
                    }
                }
                "phone" => {
                    let cc = &matcher.country_code;
                    let Some(digits) = normalize::phone(value, cc) else {
                        continue;
                    };
                    if written_digits(&digits, cc) >= MIN_PHONE_DIGITS {
                        matcher.longest_phone = matcher.longest_phone.max(digits.len());
                        matcher.phones.insert(digits);
                    }
                }
                "name" => {
                    let Some(name) = Name::parse(&fold(value).text) else {
                        continue;
                    };
                    needles.charge(name.len())?;
                    let name_index = matcher.names.len();
                    for (order_index, order) in name.orders.iter().enumerate() {
                        let id = needles.id(&order[0].text, &mut matcher.needles)?;
                        matcher.needles[id]
                            .name_starts
                            .push((name_index, order_index));
                    }
                    matcher.names.push(name);
                }
                _ => {
                    let folded = fold(value);
                    let folded = folded.text.trim_matches(' ');
                    if folded.chars().count() < MIN_NEEDLE_CHARS {
                        continue;
                    }
                    let id = needles.id(folded, &mut matcher.needles)?;
                    matcher.needles[id].add_whole(category, None);
                }
            }
        }
        check_interrupts();
        for n in &mut matcher.needles {
            n.whole.sort_by_key(|(category, _)| category_rank(category));
        }
        if !matcher.needles.is_empty() {
            let search = Search::new(matcher.needles.iter().map(|n| n.text.as_str()))?;
            matcher.search = Some(search);
        }
        Ok(matcher)
    }

    /// Nothing usable to look for (only too short or too common identifiers).
    pub fn is_empty(&self) -> bool {
        self.search.is_none() && self.phones.is_empty()
    }

    /// The subject's identifiers in `text`: sorted, non-overlapping (leftmost, then longest, wins).
    pub fn find(&self, text: &str) -> Vec<Span> {
        if self.is_empty() || text.is_empty() {
            return Vec::new();
        }
        let mut steps = Steps::default();
        let mut candidates = self.phone_spans(text, &mut steps);
        if let Some(search) = &self.search {
            let folded = fold(text);
            self.needle_spans(search, text, &folded, &mut steps, &mut candidates);
        }
        candidates.sort_unstable_by_key(|s| {
            (s.start, std::cmp::Reverse(s.end), category_rank(s.category))
        });
        let mut spans: Vec<Span> = Vec::with_capacity(candidates.len());
        for span in candidates {
            steps.step();
            if spans.last().is_none_or(|last| span.start >= last.end) {
                spans.push(span);
            }
        }
        spans
    }

    /// `text` with every identifier found replaced by `[category]`; `None` when there is none.
    pub fn replace(&self, text: &str) -> Option<String> {
        let spans = self.find(text);
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for span in spans {
            out.push_str(&text[last..span.start]);
            out.push('[');
            out.push_str(span.category);
            out.push(']');
            last = span.end;
        }
        out.push_str(&text[last..]);
        Some(out)
    }

    /// The distinct categories found in `text`, sorted.
    pub fn categories(&self, text: &str) -> Vec<&'static str> {
        let mut categories: Vec<&'static str> =
            self.find(text).iter().map(|s| s.category).collect();
        categories.sort_unstable();
        categories.dedup();
        categories
    }

    /// Whole-word occurrences of the needles; the words of a name only where the whole name follows.
    fn needle_spans(
        &self,
        search: &Search,
        text: &str,
        folded: &Folded,
        steps: &mut Steps,
        spans: &mut Vec<Span>,
    ) {
        let long_exacts = self.long_exacts_in(text, steps);
        let mut name_words: Vec<(usize, usize)> = Vec::new();
        search.each_match(&folded.text, steps, |start, end, needle, steps| {
            let glued = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
            if glued(folded.text[..start].chars().next_back())
                || glued(folded.text[end..].chars().next())
            {
                return;
            }
            let (original_start, original_end) = folded.original_span(start, end);
            let needle = &self.needles[needle];
            let shows = |exact: usize| {
                let form = &self.exacts[exact];
                if form.len() > SHORT_EXACT_BYTES {
                    long_exacts.contains(&(original_start, original_end, exact))
                } else {
                    text[original_start..original_end].to_lowercase() == *form
                }
            };
            let whole = needle
                .whole
                .iter()
                .find(|(_, exact)| exact.is_none_or(shows));
            if let Some((category, _)) = whole {
                spans.push(Span {
                    start: original_start,
                    end: original_end,
                    category,
                });
            }
            for &(name, order) in &needle.name_starts {
                name_words.clear();
                name_words.push((start, end));
                let order = &self.names[name].orders[order];
                if rest_follows(order, &folded.text, end, steps, &mut name_words) {
                    for &(word_start, word_end) in &name_words {
                        let (start, end) = folded.original_span(word_start, word_end);
                        spans.push(Span {
                            start,
                            end,
                            category: "name",
                        });
                    }
                }
            }
        });
    }

    /// Where `text` shows the e-mails longer than `SHORT_EXACT_BYTES` (lower-cased character by character):
    /// (start, end, index in `exacts`). Each is searched once, in linear time, rather than compared at each
    /// of possibly many overlapping matches.
    fn long_exacts_in(&self, text: &str, steps: &mut Steps) -> HashSet<(usize, usize, usize)> {
        let mut found = HashSet::new();
        if self.long_exacts.is_empty() {
            return found;
        }
        // `origin[i]`: where the character behind byte i of `lower` starts in `text`.
        let mut lower = String::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len() + 1);
        for (at, c) in text.char_indices() {
            steps.step();
            lower.extend(c.to_lowercase());
            origin.resize(lower.len(), at);
        }
        origin.push(text.len());
        // A match must begin and end where the lower case of a whole character does.
        let boundary = |i: usize| i == 0 || i == lower.len() || origin[i] != origin[i - 1];
        for (exact, literal) in &self.long_exacts {
            literal.each_match(lower.as_bytes(), steps, |start, end, _| {
                if boundary(start) && boundary(end) {
                    found.insert((origin[start], origin[end], *exact));
                }
            });
        }
        found
    }
}

/// The needles collected so far, each once, within `MAX_NEEDLE_BYTES`.
#[derive(Default)]
struct Needles {
    ids: HashMap<String, usize>,
    bytes: usize,
}

impl Needles {
    /// Counts `bytes` more against `MAX_NEEDLE_BYTES`.
    fn charge(&mut self, bytes: usize) -> Result<()> {
        self.bytes += bytes;
        if self.bytes > MAX_NEEDLE_BYTES {
            return Err(GdprError::InvalidParameter(format!(
                "the identifiers to look for add up to more than {} MiB",
                MAX_NEEDLE_BYTES >> 20
            )));
        }
        Ok(())
    }

    /// The index in `needles` of the needle `folded`, added if new.
    fn id(&mut self, folded: &str, needles: &mut Vec<Needle>) -> Result<usize> {
        if let Some(&id) = self.ids.get(folded) {
            return Ok(id);
        }
        self.charge(folded.len())?;
        needles.push(Needle {
            text: folded.to_string(),
            whole: Vec::new(),
            name_starts: Vec::new(),
        });
        self.ids.insert(folded.to_string(), needles.len() - 1);
        Ok(needles.len() - 1)
    }
}
