//! `generalize`: keep the coarse value, drop the precise one.
//! * inet/cidr → its network: option `ipv4_prefix` (default 24), `ipv6_prefix` (default 48);
//! * timestamp, timestamptz, date → truncated: option `unit` (hour, day, week, month, quarter, year;
//!   default day, year for dates — a date truncated to the day would not change);
//! * integer and numeric types → the start of its bucket: option `bucket` (default 10; 37 → 30).
//!
//! The expressions use PostgreSQL's own functions through the wrappers in sql/api.sql.

use super::{int_option, refuse_unique, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, Result};

pub struct Generalize;

const UNITS: [&str; 6] = ["hour", "day", "week", "month", "quarter", "year"];

enum Shape {
    Network,
    Time { default_unit: &'static str },
    Number,
}

fn shape(table: &str, col: &Column) -> Result<Shape> {
    match (col.category.as_str(), col.type_sql.as_str()) {
        ("I", _) => Ok(Shape::Network),
        ("D", "date") => Ok(Shape::Time { default_unit: "year" }),
        ("D", t) if t.starts_with("timestamp") => Ok(Shape::Time { default_unit: "day" }),
        ("N", _) => Ok(Shape::Number),
        _ => Err(GdprError::DatatypeMismatch(format!(
            "strategy \"generalize\" needs an inet, date, timestamp or number column, but {table}.{} is {}",
            col.name, col.type_display
        ))),
    }
}

fn unit(options: &Options, default_unit: &'static str) -> Result<String> {
    match options.get("unit") {
        None => Ok(default_unit.to_string()),
        Some(serde_json::Value::String(u)) if UNITS.contains(&u.as_str()) => Ok(u.clone()),
        Some(other) => Err(GdprError::InvalidParameter(format!(
            "option \"unit\" of strategy \"generalize\" must be one of {}, got {other}",
            UNITS.join(", ")
        ))),
    }
}

fn prefix(options: &Options, key: &str, default: i64, max: i64) -> Result<i64> {
    let p = int_option("generalize", options, key, default)?;
    if p > max {
        return Err(GdprError::InvalidParameter(format!(
            "option \"{key}\" of strategy \"generalize\" must be at most {max}, got {p}"
        )));
    }
    Ok(p)
}

impl Strategy for Generalize {
    fn name(&self) -> &'static str {
        "generalize"
    }
    fn option_keys(&self) -> &'static [&'static str] {
        &["ipv4_prefix", "ipv6_prefix", "unit", "bucket"]
    }
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()> {
        refuse_unique("generalize", table, col)?;
        let wrong = |key: &str| {
            GdprError::InvalidParameter(format!(
                "option \"{key}\" of strategy \"generalize\" does not apply to {table}.{} ({})",
                col.name, col.type_display
            ))
        };
        match shape(table, col)? {
            Shape::Network => {
                if let Some(k) = ["unit", "bucket"]
                    .into_iter()
                    .find(|k| options.contains_key(*k))
                {
                    return Err(wrong(k));
                }
                prefix(options, "ipv4_prefix", 24, 32)?;
                prefix(options, "ipv6_prefix", 48, 128)?;
            }
            Shape::Time { default_unit } => {
                if let Some(k) = ["ipv4_prefix", "ipv6_prefix", "bucket"]
                    .into_iter()
                    .find(|k| options.contains_key(*k))
                {
                    return Err(wrong(k));
                }
                unit(options, default_unit)?;
            }
            Shape::Number => {
                if let Some(k) = ["ipv4_prefix", "ipv6_prefix", "unit"]
                    .into_iter()
                    .find(|k| options.contains_key(*k))
                {
                    return Err(wrong(k));
                }
                if int_option("generalize", options, "bucket", 10)? < 1 {
                    return Err(GdprError::InvalidParameter(
                        "option \"bucket\" of strategy \"generalize\" must be at least 1".into(),
                    ));
                }
            }
        }
        Ok(())
    }
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String> {
        let expr = match shape("", col).ok()? {
            Shape::Network => format!(
                "gdpr.generalize_ip({}, CAST({} AS int4), CAST({} AS int4))",
                col.sql_name,
                sql.text(prefix(options, "ipv4_prefix", 24, 32).ok()?.to_string()),
                sql.text(prefix(options, "ipv6_prefix", 48, 128).ok()?.to_string())
            ),
            Shape::Time { default_unit } => {
                format!(
                    "gdpr.generalize_time({}, {})",
                    col.sql_name,
                    sql.text(unit(options, default_unit).ok()?)
                )
            }
            Shape::Number => format!(
                "gdpr.generalize_number({}, CAST({} AS numeric))",
                col.sql_name,
                sql.text(
                    int_option("generalize", options, "bucket", 10)
                        .ok()?
                        .to_string()
                )
            ),
        };
        Some(format!("CAST({expr} AS {})", col.type_sql))
    }
}
