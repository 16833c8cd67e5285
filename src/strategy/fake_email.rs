//! `fake_email`: a realistic address at a reserved example domain (RFC 2606), derived from the keyed digest.
//! On UNIQUE columns a 16-hex-digit keyed suffix keeps distinct inputs distinct.

use fake::faker::name::en::{FirstName, LastName};
use fake::Fake;
use pgrx::prelude::*;
use rand::Rng;

use super::{max_len_arg, pseudonym, require_min_len, require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::Result;

pub struct FakeEmail;

/// `<16 hex>@example.com` is the shortest form that stays unique.
const MIN_LEN: i32 = 28;
const DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];

impl Strategy for FakeEmail {
    fn name(&self) -> &'static str {
        "fake_email"
    }
    fn validate(&self, table: &str, col: &Column, _options: &Options) -> Result<()> {
        require_text("fake_email", table, col)?;
        require_min_len("fake_email", table, col, MIN_LEN)
    }
    fn erase_expr(&self, col: &Column, _options: &Options, sql: &mut ExprParams) -> Option<String> {
        Some(format!(
            "gdpr._erase_fake_email({}, {}, {}, {})",
            col.sql_name,
            sql.key(),
            col.unique,
            max_len_arg(col)
        ))
    }
}

fn ascii_word(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub fn fake_email(value: &str, key: &[u8], unique: bool, max_len: Option<i32>) -> String {
    let mut rng = pseudonym::rng(key, "fake_email", value);
    let first: String = FirstName().fake_with_rng(&mut rng);
    let last: String = LastName().fake_with_rng(&mut rng);
    let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
    let local = format!("{}.{}", ascii_word(&first), ascii_word(&last));
    let email = if unique {
        format!(
            "{local}.{}@{domain}",
            pseudonym::unique_suffix(key, "fake_email", value)
        )
    } else {
        format!("{local}@{domain}")
    };
    match max_len {
        Some(n) if email.chars().count() > n as usize => {
            let short = format!(
                "{}@{domain}",
                pseudonym::unique_suffix(key, "fake_email", value)
            );
            pseudonym::fit(short, max_len)
        }
        _ => email,
    }
}

#[pg_extern(immutable, parallel_safe)]
fn _erase_fake_email(
    value: Option<&str>,
    key: &[u8],
    is_unique: bool,
    max_len: Option<i32>,
) -> Option<String> {
    value.map(|v| fake_email(v, key, is_unique, max_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_realistic_and_reserved() {
        let a = fake_email("jan@novak.cz", b"k", false, None);
        assert_eq!(a, fake_email("jan@novak.cz", b"k", false, None));
        assert!(a.contains('@') && a.split('@').nth(1).unwrap().starts_with("example."));
        assert_ne!(a, fake_email("jan@novak.cz", b"other key", false, None));
    }

    #[test]
    fn unique_columns_get_a_suffix_and_short_columns_fit() {
        let u = fake_email("jan@novak.cz", b"k", true, None);
        assert_eq!(
            u.split('@')
                .next()
                .unwrap()
                .rsplit('.')
                .next()
                .unwrap()
                .len(),
            16
        );
        let short = fake_email("jan@novak.cz", b"k", true, Some(28));
        assert!(short.chars().count() <= 28, "{short}");
    }
}
