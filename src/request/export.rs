//! `gdpr.export_subject` / `gdpr.export_rows`: every row the subject's erasure would reach (the same reach, as
//! a dry run finds it), with all its columns, the categories of personal data concerned, the subject's consents
//! and erasure-log entries — the right of access (Art. 15) and to portability (Art. 20).

use std::collections::BTreeSet;

use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::cache;
use crate::error::{GdprError, Result};
use crate::privilege::{require_privileges, Privilege};
use crate::subject::plan::{ErasurePlan, PlanTable};
use crate::subject::reach::{self, find_rows, stored_label, subject_label, Purpose};

/// One exported row: table, the path that reached it, the row as JSON.
pub type ExportedRow = (String, String, Value);

/// Checks the key and the caller's SELECT on every table the reach reads, then finds the rows, each read whole
/// by the statement that reaches it. `f` gets each table's rows. Returns the subject's label (its key as
/// stored, or as the key type writes the given id if not found) and whether the subject was found.
fn for_each_table(
    plan: &ErasurePlan,
    id: &[String],
    mut f: impl FnMut(&PlanTable, &str, Vec<Value>) -> Result<()>,
) -> Result<(String, bool)> {
    reach::check_key_length(plan, id)?;
    let what = format!("exporting {} {}", plan.kind, subject_label(id));
    for t in &plan.tables {
        require_privileges(&t.table, &[Privilege::Select], &what)?;
    }
    let id = reach::check_key_values(plan, id)?;
    let (reached, edge_counts) = Spi::connect_mut(|client| {
        find_rows(client, plan, std::slice::from_ref(&id), Purpose::Export)
    })?;
    if reached[0].rows.is_empty() {
        return Ok((subject_label(&id), false));
    }
    let label = stored_label(plan, &reached[0]).unwrap_or_else(|| subject_label(&id));
    let paths = reach::reached_paths(plan, &edge_counts);
    for ((t, r), path) in plan.tables.iter().zip(&reached).zip(&paths) {
        if r.rows.is_empty() {
            continue;
        }
        let mut rows = Vec::with_capacity(r.rows.len());
        for row in &r.rows {
            check_for_interrupts!();
            // The whole row is the last column of the statement that reached it.
            let text = row.last().and_then(|v| v.as_deref()).ok_or_else(|| {
                GdprError::ObjectState(format!(
                    "a row of {} reached for the export could not be read whole",
                    t.table.display
                ))
            })?;
            rows.push(serde_json::from_str(text)?);
        }
        f(t, path, rows)?;
    }
    Ok((label, true))
}

fn not_found(plan: &ErasurePlan, label: &str) -> GdprError {
    GdprError::NoDataFound(format!(
        "{} {label} not found in {}",
        plan.kind, plan.tables[0].table.display
    ))
}

/// The subject's rows, table by table, for `COPY (SELECT * FROM gdpr.export_rows(...)) TO STDOUT`.
pub fn export_rows(kind: &str, id: Vec<String>) -> Result<Vec<ExportedRow>> {
    crate::privilege::require_primary(&format!("exporting a {kind}"))?;
    let plan = cache::plan_for(kind)?;
    let mut out = Vec::new();
    let (label, found) = for_each_table(&plan, &id, |t, path, rows| {
        out.extend(
            rows.into_iter()
                .map(|row| (t.table.display.clone(), path.to_string(), row)),
        );
        Ok(())
    })?;
    if !found {
        return Err(not_found(&plan, &label));
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
    crate::privilege::require_primary(&format!("exporting a {kind}"))?;
    let plan = cache::plan_for(kind)?;
    let consent_columns = consent_columns()?;
    let mut tables = Vec::new();
    let mut categories: BTreeSet<&str> = BTreeSet::new();
    let mut consents = Vec::new();
    let (subject_id, found) = for_each_table(&plan, &id, |t, path, rows| {
        consents.extend(referenced_consents(t, &rows, &consent_columns));
        categories.extend(t.categories.iter().map(|c| c.category));
        let columns: serde_json::Map<String, Value> = t
            .categories
            .iter()
            .map(|c| (c.column.name.clone(), json!(c.category)))
            .collect();
        tables.push(json!({
            "table": t.table.display,
            "path": path,
            "categories": columns,
            "row_count": rows.len(),
            "rows": rows,
        }));
        Ok(())
    })?;
    let erasures = crate::audit::entries(kind, &subject_id)?;
    if !found && erasures.as_array().is_none_or(Vec::is_empty) {
        return Err(not_found(&plan, &subject_id));
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
