//! The prefilter: a regular expression (PostgreSQL ARE) that every text the matcher finds something in
//! matches, so that a trigram index can skip the rows without any candidate; accented letters and ligatures
//! as the bracket classes that fold to each ASCII letter.

use std::collections::HashSet;
use std::sync::LazyLock;

use deunicode::deunicode_char;

use super::phone::written_digits;
use super::TraceMatcher;
use crate::interrupts::Steps;

/// Beyond this many characters a regular expression costs PostgreSQL more than scanning every row.
const MAX_PREFILTER_CHARS: usize = 20_000;

impl TraceMatcher {
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

/// The ARE for a phone number: its last (at most 8) written digits, any 0 to 3 non-digits between two.
fn phone_pattern(international: &str, country_code: &str) -> String {
    let written = written_digits(international, country_code);
    let tail = &international[international.len() - written.min(8)..];
    let digits: Vec<String> = tail.chars().map(String::from).collect();
    digits.join("[^0-9]{0,3}")
}
