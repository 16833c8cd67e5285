use super::*;

pub(super) fn matcher(ids: &[(&str, &str)]) -> TraceMatcher {
    let ids = SubjectIdentifiers {
        values: ids.iter().map(|(v, _)| v.to_string()).collect(),
        kinds: ids.iter().map(|(_, k)| k.to_string()).collect(),
    };
    TraceMatcher::new(&ids, "420").unwrap()
}

pub(super) fn subject() -> TraceMatcher {
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
pub(super) const FOUND: &[(&str, &str)] = &[
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
    // A lone first name is no name, even in a text with the whole name.
    ("Nováková Jana; jana again", "[name] [name]; jana again"),
    ("NOVAKOVA, Jana", "[name], [name]"),
    ("to: nováková ,jana.", "to: [name] ,[name]."),
    ("login JNovak42 failed", "login [identifier] failed"),
    (
        "lives at vinohradska 12,\n  PRAHA 2",
        "lives at [address] 2",
    ),
];

/// Texts without them: near misses and other people's data.
pub(super) const NOT_FOUND: &[&str] = &[
    "xjan.novak@example.cz",
    "jan.novak@example.czech",
    "1600316760",
    "6003167601",
    "+48 600 316 760",
    "600 31 67 61",
    "Jana wrote",
    "Nováková called",
    "Janak Novakova",
    // The words of a name apart, or with other punctuation between them, are no name.
    "Jana went to Nováková street",
    "Jana: Nováková",
    "jana; novakova",
    "Jana Marie Nováková",
    "Nováková,, Jana",
    "Nováková-Jana",
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

#[test]
fn names_stand_together_not_anywhere_in_the_text() {
    let m = matcher(&[("Queue Sales", "name")]);
    assert_eq!(m.replace("queue: sales"), None);
    assert_eq!(m.replace("caller: 600 316 760\nqueue: sales\n"), None);
    assert_eq!(
        m.replace("sales queue? no: queue"),
        Some("[name] [name]? no: queue".into())
    );
    assert_eq!(
        m.replace("Queue Sales called").as_deref(),
        Some("[name] [name] called")
    );
    assert_eq!(m.replace("SALES,QUEUE").as_deref(), Some("[name],[name]"));
    assert_eq!(
        m.replace("queue sales-queue"),
        Some("[name] [name]-queue".into())
    );
    let m = matcher(&[("Jana Nováková", "name")]);
    assert_eq!(m.replace("Jana went to Nováková street"), None);
    // Any whitespace between the words; a zero-width character goes with the letter before it.
    assert_eq!(
        m.replace("Jana\u{A0}\n Nováková\u{200B}!").as_deref(),
        Some("[name]\u{A0}\n [name]!")
    );
}

#[test]
fn names_of_three_parts_stored_or_surname_first() {
    let m = matcher(&[("Jana Marie Nováková", "name")]);
    for (text, replaced) in [
        ("Jana Marie Nováková", "[name] [name] [name]"),
        ("Nováková Jana Marie", "[name] [name] [name]"),
        ("NOVÁKOVÁ, Jana Marie: hi", "[name], [name] [name]: hi"),
        ("Marie Nováková Jana", "[name] [name] [name]"),
    ] {
        assert_eq!(m.replace(text).as_deref(), Some(replaced), "{text:?}");
    }
    // Stored surname first (columns joined in table order): the usual order is found too.
    let m = matcher(&[("Nováková Jana Marie", "name")]);
    for text in [
        "Jana Marie Nováková",
        "Nováková, Jana Marie",
        "Marie Nováková Jana",
    ] {
        assert_eq!(m.find(text).len(), 3, "{text:?}");
    }
    for text in [
        "Marie Jana Nováková",
        "Jana Nováková",
        "Jana Marie, Nováková",
        "Jana Marie - Nováková",
    ] {
        assert_eq!(m.replace(text), None, "{text:?}");
    }
}

#[test]
fn names_keep_their_own_punctuation() {
    let m = matcher(&[("Jana Nováková-Dvořáková", "name")]);
    for (text, replaced) in [
        ("Jana Nováková-Dvořáková", "[name] [name]-[name]"),
        (
            "jana novakova \u{2013} dvorakova",
            "[name] [name] \u{2013} [name]",
        ),
        ("Jana Nováková Dvořáková", "[name] [name] [name]"),
        ("Nováková-Dvořáková, Jana", "[name]-[name], [name]"),
    ] {
        assert_eq!(m.replace(text).as_deref(), Some(replaced), "{text:?}");
    }
    for text in [
        "Jana Nováková/Dvořáková",
        "Jana Nováková",
        "Dvořáková, Jana",
    ] {
        assert_eq!(m.replace(text), None, "{text:?}");
    }
    let m = matcher(&[("Jan O'Brien", "name")]);
    assert_eq!(
        m.replace("Jan O\u{2019}Brien").as_deref(),
        Some("[name] [name]\u{2019}[name]")
    );
    assert_eq!(
        m.replace("O'BRIEN, Jan").as_deref(),
        Some("[name]'[name], [name]")
    );
    assert_eq!(m.replace("Jan OBrien"), None);
    // "St. John": the dot belongs to the name.
    let m = matcher(&[("Anna St. John", "name")]);
    assert_eq!(
        m.replace("anna st. john").as_deref(),
        Some("[name] [name]. [name]")
    );
    assert_eq!(
        m.replace("anna st john").as_deref(),
        Some("[name] [name] [name]")
    );
    assert_eq!(m.replace("anna st: john"), None);
}

#[test]
fn names_of_other_scripts_are_not_transliterated() {
    let m = matcher(&[("Иван Петров", "name")]);
    for text in ["caller: Иван Петров", "ИВАН ПЕТРОВ", "петров, иван"]
    {
        assert!(!m.find(text).is_empty(), "{text:?}");
    }
    assert!(m.find("Ivan Petrov").is_empty());
}

#[test]
fn long_texts_take_linear_time() {
    let m = matcher(&[
        ("Jana Nováková", "name"),
        ("Jana Dvořáková", "name"),
        ("jana.novakova@example.cz", "email"),
    ]);
    let text = "jana, novakov jana ".repeat(100_000);
    let started = std::time::Instant::now();
    assert!(m.find(&text).is_empty());
    let text = format!("{}Jana Nováková", "jana ".repeat(200_000));
    assert_eq!(m.find(&text).len(), 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Repetitive identifiers of 200,000 characters (a login of one letter, e-mails whose every other character
/// could start an occurrence) build and search a megabyte in linear time: a quadratic build or search would
/// hang the test suite.
#[test]
fn repetitive_identifiers_take_linear_time() {
    let login = "q".repeat(200_000);
    let shorter = "q".repeat(60_000);
    let overlapping = format!("{}a", "a@".repeat(100_000));
    let email = format!("{}@x.cz", "ab".repeat(100_000));
    let m = matcher(&[
        (&login, "identifier"),
        (&shorter, "identifier"),
        (&overlapping, "email"),
        (&email, "email"),
        ("Jana Nováková", "name"),
    ]);
    let text = format!(
        "{} {login} {} {email} {}",
        "a@".repeat(250_000),
        "ab".repeat(100_000),
        "q".repeat(100_000)
    );
    assert!(text.len() > 1_000_000);
    let spans = m.find(&text);
    let found: Vec<(usize, usize, &str)> = spans
        .iter()
        .map(|s| (s.start, s.end - s.start, s.category))
        .collect();
    let login_at = 500_001;
    let email_at = login_at + 200_001 + 200_001;
    assert_eq!(
        found,
        vec![
            (0, 200_001, "email"),
            (200_002, 200_001, "email"),
            (login_at, 200_000, "identifier"),
            (email_at, email.len(), "email"),
        ]
    );
    // Upper case in the text is the same e-mail; an accent is not.
    let text = format!(
        "{} {}á",
        overlapping.to_uppercase(),
        &overlapping[..overlapping.len() - 1]
    );
    assert_eq!(m.categories(&text), vec!["email"]);
    assert_eq!(m.find(&text).len(), 1);
}
