//! `scrub`: free text (chat messages, notes) keeps its words but loses the personal data inside it.
//!
//! 1. The erased subject's own identifiers — every value of their declared PII columns as stored before the
//!    erasure (string values inside jsonb too) — are replaced wherever they occur, case-insensitively, as whole
//!    words: each whole value and its URL-encoded form (`jan%40example.cz`); for names, addresses and
//!    companies also each comma-separated segment and each word of at least 3 characters (name parts; street,
//!    house number with its street, city), so `ORD-000123` survives while `Vinohradská` does not.
//! 2. Generic patterns: e-mail addresses, IBANs, payment-card numbers (Luhn-checked), IPv6 and IPv4
//!    addresses, phone numbers in international, Czech and Polish formats.
//!
//! Each is replaced by a typed placeholder (`[email]`, `[phone]`, `[name]`, `[iban]`, …). The regex crate
//! matches in linear time, so no input can make scrubbing backtrack catastrophically.

use std::cell::RefCell;
use std::net::Ipv6Addr;
use std::rc::Rc;
use std::sync::LazyLock;

use pgrx::prelude::*;
use regex::{Captures, Regex};

use super::{require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, OrReport, Result};

pub struct Scrub;

impl Strategy for Scrub {
    fn name(&self) -> &'static str {
        "scrub"
    }
    fn validate(&self, table: &str, col: &Column, _options: &Options) -> Result<()> {
        require_text("scrub", table, col)
    }
    fn erase_expr(&self, col: &Column, _options: &Options, sql: &mut ExprParams) -> Option<String> {
        let identifiers = sql.subject_identifiers();
        Some(format!(
            "gdpr._erase_scrub({}, {identifiers})",
            col.sql_name
        ))
    }
}

// --- generic patterns --------------------------------------------------------------------------------------

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

/// Replaces the generic patterns in `text`.
pub fn scrub_patterns(text: &str) -> String {
    let out = EMAIL.replace_all(text, "[email]");
    let out = IBAN.replace_all(&out, "[iban]");
    let out = CARD.replace_all(&out, |c: &Captures| {
        let d = digits(&c[0]);
        if (13..=19).contains(&d.len()) && luhn_valid(&d) {
            "[card]".to_string()
        } else {
            c[0].to_string()
        }
    });
    let out = IPV6.replace_all(&out, |c: &Captures| {
        let candidate = c[0].split('%').next().unwrap_or_default();
        if candidate.parse::<Ipv6Addr>().is_ok() {
            "[ip]".to_string()
        } else {
            c[0].to_string()
        }
    });
    let out = IPV4.replace_all(&out, "[ip]");
    let out = PHONE.replace_all(&out, |c: &Captures| {
        let n = digits(&c[0]).len();
        if (9..=15).contains(&n) {
            "[phone]".to_string()
        } else {
            c[0].to_string()
        }
    });
    out.into_owned()
}

// --- the subject's own identifiers ---------------------------------------------------------------------------

mod identifiers;
use identifiers::Identifiers;

pub(crate) use crate::interrupts::{check_interrupts, Steps};

/// The identifier values and kinds a compiled matcher was built from.
type IdentifierKey = (Vec<Option<String>>, Vec<Option<String>>);

thread_local! {
    /// The identifiers of the subject being erased: compiled once per erasure, not once per row.
    static LAST_IDENTIFIERS: RefCell<Option<(IdentifierKey, Rc<Identifiers>)>> = const { RefCell::new(None) };
}

/// The matcher for these identifiers: the cached one when they are the ones it was built from (compared in
/// place: this runs for every row an erasure scrubs), else a new one.
fn compiled_identifiers(
    values: &[Option<&str>],
    kinds: &[Option<&str>],
) -> Result<Rc<Identifiers>> {
    LAST_IDENTIFIERS.with(|cell| {
        if let Some(((v, k), ids)) = cell.borrow().as_ref() {
            if v.iter().map(Option::as_deref).eq(values.iter().copied())
                && k.iter().map(Option::as_deref).eq(kinds.iter().copied())
            {
                return Ok(ids.clone());
            }
        }
        let owned = |xs: &[Option<&str>]| -> Vec<Option<String>> {
            xs.iter().map(|x| x.map(str::to_string)).collect()
        };
        let (values, kinds) = (owned(values), owned(kinds));
        // The previous matcher is dropped first: with many identifiers it is large.
        *cell.borrow_mut() = None;
        let ids = Rc::new(Identifiers::new(&values, &kinds)?);
        *cell.borrow_mut() = Some(((values, kinds), ids.clone()));
        Ok(ids)
    })
}

/// Identifiers registered for the statements of one erasure: the values and kinds, compiled on first use.
struct Registered {
    token: i64,
    values: Vec<Option<String>>,
    kinds: Vec<Option<String>>,
    compiled: Option<Rc<Identifiers>>,
}

thread_local! {
    /// The identifiers of the subjects being erased. The statements receive a token, not the identifiers: an
    /// erasure of many subjects has thousands, and each row would otherwise get (and compare) a copy of them.
    static REGISTERED: RefCell<Option<Registered>> = const { RefCell::new(None) };
    static NEXT_TOKEN: std::cell::Cell<i64> = const { std::cell::Cell::new(1) };
}

/// Registers the identifiers an erasure's statements scrub; returns their token (0 when there are none).
pub fn register(ids: &super::SubjectIdentifiers) -> i64 {
    REGISTERED.with(|cell| *cell.borrow_mut() = None); // the previous matcher may be large
    if ids.values.is_empty() {
        return 0;
    }
    let token = NEXT_TOKEN.with(|n| {
        let t = n.get();
        n.set(t + 1);
        t
    });
    REGISTERED.with(|cell| {
        *cell.borrow_mut() = Some(Registered {
            token,
            values: ids.values.iter().cloned().map(Some).collect(),
            kinds: ids.kinds.iter().cloned().map(Some).collect(),
            compiled: None,
        })
    });
    token
}

/// Scrubs `text` of the generic patterns and of the identifiers registered under `token` (0: patterns only).
pub fn scrub_registered(text: &str, token: i64) -> Result<String> {
    if token == 0 {
        return Ok(scrub_patterns(text));
    }
    let ids = REGISTERED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let registered = slot.as_mut().filter(|r| r.token == token).ok_or_else(|| {
            GdprError::InvalidParameter(format!(
                "_erase_scrub: identifiers {token} are not registered in this session (an erasure registers them)"
            ))
        })?;
        if registered.compiled.is_none() {
            registered.compiled = Some(Rc::new(Identifiers::new(
                &registered.values,
                &registered.kinds,
            )?));
        }
        Ok::<_, GdprError>(registered.compiled.clone())
    })?;
    Ok(match ids {
        Some(ids) => scrub_patterns(&ids.replace(text)),
        None => scrub_patterns(text),
    })
}

/// Scrubs `text`: the subject's identifiers first (they may contain generic patterns), then the patterns.
pub fn scrub(text: &str, values: &[Option<String>], kinds: &[Option<String>]) -> Result<String> {
    if values.is_empty() {
        return Ok(scrub_patterns(text));
    }
    let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
    let kinds: Vec<Option<&str>> = kinds.iter().map(Option::as_deref).collect();
    let ids = compiled_identifiers(&values, &kinds)?;
    Ok(scrub_patterns(&ids.replace(text)))
}

/// Internal: `scrub` in an erasure's UPDATE, with the identifiers registered under `identifiers` (0: none).
#[pg_extern(immutable, parallel_safe)]
fn _erase_scrub(value: Option<&str>, identifiers: Option<i64>) -> Option<String> {
    value.map(|v| scrub_registered(v, identifiers.unwrap_or(0)).or_report())
}

/// `gdpr.scrub(text)`: generic patterns only. Keyless, open to every role.
#[pg_extern(name = "scrub", immutable, strict, parallel_safe)]
fn scrub_text(value: &str) -> String {
    scrub_patterns(value)
}

/// `gdpr.scrub(text, identifiers)`: also replaces the given identifiers (and their parts) by `[redacted]`.
#[pg_extern(name = "scrub", immutable, parallel_safe)]
fn scrub_text_with(
    value: Option<&str>,
    identifiers: Option<Vec<Option<String>>>,
) -> Option<String> {
    value.map(|v| scrub(v, &identifiers.unwrap_or_default(), &[]).or_report())
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
        ] {
            assert_eq!(s(text), text);
        }
    }

    #[test]
    fn identifiers_match_when_lower_casing_changes_lengths() {
        // 'İ' lower-cases to two characters: offsets must still map back to the original text.
        let values = vec![Some("Kemal Yıldız".to_string())];
        let kinds = vec![Some("name".to_string())];
        assert_eq!(
            scrub(
                "İstanbul: KEMAL Yıldız wrote, then yıldız; Yıldızlar stays.",
                &values,
                &kinds
            )
            .unwrap(),
            "İstanbul: [name] wrote, then [name]; Yıldızlar stays."
        );
    }

    #[test]
    fn subject_identifiers_whole_words_and_parts() {
        let values = vec![
            Some("Jan Novák".to_string()),
            Some("jan@example.cz".to_string()),
            Some("Vinohradská 12, Praha".to_string()),
        ];
        let kinds = vec![
            Some("name".to_string()),
            Some("email".to_string()),
            Some("address".to_string()),
        ];
        let text = "Hi, I am JAN NOVÁK (novák), mail jan%40example.cz, I live at Vinohradská 12 in Praha. \
                    Order ORD-000123, Janek and Novákova stay.";
        assert_eq!(
            scrub(text, &values, &kinds).unwrap(),
            "Hi, I am [name] ([name]), mail [email], I live at [address] in [address]. \
             Order ORD-000123, Janek and Novákova stay."
        );
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
}
