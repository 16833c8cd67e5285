//! `gdpr.locate` and the trace step of an erasure: the rows of declared trace columns (gdpr.declare_traces)
//! that contain any of a subject's identifiers — the identifiers `scrub` uses, found the way people and systems
//! write them (src/request/matcher.rs).

use std::collections::BTreeSet;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgOid;
use serde_json::{json, Map, Value};

use super::plan::TEXT;
use super::reach::{execute, fetch};
use crate::catalog::introspect::Column;
use crate::catalog::traces::{self, TraceAction, TraceTable};
use crate::error::{GdprError, Result};
use crate::privilege::{as_table_owner, require_privileges, Privilege};
use crate::strategy::trace_matcher::TraceMatcher;
use crate::strategy::SubjectIdentifiers;

/// Rows fetched per round trip while a trace table is searched, and how often progress is reported.
const BATCH: i64 = 1000;
const PROGRESS_EVERY: usize = 100_000;

/// A trace row that holds some of the subject's identifiers.
#[derive(Debug)]
pub struct Located {
    /// Index into the trace tables searched.
    pub trace: usize,
    /// Primary key values, or ctid and tableoid.
    pub identity: Vec<Option<String>>,
    /// The row's key for people: `{"id": 17}` or `{"ctid": "(0,3)"}`.
    pub row_key: Value,
    /// Columns in which identifiers were found.
    pub columns: Vec<String>,
    pub categories: BTreeSet<&'static str>,
}

/// What a search of the trace tables found.
pub struct Traces {
    pub tables: Vec<TraceTable>,
    pub located: Vec<Located>,
}

fn identity_list(t: &TraceTable) -> Vec<String> {
    if t.key.is_empty() {
        vec!["t.ctid::text".into(), "t.tableoid::oid::text".into()]
    } else {
        t.key
            .iter()
            .map(|c| format!("t.{}::text", c.sql_name))
            .collect()
    }
}

fn identity_width(t: &TraceTable) -> usize {
    t.key.len().max(2 * usize::from(t.key.is_empty()))
}

/// `t.k1 = CAST($1 AS type) AND ...` (or by ctid within one partition) for one row.
fn identity_predicate(t: &TraceTable) -> String {
    if t.key.is_empty() {
        return "t.ctid = CAST($1 AS tid) AND t.tableoid = CAST($2 AS oid)".into();
    }
    t.key
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "t.{} {} CAST(${} AS {})",
                c.sql_name,
                c.equals,
                i + 1,
                c.compare_type
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The statement reading a trace table and its arguments: every row, or only rows whose text columns pass the
/// prefilters — `gdpr.trace_fold(col) ~ $1` (plain literals: a trigram index on `gdpr.trace_fold(col)` serves
/// it) and `(col COLLATE "C") ~* $2` (tighter, checked on the rows the first lets through). Both are supersets
/// of what the matcher finds. A json column's serialized text escapes its strings (`\n` glues onto the next
/// word): a table with one is read in full. The "C" collation: a nondeterministic one refuses regular
/// expressions, and the patterns spell out both cases themselves.
fn scan_sql(t: &TraceTable, filters: &Filters) -> (String, Vec<String>) {
    let mut cols = identity_list(t);
    cols.extend(t.columns.iter().map(|c| format!("t.{}::text", c.sql_name)));
    let mut args = Vec::new();
    let mut filter = String::new();
    if !t.columns.iter().any(traces::is_json)
        && (filters.index.is_some() || filters.regex.is_some())
    {
        let index = filters.index.as_ref().map(|p| {
            args.push(p.clone());
            args.len()
        });
        let regex = filters.regex.as_ref().map(|p| {
            args.push(p.clone());
            args.len()
        });
        let conditions: Vec<String> = t
            .columns
            .iter()
            .zip(&t.nondeterministic)
            .map(|(c, nondeterministic)| {
                let mut parts = Vec::new();
                if let Some(n) = index {
                    // In the column's own collation, so that an index on gdpr.trace_fold(col) matches; a
                    // nondeterministic one (no regular expressions) in "C".
                    let collate = if *nondeterministic {
                        " COLLATE pg_catalog.\"C\""
                    } else {
                        ""
                    };
                    parts.push(format!(
                        "gdpr.trace_fold(t.{}::text{collate}) ~ ${n}",
                        c.sql_name
                    ));
                }
                if let Some(n) = regex {
                    parts.push(format!(
                        "(t.{}::text COLLATE pg_catalog.\"C\") ~* ${n}",
                        c.sql_name
                    ));
                }
                format!("({})", parts.join(" AND "))
            })
            .collect();
        filter = format!(" WHERE {}", conditions.join(" OR "));
    }
    (
        format!(
            "SELECT {} FROM {} AS t{filter}",
            cols.join(", "),
            t.table.sql_name
        ),
        args,
    )
}

/// The prefilters of one search (see `scan_sql`).
struct Filters {
    index: Option<String>,
    regex: Option<String>,
}

fn row_key(t: &TraceTable, identity: &[Option<String>]) -> Value {
    let mut key = Map::new();
    if t.key.is_empty() {
        key.insert("ctid".into(), json!(identity[0]));
    } else {
        for (c, v) in t.key.iter().zip(identity) {
            key.insert(c.name.clone(), json!(v));
        }
    }
    Value::Object(key)
}

/// The categories of the subject's identifiers in one column's value: in a json column, in its decoded strings
/// (keys and values), at any depth.
fn categories_in(matcher: &TraceMatcher, column: &Column, text: &str) -> Result<Vec<&'static str>> {
    if !traces::is_json(column) {
        return Ok(matcher.categories(text));
    }
    let mut found = BTreeSet::new();
    for (leaf, key) in crate::strategy::jsonb::string_leaves(text, None)? {
        found.extend(matcher.categories(&leaf));
        if let Some(key) = key {
            found.extend(matcher.categories(&key));
        }
    }
    Ok(found.into_iter().collect())
}

/// Searches one trace table in full (as its owner), in batches, reporting progress on large tables.
fn scan_table(
    client: &mut SpiClient<'_>,
    index: usize,
    t: &TraceTable,
    matcher: &TraceMatcher,
    filters: &Filters,
) -> Result<Vec<Located>> {
    let (sql, patterns) = scan_sql(t, filters);
    let width = identity_width(t);
    as_table_owner(&t.table, "searching traces in", || {
        let args: Vec<DatumWithOid<'_>> = patterns.iter().map(|p| p.as_str().into()).collect();
        let mut cursor = client.try_open_cursor(sql.as_str(), &args)?;
        let mut found = Vec::new();
        let mut scanned = 0usize;
        loop {
            let batch = cursor.fetch(BATCH)?;
            if batch.is_empty() {
                break;
            }
            for r in batch {
                check_for_interrupts!();
                scanned += 1;
                let mut columns = Vec::new();
                let mut categories = BTreeSet::new();
                for (i, c) in t.columns.iter().enumerate() {
                    if let Some(text) = r.get::<String>(width + i + 1)? {
                        let found_here = categories_in(matcher, c, &text)?;
                        if !found_here.is_empty() {
                            columns.push(c.name.clone());
                            categories.extend(found_here);
                        }
                    }
                }
                if !columns.is_empty() {
                    let identity: Vec<Option<String>> = (1..=width)
                        .map(|i| r.get::<String>(i))
                        .collect::<std::result::Result<_, _>>()?;
                    found.push(Located {
                        trace: index,
                        row_key: row_key(t, &identity),
                        identity,
                        columns,
                        categories,
                    });
                }
                if scanned.is_multiple_of(PROGRESS_EVERY) {
                    notice!(
                        "gdpr: searching traces in {}: {scanned} rows read, {} with the subject's identifiers",
                        t.table.display,
                        found.len()
                    );
                }
            }
        }
        Ok(found)
    })
}

/// Checks that the caller may read (and, when `changing`, change as declared) every trace table.
pub fn require_entitlement(tables: &[TraceTable], changing: bool, what: &str) -> Result<()> {
    for t in tables {
        let mut needed = vec![Privilege::Select];
        if changing {
            needed.push(match t.action {
                TraceAction::Scrub => Privilege::Update,
                TraceAction::Delete => Privilege::Delete,
            });
        }
        require_privileges(&t.table, &needed, what)?;
    }
    Ok(())
}

/// The trace rows holding any of `ids`, in every declared trace table.
pub fn search(
    client: &mut SpiClient<'_>,
    tables: Vec<TraceTable>,
    ids: &SubjectIdentifiers,
) -> Result<Traces> {
    let matcher = TraceMatcher::new(ids, &crate::normalize::phone_country_code()?)?;
    let mut located = Vec::new();
    if !matcher.is_empty() {
        let filters = Filters {
            index: matcher.index_prefilter(),
            regex: matcher.prefilter(),
        };
        for (i, t) in tables.iter().enumerate() {
            located.extend(scan_table(client, i, t, &matcher, &filters)?);
        }
    }
    Ok(Traces { tables, located })
}

/// The declared trace tables (validated).
pub fn declared() -> Result<Vec<TraceTable>> {
    traces::load()
}

/// Applies each trace table's action to the rows found. Every row is first re-read under a row lock and matched
/// again, so a concurrent edit is neither overwritten (scrub works on the edited text) nor mistaken for a trace
/// (a row that no longer holds the identifiers is left alone). A row addressed by ctid (no primary key) that
/// moved meanwhile is a serialization failure: it cannot be told apart from a deleted one. Returns the report's
/// `traces` entries.
pub fn apply(
    client: &mut SpiClient<'_>,
    traces: &Traces,
    ids: &SubjectIdentifiers,
) -> Result<Vec<Value>> {
    let matcher = TraceMatcher::new(ids, &crate::normalize::phone_country_code()?)?;
    let mut report = Vec::new();
    for (index, t) in traces.tables.iter().enumerate() {
        let rows: Vec<&Located> = traces.located.iter().filter(|l| l.trace == index).collect();
        if rows.is_empty() {
            continue;
        }
        let predicate = identity_predicate(t);
        let width = identity_width(t);
        let types = vec![TEXT; width];
        let list: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("t.{}::text", c.sql_name))
            .collect();
        let lock = format!(
            "SELECT {} FROM {} AS t WHERE {predicate} FOR {} OF t",
            list.join(", "),
            t.table.sql_name,
            match t.action {
                TraceAction::Delete => "UPDATE",
                TraceAction::Scrub => "NO KEY UPDATE",
            }
        );
        let (change, change_types) = change_sql(t, &predicate, width, &types);
        let mut changed = 0usize;
        let mut columns: BTreeSet<String> = BTreeSet::new();
        for row in &rows {
            check_for_interrupts!();
            let key: Vec<DatumWithOid<'_>> =
                row.identity.iter().map(|v| v.clone().into()).collect();
            let current = fetch(client, &t.table, &lock, &types, &key)?;
            // Gone under its identity: deleted, or moved (a new key, a new ctid) with the identifiers perhaps
            // still in it. Either way the erasure cannot vouch for it: retry.
            let Some(values) = current.into_iter().next() else {
                return Err(GdprError::ObjectChanged(format!(
                    "a row of {} holding the subject's identifiers changed while being erased; retry the erasure",
                    t.table.display
                )));
            };
            let replaced: Vec<Option<String>> = values
                .iter()
                .map(|v| v.as_deref().and_then(|text| matcher.replace(text)))
                .collect();
            if replaced.iter().all(Option::is_none) {
                continue; // edited meanwhile: nothing of the subject's left
            }
            for (c, r) in t.columns.iter().zip(&replaced) {
                if r.is_some() {
                    columns.insert(c.name.clone());
                }
            }
            let mut args = key;
            if t.action == TraceAction::Scrub {
                args.extend(replaced.into_iter().map(DatumWithOid::from));
            }
            let doing = match t.action {
                TraceAction::Delete => "deleting traces from",
                TraceAction::Scrub => "scrubbing traces in",
            };
            changed += execute(client, &t.table, doing, &change, &change_types, &args)?;
        }
        report.push(json!({
            "table": t.table.display,
            "action": t.action.as_str(),
            "rows": changed,
            "columns": columns,
        }));
    }
    Ok(report)
}

/// The statement that applies a trace table's action to one row (by identity), with its parameter types:
/// `DELETE`, or `UPDATE` setting each column to its scrubbed text (NULL: unchanged).
fn change_sql(
    t: &TraceTable,
    predicate: &str,
    width: usize,
    types: &[PgOid],
) -> (String, Vec<PgOid>) {
    match t.action {
        TraceAction::Delete => (
            format!("DELETE FROM {} AS t WHERE {predicate}", t.table.sql_name),
            types.to_vec(),
        ),
        TraceAction::Scrub => {
            let set: Vec<String> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    format!(
                        "{0} = coalesce(CAST(${1} AS text), t.{0})",
                        c.sql_name,
                        width + i + 1
                    )
                })
                .collect();
            let mut update_types = types.to_vec();
            update_types.extend(t.columns.iter().map(|_| TEXT));
            (
                format!(
                    "UPDATE {} AS t SET {} WHERE {predicate}",
                    t.table.sql_name,
                    set.join(", ")
                ),
                update_types,
            )
        }
    }
}

/// The report entries of a dry run: what `apply` would change.
pub fn preview(traces: &Traces) -> Vec<Value> {
    traces
        .tables
        .iter()
        .enumerate()
        .filter_map(|(index, t)| {
            let rows: Vec<&Located> = traces.located.iter().filter(|l| l.trace == index).collect();
            if rows.is_empty() {
                return None;
            }
            let columns: BTreeSet<&str> = rows
                .iter()
                .flat_map(|r| r.columns.iter().map(String::as_str))
                .collect();
            Some(json!({
                "table": t.table.display,
                "action": t.action.as_str(),
                "rows": rows.len(),
                "columns": columns,
            }))
        })
        .collect()
}

/// Errors when no trace table is declared: `locate` would otherwise answer "nothing" about nothing.
pub fn require_declared(tables: &[TraceTable]) -> Result<()> {
    if tables.is_empty() {
        return Err(GdprError::UndefinedObject(
            "no trace columns are declared (see gdpr.declare_traces)".into(),
        ));
    }
    Ok(())
}
