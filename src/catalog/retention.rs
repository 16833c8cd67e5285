//! Retention periods (`gdpr.declare_retention`): how long a table's rows are kept. A subject table's expired
//! subjects are erased whole; other tables' expired rows are deleted or anonymized with everything tied to them.
//! `gdpr.enforce_retention` (src/retention) carries them out.

use pgrx::datum::Interval;
use pgrx::prelude::*;
use pgrx::PgRelation;

use super::declare::{self, owned_table};
use super::introspect::{self, Column, Table};
use crate::error::{required, GdprError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionAction {
    /// Erase the expired subjects of a subject table, whole, by their kind's plan.
    Erase,
    /// Delete the expired rows (and everything tied to them, per its tables' actions).
    Delete,
    /// Anonymize the expired rows by the table's policies (everything tied to them per their tables' actions).
    Anonymize,
}

impl RetentionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionAction::Erase => "erase",
            RetentionAction::Delete => "delete",
            RetentionAction::Anonymize => "anonymize",
        }
    }
}

/// A declared retention period, as the catalog is now.
#[derive(Debug)]
pub struct Retention {
    pub table: Table,
    pub time_col: Column,
    /// The period as `interval` text.
    pub keep: String,
    pub action: RetentionAction,
    /// The subject kind whose table this is (action `erase`).
    pub kind: Option<String>,
    /// Primary key columns; empty for a table without one (expired rows are then deleted by ctid).
    pub key: Vec<Column>,
}

const TIME_TYPES: [&str; 3] = [
    "timestamp with time zone",
    "timestamp without time zone",
    "date",
];

fn subject_kind_of(table: &Table) -> Result<Option<String>> {
    Ok(Spi::get_one_with_args::<String>(
        "SELECT (SELECT kind FROM gdpr.subject WHERE tbl = $1::regclass ORDER BY kind LIMIT 1)",
        &[table.oid.into()],
    )?)
}

fn action_for(table: &Table, kind: Option<&str>, given: Option<&str>) -> Result<RetentionAction> {
    match (kind, given) {
        (Some(_), None | Some("erase")) => Ok(RetentionAction::Erase),
        (Some(kind), Some(other)) => Err(GdprError::InvalidParameter(format!(
            "{} is the table of subject kind \"{kind}\": its expired subjects are erased whole (action erase), \
             not \"{other}\"",
            table.display
        ))),
        (None, None | Some("delete")) => Ok(RetentionAction::Delete),
        (None, Some("anonymize")) => Ok(RetentionAction::Anonymize),
        (None, Some("erase")) => Err(GdprError::InvalidParameter(format!(
            "{} is no subject's table: action erase needs one (gdpr.declare_subject); use delete or anonymize",
            table.display
        ))),
        (None, Some(other)) => Err(GdprError::InvalidParameter(format!(
            "retention action \"{other}\" for {} is not one of: erase, delete, anonymize",
            table.display
        ))),
    }
}

/// Checks that the declaration still fits the table (also when a run loads it).
fn validate(table: &Table, time_col: &Column, action: RetentionAction) -> Result<Vec<Column>> {
    if !TIME_TYPES.contains(&time_col.compare_type.as_str()) {
        return Err(GdprError::DatatypeMismatch(format!(
            "retention column {}.{} is {}: it must be a timestamp, timestamptz or date",
            table.display, time_col.name, time_col.type_display
        )));
    }
    let key = introspect::primary_key(table)?;
    if key.is_empty() && action != RetentionAction::Delete {
        return Err(GdprError::InvalidDefinition(format!(
            "{} has no primary key: anonymized rows stay old, and retention remembers them by their key \
             (add a primary key, or use action delete)",
            table.display
        )));
    }
    if action == RetentionAction::Anonymize {
        let policies = crate::catalog::policies()?;
        let changes = policies
            .get(&table.oid)
            .is_some_and(|ps| ps.iter().any(|(_, strategy, _)| strategy != "keep"));
        if !changes {
            return Err(GdprError::InvalidDefinition(format!(
                "{} has no PII policy that changes a column: anonymizing its expired rows would change nothing \
                 (gdpr.declare_pii first, or action delete)",
                table.display
            )));
        }
    }
    Ok(key)
}

/// Validates a declaration (the caller must own the table); `store` records it.
pub fn declaration(
    tbl: Option<PgRelation>,
    time_col: Option<&str>,
    keep: Option<Interval>,
    action: Option<&str>,
) -> Result<(Retention, Interval)> {
    let table = owned_table(tbl, "declare_retention", "tbl")?;
    let time_col =
        introspect::column(&table, required(time_col, "declare_retention", "time_col")?)?;
    let keep = required(keep, "declare_retention", "keep")?;
    let positive =
        Spi::get_one_with_args::<bool>("SELECT $1::interval > interval '0'", &[keep.into()])?
            .unwrap_or(false);
    if !positive {
        return Err(GdprError::InvalidParameter(format!(
            "the retention period of {} must be longer than zero",
            table.display
        )));
    }
    let kind = subject_kind_of(&table)?;
    let action = action_for(&table, kind.as_deref(), action)?;
    let key = validate(&table, &time_col, action)?;
    Ok((
        Retention {
            table,
            time_col,
            keep: String::new(),
            action,
            kind,
            key,
        },
        keep,
    ))
}

pub fn store(retention: &Retention, keep: Interval) -> Result<()> {
    let (table, time_col, action) = (&retention.table, &retention.time_col, retention.action);
    declare::store(
        "INSERT INTO gdpr.retention (tbl, time_col, keep, action, declared_by)
         VALUES ($1::regclass, $2, $3, $4, current_user)
         ON CONFLICT (tbl) DO UPDATE SET time_col = EXCLUDED.time_col, keep = EXCLUDED.keep,
             action = EXCLUDED.action, declared_by = EXCLUDED.declared_by, declared_at = now()",
        vec![
            table.oid.into(),
            time_col.name.as_str().into(),
            keep.into(),
            action.as_str().into(),
        ],
    )
}

pub fn undeclare(tbl: Option<PgRelation>) -> Result<()> {
    let table = owned_table(tbl, "undeclare_retention", "tbl")?;
    declare::store(
        "DELETE FROM gdpr.retention WHERE tbl = $1::regclass",
        vec![table.oid.into()],
    )
}

/// A retention declaration as stored, checked against the catalog as it is now.
pub struct Declared {
    pub oid: pg_sys::Oid,
    /// The table's name (its oid if the table is gone).
    pub name: String,
    /// The period, or why the declaration no longer fits its table.
    pub retention: Result<Retention>,
}

/// Every declared retention period, in table-name order, each validated on its own: a declaration that no
/// longer fits is an error naming it (for that table only), never a silently skipped table.
pub fn load() -> Result<Vec<Declared>> {
    let rows = Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT tbl::oid, tbl::regclass::text, time_col::text, keep::text, action FROM gdpr.retention
              ORDER BY tbl::regclass::text, tbl::oid",
            None,
            &[],
        )? {
            out.push((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                r.get::<String>(4)?.unwrap_or_default(),
                r.get::<String>(5)?.unwrap_or_default(),
            ));
        }
        Ok::<_, GdprError>(out)
    })?;
    Ok(rows
        .into_iter()
        .map(|(oid, name, time_col, keep, action)| Declared {
            oid,
            name,
            retention: checked(oid, &time_col, keep, &action).map_err(|e| {
                e.in_context(
                    "a retention declaration no longer fits its table (declare it again with gdpr.declare_retention)",
                )
            }),
        })
        .collect())
}

fn checked(oid: pg_sys::Oid, time_col: &str, keep: String, action: &str) -> Result<Retention> {
    let table = introspect::table(oid)?;
    let time_col = introspect::column(&table, time_col)?;
    let kind = subject_kind_of(&table)?;
    let action = action_for(&table, kind.as_deref(), Some(action))?;
    let key = validate(&table, &time_col, action)?;
    Ok(Retention {
        table,
        time_col,
        keep,
        action,
        kind,
        key,
    })
}
