//! `keep`: the column was reviewed and is not personal data; erasures leave it as it is.

use super::{ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::Result;

pub struct Keep;

impl Strategy for Keep {
    fn name(&self) -> &'static str {
        "keep"
    }
    fn validate(&self, _table: &str, _col: &Column, _options: &Options) -> Result<()> {
        Ok(())
    }
    fn erase_expr(
        &self,
        _col: &Column,
        _options: &Options,
        _sql: &mut ExprParams,
    ) -> Option<String> {
        None
    }
}
