//! `mask`: keep `keep_first` leading and `keep_last` trailing characters, star the rest (length kept).
//! E-mail aware: in `local@domain` only the local part is masked (`j********@example.cz`).

use pgrx::prelude::*;

use super::{int_option, refuse_unique, require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::Result;

pub struct Mask;

const DEFAULT_FIRST: i64 = 1;
const DEFAULT_LAST: i64 = 0;

impl Strategy for Mask {
    fn name(&self) -> &'static str {
        "mask"
    }
    fn option_keys(&self) -> &'static [&'static str] {
        &["keep_first", "keep_last"]
    }
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()> {
        require_text("mask", table, col)?;
        refuse_unique("mask", table, col)?;
        int_option("mask", options, "keep_first", DEFAULT_FIRST)?;
        int_option("mask", options, "keep_last", DEFAULT_LAST)?;
        Ok(())
    }
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String> {
        let first = int_option("mask", options, "keep_first", DEFAULT_FIRST).ok()?;
        let last = int_option("mask", options, "keep_last", DEFAULT_LAST).ok()?;
        Some(format!(
            "gdpr.mask({}, CAST({} AS int4), CAST({} AS int4))",
            col.sql_name,
            sql.text(first.to_string()),
            sql.text(last.to_string())
        ))
    }
}

fn star(part: &str, keep_first: usize, keep_last: usize) -> String {
    let n = part.chars().count();
    if keep_first + keep_last >= n {
        // Nothing would be hidden: hide everything rather than reveal the whole value.
        return "*".repeat(n);
    }
    part.chars()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_first || i >= n - keep_last {
                c
            } else {
                '*'
            }
        })
        .collect()
}

pub fn mask(value: &str, keep_first: usize, keep_last: usize) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            format!("{}@{domain}", star(local, keep_first, keep_last))
        }
        _ => star(value, keep_first, keep_last),
    }
}

/// `gdpr.mask(value, keep_first, keep_last)`: usable on its own; keyless, so open to every role.
#[pg_extern(name = "mask", immutable, parallel_safe, strict)]
fn mask_text(value: &str, keep_first: i32, keep_last: i32) -> String {
    mask(value, keep_first.max(0) as usize, keep_last.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_email() {
        assert_eq!(mask("4111111111111111", 4, 4), "4111********1111");
        assert_eq!(mask("jan.novak@example.cz", 1, 0), "j********@example.cz");
        assert_eq!(mask("Žluťoučký", 1, 1), "Ž*******ý");
        assert_eq!(mask("ab", 1, 1), "**");
        assert_eq!(mask("", 1, 0), "");
    }
}
