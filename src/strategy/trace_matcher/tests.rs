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
