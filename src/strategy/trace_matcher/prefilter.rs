//! The prefilter: a regular expression (PostgreSQL ARE) that every text the matcher finds something in
//! matches, so that a trigram index can skip the rows without any candidate. A row it does not match is never
//! searched, so it must be a superset of `find`: its character classes are therefore not written by hand but
//! derived from `normalize::fold_char` itself, by folding every character once (which characters fold to
//! each character of a needle, which fold to nothing, which are whitespace).
//!
//! Upper case is spelled out in the classes too rather than left to `~*`: with the C collation `~*` ignores
//! only ASCII case, and with a Turkish locale not even that ('I' is not 'i' there).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write;
use std::sync::LazyLock;

use super::names::Name;
use super::phone::written_digits;
use super::TraceMatcher;
use crate::interrupts::Steps;
use crate::normalize::{self, fold_char, FoldedChar};

/// Beyond this many characters a regular expression costs PostgreSQL more than scanning every row.
const MAX_PREFILTER_CHARS: usize = 20_000;

/// What the class of characters folding to nothing (which stands between any two characters) counts toward
/// `MAX_PREFILTER_CHARS`, whatever the length of its text: it is one bracket expression of some twenty ranges.
const IGNORABLE_CHARS: usize = 40;

/// The largest upper bound of a repetition `overlapping` writes out as `{m,n}`; longer runs are left unbounded
/// (`*`, a looser superset). PostgreSQL expands a bounded repetition into as many copies of its atom.
const MAX_REPETITION: usize = 8;

/// Upper bound on the copies PostgreSQL's regex compiler makes of repeated atoms (the sum of the upper bounds
/// of `{m,n}`): well under what makes it fail with "regular expression is too complex" (about 6,000 copies
/// of a class, fewer of larger atoms). Beyond it the prefilter is not used: a prefilter that fails to compile
/// would fail the search, and every erasure with traces.
pub(super) const MAX_REPEATED_COPIES: usize = 2_000;

impl TraceMatcher {
    /// A regular expression (PostgreSQL ARE, for the case-insensitive `~*`) that every text `find` finds
    /// something in matches: a superset for an index to serve, so that rows without any candidate never leave
    /// PostgreSQL. `None` when it would be too long to help (or there is nothing to look for): scan every row.
    pub fn prefilter(&self) -> Option<String> {
        // E-mails too are folded: the original must also show the address as written, but first the folded
        // text must have it. A name is found only with all its words: its longest is the most selective.
        let folded = (self.needles.iter())
            .filter(|n| !n.whole.is_empty())
            .map(|n| n.text.as_str())
            .chain(self.names.iter().map(Name::longest_word));
        let mut alternatives: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let (mut length, mut copies) = (0, 0);
        let mut steps = Steps::default();
        let mut fits = |alternative: String| {
            steps.step();
            if !seen.contains(&alternative) {
                length += weighed_length(&alternative);
                copies += repeated_copies(&alternative, &mut steps);
                seen.insert(alternative.clone());
                alternatives.push(alternative);
            }
            length <= MAX_PREFILTER_CHARS + 1 && copies <= MAX_REPEATED_COPIES
        };
        for text in folded {
            // A pattern is no shorter than its text: a text that long is not even made one.
            if text.chars().count() > MAX_PREFILTER_CHARS || !fits(folded_pattern(text)) {
                return None;
            }
        }
        for phone in &self.phones {
            if !fits(phone_pattern(phone, &self.country_code)) {
                return None;
            }
        }
        (!alternatives.is_empty()).then(|| alternatives.join("|"))
    }
}

impl TraceMatcher {
    /// A pattern for `gdpr.trace_fold(col) ~ pattern` that a trigram index on `gdpr.trace_fold(col)` can serve:
    /// every needle as a plain literal of the folded form (a name by its longest word, a phone by the last
    /// digits every written form shows). A superset of `find()` too: what the matcher finds in the folded text
    /// shows in `trace_fold` of it. None if there is nothing to look for or the pattern would be too long.
    pub fn index_prefilter(&self) -> Option<String> {
        let mut alternatives: BTreeSet<String> = BTreeSet::new();
        let mut steps = Steps::default();
        let words = (self.needles.iter())
            .filter(|n| !n.whole.is_empty())
            .map(|n| normalize::strip_digit_separators(&n.text))
            .chain(self.names.iter().map(|n| n.longest_word().to_string()));
        for text in words {
            steps.step();
            alternatives.insert(literal(&text));
        }
        for phone in &self.phones {
            let shown = written_digits(phone, &self.country_code).min(8);
            alternatives.insert(phone[phone.len().saturating_sub(shown)..].to_string());
        }
        let pattern = alternatives.into_iter().collect::<Vec<_>>().join("|");
        (!pattern.is_empty() && pattern.len() <= MAX_PREFILTER_CHARS).then_some(pattern)
    }
}

/// `text` as an ARE matching exactly itself.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()[]{}|^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The length of `alternative` (and a `|`) counted toward `MAX_PREFILTER_CHARS`: each class of characters
/// folding to nothing as `IGNORABLE_CHARS`.
fn weighed_length(alternative: &str) -> usize {
    let ignorable = &SOURCES.ignorable;
    let classes = alternative.matches(ignorable.as_str()).count();
    let rest = alternative.chars().count() - classes * ignorable.chars().count();
    rest + classes * IGNORABLE_CHARS + 1
}

/// The copies of atoms the bounded repetitions (`{m}`, `{m,}`, `{m,n}`) of `pattern` make PostgreSQL's
/// compiler expand: the sum of their largest bounds. Read from the pattern itself, whatever wrote it (a `{`
/// that is no repetition is escaped, in and outside bracket expressions).
pub(super) fn repeated_copies(pattern: &str, steps: &mut Steps) -> usize {
    let mut copies = 0usize;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        steps.step();
        match c {
            '\\' => {
                chars.next();
            }
            '{' => {
                let bound: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let largest = bound
                    .split(',')
                    .filter_map(|b| b.parse::<usize>().ok())
                    .max();
                copies = copies.saturating_add(largest.unwrap_or(0));
            }
            _ => {}
        }
    }
    copies
}

/// A character as an ARE matches it literally: letters, digits and ASCII as they are (metacharacters escaped
/// by a backslash), anything else (punctuation, marks, invisible characters) as `\uXXXX` or `\UXXXXXXXX`.
fn escaped(c: char) -> String {
    let mut out = String::new();
    if "\\.+*?()[]{}|^$".contains(c) {
        out.push('\\');
        out.push(c);
    } else if c.is_alphanumeric() || c.is_ascii_graphic() {
        out.push(c);
    } else {
        code_point(c, &mut out);
    }
    out
}

/// `c` as the ARE escape of its code point.
fn code_point(c: char, out: &mut String) {
    let _ = match u32::from(c) {
        short @ ..=0xFFFF => write!(out, "\\u{short:04x}"),
        long => write!(out, "\\U{long:08x}"),
    };
}

/// A member of a bracket expression: a letter or digit as it is when `visible`, ASCII punctuation escaped by a
/// backslash, anything else as the escape of its code point.
fn class_member(c: char, visible: bool, out: &mut String) {
    if visible && c.is_alphanumeric() {
        out.push(c);
    } else if c.is_ascii_punctuation() {
        out.push('\\');
        out.push(c);
    } else {
        code_point(c, out);
    }
}

/// The bracket expression of `chars`, runs of three or more consecutive code points as ranges; letters and
/// digits as they are when `visible` (not for marks and invisible characters).
fn bracket(mut chars: Vec<char>, visible: bool) -> String {
    chars.sort_unstable();
    chars.dedup();
    let mut out = String::from("[");
    let mut at = 0;
    while at < chars.len() {
        let mut last = at;
        while last + 1 < chars.len() && u32::from(chars[last + 1]) == u32::from(chars[last]) + 1 {
            last += 1;
        }
        if last - at >= 2 {
            class_member(chars[at], visible, &mut out);
            out.push('-');
            class_member(chars[last], visible, &mut out);
            at = last + 1;
        } else {
            class_member(chars[at], visible, &mut out);
            at += 1;
        }
    }
    out.push(']');
    out
}

/// What folds to what: `fold_char` inverted over every character (all of Unicode, so that no character is
/// forgotten; built once per backend, in some milliseconds).
struct Sources {
    /// For each character of a folded text, the other characters that fold to it alone: 'a' ← "AÀÁ…ặ",
    /// 'и' ← 'И', 'k' ← "K" and the Kelvin sign.
    singles: HashMap<char, Vec<char>>,
    /// Each transliteration of two or more letters ("ss"), the characters that fold to it ("ßẞ") and their
    /// bracket expression.
    multiples: Vec<(String, Vec<char>, String)>,
    /// `[…]` of the characters that fold to nothing: any number may stand between two characters of a match.
    ignorable: String,
    /// `[…]+` of whitespace and the characters that fold to nothing: what a space of a needle stands for.
    blank: String,
}

static SOURCES: LazyLock<Sources> = LazyLock::new(|| {
    let mut singles: HashMap<char, Vec<char>> = HashMap::new();
    let mut multiples: BTreeMap<String, Vec<char>> = BTreeMap::new();
    let (mut ignorable, mut blank) = (Vec::new(), Vec::new());
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        match fold_char(c) {
            FoldedChar::Space => blank.push(c),
            FoldedChar::Nothing => {
                ignorable.push(c);
                blank.push(c);
            }
            FoldedChar::Char(folded) => {
                if folded != c {
                    singles.entry(folded).or_default().push(c);
                }
            }
            FoldedChar::Ascii(ascii) => {
                let ascii = ascii.to_ascii_lowercase();
                match ascii.chars().collect::<Vec<_>>()[..] {
                    [single] => singles.entry(single).or_default().push(c),
                    _ => multiples.entry(ascii).or_default().push(c),
                }
            }
        }
    }
    Sources {
        singles,
        multiples: multiples
            .into_iter()
            .map(|(ascii, chars)| {
                let class = bracket(chars.clone(), true);
                (ascii, chars, class)
            })
            .collect(),
        ignorable: bracket(ignorable, false),
        blank: format!("{}+", bracket(blank, false)),
    }
});

/// The characters that fold to `c`: itself and its sources.
fn members(c: char) -> Vec<char> {
    let mut members = vec![c];
    members.extend(SOURCES.singles.get(&c).into_iter().flatten());
    members
}

/// The ARE of one character of a folded needle: the character, or the class of everything that folds to it.
fn char_pattern(c: char) -> String {
    if SOURCES.singles.contains_key(&c) {
        bracket(members(c), true)
    } else {
        escaped(c)
    }
}

/// The ARE for a folded needle: each character as the class of what folds to it ("a" also as "Á", "ạ"),
/// each transliteration of two or more letters also as the letters it comes from ("ss" also as "ß"), each
/// space as a run of whitespace, and what folds to nothing allowed between any two characters.
fn folded_pattern(folded: &str) -> String {
    let sources = &*SOURCES;
    let chars: Vec<char> = folded.chars().collect();
    // The transliterations that could stand for the characters from each position: (length, index).
    let starts: Vec<Vec<(usize, usize)>> = (0..chars.len())
        .map(|at| {
            let rest = &chars[at..];
            let fits = |ascii: &str| {
                ascii.chars().count() <= rest.len() && ascii.chars().zip(rest).all(|(a, &c)| a == c)
            };
            (sources.multiples.iter().enumerate())
                .filter(|(_, (ascii, _, _))| fits(ascii))
                .map(|(index, (ascii, _, _))| (ascii.len(), index))
                .collect()
        })
        .collect();
    // Each piece is a character (or the letters a transliteration stands for); `None` is a space.
    let mut pieces: Vec<Option<String>> = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        if chars[at] == ' ' {
            pieces.push(None);
            at += 1;
            continue;
        }
        let Some(longest) = starts[at].iter().map(|&(len, _)| len).max() else {
            pieces.push(Some(char_pattern(chars[at])));
            at += 1;
            continue;
        };
        // The transliterations overlapping this one, and those overlapping them ("dzh": "dz" and "zh").
        let mut end = at + longest;
        let mut next = at + 1;
        while next < end {
            end = end.max(next + starts[next].iter().map(|&(len, _)| len).max().unwrap_or(0));
            next += 1;
        }
        let candidates: Vec<(usize, usize)> = starts[at..end].iter().flatten().copied().collect();
        pieces.push(Some(match candidates[..] {
            [(_, index)] => format!(
                "(?:{}|{})",
                join(chars[at..end].iter().map(|&c| Some(char_pattern(c)))),
                sources.multiples[index].2
            ),
            _ => overlapping(&chars[at..end], &candidates),
        }));
        at = end;
    }
    join(pieces.into_iter())
}

/// The ARE for letters that overlapping transliterations could stand for: a looser superset, as many of any of
/// these characters as the letters could be written with (each transliteration standing for two or more).
fn overlapping(letters: &[char], candidates: &[(usize, usize)]) -> String {
    let mut chars: Vec<char> = letters.iter().flat_map(|&c| members(c)).collect();
    let mut longest = 1;
    for &(len, index) in candidates {
        chars.extend(&SOURCES.multiples[index].1);
        longest = longest.max(len);
    }
    let class = bracket(chars, true);
    let (fewest, most) = (letters.len().div_ceil(longest), letters.len());
    let repeat = if most - 1 > MAX_REPETITION {
        "*".to_string()
    } else {
        format!("{{{},{}}}", fewest - 1, most - 1)
    };
    format!("{class}(?:{}*{class}){repeat}", SOURCES.ignorable)
}

/// Pieces in a row: what folds to nothing may stand between two characters; `None` is a space (whose run of
/// whitespace already takes it).
fn join(pieces: impl Iterator<Item = Option<String>>) -> String {
    let mut out = String::new();
    let mut after_char = false;
    for piece in pieces {
        match piece {
            Some(piece) => {
                if after_char {
                    out.push_str(&SOURCES.ignorable);
                    out.push('*');
                }
                out.push_str(&piece);
                after_char = true;
            }
            None => {
                out.push_str(&SOURCES.blank);
                after_char = false;
            }
        }
    }
    out
}

/// The ARE for a phone number: its last (at most 8) written digits, any 0 to 3 non-digits between two.
fn phone_pattern(international: &str, country_code: &str) -> String {
    let written = written_digits(international, country_code);
    let tail = &international[international.len() - written.min(8)..];
    let digits: Vec<String> = tail.chars().map(String::from).collect();
    digits.join("[^0-9]{0,3}")
}
