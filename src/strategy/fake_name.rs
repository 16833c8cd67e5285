//! `fake_name`: "First Last" from fake-rs, derived from the keyed digest; UNIQUE columns get a keyed suffix.

use fake::faker::name::en::{FirstName, LastName};
use fake::Fake;
use pgrx::prelude::*;

use super::{max_len_arg, pseudonym, require_min_len, require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::Result;

pub struct FakeName;

impl Strategy for FakeName {
    fn name(&self) -> &'static str {
        "fake_name"
    }
    fn validate(&self, table: &str, col: &Column, _options: &Options) -> Result<()> {
        require_text("fake_name", table, col)?;
        if col.unique {
            require_min_len("fake_name", table, col, 32)?;
        }
        Ok(())
    }
    fn erase_expr(&self, col: &Column, _options: &Options, sql: &mut ExprParams) -> Option<String> {
        Some(format!(
            "gdpr._erase_fake_name({}, {}, {}, {})",
            col.sql_name,
            sql.key(),
            col.unique,
            max_len_arg(col)
        ))
    }
}

pub fn fake_name(value: &str, key: &[u8], unique: bool, max_len: Option<i32>) -> String {
    let mut rng = pseudonym::rng(key, "fake_name", value);
    let first: String = FirstName().fake_with_rng(&mut rng);
    let last: String = LastName().fake_with_rng(&mut rng);
    let suffix = if unique {
        format!(" {}", pseudonym::unique_suffix(key, "fake_name", value))
    } else {
        String::new()
    };
    // Cut the name, never the suffix that keeps it unique.
    let room = max_len.map(|n| n - suffix.chars().count() as i32);
    format!(
        "{}{suffix}",
        pseudonym::fit(format!("{first} {last}"), room)
    )
}

#[pg_extern(immutable, parallel_safe)]
fn _erase_fake_name(
    value: Option<&str>,
    key: &[u8],
    is_unique: bool,
    max_len: Option<i32>,
) -> Option<String> {
    value.map(|v| fake_name(v, key, is_unique, max_len))
}

/// `gdpr.fake_name(value)` with the database key. Not executable by PUBLIC.
#[pg_extern(name = "fake_name", stable, strict, parallel_restricted)]
fn fake_name_with_database_key(value: &str) -> String {
    fake_name(value, &crate::key::database_key_or_report(), false, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_words_deterministic() {
        let n = fake_name("Příliš Žluťoučký", b"k", false, None);
        assert_eq!(n, fake_name("Příliš Žluťoučký", b"k", false, None));
        assert!(n.split(' ').count() >= 2, "{n}");
        assert!(fake_name("x", b"k", true, Some(32)).chars().count() <= 32);
    }
}
