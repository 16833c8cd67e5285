//! `hash`: keyed HMAC-SHA256 of the value, as hex (cut to the column's length, at least 16 digits).

use pgrx::prelude::*;

use super::{max_len_arg, pseudonym, require_min_len, require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::Result;

pub struct Hash;

/// 16 hex digits = 64 bits: the shortest cut that still keeps UNIQUE columns collision-free in practice.
const MIN_LEN: i32 = 16;

impl Strategy for Hash {
    fn name(&self) -> &'static str {
        "hash"
    }
    fn validate(&self, table: &str, col: &Column, _options: &Options) -> Result<()> {
        require_text("hash", table, col)?;
        require_min_len("hash", table, col, MIN_LEN)
    }
    fn erase_expr(&self, col: &Column, _options: &Options, sql: &mut ExprParams) -> Option<String> {
        Some(format!(
            "gdpr._erase_hash({}, {}, {})",
            col.sql_name,
            sql.key(),
            max_len_arg(col)
        ))
    }
}

pub fn keyed_hash(value: &str, key: &[u8], max_len: Option<i32>) -> String {
    pseudonym::fit(
        pseudonym::hex(&pseudonym::digest(key, "hash", value)),
        max_len,
    )
}

/// Runs no SQL and resolves no names, so it needs no pinned search_path (which would cost a GUC
/// save/restore on every row).
#[pg_extern(immutable, parallel_safe)]
fn _erase_hash(value: Option<&str>, key: &[u8], max_len: Option<i32>) -> Option<String> {
    value.map(|v| keyed_hash(v, key, max_len))
}

/// `gdpr.hash(value)`: hex HMAC-SHA256 with the database key. Not executable by PUBLIC (an oracle otherwise).
#[pg_extern(name = "hash", stable, strict, parallel_restricted)]
fn hash_with_database_key(value: &str) -> String {
    keyed_hash(value, &crate::key::database_key_or_report(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_hmac_cut_to_length() {
        let h = keyed_hash("jan@example.cz", b"key", None);
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(keyed_hash("jan@example.cz", b"key", Some(20)), h[..20]);
        assert_ne!(keyed_hash("jan@example.cz", b"other", None), h);
    }

    #[test]
    fn no_collisions_on_a_million_inputs_even_cut_to_16_digits() {
        let mut seen = std::collections::HashSet::with_capacity(1_000_000);
        for i in 0..1_000_000 {
            assert!(seen.insert(keyed_hash(&format!("user{i}@example.cz"), b"k", Some(16))));
        }
    }
}
