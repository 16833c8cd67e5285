//! Trace columns (`gdpr.declare_traces`): columns that may hold a person's identifiers with no key tying the
//! row to them — a call log keyed by the caller's number, webhook payloads, anonymous chats. `gdpr.locate`
//! searches them in full; an erasure with `traces => true` scrubs or deletes what it finds there.

use pgrx::prelude::*;
use pgrx::PgRelation;

use super::declare::{column_list, owned_table, store};
use super::introspect::{self, Column, Table};
use crate::error::{required, GdprError, OrReport, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceAction {
    /// Replace the subject's identifiers in the located columns (text columns only).
    Scrub,
    /// Delete the located rows.
    Delete,
}

impl TraceAction {
    pub fn as_str(self) -> &'static str {
        match self {
            TraceAction::Scrub => "scrub",
            TraceAction::Delete => "delete",
        }
    }
}

/// A declared trace table as it is now.
#[derive(Debug)]
pub struct TraceTable {
    pub table: Table,
    pub columns: Vec<Column>,
    pub action: TraceAction,
    /// Primary key columns (empty: rows are addressed by ctid, locked before they change).
    pub key: Vec<Column>,
    /// Per column: its collation is nondeterministic (regular expressions refuse it; searched in "C").
    pub nondeterministic: Vec<bool>,
}

pub fn is_json(col: &Column) -> bool {
    col.type_sql == "json" || col.type_sql == "jsonb"
}

fn validate(table: &Table, columns: &[Column], action: TraceAction) -> Result<()> {
    for col in columns {
        let text = col.category == "S";
        if !text && !is_json(col) {
            return Err(GdprError::DatatypeMismatch(format!(
                "trace column {}.{} is {}: traces are looked for in text and json columns",
                table.display, col.name, col.type_display
            )));
        }
        if action == TraceAction::Scrub && !text {
            return Err(GdprError::DatatypeMismatch(format!(
                "trace column {}.{} is {}: action scrub rewrites text columns only (declare action => 'delete')",
                table.display, col.name, col.type_display
            )));
        }
        if col.in_primary_key {
            return Err(GdprError::InvalidParameter(format!(
                "{}.{} is part of the primary key; a scrubbed trace must stay identifiable",
                table.display, col.name
            )));
        }
    }
    Ok(())
}

fn action(value: &str, table: &Table) -> Result<TraceAction> {
    match value {
        "scrub" => Ok(TraceAction::Scrub),
        "delete" => Ok(TraceAction::Delete),
        other => Err(GdprError::InvalidParameter(format!(
            "trace action \"{other}\" for {} is not one of: scrub, delete",
            table.display
        ))),
    }
}

fn declare_traces_impl(
    tbl: Option<PgRelation>,
    cols: Option<Vec<Option<String>>>,
    action_name: Option<&str>,
) -> Result<()> {
    let table = owned_table(tbl, "declare_traces", "tbl")?;
    let columns = column_list(&table, cols, "declare_traces", "cols")?;
    let action = action(required(action_name, "declare_traces", "action")?, &table)?;
    validate(&table, &columns, action)?;
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    store(
        "INSERT INTO gdpr.trace (tbl, cols, action) VALUES ($1::regclass, $2::name[], $3)
         ON CONFLICT (tbl) DO UPDATE SET cols = EXCLUDED.cols, action = EXCLUDED.action, declared_at = now()",
        vec![table.oid.into(), names.into(), action.as_str().into()],
    )
}

fn undeclare_traces_impl(tbl: Option<PgRelation>) -> Result<()> {
    let table = owned_table(tbl, "undeclare_traces", "tbl")?;
    store(
        "DELETE FROM gdpr.trace WHERE tbl = $1::regclass",
        vec![table.oid.into()],
    )
}

/// Every declared trace table, validated against the catalog as it is now: a column that changed type is an
/// error naming it, never a silently narrower search.
pub fn load() -> Result<Vec<TraceTable>> {
    let rows = Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT tbl::oid, cols::text[], action FROM gdpr.trace ORDER BY tbl::regclass::text",
            None,
            &[],
        )? {
            out.push((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<Vec<String>>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
            ));
        }
        Ok::<_, GdprError>(out)
    })?;
    let mut out = Vec::new();
    for (oid, cols, action_name) in rows {
        let table = introspect::table(oid)?;
        let columns = introspect::columns(&table, &cols)?;
        let action = action(&action_name, &table)?;
        validate(&table, &columns, action).map_err(|e| {
            e.in_context("a trace declaration no longer fits its table (declare it again with gdpr.declare_traces)")
        })?;
        let key = introspect::primary_key(&table)?;
        // One catalog read per table: which of the columns have a nondeterministic collation.
        let attnums: Vec<i16> = columns.iter().map(|c| c.attnum).collect();
        let nondeterministic_attnums = Spi::get_one_with_args::<Vec<i16>>(
            "SELECT ARRAY(SELECT a.attnum FROM pg_catalog.pg_attribute a
                            JOIN pg_catalog.pg_collation k ON k.oid = a.attcollation
                           WHERE a.attrelid = $1 AND a.attnum = ANY ($2) AND NOT k.collisdeterministic)",
            &[table.oid.into(), attnums.into()],
        )?
        .unwrap_or_default();
        let nondeterministic = columns
            .iter()
            .map(|c| nondeterministic_attnums.contains(&c.attnum))
            .collect();
        out.push(TraceTable {
            table,
            columns,
            action,
            key,
            nondeterministic,
        });
    }
    Ok(out)
}

/// Declares columns that may hold a person's identifiers with no key tying them to the person.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_traces(
    tbl: Option<PgRelation>,
    cols: Option<Vec<Option<String>>>,
    action: default!(Option<&str>, "'scrub'"),
) {
    declare_traces_impl(tbl, cols, action).or_report()
}

/// Removes a table's trace declaration.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn undeclare_traces(tbl: Option<PgRelation>) {
    undeclare_traces_impl(tbl).or_report()
}
