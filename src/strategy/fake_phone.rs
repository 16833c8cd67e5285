//! `fake_phone`: keeps the format (separators, a leading `+` and its country code) and replaces every other
//! digit with a keyed pseudo-random one. On UNIQUE columns a 12-digit keyed extension keeps values distinct.

use pgrx::prelude::*;
use rand::Rng;

use super::{max_len_arg, pseudonym, require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::Result;

pub struct FakePhone;

impl Strategy for FakePhone {
    fn name(&self) -> &'static str {
        "fake_phone"
    }
    fn validate(&self, table: &str, col: &Column, _options: &Options) -> Result<()> {
        require_text("fake_phone", table, col)
    }
    fn erase_expr(&self, col: &Column, _options: &Options, sql: &mut ExprParams) -> Option<String> {
        Some(format!(
            "gdpr._erase_fake_phone({}, {}, {}, {})",
            col.sql_name,
            sql.key(),
            col.unique,
            max_len_arg(col)
        ))
    }
}

/// Length of the country code to keep: the 1–3 digits after a leading `+` or `00`, up to the first separator.
fn country_code_span(value: &str) -> usize {
    let rest_start = if value.starts_with('+') {
        1
    } else if value.starts_with("00") {
        2
    } else {
        return 0;
    };
    let digits = value[rest_start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if (1..=3).contains(&digits) {
        rest_start + digits
    } else {
        rest_start
    }
}

pub fn fake_phone(value: &str, key: &[u8], unique: bool, max_len: Option<i32>) -> String {
    let mut rng = pseudonym::rng(key, "fake_phone", value);
    let keep = country_code_span(value);
    let mut out: String = value[..keep].to_string();
    for c in value[keep..].chars() {
        if c.is_ascii_digit() {
            out.push(char::from(b'0' + rng.random_range(0..10u8)));
        } else {
            out.push(c);
        }
    }
    if unique {
        let d = pseudonym::digest(key, "fake_phone/suffix", value);
        let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % 1_000_000_000_000;
        let ext = format!(" x{n:012}");
        let room = max_len.map(|m| m - ext.len() as i32);
        return format!("{}{ext}", pseudonym::fit(out, room));
    }
    pseudonym::fit(out, max_len)
}

#[pg_extern(immutable, parallel_safe)]
fn _erase_fake_phone(
    value: Option<&str>,
    key: &[u8],
    is_unique: bool,
    max_len: Option<i32>,
) -> Option<String> {
    value.map(|v| fake_phone(v, key, is_unique, max_len))
}

/// `gdpr.fake_phone(value)` with the database key. Not executable by PUBLIC.
#[pg_extern(name = "fake_phone", stable, strict, parallel_restricted)]
fn fake_phone_with_database_key(value: &str) -> String {
    fake_phone(value, &crate::key::database_key_or_report(), false, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_format_and_country_code() {
        let p = fake_phone("+420 601 234 567", b"k", false, None);
        assert!(p.starts_with("+420 "), "{p}");
        assert_eq!(p.len(), "+420 601 234 567".len());
        assert_ne!(p, "+420 601 234 567");
        assert_eq!(p, fake_phone("+420 601 234 567", b"k", false, None));
        let local = fake_phone("601-234-567", b"k", false, None);
        assert_eq!(local.chars().filter(|c| *c == '-').count(), 2);
    }

    #[test]
    fn unique_gets_extension() {
        assert!(fake_phone("+48 601 234 567", b"k", true, None).contains(" x"));
        assert_eq!(fake_phone("", b"k", false, None), "");
    }
}
