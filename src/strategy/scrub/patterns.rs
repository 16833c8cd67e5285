//! The generic patterns of `scrub` and the free-text detectors, applied in one pass: e-mail addresses, IBANs,
//! payment-card numbers (Luhn-checked), IPv6 and IPv4 addresses, phone numbers in international, Czech and
//! Polish formats, then street addresses, introduced names and dates of birth (`free_text`). Each finds
//! matches only where no earlier one replaced or kept text, as if they ran one after the other on the text
//! the earlier ones left; a match the allow-list keeps stays as it is and no later detector touches it.

use std::net::Ipv6Addr;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::free_text::{self, Keep};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9._%+\-]+(?:@|%40)[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,}")
        .expect("valid regex")
});
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
        .expect("valid regex")
});
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:[0-9][ \-]?){12,18}[0-9]\b").expect("valid regex"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:[0-9a-f]{1,4})?(?::[0-9a-f]{0,4}){2,7}(?:%[0-9a-z]+)?")
        .expect("valid regex")
});
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\b")
        .expect("valid regex")
});
/// International (+420 601 234 567, 0048 601-234-567, +1 (555) 123-4567) and national 9-digit formats
/// (601 234 567, 601-234-567, 601234567, Polish landlines 22 123 45 67).
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\+|\b00)[0-9]{1,3}(?:[ .\-/]?\(?[0-9]{1,4}\)?){2,5}",
        r"|\b[0-9]{3}[ .\-]?[0-9]{3}[ .\-]?[0-9]{3}\b",
        r"|\b[0-9]{2}[ .\-][0-9]{3}[ .\-][0-9]{2}[ .\-][0-9]{2}\b",
    ))
    .expect("valid regex")
});
/// A placeholder an earlier step (the subject's identifiers) put into the text: never matched into.
static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[[a-z_]{2,24}\]").expect("valid regex"));

fn luhn_valid(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// A generic pattern, its placeholder and what a match must satisfy.
type Generic = (&'static Regex, &'static str, fn(&str) -> bool);

/// The generic patterns, in the order they apply.
fn generic() -> [Generic; 6] {
    [
        (&*EMAIL, "[email]", |_| true),
        (&*IBAN, "[iban]", |_| true),
        (&*CARD, "[card]", |m| {
            let d = digits(m);
            (13..=19).contains(&d.len()) && luhn_valid(&d)
        }),
        (&*IPV6, "[ip]", |m| {
            let candidate = m.split('%').next().unwrap_or_default();
            candidate.parse::<Ipv6Addr>().is_ok()
        }),
        (&*IPV4, "[ip]", |_| true),
        (&*PHONE, "[phone]", |m| (9..=15).contains(&digits(m).len())),
    ]
}

/// Replaces the generic patterns and the free-text detectors' finds in `text`.
pub fn scrub_patterns(text: &str) -> String {
    scrub_patterns_keeping(text, None)
}

/// Replaces the generic patterns and the free-text detectors' finds in `text`, except what `keep` keeps.
pub fn scrub_patterns_keeping(text: &str, keep: Option<&Keep>) -> String {
    replace(text, &find_spans(text, keep, true))
}

/// Pastes each span's placeholder over it (the spans sorted and not overlapping).
pub fn replace(text: &str, spans: &[(Range<usize>, &'static str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (span, placeholder) in spans {
        out.push_str(&text[last..span.start]);
        out.push_str(placeholder);
        last = span.end;
    }
    out.push_str(&text[last..]);
    out
}

/// What to replace in `text`, sorted and not overlapping, each with its placeholder: the generic patterns'
/// matches and, with `free_text`, the free-text detectors' (which skip the kept strings' occurrences
/// altogether); none inside a placeholder already in the text, none that `keep` keeps.
pub fn find_spans(
    text: &str,
    keep: Option<&Keep>,
    free_text: bool,
) -> Vec<(Range<usize>, &'static str)> {
    let mut replaced: Vec<(Range<usize>, &'static str)> = Vec::new();
    // Spans no later detector may touch: placeholders, replaced and kept matches.
    let mut taken: Vec<Range<usize>> = PLACEHOLDER.find_iter(text).map(|m| m.range()).collect();
    let mut accept =
        |span: Range<usize>, placeholder: &'static str, taken: &mut Vec<Range<usize>>| {
            if !keep.is_some_and(|k| k.keeps(text, span.clone())) {
                replaced.push((span.clone(), placeholder));
            }
            taken.push(span);
        };
    for (re, placeholder, valid) in generic() {
        let mut found = Vec::new();
        for gap in gaps(&taken, text.len()) {
            for m in re.find_iter(&text[gap.clone()]) {
                if valid(m.as_str()) {
                    found.push(gap.start + m.start()..gap.start + m.end());
                }
            }
        }
        for span in found {
            accept(span, placeholder, &mut taken);
        }
        taken = union(taken);
    }
    if free_text {
        if let Some(k) = keep {
            taken.extend(k.occurrences(text));
            taken = union(taken);
        }
        let mut found = Vec::new();
        for gap in gaps(&taken, text.len()) {
            for (span, detector) in free_text::find(&text[gap.clone()]) {
                found.push((
                    gap.start + span.start..gap.start + span.end,
                    detector.placeholder(),
                ));
            }
        }
        for (span, placeholder) in found {
            accept(span, placeholder, &mut taken);
        }
    }
    replaced.sort_unstable_by_key(|(span, _)| span.start);
    replaced
}

/// The sorted, non-overlapping union of `spans`.
fn union(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_unstable_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(spans.len());
    for r in spans {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The stretches of `0..len` between the sorted, non-overlapping `taken` spans.
fn gaps(taken: &[Range<usize>], len: usize) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(taken.len() + 1);
    let mut from = 0;
    for r in taken {
        if r.start > from {
            out.push(from..r.start);
        }
        from = from.max(r.end);
    }
    if from < len {
        out.push(from..len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        scrub_patterns(text)
    }

    #[test]
    fn generic_patterns() {
        assert_eq!(
            s("write to jan.novak@example.cz now"),
            "write to [email] now"
        );
        assert_eq!(
            s("form: email=jan%40example.cz&x=1"),
            "form: email=[email]&x=1"
        );
        assert_eq!(
            s("call +420 601 234 567 or 601234567"),
            "call [phone] or [phone]"
        );
        assert_eq!(
            s("Polish +48 601-234-567, landline 22 123 45 67"),
            "Polish [phone], landline [phone]"
        );
        assert_eq!(s("card 4111 1111 1111 1111 ok"), "card [card] ok");
        assert_eq!(
            s("not a card 4111 1111 1111 1112"),
            "not a card 4111 1111 1111 1112"
        );
        assert_eq!(s("IBAN CZ65 0800 0000 1920 0014 5399."), "IBAN [iban].");
        assert_eq!(s("from 192.168.1.20 and 2001:db8::1"), "from [ip] and [ip]");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in [
            "Order ORD-000123 shipped on 2026-03-14 at 15:09:26, total 1 234,50 Kč.",
            "Meeting at 12:30, version 1.2.3, room 404.",
            "Příliš žluťoučký kůň úpěl ďábelské ódy.",
            "",
            // What the identifiers of scrub.rs's tests leave for the patterns.
            "Hi, I am [name] ([name]), mail [email], I live at [address] in [address]. \
             Order ORD-000123, Janek and Novákova stay.",
            "İstanbul: [name] wrote, then [name]; Yıldızlar stays.",
        ] {
            assert_eq!(s(text), text);
        }
    }

    #[test]
    fn no_planted_pattern_survives() {
        for i in 0..2000u32 {
            let email = format!("user{i}.x@mail{}.example.org", i % 7);
            let phone = format!("+420 6{:02} {:03} {:03}", i % 100, i % 1000, (i * 7) % 1000);
            let text = format!("msg {i}: reach me at {email} or {phone}, thanks");
            let out = s(&text);
            assert!(!out.contains(&email) && !out.contains(&phone), "{out}");
            assert!(out.starts_with(&format!("msg {i}: reach me at ")), "{out}");
        }
    }

    #[test]
    fn long_text_of_near_matches_is_left_alone() {
        // A quadratic scan would not finish here; a linear one leaves the non-matches as they are.
        let text = "a@".repeat(50_000) + &"1 ".repeat(50_000);
        assert_eq!(s(&text), text);
    }

    #[test]
    fn kept_contact_data_survives_every_detector() {
        let keep = Keep::new(&[
            "@shop.example".to_string(),
            "+420 800 123 456".to_string(),
            "Václavské náměstí 1, 110 00 Praha 1".to_string(),
        ])
        .unwrap();
        let text = "Mail support@shop.example or sales@eu.shop.example, not jan@example.cz; call \
                    +420 800 123 456 (or 800 123 456, not 601 234 567); visit Václavské náměstí 1, 110 00 Praha 1, \
                    not Korunní 45, 120 00 Praha 2.";
        assert_eq!(
            scrub_patterns_keeping(text, Some(&keep)),
            "Mail support@shop.example or sales@eu.shop.example, not [email]; call \
             +420 800 123 456 (or 800 123 456, not [phone]); visit Václavské náměstí 1, 110 00 Praha 1, \
             not [address]."
        );
        // A kept domain does not keep a look-alike domain, nor a kept string a longer match around it.
        assert_eq!(
            scrub_patterns_keeping("x@shop.example.evil.cz, x@myshop.example", Some(&keep)),
            "[email], [email]"
        );
    }

    #[test]
    fn placeholders_are_not_replaced_into() {
        assert_eq!(
            s("my name is [name], DOB [birthdate], [address] 12"),
            "my name is [name], DOB [birthdate], [address] 12"
        );
    }
}
