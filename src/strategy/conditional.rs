//! Per-row policies: a policy may apply only to rows whose discriminator column (of the same row) holds one
//! of a fixed list of values, with another strategy (or none: the value is kept) for the other rows:
//!
//! ```json
//! {"when": {"column": "author_kind", "in": ["guest"]}, "else": "scrub"}
//! {"when": {"column": "author_kind", "equals": "guest"}, "else": {"strategy": "mask", "options": {"keep_last": 2}}}
//! ```
//!
//! A guest's own message is the person's words; an operator's is the business's. Only equality with literals of
//! the column's type — no SQL is taken from the declaration. Rows whose column is NULL or not in the list get
//! the `else` strategy.

use pgrx::prelude::*;
use serde_json::Value;

use super::Options;
use crate::catalog::introspect::{self, Column, Table};
use crate::error::{GdprError, Result};

/// The option keys of a per-row policy (accepted next to the strategy's own).
pub const WHEN: &str = "when";
pub const ELSE: &str = "else";

/// A policy's row condition and what the other rows get.
#[derive(Debug)]
pub struct RowRule {
    pub column: Column,
    /// The values (as PostgreSQL input text) that select the rows the policy's own strategy applies to.
    pub values: Vec<String>,
    /// The strategy and options for the other rows; `None`: their value is kept.
    pub otherwise: Option<(String, Options)>,
}

/// Whether `split` casts each `when` value to its column's type: when a policy is declared or re-checked, as
/// the table's owner (the cast runs the type's input code — a domain's CHECK — which is the owner's); never when
/// statements are built, which happens as the caller.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Values {
    Check,
    Trust,
}

/// The strategy's own options (without `when` / `else`) and the row rule, if the policy has one. The rule is
/// checked against `table`: the column exists and is not `col` itself, every value is valid input for its
/// type (with `Values::Check`), `else` names a strategy (its fit to the column is checked by the caller).
pub fn split(
    table: &Table,
    col: &Column,
    options: &Options,
    values_check: Values,
) -> Result<(Options, Option<RowRule>)> {
    let mut own = options.clone();
    let when = own.remove(WHEN);
    let otherwise = own.remove(ELSE);
    let Some(when) = when else {
        if otherwise.is_some() {
            return Err(invalid(table, col, "option \"else\" needs option \"when\""));
        }
        return Ok((own, None));
    };
    let Value::Object(when) = when else {
        return Err(invalid(
            table,
            col,
            "option \"when\" must be an object such as {\"column\": \"author_kind\", \"in\": [\"guest\"]}",
        ));
    };
    if let Some(k) = when
        .keys()
        .find(|k| !matches!(k.as_str(), "column" | "in" | "equals"))
    {
        return Err(invalid(
            table,
            col,
            &format!("\"when\" does not take \"{k}\" (accepted: column, in, equals)"),
        ));
    }
    let name = when.get("column").and_then(Value::as_str).ok_or_else(|| {
        invalid(
            table,
            col,
            "\"when\" needs \"column\": the name of a column",
        )
    })?;
    let column = introspect::column(table, name)?;
    if column.name == col.name {
        return Err(invalid(
            table,
            col,
            "\"when\" must test another column of the row",
        ));
    }
    let literals: Vec<&Value> = match (when.get("in"), when.get("equals")) {
        (Some(Value::Array(values)), None) if !values.is_empty() => values.iter().collect(),
        (None, Some(value)) => vec![value],
        _ => return Err(invalid(
            table,
            col,
            "\"when\" needs either \"in\": a non-empty list of values, or \"equals\": one value",
        )),
    };
    let mut values = Vec::with_capacity(literals.len());
    for literal in literals {
        let text = match literal {
            Value::String(s) => s.clone(),
            v @ (Value::Number(_) | Value::Bool(_)) => v.to_string(),
            other => {
                return Err(invalid(
                    table,
                    col,
                    &format!("\"when\" values must be strings, numbers or booleans, got {other}"),
                ))
            }
        };
        let valid = values_check == Values::Trust
            || Spi::get_one_with_args::<bool>(
                "SELECT gdpr._is_valid_input($1, $2::regtype)",
                &[text.clone().into(), column.compare_type.clone().into()],
            )?
            .unwrap_or(false);
        if !valid {
            return Err(GdprError::DatatypeMismatch(format!(
                "policy on {}.{}: \"when\" value \"{text}\" is not a valid {} for column {}",
                table.display, col.name, column.type_display, column.name
            )));
        }
        values.push(text);
    }
    let otherwise = match otherwise {
        None => None,
        Some(Value::String(strategy)) => Some((strategy, Options::new())),
        Some(Value::Object(mut spec)) => {
            let strategy = spec
                .remove("strategy")
                .and_then(|s| s.as_str().map(str::to_string));
            let options = match spec.remove("options") {
                None => Options::new(),
                Some(Value::Object(o)) => o,
                Some(_) => {
                    return Err(invalid(
                        table,
                        col,
                        "\"else\".\"options\" must be an object",
                    ))
                }
            };
            match (strategy, spec.keys().next()) {
                (Some(s), None) => Some((s, options)),
                _ => return Err(invalid(
                    table,
                    col,
                    "\"else\" must be a strategy name or {\"strategy\": name, \"options\": {...}}",
                )),
            }
        }
        Some(_) => {
            return Err(invalid(
                table,
                col,
                "\"else\" must be a strategy name or {\"strategy\": name, \"options\": {...}}",
            ))
        }
    };
    if let Some((_, o)) = &otherwise {
        if o.contains_key(WHEN) || o.contains_key(ELSE) {
            return Err(invalid(
                table,
                col,
                "\"else\" cannot have a condition of its own",
            ));
        }
    }
    Ok((
        own,
        Some(RowRule {
            column,
            values,
            otherwise,
        }),
    ))
}

/// The `else` strategy of `options`, without validating anything (for categories and identifier kinds).
pub fn else_strategy(options: &Options) -> Option<&str> {
    match options.get(ELSE)? {
        Value::String(s) => Some(s),
        Value::Object(spec) => spec.get("strategy")?.as_str(),
        _ => None,
    }
}

fn invalid(table: &Table, col: &Column, message: &str) -> GdprError {
    GdprError::InvalidParameter(format!(
        "policy on {}.{}: {message}",
        table.display, col.name
    ))
}
