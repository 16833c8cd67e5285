//! Finds a subject's identifiers in free text the way people and systems write them (trace columns): call
//! logs, webhook payloads and anonymous chats that no key ties to the person.
//!
//! E-mails (also URL-encoded), identifiers and addresses are found as whole words in the folded text (case and
//! accents ignored), names when every one of their words occurs (in any order), phone numbers by their digits
//! however they are grouped. `prefilter` gives PostgreSQL a regular expression that every such text matches,
//! so that a trigram index can skip the rows without any candidate.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use deunicode::deunicode_char;

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

/// A phone number with fewer digits than this (as written within its country) would match everywhere.
const MIN_PHONE_DIGITS: usize = 6;

/// At most this many digit groups make one phone number ("+420 600 31 67 60" has five).
const MAX_PHONE_GROUPS: usize = 8;

/// Upper bound on the needle bytes (the automaton takes about ten times as much memory).
const MAX_NEEDLE_BYTES: usize = 16 * 1024 * 1024;

/// Beyond this many characters a regular expression costs PostgreSQL more than scanning every row.
const MAX_PREFILTER_CHARS: usize = 20_000;

/// A folded string looked for, and what a whole-word match of it means.
struct Needle {
    text: String,
    /// A whole value found by this needle: its category and, for e-mails, the lower-cased form the original
    /// text must show (e-mails are case-insensitive, but "jan@priklad.cz" is not "jan@příklad.cz").
    whole: Vec<(&'static str, Option<String>)>,
    /// The names (index into `TraceMatcher::name_lengths`, word index) this needle is a word of.
    name_words: Vec<(usize, usize)>,
}

impl Needle {
    fn add_whole(&mut self, category: &'static str, exact: Option<String>) {
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
    /// Over the folded needles; standard semantics so that every occurrence is seen: a longer needle that is
    /// not a whole word there must not hide a shorter one that is.
    automaton: Option<AhoCorasick>,
    needles: Vec<Needle>,
    /// How many distinct words (at least two) each name has.
    name_lengths: Vec<usize>,
    /// The subject's phone numbers in international form (digits only); ordered, for a stable prefilter.
    phones: BTreeSet<String>,
    /// Digits of the longest of them: longer windows of digit groups need not be normalized.
    longest_phone: usize,
}

/// Percent-encoding as forms and URLs write it (unreserved characters kept).
fn url_encoded(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
            automaton: None,
            needles: Vec::new(),
            name_lengths: Vec::new(),
            phones: BTreeSet::new(),
            longest_phone: 0,
        };
        let mut needle_ids: HashMap<String, usize> = HashMap::new();
        let mut needle_bytes = 0usize;
        let mut needle = |folded: &str, needles: &mut Vec<Needle>| -> Result<usize> {
            match needle_ids.entry(folded.to_string()) {
                Entry::Occupied(e) => Ok(*e.get()),
                Entry::Vacant(e) => {
                    needle_bytes += folded.len();
                    if needle_bytes > MAX_NEEDLE_BYTES {
                        return Err(GdprError::InvalidParameter(format!(
                            "the identifiers to look for add up to more than {} MiB",
                            MAX_NEEDLE_BYTES >> 20
                        )));
                    }
                    needles.push(Needle {
                        text: folded.to_string(),
                        whole: Vec::new(),
                        name_words: Vec::new(),
                    });
                    Ok(*e.insert(needles.len() - 1))
                }
            }
        };
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
                    let encoded = url_encoded(&lower).to_lowercase();
                    for form in [lower, encoded] {
                        if form.chars().count() >= MIN_NEEDLE_CHARS {
                            let id = needle(&fold(&form).text, &mut matcher.needles)?;
                            matcher.needles[id].add_whole(category, Some(form));
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
                    let folded = fold(value);
                    let mut words: Vec<String> = Vec::new();
                    for word in normalize::words(&folded.text) {
                        steps.step();
                        if word.chars().count() >= 2 && !words.iter().any(|w| w == word) {
                            words.push(word.to_string());
                        }
                    }
                    // A lone first name or surname is too common to mean this person.
                    if words.len() < 2 {
                        continue;
                    }
                    let name_index = matcher.name_lengths.len();
                    for (word_index, word) in words.iter().enumerate() {
                        let id = needle(word, &mut matcher.needles)?;
                        matcher.needles[id]
                            .name_words
                            .push((name_index, word_index));
                    }
                    matcher.name_lengths.push(words.len());
                }
                _ => {
                    let folded = fold(value);
                    let folded = folded.text.trim_matches(' ');
                    if folded.chars().count() < MIN_NEEDLE_CHARS {
                        continue;
                    }
                    let id = needle(folded, &mut matcher.needles)?;
                    matcher.needles[id].add_whole(category, None);
                }
            }
        }
        check_interrupts();
        for n in &mut matcher.needles {
            n.whole.sort_by_key(|(category, _)| category_rank(category));
        }
        if !matcher.needles.is_empty() {
            let automaton = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(matcher.needles.iter().map(|n| n.text.as_str()))
                .map_err(|e| {
                    GdprError::InvalidParameter(format!(
                        "cannot build the trace matcher for {} identifiers: {e}",
                        ids.values.len()
                    ))
                })?;
            matcher.automaton = Some(automaton);
        }
        Ok(matcher)
    }

    /// Nothing usable to look for (only too short or too common identifiers).
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none() && self.phones.is_empty()
    }

    /// The subject's identifiers in `text`: sorted, non-overlapping (leftmost, then longest, wins).
    pub fn find(&self, text: &str) -> Vec<Span> {
        if self.is_empty() || text.is_empty() {
            return Vec::new();
        }
        let mut steps = Steps::default();
        let mut candidates = self.phone_spans(text, &mut steps);
        if let Some(automaton) = &self.automaton {
            let folded = fold(text);
            self.needle_spans(automaton, text, &folded, &mut steps, &mut candidates);
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

    /// Whole-word occurrences of the needles; name words only of names complete in `text`.
    fn needle_spans(
        &self,
        automaton: &AhoCorasick,
        text: &str,
        folded: &Folded,
        steps: &mut Steps,
        spans: &mut Vec<Span>,
    ) {
        let mut name_words_found: Vec<Vec<bool>> =
            self.name_lengths.iter().map(|&n| vec![false; n]).collect();
        let mut name_word_spans: Vec<(usize, usize, usize)> = Vec::new();
        for m in automaton.find_overlapping_iter(&folded.text) {
            steps.step();
            let (start, end) = (m.start(), m.end());
            let glued = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
            if glued(folded.text[..start].chars().next_back())
                || glued(folded.text[end..].chars().next())
            {
                continue;
            }
            let (original_start, original_end) = folded.original_span(start, end);
            let needle = &self.needles[m.pattern().as_usize()];
            let shown = || text[original_start..original_end].to_lowercase();
            let whole = needle
                .whole
                .iter()
                .find(|(_, exact)| exact.as_ref().is_none_or(|e| *e == shown()));
            if let Some((category, _)) = whole {
                spans.push(Span {
                    start: original_start,
                    end: original_end,
                    category,
                });
            }
            for &(name, word) in &needle.name_words {
                name_words_found[name][word] = true;
            }
            if !needle.name_words.is_empty() {
                name_word_spans.push((original_start, original_end, m.pattern().as_usize()));
            }
        }
        let complete: Vec<bool> = name_words_found
            .iter()
            .map(|w| w.iter().all(|&f| f))
            .collect();
        for (start, end, needle) in name_word_spans {
            steps.step();
            if self.needles[needle]
                .name_words
                .iter()
                .any(|&(name, _)| complete[name])
            {
                spans.push(Span {
                    start,
                    end,
                    category: "name",
                });
            }
        }
    }

    /// Phone numbers: runs of digit groups in the original text, each window of whole groups compared by its
    /// international form; from each group the longest matching window wins.
    fn phone_spans(&self, text: &str, steps: &mut Steps) -> Vec<Span> {
        let mut spans = Vec::new();
        if self.phones.is_empty() {
            return spans;
        }
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            steps.step();
            if !bytes[at].is_ascii_digit() {
                at += 1;
                continue;
            }
            let run = digit_groups(bytes, at, steps);
            at = run.groups.last().map_or(at + 1, |g| g.1);
            self.match_windows(text, &run, steps, &mut spans);
        }
        spans
    }

    /// The leftmost-longest windows of `run` that are one of the subject's phone numbers.
    fn match_windows(&self, text: &str, run: &DigitRun, steps: &mut Steps, spans: &mut Vec<Span>) {
        let groups = &run.groups;
        // "+48 600 316 760" is a Polish number, not the Czech 600 316 760: an international run is one number.
        let first_groups = if run.is_international(text.as_bytes()) {
            1
        } else {
            groups.len()
        };
        let mut first = 0;
        while first < first_groups {
            let start = match run.plus {
                Some(plus) if first == 0 => plus,
                _ => groups[first].0,
            };
            let mut digits = 0;
            let mut longest = None;
            for (last, &(group_start, group_end)) in
                groups.iter().enumerate().skip(first).take(MAX_PHONE_GROUPS)
            {
                steps.step();
                digits += group_end - group_start;
                // The longest window could still match with a "00" prefix dropped.
                if digits > self.longest_phone + 2 {
                    break;
                }
                let window = &text[start..group_end];
                if normalize::phone(window, &self.country_code)
                    .is_some_and(|n| self.phones.contains(&n))
                {
                    longest = Some(last);
                }
            }
            let Some(last) = longest else {
                first += 1;
                continue;
            };
            let (start, end) = with_enclosing_parentheses(text.as_bytes(), start, groups[last].1);
            spans.push(Span {
                start,
                end,
                category: "phone",
            });
            first = last + 1;
        }
    }

    /// A regular expression (PostgreSQL ARE, for the case-insensitive `~*`) that every text `find` finds
    /// something in matches: a superset for an index to serve, so that rows without any candidate never leave
    /// PostgreSQL. `None` when it would be too long to help (or there is nothing to look for): scan every row.
    pub fn prefilter(&self) -> Option<String> {
        let mut alternatives: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut steps = Steps::default();
        let mut add = |alternative: String| {
            steps.step();
            if seen.insert(alternative.clone()) {
                alternatives.push(alternative);
            }
        };
        for needle in &self.needles {
            for (_, email) in &needle.whole {
                // E-mails are matched as written (case aside); the rest folded, so accented variants too.
                add(match email {
                    Some(email) => email.chars().map(escaped).collect(),
                    None => folded_pattern(&needle.text),
                });
            }
            if !needle.name_words.is_empty() {
                add(folded_pattern(&needle.text));
            }
        }
        for phone in &self.phones {
            add(phone_pattern(phone, &self.country_code));
        }
        if alternatives.is_empty() {
            return None;
        }
        let pattern = alternatives.join("|");
        (pattern.chars().count() <= MAX_PREFILTER_CHARS).then_some(pattern)
    }
}

/// A run of digit groups separated by single separators, as phone numbers are written.
struct DigitRun {
    /// Where the run's '+' is, if it has one.
    plus: Option<usize>,
    /// Each group's byte range.
    groups: Vec<(usize, usize)>,
}

impl DigitRun {
    /// Written with "+" or "00": the run starts with the country code.
    fn is_international(&self, bytes: &[u8]) -> bool {
        self.plus.is_some() || bytes[self.groups[0].0..].starts_with(b"00")
    }
}

/// What may separate two digit groups of one phone number: one of " -./" and parentheses, 3 bytes at most.
fn separator_len(bytes: &[u8]) -> Option<usize> {
    let mut plain = 0;
    for (len, b) in bytes.iter().take(4).enumerate() {
        match b {
            b'0'..=b'9' if len > 0 && plain <= 1 => return Some(len),
            b' ' | b'-' | b'.' | b'/' if len < 3 => plain += 1,
            b'(' | b')' if len < 3 => {}
            _ => return None,
        }
    }
    None
}

/// The run of digit groups that starts at `start` (a digit not preceded by one).
fn digit_groups(bytes: &[u8], start: usize, steps: &mut Steps) -> DigitRun {
    let plus = match bytes[..start] {
        [.., b'+'] => Some(start - 1),
        [.., b'+', b'('] => Some(start - 2),
        _ => None,
    };
    let mut groups = Vec::new();
    let mut at = start;
    loop {
        let group_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            steps.step();
            at += 1;
        }
        groups.push((group_start, at));
        match separator_len(&bytes[at..]) {
            Some(len) => at += len,
            None => break,
        }
    }
    DigitRun { plus, groups }
}

/// The window with the parenthesis before or after it when the window closes or opens it ("(600)316-760").
fn with_enclosing_parentheses(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let (mut depth, mut lowest) = (0i32, 0i32);
    for b in &bytes[start..end] {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        lowest = lowest.min(depth);
    }
    let start = if lowest < 0 && start > 0 && bytes[start - 1] == b'(' {
        start - 1
    } else {
        start
    };
    let end = if depth > lowest && bytes.get(end) == Some(&b')') {
        end + 1
    } else {
        end
    };
    (start, end)
}

/// A character as an ARE matches it literally.
fn escaped(c: char) -> String {
    if "\\.+*?()[]{}|^$".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// The Latin letters (U+00C0..U+024F, both cases) that fold to ASCII, as ARE bracket classes.
struct LetterClasses {
    /// For 'a'..='z', the class of the letter and every Latin letter that folds to it: `[aÀÁ…à…]`.
    letters: Vec<String>,
    /// For each two-letter folding (ß → ss, æ → ae), the class of the letters that fold to it.
    ligatures: Vec<(String, String)>,
}

static LETTER_CLASSES: LazyLock<LetterClasses> = LazyLock::new(|| {
    let mut letters: Vec<String> = ('a'..='z').map(String::from).collect();
    let mut ligatures: Vec<(String, String)> = Vec::new();
    for c in ('\u{C0}'..='\u{24F}').filter(|c| c.is_alphabetic()) {
        let Some(folding) = deunicode_char(c).map(str::to_ascii_lowercase) else {
            continue;
        };
        if !folding.bytes().all(|b| b.is_ascii_lowercase()) {
            continue;
        }
        match folding.len() {
            1 => letters[usize::from(folding.as_bytes()[0] - b'a')].push(c),
            2 => match ligatures.iter_mut().find(|(f, _)| *f == folding) {
                Some((_, class)) => class.push(c),
                None => ligatures.push((folding, c.to_string())),
            },
            _ => {}
        }
    }
    let bracketed = |class: String| {
        if class.chars().count() > 1 {
            format!("[{class}]")
        } else {
            class
        }
    };
    LetterClasses {
        letters: letters.into_iter().map(bracketed).collect(),
        ligatures: ligatures
            .into_iter()
            .map(|(folding, class)| (folding, bracketed(class)))
            .collect(),
    }
});

/// The ARE for a folded needle: each letter also as its accented variants, each two-letter folding also as
/// its ligature ("strasse" also as "Straße"), each space as any whitespace.
fn folded_pattern(folded: &str) -> String {
    let LetterClasses { letters, ligatures } = &*LETTER_CLASSES;
    let letter = |c: char| -> String {
        if c.is_ascii_lowercase() {
            letters[usize::from(c as u8 - b'a')].clone()
        } else if c == ' ' {
            r"\s+".to_string()
        } else {
            escaped(c)
        }
    };
    let chars: Vec<char> = folded.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        let pair: String = chars[at..chars.len().min(at + 2)].iter().collect();
        if let Some((_, class)) = ligatures.iter().find(|(f, _)| *f == pair) {
            out.push_str(&format!(
                "(?:{}{}|{class})",
                letter(chars[at]),
                letter(chars[at + 1])
            ));
            at += 2;
        } else {
            out.push_str(&letter(chars[at]));
            at += 1;
        }
    }
    out
}

/// How many of a phone number's last digits every written form of it shows: the national form omits the
/// country code.
fn written_digits(international: &str, country_code: &str) -> usize {
    international
        .strip_prefix(country_code)
        .unwrap_or(international)
        .len()
}

/// The ARE for a phone number: its last (at most 8) written digits, any 0 to 3 non-digits between two.
fn phone_pattern(international: &str, country_code: &str) -> String {
    let written = written_digits(international, country_code);
    let tail = &international[international.len() - written.min(8)..];
    let digits: Vec<String> = tail.chars().map(String::from).collect();
    digits.join("[^0-9]{0,3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(ids: &[(&str, &str)]) -> TraceMatcher {
        let ids = SubjectIdentifiers {
            values: ids.iter().map(|(v, _)| v.to_string()).collect(),
            kinds: ids.iter().map(|(_, k)| k.to_string()).collect(),
        };
        TraceMatcher::new(&ids, "420").unwrap()
    }

    fn subject() -> TraceMatcher {
        matcher(&[
            ("Jan.Novak@Example.cz", "email"),
            ("+420 600 316 760", "phone"),
            ("Jana Nováková", "name"),
            ("Vinohradská 12, Praha", "address"),
            ("jnovak42", "identifier"),
            ("Acme s.r.o.", "company"),
        ])
    }

    /// Texts with the subject's identifiers, and what `replace` makes of them.
    const FOUND: &[(&str, &str)] = &[
        ("write to JAN.NOVAK@example.CZ now", "write to [email] now"),
        (
            "form: email=jan.novak%40example.cz&x=1",
            "form: email=[email]&x=1",
        ),
        (
            "{\"email\":\"Jan.Novak%40Example.cz\"}",
            "{\"email\":\"[email]\"}",
        ),
        ("+420 600 316 760", "[phone]"),
        ("00420600316760", "[phone]"),
        (
            "caller: 420600316760\nduration: 35",
            "caller: [phone]\nduration: 35",
        ),
        ("600 316 760 2x", "[phone] 2x"),
        ("tel.(600)316-760", "tel.[phone]"),
        ("call +420 (600) 316-760.", "call [phone]."),
        (
            "Hi, I am Jana Nováková, call me",
            "Hi, I am [name] [name], call me",
        ),
        ("JANA novakova wrote", "[name] [name] wrote"),
        ("Nováková Jana; jana again", "[name] [name]; [name] again"),
        ("login JNovak42 failed", "login [identifier] failed"),
        (
            "lives at vinohradska 12,\n  PRAHA 2",
            "lives at [address] 2",
        ),
    ];

    /// Texts without them: near misses and other people's data.
    const NOT_FOUND: &[&str] = &[
        "xjan.novak@example.cz",
        "jan.novak@example.czech",
        "1600316760",
        "6003167601",
        "+48 600 316 760",
        "600 31 67 61",
        "Jana wrote",
        "Nováková called",
        "Janak Novakova",
        "login jnovak421",
        "Acme s.r.o. invoice",
        "Vinohradská 120, Praha",
        "",
    ];

    #[test]
    fn finds_the_forms_people_and_systems_write() {
        let m = subject();
        assert!(!m.is_empty());
        for (text, replaced) in FOUND {
            assert_eq!(m.replace(text).as_deref(), Some(*replaced), "{text:?}");
        }
        for text in NOT_FOUND {
            assert_eq!(m.find(text), vec![], "{text:?}");
            assert_eq!(m.replace(text), None, "{text:?}");
        }
    }

    #[test]
    fn spans_are_byte_offsets_in_the_original_text() {
        let m = subject();
        let text = "Píše Jana Nováková: +420 600 316 760";
        let spans = m.find(text);
        let found: Vec<(&str, &str)> = spans
            .iter()
            .map(|s| (&text[s.start..s.end], s.category))
            .collect();
        assert_eq!(
            found,
            [
                ("Jana", "name"),
                ("Nováková", "name"),
                ("+420 600 316 760", "phone")
            ]
        );
        assert_eq!(m.categories(text), ["name", "phone"]);
        assert_eq!(
            m.categories("jnovak42 <jan.novak@example.cz>"),
            ["email", "identifier"]
        );
        assert!(m.categories("nothing here").is_empty());
    }

    #[test]
    fn call_log_replaces_only_the_subjects_number() {
        let m = matcher(&[("+420 600 316 760", "phone")]);
        assert_eq!(
            m.replace("caller: 420600316760\ncallee: 420777000111\n")
                .as_deref(),
            Some("caller: [phone]\ncallee: 420777000111\n")
        );
    }

    #[test]
    fn overlapping_identifiers_leftmost_longest() {
        let m = matcher(&[
            ("jan.novak", "identifier"),
            ("jan.novak@example.cz", "email"),
        ]);
        assert_eq!(
            m.replace("mail jan.novak@example.cz or jan.novak.")
                .as_deref(),
            Some("mail [email] or [identifier].")
        );
        // A longer needle that is no whole word where it occurs does not hide a shorter one that is.
        let m = matcher(&[("novak", "identifier"), ("novak-xy", "identifier")]);
        assert_eq!(m.replace("novak-xyz").as_deref(), Some("[identifier]-xyz"));
    }

    #[test]
    fn names_fold_accents_and_ligatures() {
        let m = matcher(&[("Łukasz Straße", "name")]);
        assert_eq!(
            m.replace("LUKASZ STRASSE").as_deref(),
            Some("[name] [name]")
        );
        let m = matcher(&[("hans strasse", "name")]);
        assert_eq!(m.replace("Straße, Hans").as_deref(), Some("[name], [name]"));
    }

    #[test]
    fn too_short_or_too_common_identifiers_are_not_looked_for() {
        let m = matcher(&[
            ("Jana", "name"),
            ("J. Novák", "name"),
            ("ab", "identifier"),
            ("Acme", "company"),
            ("[redacted]", "redacted"),
            ("12345", "phone"),
        ]);
        assert!(m.is_empty());
        assert!(m.find("Jana J. Novák ab Acme 12345").is_empty());
        assert_eq!(m.prefilter(), None);
    }

    #[test]
    fn a_bad_country_code_is_an_error() {
        let ids = SubjectIdentifiers {
            values: vec!["600316760".into()],
            kinds: vec!["phone".into()],
        };
        let err = TraceMatcher::new(&ids, "CZ").err().expect("an error");
        assert_eq!(
            err.to_string(),
            "gdpr: country code \"CZ\" must be 1 to 3 digits, e.g. 420"
        );
        let m = TraceMatcher::new(&ids, "48").unwrap();
        assert!(m.find("+48 600 316 760").len() == 1);
        assert!(m.find("+420 600 316 760").is_empty());
    }

    fn prefilter_regex(m: &TraceMatcher) -> regex::Regex {
        let pattern = m.prefilter().expect("a prefilter");
        regex::RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .build()
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    #[test]
    fn prefilter_matches_every_text_find_finds_something_in() {
        let m = subject();
        let re = prefilter_regex(&m);
        for (text, _) in FOUND {
            assert!(re.is_match(text), "{text:?}");
        }
        for text in NOT_FOUND {
            assert!(m.find(text).is_empty() || re.is_match(text), "{text:?}");
        }
        for unrelated in [
            "The order ORD-000123 shipped on Monday, total 1 234,50 Kč.",
            "Petr Svoboda, petr@example.org, +420 777 000 111",
            "",
        ] {
            assert!(!re.is_match(unrelated), "{unrelated:?}");
        }
        let m = matcher(&[("hans strasse", "name"), ("Łukasz Nowak", "name")]);
        let re = prefilter_regex(&m);
        for text in ["Straße", "STRASSE", "łukasz", "ŁUKASZ", "Lukasz", "nowák"] {
            assert!(re.is_match(text), "{text:?}");
        }
    }

    #[test]
    fn prefilter_escapes_metacharacters() {
        let m = matcher(&[
            ("a.b+c(1)[x]{2}|^$*?\\z", "identifier"),
            ("o'brien+tag@example.com", "email"),
        ]);
        let re = prefilter_regex(&m);
        assert!(re.is_match("id A.B+C(1)[X]{2}|^$*?\\Z here"));
        assert!(!re.is_match("aXb+c(1)[x]{2}|^$*?\\z"));
        assert!(re.is_match("O'Brien+tag@example.com"));
        assert!(re.is_match("o%27brien%2Btag%40example.com"));
        assert_eq!(
            m.replace("to o%27brien%2Btag%40example.com.").as_deref(),
            Some("to [email].")
        );
    }

    #[test]
    fn prefilter_gives_up_when_too_long() {
        let addresses: Vec<(String, &str)> = (0..200)
            .map(|i| (format!("Long Street Name {i}, Some City"), "address"))
            .collect();
        let ids: Vec<(&str, &str)> = addresses.iter().map(|(a, k)| (a.as_str(), *k)).collect();
        let m = matcher(&ids);
        assert!(!m.is_empty());
        assert_eq!(m.prefilter(), None);
        assert!(m.find("at long street name 7, some city").len() == 1);
    }
}
