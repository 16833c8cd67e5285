//! `constant`: the value is replaced by a typed literal, e.g. `{"value": "erased"}`.

use pgrx::prelude::*;

use super::{refuse_unique, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, Result};

pub struct Constant;

impl Strategy for Constant {
    fn name(&self) -> &'static str {
        "constant"
    }
    fn option_keys(&self) -> &'static [&'static str] {
        &["value"]
    }
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()> {
        refuse_unique("constant", table, col)?;
        let value = literal(options).ok_or_else(|| {
            GdprError::InvalidParameter(format!(
                "strategy \"constant\" for {table}.{} needs option \"value\" (a string, number or boolean)",
                col.name
            ))
        })?;
        let valid = Spi::get_one_with_args::<bool>(
            "SELECT gdpr._is_valid_input($1, $2::regtype)",
            &[value.clone().into(), col.type_sql.clone().into()],
        )?
        .unwrap_or(false);
        let too_long = col
            .max_len
            .is_some_and(|n| value.trim_end().chars().count() > n as usize);
        if !valid || too_long {
            return Err(GdprError::DatatypeMismatch(format!(
                "constant \"{value}\" is not a valid {} for {table}.{}",
                col.type_display, col.name
            )));
        }
        Ok(())
    }
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String> {
        let value = literal(options)?;
        Some(format!("CAST({} AS {})", sql.text(value), col.type_sql))
    }
}

/// The constant as PostgreSQL input text.
fn literal(options: &Options) -> Option<String> {
    match options.get("value")? {
        serde_json::Value::String(s) => Some(s.clone()),
        v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}
