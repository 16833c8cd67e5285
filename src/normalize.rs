//! How people write the same e-mail, phone number or name differently: the normal forms `gdpr.find_subjects`
//! compares (IMMUTABLE SQL functions, so that expression indexes serve them) and the folding `gdpr.locate`
//! searches free text in.

use std::ffi::CString;

use deunicode::deunicode_char;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::error::{GdprError, OrReport, Result};

use crate::interrupts::Steps;

/// Trimmed and lower-cased: mail servers treat the local part case-insensitively in practice.
pub fn email(s: &str) -> Option<String> {
    let lower = s.trim().to_lowercase();
    (!lower.is_empty()).then_some(lower)
}

/// Logins and external ids: trimmed and lower-cased, like e-mails.
pub fn identifier(s: &str) -> Option<String> {
    email(s)
}

/// Case, accents and word order ignored: "NOVAK jan" and "Jan Novák" are the same person's name.
pub fn name(s: &str) -> Option<String> {
    let folded = transliterated(s);
    let mut words: Vec<&str> = words(&folded).collect();
    if words.is_empty() {
        return None;
    }
    words.sort_unstable();
    Some(words.join(" "))
}

/// The words of a folded text: every character that is not a letter or a digit separates two.
pub(crate) fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The international form as digits only, so that "+420 600 316 760", "00420600316760" and "600-316-760"
/// (with country code 420) compare equal. `None` with fewer than 4 digits: not a phone number.
pub fn phone(s: &str, country_code: &str) -> Option<String> {
    let mut digits = String::new();
    let mut steps = Steps::default();
    for c in s.chars() {
        steps.step();
        if c.is_ascii_digit() {
            digits.push(c);
        }
    }
    if digits.len() < 4 {
        return None;
    }
    let international = if s.trim_start().starts_with('+') {
        digits
    } else if let Some(without_prefix) = digits.strip_prefix("00") {
        without_prefix.to_string()
    } else if digits.starts_with(country_code) && digits.len() >= country_code.len() + 8 {
        // An international number written without "+" or "00".
        digits
    } else if let Some(national) = digits.strip_prefix('0') {
        // The trunk prefix is dialled only within the country.
        format!("{country_code}{national}")
    } else {
        format!("{country_code}{digits}")
    };
    Some(international)
}

/// Percent-encoding as forms and URLs write it (unreserved characters kept).
pub(crate) fn url_encoded(value: &str) -> String {
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

/// The country code numbers written without one are assumed to be in: 1 to 3 digits.
pub fn country_code(cc: &str) -> Result<&str> {
    if (1..=3).contains(&cc.len()) && cc.bytes().all(|b| b.is_ascii_digit()) {
        Ok(cc)
    } else {
        Err(GdprError::InvalidParameter(format!(
            "country code \"{cc}\" must be 1 to 3 digits, e.g. 420"
        )))
    }
}

/// A text folded for searching (lower-cased, Latin accents and ligatures transliterated, whitespace runs
/// collapsed), with the way back to the original: a match in the folded text must be replaced in the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub text: String,
    /// `origin[i]`: the byte offset in the original text of the character that produced folded byte `i`;
    /// `origin[text.len()]` is the original text's length.
    pub origin: Vec<usize>,
}

impl Folded {
    /// The original byte range of the characters that produced folded bytes `start..end`. A character that
    /// produced nothing (a combining accent, a collapsed space) goes with the character before it.
    /// Panics unless `start <= end <= self.text.len()`.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let original_start = self.origin[start];
        if end <= start {
            return (original_start, original_start);
        }
        let last_char = self.origin[end - 1];
        // The last character ends where the next character that produced something starts.
        let original_end = self.origin[end..]
            .iter()
            .copied()
            .find(|&o| o > last_char)
            .unwrap_or(last_char);
        (original_start, original_end)
    }
}

/// What one character of a text becomes when it is folded. `TraceMatcher::prefilter` derives its character
/// classes from this very function (which characters fold to what), so that the SQL prefilter and the search
/// cannot disagree about a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldedChar {
    /// Whitespace (`char::is_whitespace`, so also U+00A0 and U+3000): a whole run of it is one space.
    Space,
    /// A combining mark or a default-ignorable character (`IGNORED`): nothing, so that a decomposed "Z\u{30C}"
    /// folds like "Ž" and an invisible character (a soft hyphen, a direction mark) cannot split a word.
    Nothing,
    /// The character lower-cased.
    Char(char),
    /// A Latin letter's transliteration: ASCII letters and digits, to be lower-cased ("ß" → "ss").
    Ascii(&'static str),
}

/// What `fold` drops: the combining marks (the blocks of combining diacritical marks, their extension and
/// supplement, those for symbols, the combining half marks) and Unicode's default-ignorable code points (the
/// soft hyphen, the combining grapheme joiner, the Arabic letter mark, the Hangul and Khmer fillers and inherent
/// vowels, the Mongolian free variation selectors and vowel separator, zero-width characters, direction marks,
/// embeddings and isolates, invisible operators, variation selectors, the byte order mark, shorthand format
/// controls, musical symbol format characters and tags). The prefilter derives what it allows between any two
/// characters from `fold_char`, hence from this one list too.
const IGNORED: &[(char, char)] = &[
    ('\u{AD}', '\u{AD}'),
    ('\u{300}', '\u{36F}'),
    ('\u{61C}', '\u{61C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{1AB0}', '\u{1AFF}'),
    ('\u{1DC0}', '\u{1DFF}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{20D0}', '\u{20FF}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FE20}', '\u{FE2F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

/// Whether `fold` drops `c` (`IGNORED`).
fn is_ignored(c: char) -> bool {
    // U+034F, the combining grapheme joiner, is among the combining marks.
    IGNORED
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// How `fold` folds `c`. Only Latin letters (U+00C0..U+024F, U+1E00..U+1EFF) are transliterated: across
/// scripts a transliteration is a guess ("Иван" is "Ivan", "Iwan" or "Ivane"), so other letters are only
/// lower-cased and "Иван" finds "ИВАН" but not "Ivan". A character whose lower case is ASCII or a Latin letter
/// (the Kelvin sign, the Ångström sign) folds like that letter.
pub fn fold_char(c: char) -> FoldedChar {
    if c.is_whitespace() {
        return FoldedChar::Space;
    }
    if c.is_ascii() {
        return FoldedChar::Char(c.to_ascii_lowercase());
    }
    if is_ignored(c) {
        return FoldedChar::Nothing;
    }
    if let Some(ascii) = latin_transliteration(c) {
        return FoldedChar::Ascii(ascii);
    }
    // Only U+0130 'İ' lower-cases to two characters, and it is a Latin letter.
    let mut lower = c.to_lowercase();
    let lower = match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    };
    match latin_transliteration(lower) {
        Some(ascii) => FoldedChar::Ascii(ascii),
        None => FoldedChar::Char(lower),
    }
}

/// The `deunicode` transliteration of a Latin letter, when it is ASCII letters and digits: "×" → "x" or
/// "ŉ" → "'n" are not. A match of whole words therefore never begins or ends inside a transliteration (the
/// characters on both sides would be letters), which the prefilter relies on.
fn latin_transliteration(c: char) -> Option<&'static str> {
    if !matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}') || !c.is_alphabetic() {
        return None;
    }
    deunicode_char(c).filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Folds `text` as `fold_char` says, every run of whitespace one space.
pub fn fold(text: &str) -> Folded {
    let mut folded = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len() + 1);
    let mut steps = Steps::default();
    for (at, c) in text.char_indices() {
        steps.step();
        match fold_char(c) {
            FoldedChar::Space => {
                if !folded.ends_with(' ') {
                    folded.push(' ');
                }
            }
            FoldedChar::Nothing => {}
            FoldedChar::Char(l) => folded.push(l),
            FoldedChar::Ascii(ascii) => {
                folded.extend(ascii.chars().map(|a| a.to_ascii_lowercase()));
            }
        }
        origin.resize(folded.len(), at);
    }
    origin.push(text.len());
    Folded {
        text: folded,
        origin,
    }
}

/// `name`'s folding, which expression indexes hold and which must therefore not change: every non-ASCII
/// character transliterated by `deunicode` (kept, lower-cased, when it has no transliteration), every run of
/// whitespace one space.
fn transliterated(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    let mut steps = Steps::default();
    let mut push = |c: char| {
        if !c.is_whitespace() {
            folded.push(c);
        } else if !folded.ends_with(' ') {
            folded.push(' ');
        }
    };
    for c in text.chars() {
        steps.step();
        if c.is_ascii() {
            push(c.to_ascii_lowercase());
        } else if c.is_whitespace() {
            push(' ');
        } else if let Some(ascii) = deunicode_char(c) {
            ascii.chars().for_each(|a| push(a.to_ascii_lowercase()));
        } else {
            c.to_lowercase().for_each(&mut push);
        }
    }
    folded
}

/// `gdpr.normalize_email(text)`: the form e-mails are compared in.
/// `fold`ed text with the separators between digits removed (`600 316-760` → `600316760`): the form a
/// trigram index on a trace column is built on (`gdpr.trace_fold`), in which every identifier the trace matcher
/// can find shows as a plain substring.
pub fn trace_fold(text: &str) -> String {
    strip_digit_separators(&fold(text).text)
}

/// Drops runs of at most three of ` -./()` between two ASCII digits.
pub fn strip_digit_separators(folded: &str) -> String {
    let chars: Vec<char> = folded.chars().collect();
    let mut out = String::with_capacity(folded.len());
    let mut steps = Steps::default();
    let mut i = 0;
    while i < chars.len() {
        steps.step();
        let c = chars[i];
        if " -./()".contains(c) && out.ends_with(|p: char| p.is_ascii_digit()) {
            let run = chars[i..]
                .iter()
                .take_while(|c| " -./()".contains(**c))
                .count();
            if run <= 3 && chars.get(i + run).is_some_and(|n| n.is_ascii_digit()) {
                i += run;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[pg_extern(name = "trace_fold", immutable, parallel_safe)]
fn trace_fold_sql(text: &str) -> String {
    trace_fold(text)
}

#[pg_extern(name = "normalize_email", immutable, parallel_safe)]
fn normalize_email(email: &str) -> Option<String> {
    self::email(email)
}

/// `gdpr.normalize_identifier(text)`: the form logins and external ids are compared in.
#[pg_extern(name = "normalize_identifier", immutable, parallel_safe)]
fn normalize_identifier(identifier: &str) -> Option<String> {
    self::identifier(identifier)
}

/// `gdpr.normalize_name(text)`: the form names are compared in (case, accents and word order ignored).
#[pg_extern(name = "normalize_name", immutable, parallel_safe)]
fn normalize_name(name: &str) -> Option<String> {
    self::name(name)
}

/// `gdpr.normalize_phone(phone, country_code)`: the international form as digits only.
#[pg_extern(name = "normalize_phone", immutable, parallel_safe)]
fn normalize_phone(phone: &str, country_code: default!(&str, "'420'")) -> Option<String> {
    let country_code = self::country_code(country_code).or_report();
    self::phone(phone, country_code)
}

/// The country whose national phone numbers are written without a prefix (`600 316 760` is `+420600316760`).
static PHONE_COUNTRY_CODE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"420"));

pub fn init() {
    GucRegistry::define_string_guc(
        c"gdpr.phone_country_code",
        c"Country calling code of national phone numbers (without + or 00).",
        c"gdpr.find_subjects and gdpr.locate read a phone number written without an international prefix as \
          one of this country; expression indexes must use the same code (see gdpr.lint()).",
        &PHONE_COUNTRY_CODE,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// The configured country code, validated.
pub fn phone_country_code() -> Result<String> {
    let value = PHONE_COUNTRY_CODE
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    country_code(&value).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_identifiers_are_trimmed_and_lower_cased() {
        assert_eq!(
            email("  Jan.Novak@Example.CZ \n").as_deref(),
            Some("jan.novak@example.cz")
        );
        assert_eq!(
            email("ŽOFIE@Příklad.cz").as_deref(),
            Some("žofie@příklad.cz")
        );
        assert_eq!(email("   "), None);
        assert_eq!(email(""), None);
        assert_eq!(identifier(" JNovak42 ").as_deref(), Some("jnovak42"));
        assert_eq!(identifier("\t"), None);
    }

    #[test]
    fn names_ignore_case_accents_and_word_order() {
        assert_eq!(name("NOVAK jan").as_deref(), Some("jan novak"));
        assert_eq!(name("Jan Novák"), name("NOVAK jan"));
        assert_eq!(name("  Novák,   Jan ").as_deref(), Some("jan novak"));
        assert_eq!(name("Łukasz Żółć").as_deref(), Some("lukasz zolc"));
        assert_eq!(name("Straße").as_deref(), Some("strasse"));
        assert_eq!(
            name("Jana Nováková-Dvořáková").as_deref(),
            Some("dvorakova jana novakova")
        );
        // Decomposed accents (a + combining acute) fold like precomposed ones.
        assert_eq!(name("Nova\u{301}k Jan").as_deref(), Some("jan novak"));
        assert_eq!(name(" -, "), None);
        assert_eq!(name(""), None);
        // Other scripts are transliterated too (unlike `fold`): the normal form indexes hold.
        assert_eq!(name("Петров Иван").as_deref(), Some("ivan petrov"));
        assert_eq!(name("Nguyễn Thị").as_deref(), Some("nguyen thi"));
    }

    #[test]
    fn phones_in_every_written_form_give_the_international_digits() {
        for written in [
            "+420 600 316 760",
            "00420600316760",
            "420600316760",
            "600 316 760",
            "600-316-760",
            "(600) 316 760",
            "0600316760",
            " +420-600-316-760 ",
        ] {
            assert_eq!(
                phone(written, "420").as_deref(),
                Some("420600316760"),
                "{written}"
            );
        }
        assert_eq!(
            phone("+48 601 234 567", "420").as_deref(),
            Some("48601234567")
        );
        assert_eq!(phone("601 234 567", "48").as_deref(), Some("48601234567"));
        // Too short for "an international number without +": the country code is prepended.
        assert_eq!(phone("4206003", "420").as_deref(), Some("4204206003"));
        assert_eq!(phone("123", "420"), None);
        assert_eq!(phone("call me", "420"), None);
        assert_eq!(phone("", "420"), None);
    }

    #[test]
    fn url_encoding_keeps_unreserved_characters() {
        assert_eq!(url_encoded("Jan.Novak_1~x-y"), "Jan.Novak_1~x-y");
        assert_eq!(
            url_encoded("o'brien+tag@příklad.cz"),
            "o%27brien%2Btag%40p%C5%99%C3%ADklad.cz"
        );
        assert_eq!(url_encoded("a b"), "a%20b");
    }

    #[test]
    fn country_codes_are_one_to_three_digits() {
        assert_eq!(country_code("420").unwrap(), "420");
        assert_eq!(country_code("1").unwrap(), "1");
        for bad in ["", "4200", "+420", "CZ", "42 "] {
            let err = country_code(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("gdpr: country code \"{bad}\" must be 1 to 3 digits, e.g. 420")
            );
            assert!(matches!(err, GdprError::InvalidParameter(_)));
        }
    }

    #[test]
    fn folding_maps_back_to_the_original_text() {
        let text = "Jan  NOVÁK\t\n bydlí v Straße";
        let f = fold(text);
        assert_eq!(f.text, "jan novak bydli v strasse");
        assert_eq!(f.origin.len(), f.text.len() + 1);
        assert_eq!(*f.origin.last().unwrap(), text.len());
        let span = |needle: &str| {
            let at = f.text.find(needle).unwrap();
            let (s, e) = f.original_span(at, at + needle.len());
            &text[s..e]
        };
        assert_eq!(span("novak"), "NOVÁK");
        assert_eq!(span("jan novak"), "Jan  NOVÁK");
        assert_eq!(span("novak bydli"), "NOVÁK\t\n bydlí");
        assert_eq!(span("strasse"), "Straße");
        // Half of the "ss" that 'ß' became still covers the whole 'ß'.
        assert_eq!(span("stras"), "Straß");
        assert_eq!(span("asse"), "aße");
        assert_eq!(f.original_span(3, 3), (3, 3));
    }

    #[test]
    fn folding_keeps_characters_without_transliteration_and_drops_combining_marks() {
        let text = "A\u{E000}B e\u{301}x";
        let f = fold(text);
        assert_eq!(f.text, "a\u{E000}b ex");
        let at = f.text.find('e').unwrap();
        let (s, e) = f.original_span(at, at + 1);
        assert_eq!(&text[s..e], "e\u{301}");
        let (s, e) = f.original_span(1, 1 + '\u{E000}'.len_utf8());
        assert_eq!(&text[s..e], "\u{E000}");
        let empty = fold("");
        assert_eq!(empty.text, "");
        assert_eq!(empty.origin, vec![0]);
    }

    #[test]
    fn folding_turns_unusual_whitespace_into_one_space() {
        let f = fold("a\u{A0}\u{200B} \u{2028}b");
        assert_eq!(f.text, "a b");
        assert_eq!(
            f.original_span(0, 3),
            (0, "a\u{A0}\u{200B} \u{2028}b".len())
        );
        assert_eq!(fold("a\t\r\n\u{3000}\u{2003}\u{85}b").text, "a b");
    }

    #[test]
    fn folding_transliterates_only_latin_letters() {
        assert_eq!(fold("Nguyễn Thị Ánh").text, "nguyen thi anh");
        assert_eq!(
            fold("ŁUKASZ Straße ẞ Æsir ĳ").text,
            "lukasz strasse ss aesir ij"
        );
        // Other scripts are only lower-cased: "Иван" is not "Ivan".
        assert_eq!(fold("Иван ПЕТРОВ").text, "иван петров");
        assert_eq!(fold("ΣΩΚΡΑΤΗΣ 山田").text, "σωκρατησ 山田");
        // Latin characters whose transliteration is no letter stay.
        assert_eq!(fold("2×3 ŉ").text, "2×3 ŉ");
        // Letters that lower-case to an ASCII or Latin letter: the Kelvin and Ångström signs, 'İ'.
        assert_eq!(fold("\u{212A}\u{212B} İ").text, "ka i");
        assert_eq!(fold_char('\u{130}'), FoldedChar::Ascii("I"));
        assert_eq!(fold_char('Й'), FoldedChar::Char('й'));
        assert_eq!(fold_char('\u{A0}'), FoldedChar::Space);
    }

    #[test]
    fn folding_drops_combining_marks_and_zero_width_characters() {
        // Decomposed (NFD) text folds like precomposed (NFC) text.
        let nfd = "Z\u{30C}ofie S\u{30C}t\u{30C}astna\u{301}";
        assert_eq!(fold(nfd).text, "zofie stastna");
        assert_eq!(fold("Žofie Šťastná").text, "zofie stastna");
        // A zero-width character inside a word does not split it.
        let text = "ja\u{200B}na\u{200C}\u{200D}\u{2060}\u{FEFF}x";
        let f = fold(text);
        assert_eq!(f.text, "janax");
        assert_eq!(f.original_span(0, 4), (0, "ja\u{200B}na".len() + 12));
        assert_eq!(f.original_span(4, 5), (text.len() - 1, text.len()));
        for c in [
            '\u{300}', '\u{36F}', '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}',
        ] {
            assert_eq!(fold_char(c), FoldedChar::Nothing, "{c:?}");
        }
        // Combining marks of every block, and invisible characters, do not split a word either.
        assert_eq!(fold("a\u{20DD}b").text, "ab");
        assert_eq!(
            fold("Nová\u{AD}ková Nova\u{1DC4}kova \u{200E}Jana\u{200F}").text,
            "novakova novakova jana"
        );
        for c in [
            '\u{AD}',
            '\u{34F}',
            '\u{61C}',
            '\u{115F}',
            '\u{1160}',
            '\u{17B4}',
            '\u{17B5}',
            '\u{180B}',
            '\u{180E}',
            '\u{180F}',
            '\u{1AB0}',
            '\u{1AFF}',
            '\u{1DC0}',
            '\u{1DC4}',
            '\u{1DFF}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2061}',
            '\u{206F}',
            '\u{20D0}',
            '\u{20FF}',
            '\u{3164}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{FE20}',
            '\u{FE2F}',
            '\u{FFA0}',
            '\u{1BCA0}',
            '\u{1BCA3}',
            '\u{1D173}',
            '\u{1D17A}',
            '\u{E0000}',
            '\u{E0001}',
            '\u{E0FFF}',
        ] {
            assert_eq!(fold_char(c), FoldedChar::Nothing, "{c:?}");
        }
        // Their neighbours are kept.
        for c in [
            '\u{AC}',
            '\u{AE}',
            '\u{1DBF}',
            '\u{2010}',
            '\u{2070}',
            '\u{FE30}',
            '\u{E1000}',
        ] {
            assert_ne!(fold_char(c), FoldedChar::Nothing, "{c:?}");
        }
    }
}
