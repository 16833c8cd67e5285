//! `fake_email`: a realistic address at a reserved example domain (RFC 2606), derived from the keyed digest.
//! Always ends its local part with a 16-hex-digit keyed suffix: e-mails are join keys and usually UNIQUE, and
//! the same input must give the same pseudonym in every column, unique or not.

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
            "gdpr._erase_fake_email({}, {}, {})",
            col.sql_name,
            sql.key(),
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

pub fn fake_email(value: &str, key: &[u8], max_len: Option<i32>) -> String {
    // One keyed digest seeds the names and gives the unique suffix.
    let seed = pseudonym::digest(key, "fake_email", value);
    let mut rng = <pseudonym::FakeRng as rand::SeedableRng>::from_seed(seed);
    let first: String = FirstName().fake_with_rng(&mut rng);
    let last: String = LastName().fake_with_rng(&mut rng);
    let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
    let local = format!("{}.{}", ascii_word(&first), ascii_word(&last));
    let suffix = pseudonym::hex(&seed[..8]);
    let email = format!("{local}.{suffix}@{domain}");
    match max_len {
        Some(n) if email.chars().count() > n as usize => {
            pseudonym::fit(format!("{suffix}@{domain}"), max_len)
        }
        _ => email,
    }
}

#[pg_extern(immutable, parallel_safe)]
fn _erase_fake_email(value: Option<&str>, key: &[u8], max_len: Option<i32>) -> Option<String> {
    value.map(|v| fake_email(v, key, max_len))
}

/// `gdpr.fake_email(value)` with the database key: deterministic, so joins on pseudonymized copies survive.
/// Not executable by PUBLIC: it would be an oracle for other tables' pseudonyms.
#[pg_extern(name = "fake_email", stable, strict, parallel_restricted)]
fn fake_email_with_database_key(value: &str) -> String {
    fake_email(value, &crate::key::database_key_or_report(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_realistic_and_reserved() {
        let a = fake_email("jan@novak.cz", b"k", None);
        assert_eq!(a, fake_email("jan@novak.cz", b"k", None));
        let domain = a.split('@').nth(1).unwrap();
        assert!(domain.starts_with("example."), "{a}");
        assert_ne!(a, fake_email("jan@novak.cz", b"other key", None));
    }

    #[test]
    fn keyed_suffix_and_short_columns_fit() {
        let local = fake_email("jan@novak.cz", b"k", None)
            .split('@')
            .next()
            .unwrap()
            .to_string();
        assert_eq!(local.rsplit('.').next().unwrap().len(), 16);
        let short = fake_email("jan@novak.cz", b"k", Some(28));
        assert!(short.chars().count() <= 28, "{short}");
        assert!(short.contains('@'), "{short}");
    }

    #[test]
    fn no_collisions_on_many_distinct_inputs() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000 {
            assert!(seen.insert(fake_email(&format!("user{i}@example.cz"), b"k", None)));
        }
    }
}
