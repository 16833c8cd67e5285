use super::*;

fn found(text: &str) -> Vec<(&str, Detector)> {
    find(text).into_iter().map(|(r, d)| (&text[r], d)).collect()
}

#[test]
fn the_issue_examples() {
    use Detector::*;
    assert_eq!(
        found("my new address is 27 Baker Street, NW1 6XE London"),
        [("27 Baker Street, NW1 6XE London", Address)]
    );
    assert_eq!(
        found("deliver to Hauptstraße 12 please"),
        [("Hauptstraße 12", Address)]
    );
    assert_eq!(found("Hi, I am Jana Nováková"), [("Jana Nováková", Name)]);
    assert_eq!(
        found("verified via DOB 1984-03-17"),
        [("1984-03-17", BirthDate)]
    );
    for (text, address) in [
        ("Korunní 45, 120 00 Praha 2", "Korunní 45, 120 00 Praha 2"),
        (
            "ul. Marszałkowska 10/5, 00-001 Warszawa",
            "ul. Marszałkowska 10/5, 00-001 Warszawa",
        ),
        (
            "12 rue de la Paix, 75002 Paris",
            "12 rue de la Paix, 75002 Paris",
        ),
        ("Musterweg 5a, 10115 Berlin", "Musterweg 5a, 10115 Berlin"),
        ("bydlím v ulici Vinohradská 12.", "ulici Vinohradská 12"),
    ] {
        assert_eq!(found(text), [(address, Address)], "{text}");
    }
    for (text, name) in [
        ("jmenuji se Łukasz Müller", "Łukasz Müller"),
        ("nazywam się Zoë", "Zoë"),
        ("ich heiße Jürgen, ich bin Kunde", "Jürgen"),
        ("Je m'appelle Anne-Marie O'Brien.", "Anne-Marie O'Brien"),
        ("this is Mr. Tom McDonald from Leeds", "Tom McDonald"),
    ] {
        assert_eq!(found(text), [(name, Name)], "{text}");
    }
    for date in [
        "1984-03-17",
        "17.3.1984",
        "17. 3. 1984",
        "17/03/1984",
        "03/17/1984",
        "17 March 1984",
        "March 17, 1984",
        "17. März 1984",
        "17 mars 1984",
        "17. března 1984",
        "17 marca 1984",
    ] {
        for keyword in [
            "DOB",
            "born",
            "date of birth:",
            "nar.",
            "geb.",
            "Geburtsdatum",
            "née le",
            "data urodzenia",
        ] {
            let text = format!("{keyword} {date}, thanks");
            assert_eq!(found(&text), [(date, BirthDate)], "{text}");
        }
    }
    assert_eq!(
        found("Ich bin am 17.03.1984 geboren."),
        [("17.03.1984", BirthDate)]
    );
}

#[test]
fn look_alikes_are_left_alone() {
    for text in [
        "I am happy, I am Sorry, I am Interested in the XR-200 Street Edition.",
        "Ich bin Kunde seit 2019, ich bin Ihnen dankbar, ich bin Montag weg.",
        "Jsem Vám vděčná, jsem ráda. Jestem Pani wdzięczny. Je suis désolé.",
        "Ordered on 2024-03-17, delivery 17 March 2024, birthday present by 2024-05-02.",
        "Open Mon–Fri 9–17, room 404, gate B12, version 1.2.3, 2 boxes, 12 pieces.",
        "Parkplatz 12, Sitzplatz 14A, Balení 12 ks, Zásilka leží na depu Praha 10.",
        "born in 2015, size 140; this is Galaxy S21.",
    ] {
        assert_eq!(found(text), [], "{text}");
    }
}

#[test]
fn keep_items() {
    let keep = Keep::new(&[
        "support@shop.example".into(),
        "@Shop.Example".into(),
        "+420 800 123 456".into(),
    ])
    .unwrap();
    let text = "SUPPORT@shop.example x@mail.shop.example 00420 800-123-456 800 123 456 601 234 567";
    let spans = |needle: &str| {
        let start = text.find(needle).unwrap();
        start..start + needle.len()
    };
    assert!(keep.keeps(text, spans("SUPPORT@shop.example")));
    assert!(keep.keeps(text, spans("x@mail.shop.example")));
    assert!(keep.keeps(text, spans("00420 800-123-456")));
    assert!(keep.keeps(text, spans("800 123 456")));
    assert!(!keep.keeps(text, spans("601 234 567")));
    for (items, error) in [
        (vec![" ".to_string()], "empty"),
        (vec!["ab".to_string()], "shorter than 3"),
        (vec!["@localhost".to_string()], "e-mail domain"),
        (vec!["x".repeat(201)], "longer than"),
    ] {
        let e = Keep::new(&items).unwrap_err();
        assert!(e.contains(error), "{e}");
    }
}

#[test]
fn long_inputs_stay_linear() {
    // Near-matches of every detector, repeated: a quadratic scan would not finish.
    let text = "I am Jana Nováková Jana Nováková ".repeat(2_000)
        + &"Hauptstraße Baker Street 12 ".repeat(2_000)
        + &"DOB born geboren 17. März ".repeat(2_000);
    let start = std::time::Instant::now();
    let spans = find(&text);
    assert!(!spans.is_empty());
    assert!(start.elapsed().as_secs() < 10);
}
