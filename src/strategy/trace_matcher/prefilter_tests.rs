//! The prefilter against `find`: every text `find` finds something in must match the prefilter, in every
//! database, or an erasure silently skips the row.

use std::collections::HashMap;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regex::{Regex, RegexBuilder};

use super::prefilter::{repeated_copies, MAX_REPEATED_COPIES};
use super::tests::{matcher, subject, FOUND, NOT_FOUND};
use super::TraceMatcher;
use crate::interrupts::Steps;
use crate::normalize::{fold_char, FoldedChar};

/// The prefilter as the regex crate runs it. The ARE syntax it uses reads the same there: `(?:…)`, bracket
/// expressions with ranges, `{m,n}` and the `\uXXXX` / `\UXXXXXXXX` escapes.
struct Prefilter {
    pattern: String,
    exact_case: Regex,
    any_case: Regex,
}

impl Prefilter {
    fn of(m: &TraceMatcher) -> Prefilter {
        let pattern = m.prefilter().expect("a prefilter");
        let build = |case_insensitive| {
            RegexBuilder::new(&pattern)
                .case_insensitive(case_insensitive)
                .size_limit(1 << 28)
                .build()
                .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        };
        Prefilter {
            exact_case: build(false),
            any_case: build(true),
            pattern,
        }
    }

    /// Matched even if `~*` ignored no case at all (with the C collation it ignores only ASCII case, with a
    /// Turkish locale not even "I"/"i"): the least `~*` matches with any collation.
    fn matches(&self, text: &str) -> bool {
        self.exact_case.is_match(text)
    }

    /// As `~*` matches with a collation that ignores the case of every script: the most it matches.
    fn matches_any_case(&self, text: &str) -> bool {
        self.any_case.is_match(text)
    }

    /// `find` finds something in `text` ⇒ the prefilter matches it, with any collation. Whether it found.
    fn assert_superset(&self, m: &TraceMatcher, text: &str) -> bool {
        let found = !m.find(text).is_empty();
        if found {
            assert!(
                self.matches(text) && self.matches_any_case(text),
                "{text:?} ({:?}) is not matched by {}",
                text.escape_unicode().to_string(),
                self.pattern
            );
        }
        found
    }
}

#[test]
fn prefilter_matches_every_text_find_finds_something_in() {
    let m = subject();
    let p = Prefilter::of(&m);
    for (text, _) in FOUND {
        assert!(p.assert_superset(&m, text), "{text:?}");
    }
    for text in NOT_FOUND {
        p.assert_superset(&m, text);
    }
    for unrelated in [
        "The order ORD-000123 shipped on Monday, total 1 234,50 Kč.",
        "Petr Svoboda, petr@example.org, +420 777 000 111",
        "",
    ] {
        assert!(!p.matches_any_case(unrelated), "{unrelated:?}");
    }
    let m = matcher(&[("hans strasse", "name"), ("Łukasz Nowak", "name")]);
    let p = Prefilter::of(&m);
    for text in ["Straße", "STRASSE", "łukasz", "ŁUKASZ", "Lukasz", "ŁUKASZ"] {
        assert!(p.matches(text), "{text:?}");
    }
}

/// Identifiers, and texts `find` finds them in that the prefilter once missed: other scripts (exact and in
/// another case), Vietnamese, decomposed accents, unusual whitespace, zero-width characters, ligatures.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "Иван Петров",
        "name",
        &[
            "caller: Иван Петров",
            "ИВАН ПЕТРОВ",
            "иван петров",
            "Петров, Иван",
        ],
    ),
    (
        "Nguyễn Thị",
        "name",
        &[
            "Nguyễn Thị",
            "NGUYỄN THỊ",
            "nguyen thi",
            "Nguye\u{302}\u{303}n Thi\u{323}",
            "THỊ, Nguyễn",
        ],
    ),
    (
        "Žofie Šťastná",
        "name",
        &[
            "Z\u{30C}ofie S\u{30C}t\u{30C}astna\u{301}",
            "ZOFIE STASTNA",
            "Šťastná\u{A0}Žofie",
        ],
    ),
    (
        "Vinohradská 12, Praha",
        "address",
        &[
            "Vinohradská\u{A0}12, Praha",
            "VINOHRADSKA\u{2007}12,\u{3000}praha",
            "vinohradská\u{202F}\u{200B}\t12,\u{85}\u{FEFF} PRAHA",
        ],
    ),
    (
        "Jana Nováková",
        "name",
        &[
            "Jana\u{200B} Nováková",
            "No\u{200B}vá\u{200D}ková Jana",
            "\u{FEFF}Jana\u{2060}\u{A0}Nováková",
        ],
    ),
    (
        "jnovak42",
        "identifier",
        &[
            "login jnov\u{2060}ak42",
            "JNOVAK\u{200C}42",
            "jnova\u{301}k42",
        ],
    ),
    (
        "Hans Straße",
        "name",
        &[
            "HANS STRASSE",
            "hans strasse",
            "Straße, Hans",
            "STRAẞE HANS",
        ],
    ),
    (
        "Cæsar Holm",
        "name",
        &["Caesar Holm", "CÆSAR HOLM", "HOLM, Caesar", "cǣsar holm"],
    ),
    // Overlapping ligatures: "ss" twice in "sss", "dz" and "zh" in "dzh".
    (
        "grosssee",
        "identifier",
        &["Großsee", "GROSSSEE", "Grosßee", "gross\u{200B}see"],
    ),
    (
        "Dzhokhar",
        "identifier",
        &["Ǆhokhar", "Dƺokhar", "DZHOKHAR", "ǳhokhar"],
    ),
    (
        "Dzhokhar Tsarnaev",
        "name",
        &["Ǆhokhar Tsarnaev", "Dƺokhar ƾarnaev", "DZHOKHAR TSARNAEV"],
    ),
    (
        "Karel Novák",
        "name",
        &["\u{212A}arel Novák", "KAREL NOVA\u{301}K"],
    ),
    (
        "İlkay Gündoğan",
        "name",
        &["ILKAY GUNDOGAN", "ilkay gündoğan", "İLKAY GÜNDOĞAN"],
    ),
    ("山田 太郎", "name", &["山田 太郎 様", "太郎\u{3000}山田"]),
    ("Νίκη Παππά", "name", &["ΝΊΚΗ ΠΑΠΠΆ", "νίκη παππά"]),
    (
        "Žofie@Příklad.cz",
        "email",
        &["mail ŽOFIE@PŘÍKLAD.CZ!", "žofie@příklad.cz"],
    ),
];

/// Texts neither `find` nor the prefilter match, for the identifiers of `CASES`.
const UNRELATED: &[(&str, &str, &[&str])] = &[
    (
        "Иван Петров",
        "name",
        &["Ivan Petrov", "Иван Петренко", "caller: 600 316 760"],
    ),
    ("Nguyễn Thị", "name", &["Tran Thi Mai", "Nguye"]),
    ("Žofie Šťastná", "name", &["Zofie Stastny"]),
    (
        "Vinohradská 12, Praha",
        "address",
        &["Vinohradská 13, Praha"],
    ),
    ("jnovak42", "identifier", &["jnovak4", "j novak42"]),
    ("Hans Straße", "name", &["Hans Strase", "Strauss"]),
    ("山田 太郎", "name", &["山田 花子"]),
];

#[test]
fn prefilter_matches_what_folding_ignores() {
    for (value, kind, texts) in CASES {
        let m = matcher(&[(value, kind)]);
        let p = Prefilter::of(&m);
        for text in *texts {
            assert!(p.assert_superset(&m, text), "{value:?} in {text:?}");
        }
    }
    for (value, kind, texts) in UNRELATED {
        let m = matcher(&[(value, kind)]);
        let p = Prefilter::of(&m);
        for text in *texts {
            assert!(m.find(text).is_empty(), "{value:?} in {text:?}");
            assert!(!p.matches_any_case(text), "{value:?}: {text:?}");
        }
    }
}

/// Zero-width characters `fold` drops.
const ZERO_WIDTH: &[char] = &[
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{2060}',
    '\u{FEFF}',
    '\u{AD}',
    '\u{200E}',
    '\u{202C}',
    '\u{1DC4}',
    '\u{E0041}',
];

/// Whitespace `fold` makes one space of.
const WHITESPACE: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{A0}', '\u{85}', '\u{2007}', '\u{2003}', '\u{202F}', '\u{3000}',
];

/// Punctuation people put between words.
const PUNCTUATION: &[char] = &[
    ',', '.', ':', ';', '-', '\'', '\u{2019}', '(', ')', '/', '@',
];

/// Ligatures, with the letters they fold to.
const LIGATURES: &[(&str, char)] = &[
    ("ss", 'ß'),
    ("ss", 'ẞ'),
    ("ae", 'æ'),
    ("ae", 'Ǽ'),
    ("oe", 'œ'),
    ("th", 'þ'),
    ("ng", 'ŋ'),
    ("dz", 'ǆ'),
    ("dz", 'ǲ'),
    ("ij", 'Ĳ'),
    ("zh", 'ƺ'),
    ("ts", 'ƾ'),
    ("ll", 'ỻ'),
];

/// `text` written differently: letters in another case, with accents (precomposed or combining), ligatures,
/// other whitespace, zero-width characters and punctuation inserted.
fn mutate(text: &str, rng: &mut ChaCha8Rng, accented: &HashMap<char, Vec<char>>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        let rest: String = chars[at..chars.len().min(at + 2)]
            .iter()
            .flat_map(|c| c.to_lowercase())
            .collect();
        let ligatures: Vec<char> = LIGATURES
            .iter()
            .filter(|(letters, _)| *letters == rest)
            .map(|&(_, ligature)| ligature)
            .collect();
        if !ligatures.is_empty() && rng.random_bool(0.5) {
            out.push(*ligatures.choose(rng).expect("a ligature"));
            at += 2;
            continue;
        }
        let mut c = chars[at];
        at += 1;
        if c.is_whitespace() {
            for _ in 0..rng.random_range(1..=3) {
                out.push(*WHITESPACE.choose(rng).expect("whitespace"));
            }
            continue;
        }
        let lower = c.to_ascii_lowercase();
        if c.is_ascii_alphabetic() && accented.contains_key(&lower) && rng.random_bool(0.3) {
            c = *accented[&lower].choose(rng).expect("an accented letter");
        }
        match rng.random_range(0..3) {
            0 => out.extend(c.to_uppercase()),
            1 => out.extend(c.to_lowercase()),
            _ => out.push(c),
        }
        // Decomposed: a letter and combining marks.
        while c.is_alphabetic() && rng.random_bool(0.15) {
            out.push(char::from_u32(rng.random_range(0x300..=0x36F)).expect("a mark"));
        }
        if rng.random_bool(0.05) {
            out.push(*ZERO_WIDTH.choose(rng).expect("a zero-width character"));
        }
        if rng.random_bool(0.02) {
            out.push(*PUNCTUATION.choose(rng).expect("punctuation"));
        }
    }
    out
}

/// The Latin letters that fold to each ASCII letter.
fn accented_letters() -> HashMap<char, Vec<char>> {
    let mut accented: HashMap<char, Vec<char>> = HashMap::new();
    for c in ('\u{C0}'..='\u{24F}').chain('\u{1E00}'..='\u{1EFF}') {
        if let FoldedChar::Ascii(ascii) = fold_char(c) {
            if let [letter] = ascii.to_ascii_lowercase().as_bytes() {
                accented.entry(char::from(*letter)).or_default().push(c);
            }
        }
    }
    accented
}

#[test]
fn prefilter_matches_every_mutation_find_finds_something_in() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6764_7072);
    let accented = accented_letters();
    let mut subjects: Vec<(TraceMatcher, Vec<&str>)> =
        vec![(subject(), FOUND.iter().map(|(text, _)| *text).collect())];
    for (value, kind, texts) in CASES {
        subjects.push((matcher(&[(value, kind)]), texts.to_vec()));
    }
    let (mut tried, mut found) = (0, 0);
    for (m, texts) in &subjects {
        let p = Prefilter::of(m);
        for text in texts {
            for _ in 0..150 {
                let mutated = mutate(text, &mut rng, &accented);
                tried += 1;
                if p.assert_superset(m, &mutated) {
                    found += 1;
                }
            }
        }
    }
    // Most mutations keep what is looked for: the property is not tested on misses only.
    assert!(found * 4 > tried, "{found} of {tried}");
}

#[test]
fn prefilter_escapes_metacharacters() {
    let m = matcher(&[
        ("a.b+c(1)[x]{2}|^$*?\\z", "identifier"),
        ("o'brien+tag@example.com", "email"),
    ]);
    let p = Prefilter::of(&m);
    assert!(p.matches("id A.B+C(1)[X]{2}|^$*?\\Z here"));
    assert!(!p.matches_any_case("aXb+c(1)[x]{2}|^$*?\\z"));
    assert!(p.matches("O'Brien+tag@example.com"));
    assert!(p.matches("o%27brien%2Btag%40example.com"));
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

#[test]
fn prefilter_matches_invisible_characters_and_marks_of_every_block() {
    let m = matcher(&[("Jana Nováková", "name"), ("jnovakova", "identifier")]);
    let p = Prefilter::of(&m);
    for text in [
        "Jana Nová\u{ad}ková",
        "Jana \u{200e}Nováková",
        "Jana Nova\u{1dc4}kova",
        "\u{2066}Jana\u{2069} Nova\u{301}\u{34f}kova\u{fe0f}",
        "jnova\u{ad}ko\u{e0020}va",
    ] {
        assert!(p.assert_superset(&m, text), "{text:?} is not found");
    }
    // The class allowed between any two characters is exactly what `fold_char` drops.
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        let between = format!("jnov{c}akova");
        let dropped = fold_char(c) == FoldedChar::Nothing;
        assert_eq!(p.matches(&between), dropped, "{c:?}");
    }
}

/// PostgreSQL expands a bounded repetition into copies of its atom: an e-mail of 26 runs of 255 's' (each a
/// run of overlapping "ss" transliterations) once made a prefilter of thousands of copies that PostgreSQL
/// refused to compile ("regular expression is too complex"), failing the search.
#[test]
fn prefilter_has_no_large_repetitions() {
    let runs = format!("{}@x.cz", format!("{}.", "s".repeat(255)).repeat(26));
    if let Some(pattern) = matcher(&[(&runs, "email")]).prefilter() {
        assert!(repeated_copies(&pattern, &mut Steps::default()) <= MAX_REPEATED_COPIES);
    }
    // One run gives a prefilter, with the run unbounded.
    let email = format!("{}@x.cz", "s".repeat(255));
    let m = matcher(&[(&email, "email")]);
    let p = Prefilter::of(&m);
    assert!(repeated_copies(&p.pattern, &mut Steps::default()) <= 8);
    let written = format!("{}@X.cz", "ß".repeat(127)).replacen("ß", "sS", 1);
    assert!(p.assert_superset(&m, &format!("from {email} and")));
    assert!(p.matches(&format!("from {written} and")));
    // A looser superset: any run of them.
    assert!(p.matches("from s@x.cz and"));
    assert!(!p.matches_any_case("from s@y.cz and"));
}

/// Too many repetitions altogether (each phone number's gaps between digits are some): no prefilter, rather
/// than one PostgreSQL might refuse to compile.
#[test]
fn prefilter_gives_up_when_too_complex() {
    assert_eq!(
        repeated_copies(
            r"a{2,5}\{9}[\{\}]b{3}c{4,}(?:d{0,3})*",
            &mut Steps::default()
        ),
        5 + 3 + 4 + 3
    );
    let phones: Vec<String> = (0..100).map(|i| format!("+420 601 000 {i:03}")).collect();
    let ids: Vec<(&str, &str)> = phones.iter().map(|p| (p.as_str(), "phone")).collect();
    let m = matcher(&ids);
    assert!(m.prefilter().is_none());
    assert_eq!(m.find("call 601 000 042 now").len(), 1);
    let m = matcher(&ids[..20]);
    let p = Prefilter::of(&m);
    assert!(p.assert_superset(&m, "call 601 000 017 now"));
}

#[test]
fn index_prefilter_is_a_superset_on_trace_fold() {
    let ids = crate::strategy::SubjectIdentifiers {
        values: vec![
            "Jana Nováková".into(),
            "+420 600 316 760".into(),
            "jana.novakova@example.cz".into(),
            "jnovakova".into(),
        ],
        kinds: vec![
            "name".into(),
            "phone".into(),
            "email".into(),
            "identifier".into(),
        ],
    };
    let m = TraceMatcher::new(&ids, "420").unwrap();
    let pattern = m.index_prefilter().expect("a pattern");
    let re = regex::Regex::new(&pattern).unwrap();
    for text in [
        "Hi, I am NOVÁKOVÁ, Jana",
        "caller: 420600316760",
        "tel.(600)316-760",
        "+420 600-316-760",
        "ticket for jana.novakova%40example.cz",
        "user JNOVAKOVA logged in",
    ] {
        assert!(!m.find(text).is_empty(), "{text}");
        assert!(
            re.is_match(&crate::normalize::trace_fold(text)),
            "{text} vs {pattern}"
        );
    }
    assert!(!re.is_match(&crate::normalize::trace_fold("queue: sales")));
}
