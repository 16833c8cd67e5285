//! `gdpr.export_subject` / `gdpr.export_rows`: every row the subject's erasure would reach (the same reach, as
//! a dry run finds it), with all its columns, the categories of personal data concerned, the subject's consents
//! and erasure-log entries — the right of access (Art. 15) and to portability (Art. 20).

use std::collections::BTreeSet;

use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::cache;
use crate::catalog::introspect::Table;
use crate::error::{GdprError, Result};
use crate::privilege::{require_privileges, Privilege};
use crate::subject::plan::{ErasurePlan, PlanTable};
use crate::subject::reach::{self, fetch, find_rows, identity_args};

/// One exported row: table, the path that reached it, the row as JSON.
pub type ExportedRow = (String, String, Value);

/// Columns whose type is (a domain over) bytea: exported as base64 with their size, not as hex text.
/// (name as an SQL literal, name as an identifier) of each.
fn bytea_columns(table: &Table) -> Result<Vec<(String, String)>> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT pg_catalog.quote_literal(a.attname), pg_catalog.quote_ident(a.attname) FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
              WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                AND 'bytea'::regtype IN (ty.oid, ty.typbasetype)
              ORDER BY a.attnum",
            None,
            &[table.oid.into()],
        )? {
            if let (Some(name), Some(ident)) = (r.get::<String>(1)?, r.get::<String>(2)?) {
                out.push((name, ident));
            }
        }
        Ok::<_, GdprError>(out)
    })
}

/// `SELECT <row as jsonb> FROM table WHERE <identity>`: every column of the reached rows.
fn row_sql(t: &PlanTable) -> Result<String> {
    let mut row = "pg_catalog.to_jsonb(t.*)".to_string();
    for (name, col) in bytea_columns(&t.table)? {
        row.push_str(&format!(
            " || pg_catalog.jsonb_build_object({name}, CASE WHEN t.{col} IS NOT NULL THEN \
             pg_catalog.jsonb_build_object('base64', pg_catalog.translate(pg_catalog.encode(t.{col}, 'base64'), \
             E'\\n', ''), 'bytes', pg_catalog.octet_length(t.{col})) END)"
        ));
    }
    Ok(format!(
        "SELECT ({row})::text FROM {} AS t WHERE {} ORDER BY t.ctid",
        t.table.sql_name, t.identity_predicate
    ))
}

/// Checks the key and the caller's SELECT on every table the reach reads, then finds the rows and reads them
/// whole. `f` gets each table's rows.
fn for_each_table(
    plan: &ErasurePlan,
    id: &[String],
    mut f: impl FnMut(&PlanTable, Vec<Value>) -> Result<()>,
) -> Result<bool> {
    reach::check_key_length(plan, id)?;
    let what = format!("exporting {} {}", plan.kind, id.join(","));
    for t in &plan.tables {
        require_privileges(&t.table, &[Privilege::Select], &what)?;
    }
    reach::check_key_values(plan, id)?;
    Spi::connect_mut(|client| {
        let (reached, _) = find_rows(client, plan, id, true)?;
        if reached[0].rows.is_empty() {
            return Ok(false);
        }
        for (t, r) in plan.tables.iter().zip(&reached) {
            if r.rows.is_empty() {
                continue;
            }
            let sql = row_sql(t)?;
            let types = t.identity_types();
            let mut rows = Vec::with_capacity(r.rows.len());
            for args in identity_args(t, &r.rows) {
                for row in fetch(client, &t.table, &sql, &types, &args)? {
                    check_for_interrupts!();
                    let text = row[0].as_deref().unwrap_or("null");
                    rows.push(serde_json::from_str(text)?);
                }
            }
            f(t, rows)?;
        }
        Ok(true)
    })
}

fn not_found(plan: &ErasurePlan, id: &[String]) -> GdprError {
    GdprError::NoDataFound(format!(
        "{} {} not found in {}",
        plan.kind,
        id.join(","),
        plan.tables[0].table.display
    ))
}

/// The subject's rows, table by table, for `COPY (SELECT * FROM gdpr.export_rows(...)) TO STDOUT`.
pub fn export_rows(kind: &str, id: Vec<String>) -> Result<Vec<ExportedRow>> {
    let plan = cache::plan_for(kind)?;
    let mut out = Vec::new();
    let found = for_each_table(&plan, &id, |t, rows| {
        out.extend(
            rows.into_iter()
                .map(|row| (t.table.display.clone(), t.path.clone(), row)),
        );
        Ok(())
    })?;
    if !found {
        return Err(not_found(&plan, &id));
    }
    Ok(out)
}

/// Consent ids the subject's rows refer to through columns under a consent requirement.
fn referenced_consents(
    t: &PlanTable,
    rows: &[Value],
    consent_columns: &[(u32, String)],
) -> Vec<i64> {
    let mut out = Vec::new();
    for (_, col) in consent_columns
        .iter()
        .filter(|(oid, _)| *oid == t.table.oid.to_u32())
    {
        out.extend(
            rows.iter()
                .filter_map(|r| r.get(col).and_then(Value::as_i64)),
        );
    }
    out
}

fn consent_columns() -> Result<Vec<(u32, String)>> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT tbl::oid, col::text FROM gdpr.consent_requirement",
            None,
            &[],
        )? {
            if let (Some(oid), Some(col)) = (r.get::<pg_sys::Oid>(1)?, r.get::<String>(2)?) {
                out.push((oid.to_u32(), col));
            }
        }
        Ok::<_, GdprError>(out)
    })
}

/// The whole export as one document.
pub fn export(kind: &str, id: Vec<String>) -> Result<Value> {
    let plan = cache::plan_for(kind)?;
    let subject_id = id.join(",");
    let consent_columns = consent_columns()?;
    let mut tables = Vec::new();
    let mut categories: BTreeSet<&str> = BTreeSet::new();
    let mut consents = Vec::new();
    let found = for_each_table(&plan, &id, |t, rows| {
        consents.extend(referenced_consents(t, &rows, &consent_columns));
        categories.extend(t.categories.iter().map(|c| c.category));
        let columns: serde_json::Map<String, Value> = t
            .categories
            .iter()
            .map(|c| (c.column.name.clone(), json!(c.category)))
            .collect();
        tables.push(json!({
            "table": t.table.display,
            "path": t.path,
            "categories": columns,
            "row_count": rows.len(),
            "rows": rows,
        }));
        Ok(())
    })?;
    let erasures = crate::audit::entries(kind, &subject_id)?;
    if !found && erasures.as_array().is_none_or(Vec::is_empty) {
        return Err(not_found(&plan, &id));
    }
    Ok(json!({
        "kind": kind,
        "subject_id": subject_id,
        "exported_at": Spi::get_one::<String>("SELECT pg_catalog.now()::text")?,
        "categories": categories,
        "tables": tables,
        "consents": crate::consent::registry::of_subject(kind, &subject_id, consents)?,
        "erasures": erasures,
    }))
}
