//! `null`: the value is removed.

use super::{ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, Result};

pub struct Null;

impl Strategy for Null {
    fn name(&self) -> &'static str {
        "null"
    }
    fn validate(&self, table: &str, col: &Column, _options: &Options) -> Result<()> {
        if col.not_null {
            return Err(GdprError::NullValue(format!(
                "strategy \"null\" cannot be used on {table}.{}: the column is NOT NULL",
                col.name
            )));
        }
        Ok(())
    }
    fn erase_expr(
        &self,
        _col: &Column,
        _options: &Options,
        _sql: &mut ExprParams,
    ) -> Option<String> {
        Some("NULL".to_string())
    }
}
