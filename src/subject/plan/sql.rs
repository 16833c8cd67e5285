//! The SQL of an erasure plan: how statements select, lock and compare rows, and the listing
//! `gdpr.erasure_statements` shows.

use pgrx::prelude::*;
use pgrx::PgOid;

use super::{Action, ErasurePlan, Identity, PlanEdge, PlanTable};
use crate::catalog::introspect::{self, Column, Table};
use crate::error::Result;
use crate::strategy::Param;

pub const TEXT_ARRAY: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::TEXTARRAYOID);
pub const TEXT: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::TEXTOID);
pub const BYTEA: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::BYTEAOID);
pub const INT8: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::INT8OID);

impl PlanTable {
    /// A `SELECT` of rows matching `predicate` in the layout of the fetched rows, with only what identifies
    /// them filled in (other fetched columns NULL), then the `extra` columns: the upward walk and searches need
    /// nothing else.
    pub fn select_identity(&self, predicate: &str, extra: &[String]) -> String {
        let identity: &[usize] = match &self.identity {
            Identity::Key(idx) => idx,
            Identity::Ctid => &[],
        };
        let mut cols = vec![
            "t.ctid::text".to_string(),
            "t.tableoid::oid::text".to_string(),
        ];
        cols.extend(self.fetched.iter().enumerate().map(|(i, c)| {
            if identity.contains(&i) {
                format!("t.{}::text", c.sql_name)
            } else {
                "NULL::text".to_string()
            }
        }));
        cols.extend(extra.iter().cloned());
        format!(
            "SELECT {} FROM {} AS t WHERE {predicate}",
            cols.join(", "),
            self.table.sql_name
        )
    }

    /// Parameter types of `delete_sql`: one `text[]` per key column, or `text[]` ctids and a `text` tableoid.
    pub fn identity_types(&self) -> Vec<PgOid> {
        match &self.identity {
            Identity::Key(idx) => vec![TEXT_ARRAY; idx.len()],
            Identity::Ctid => vec![TEXT_ARRAY, TEXT],
        }
    }

    /// Parameter types of `update_sql`: the identity, the one-time key, then the strategies' text values.
    pub fn update_types(&self) -> Vec<PgOid> {
        let mut types = self.identity_types();
        types.push(BYTEA);
        types.extend(self.update_params.iter().map(|p| match p {
            Param::Text(_) => TEXT,
            Param::SubjectIdentifiers => INT8,
        }));
        types
    }
}

impl PlanEdge {
    /// One `text[]` of values per referencing column, then the discriminator value.
    pub fn param_types(&self) -> Vec<PgOid> {
        let mut types = vec![TEXT_ARRAY; self.child_cols.len()];
        if self.discriminator.is_some() {
            types.push(TEXT);
        }
        types
    }

    /// Parameters of `select_child_refs`: the child's identity, then the discriminator value.
    pub fn child_refs_param_types(&self, child: &PlanTable) -> Vec<PgOid> {
        let mut types = child.identity_types();
        if self.discriminator.is_some() {
            types.push(TEXT);
        }
        types
    }
}

/// `FOR UPDATE` for rows that are deleted or referenced by other reached rows, `FOR NO KEY UPDATE` otherwise.
pub(super) fn row_lock(action: Action, referenced: bool) -> &'static str {
    if action == Action::Delete || referenced {
        "UPDATE"
    } else {
        "NO KEY UPDATE"
    }
}

pub(super) fn select_sql(
    table: &Table,
    fetched: &[Column],
    predicate: &str,
    lock: Option<&str>,
) -> String {
    select_sql_with(table, fetched, predicate, lock, None)
}

/// `select_sql` with one more column after the fetched ones (an export's whole row as jsonb text).
pub(super) fn select_sql_with(
    table: &Table,
    fetched: &[Column],
    predicate: &str,
    lock: Option<&str>,
    extra: Option<&str>,
) -> String {
    let cols = fetched_list(fetched, extra);
    let lock = lock.map(|l| format!(" FOR {l} OF t")).unwrap_or_default();
    format!(
        "SELECT {} FROM {} AS t WHERE {predicate}{lock}",
        cols.join(", "),
        table.sql_name
    )
}

/// The select list of a found row: ctid, tableoid, the fetched columns as text, then `extra` (as text).
fn fetched_list(fetched: &[Column], extra: Option<&str>) -> Vec<String> {
    let mut cols = vec![
        "t.ctid::text".to_string(),
        "t.tableoid::oid::text".to_string(),
    ];
    cols.extend(fetched.iter().map(|c| format!("t.{}::text", c.sql_name)));
    cols.extend(extra.map(|e| format!("({e})::text")));
    cols
}

/// Expressions compared with the same-position elements of `text[]` parameters `$first..`: the unnested
/// arrays `ROWS FROM (unnest($first::text[]), …) AS u(c0, …)` (without the alias) as the list of functions and
/// the list of names, and the conditions `expr = CAST(u.c<i> AS type)`, each with its type's own equality.
fn unnested(exprs: &[(String, &str, &str)], first: usize) -> (String, String, String) {
    let arrays: Vec<String> = (0..exprs.len())
        .map(|i| format!("pg_catalog.unnest(${}::text[])", first + i))
        .collect();
    let names: Vec<String> = (0..exprs.len()).map(|i| format!("c{i}")).collect();
    let conditions: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, (expr, equals, type_sql))| format!("{expr} {equals} CAST(u.c{i} AS {type_sql})"))
        .collect();
    (
        arrays.join(", "),
        names.join(", "),
        conditions.join(" AND "),
    )
}

/// `(expr, equality operator, compare type)` of each column of `cols` on alias `t`.
fn column_exprs<'a>(cols: &[&'a Column]) -> Vec<(String, &'a str, &'a str)> {
    cols.iter()
        .map(|c| {
            (
                format!("t.{}", c.sql_name),
                c.equals.as_str(),
                c.compare_type.as_str(),
            )
        })
        .collect()
}

/// The subject rows for a list of keys (`$1..`: one `text[]` per key column, the i-th elements forming the i-th
/// key), each row followed by the 1-based position of the key that found it (the last column, after `extra`):
/// how an erasure of many subjects tells whose each row is.
pub(super) fn select_root_sql(
    table: &Table,
    fetched: &[Column],
    key: &[&Column],
    lock: Option<&str>,
    extra: Option<&str>,
) -> String {
    let mut cols = fetched_list(fetched, extra);
    let lock = lock.map(|l| format!(" FOR {l} OF t")).unwrap_or_default();
    if let [col] = key {
        // One key column: `= ANY` (an index scan whatever the planner guesses of the array), the position by
        // array_position, which compares with the same type's equality.
        let array = format!("CAST($1 AS {}[])", col.compare_type);
        cols.push(format!(
            "pg_catalog.array_position({array}, t.{})::text",
            col.sql_name
        ));
        return format!(
            "SELECT {} FROM {} AS t WHERE {}{lock}",
            cols.join(", "),
            table.sql_name,
            match_values(key, 1)
        );
    }
    cols.push("u.ord::text".to_string());
    let (arrays, names, conditions) = unnested(&column_exprs(key), 1);
    format!(
        "SELECT {} FROM ROWS FROM ({arrays}) WITH ORDINALITY AS u({names}, ord) JOIN {} AS t ON {conditions}{lock}",
        cols.join(", "),
        table.sql_name,
    )
}

/// `t.col = ANY(CAST($1 AS type[]))`, or for composite keys a semi-join against the unnested arrays, with each
/// type's own equality operator. `$first..` are `text[]` parameters, one per column.
pub fn match_values(cols: &[&Column], first: usize) -> String {
    match_exprs(&column_exprs(cols), first)
}

/// `match_values` for any expressions (`t.ctid`, `t.tableoid`), each with its equality and compare type.
pub fn match_exprs(exprs: &[(String, &str, &str)], first: usize) -> String {
    if let [(expr, equals, type_sql)] = exprs {
        return format!("{expr} {equals} ANY (CAST(${first} AS {type_sql}[]))");
    }
    let (arrays, names, conditions) = unnested(exprs, first);
    format!("EXISTS (SELECT FROM ROWS FROM ({arrays}) AS u({names}) WHERE {conditions})")
}

/// A whole row of `t` as jsonb, bytea columns as `{"base64": …, "bytes": n}` (not hex text).
pub(super) fn export_expr(table: &Table) -> Result<String> {
    let mut row = "pg_catalog.to_jsonb(t.*)".to_string();
    for (name, col) in introspect::bytea_columns(table)? {
        row.push_str(&format!(
            " || pg_catalog.jsonb_build_object({name}, CASE WHEN t.{col} IS NOT NULL THEN \
             pg_catalog.jsonb_build_object('base64', pg_catalog.translate(pg_catalog.encode(t.{col}, 'base64'), \
             E'\\n', ''), 'bytes', pg_catalog.octet_length(t.{col})) END)"
        ));
    }
    Ok(row)
}

/// Like `match_values`, comparing text forms (for columns of different types on the two sides of a link).
pub(super) fn match_text_values(cols: &[&Column], first: usize) -> String {
    if let [col] = cols {
        return format!("t.{}::text = ANY (${first}::text[])", col.sql_name);
    }
    let lhs: Vec<String> = cols
        .iter()
        .map(|c| format!("t.{}::text", c.sql_name))
        .collect();
    let arrays: Vec<String> = (0..cols.len())
        .map(|i| format!("pg_catalog.unnest(${}::text[])", first + i))
        .collect();
    format!(
        "({}) IN (SELECT * FROM ROWS FROM ({}))",
        lhs.join(", "),
        arrays.join(", ")
    )
}

pub(super) fn type_names(types: &[PgOid]) -> Vec<String> {
    types
        .iter()
        .map(|t| match *t {
            TEXT_ARRAY => "text[]",
            BYTEA => "bytea",
            INT8 => "bigint",
            _ => "text",
        })
        .map(str::to_string)
        .collect()
}

/// Every statement of the plan as (table, purpose, SQL, parameter types), as a real erasure runs them.
pub fn statements(plan: &ErasurePlan) -> Vec<(String, String, String, Vec<String>)> {
    let mut out = vec![(
        plan.tables[0].table.display.clone(),
        "find subject".to_string(),
        plan.root_select_locked.clone(),
        type_names(&vec![TEXT_ARRAY; plan.root_key_len]),
    )];
    for e in &plan.edges {
        out.push((
            plan.tables[e.child].table.display.clone(),
            format!("find via {}", e.label),
            e.select_locked.clone(),
            type_names(&e.param_types()),
        ));
        if plan.tables[e.child].delete_directly {
            out.push((
                plan.tables[e.child].table.display.clone(),
                format!("delete via {}", e.label),
                e.delete_sql.clone(),
                type_names(&e.param_types()),
            ));
        }
    }
    for t in &plan.tables {
        match (t.action, &t.update_sql) {
            (Action::Anonymize, Some(sql)) => out.push((
                t.table.display.clone(),
                "anonymize".into(),
                sql.clone(),
                type_names(&t.update_types()),
            )),
            (Action::Delete, _) => out.push((
                t.table.display.clone(),
                "delete".into(),
                t.delete_sql.clone(),
                type_names(&t.identity_types()),
            )),
            _ => {}
        }
    }
    out
}
