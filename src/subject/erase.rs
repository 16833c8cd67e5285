//! Executes an erasure plan: finds every row tied to the subject (set-based, driven by the keys found so far),
//! then anonymizes and deletes them, and reports what was (or, in a dry run, would be) changed.

use std::time::Instant;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgOid;
use rand::Rng;
use serde_json::{json, Value};

use super::guard;
use super::identifiers::subject_identifiers;
use super::plan::{Action, ErasurePlan, Identity, PlanTable};
use super::reach::{
    check_key_length, check_key_values, execute, find_rows, identity_args, stored_label,
    subject_label, EdgeCount, Purpose, Reach, Row,
};
use super::traces;
use crate::audit;
use crate::cache;
use crate::error::{GdprError, Result};
use crate::privilege::{require_privileges, Privilege};
use crate::strategy::{self, Param, SubjectIdentifiers};

/// The parameters after the row-identity ones of an UPDATE: the key, the plan's values, the identifiers.
type Extra<'a> = Option<(&'a [u8], &'a [Param], &'a SubjectIdentifiers)>;

fn extra_datums<'a>(extra: &Extra<'a>) -> Vec<DatumWithOid<'a>> {
    extra.map_or_else(Vec::new, |(key, params, ids)| {
        strategy::param_datums(key, params, ids)
    })
}

/// Runs `sql` (whose first parameters identify rows, see `Identity`) for all `rows`, with `extra` parameters
/// appended. Returns the number of rows changed.
fn run_for_rows(
    client: &mut SpiClient<'_>,
    table: &PlanTable,
    doing: &str,
    sql: &str,
    types: &[PgOid],
    rows: &[Row],
    extra: Extra<'_>,
) -> Result<usize> {
    let mut done = 0;
    for mut args in identity_args(table, rows) {
        args.extend(extra_datums(&extra));
        done += execute(client, &table.table, doing, sql, types, &args)?;
    }
    Ok(done)
}

fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::strategy::pseudonym::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Deleting a parent whose child rows stay (anonymized) would fail on a NO ACTION / RESTRICT foreign key
/// half-way through; refuse up front, in dry runs too, and say what to declare.
fn check_delete_conflicts(plan: &ErasurePlan, edge_counts: &[EdgeCount]) -> Result<()> {
    for (edge, count) in plan.edges.iter().zip(edge_counts) {
        let matched = count.matched;
        let (parent, child) = (&plan.tables[edge.parent], &plan.tables[edge.child]);
        if matched > 0
            && edge.blocks_delete
            && parent.action == Action::Delete
            && child.action != Action::Delete
        {
            return Err(GdprError::InvalidDefinition(format!(
                "{} is erased by delete, but {} of its rows are referenced through {} (ON DELETE NO ACTION/RESTRICT) \
                 and would only be anonymized: declare gdpr.declare_erase_action('{}', 'delete') or exclude the reference",
                parent.table.display, matched, edge.label, child.table.display
            )));
        }
    }
    Ok(())
}

fn apply(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &[Reach],
    ids: &SubjectIdentifiers,
) -> Result<()> {
    let key: [u8; 32] = rand::rng().random(); // one-time key: dropped when this function returns
    for (t, r) in plan.tables.iter().zip(reach) {
        let Some(sql) = t
            .update_sql
            .as_deref()
            .filter(|_| t.action == Action::Anonymize && !r.rows.is_empty())
        else {
            continue;
        };
        let extra: Extra<'_> = Some((&key, &t.update_params, ids));
        let types = t.update_types();
        let changed = run_for_rows(client, t, "anonymizing", sql, &types, &r.rows, extra)?;
        if matches!(t.identity, Identity::Ctid) && changed != r.rows.len() {
            return Err(GdprError::ObjectChanged(format!(
                "{} of {} rows of {} (a table without primary key) changed while being erased; retry the erasure",
                r.rows.len() - changed,
                r.rows.len(),
                t.table.display
            )));
        }
    }
    for &t in &plan.delete_order {
        if !reach[t].rows.is_empty() {
            let table = &plan.tables[t];
            run_for_rows(
                client,
                table,
                "deleting from",
                &table.delete_sql,
                &table.identity_types(),
                &reach[t].rows,
                None,
            )?;
        }
    }
    Ok(())
}

fn table_report(plan: &ErasurePlan, reach: &[Reach], edge_counts: &[EdgeCount]) -> Vec<Value> {
    plan.tables
        .iter()
        .enumerate()
        .filter(|(i, _)| reach[*i].count() > 0)
        .map(|(i, t)| {
            let action = match t.action {
                Action::Delete => "delete",
                Action::Anonymize if t.changed.is_empty() => "keep",
                Action::Anonymize => "anonymize",
            };
            let via: Vec<Value> = plan
                .edges
                .iter()
                .zip(edge_counts)
                .filter(|(e, c)| e.child == i && c.matched > 0)
                .map(|(e, c)| json!({"reference": e.label, "rows": c.matched, "first_reached": c.first_reached}))
                .collect();
            let mut entry = json!({
                "table": t.table.display,
                "action": action,
                "rows": reach[i].count(),
                "path": t.path,
            });
            if t.action == Action::Anonymize {
                entry["columns"] = json!(t.changed);
            }
            if !via.is_empty() {
                entry["via"] = Value::Array(via);
            }
            entry
        })
        .collect()
}

/// Erases (or, with `dry_run`, reports) every row tied to the subject `kind`/`id` in one transaction.
/// With `traces`, the declared trace columns are searched for the subject's identifiers too, and each trace
/// table's action applied to the rows found (see traces.rs).
pub fn erase(kind: &str, id: Vec<Option<String>>, dry_run: bool, traces: bool) -> Result<Value> {
    let started = Instant::now();
    let id: Vec<String> = id
        .into_iter()
        .collect::<Option<Vec<String>>>()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| GdprError::NullValue(format!("the {kind} id to erase must not be NULL")))?;
    let plan = cache::plan_for(kind)?;
    erase_with(&plan, id, dry_run, traces, started)
}

/// Erases the row of a table with primary key `id`, and everything tied to it (`kind` labels the report and
/// the log). Used for the rows collected under a withdrawn consent.
pub fn erase_row(kind: &str, table: pg_sys::Oid, id: Vec<String>) -> Result<Value> {
    let plan = cache::plan_for_table(kind, table)?;
    erase_with(&plan, id, false, false, Instant::now())
}

/// The keys of the erased rows other rows point at, per table and column set, for the erased-subject guard.
fn markers(plan: &ErasurePlan, reach: &[Reach]) -> Vec<(pg_sys::Oid, Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for (t, r) in plan.tables.iter().zip(reach) {
        for m in &t.markers {
            let keys: Vec<String> = r
                .rows
                .iter()
                .filter_map(|row| {
                    let values: Option<Vec<&str>> =
                        m.positions.iter().map(|p| row[p + 2].as_deref()).collect();
                    values.map(|v| guard::marker_key(&v))
                })
                .collect();
            if !keys.is_empty() {
                out.push((t.table.oid, m.cols.clone(), keys));
            }
        }
    }
    out
}

/// Checks, before anything is read, that the caller may itself do what the erasure does: SELECT every table it
/// reaches (and every table it reads identifiers from), UPDATE each it anonymizes, DELETE each it deletes
/// from — with no row hidden from it by row-level security. The statements then run as each table's owner.
pub fn require_entitlement(plan: &ErasurePlan, dry_run: bool, what: &str) -> Result<()> {
    for t in &plan.tables {
        if !dry_run && t.skip_when_erasing {
            continue; // not read by a real erasure
        }
        let mut needed = vec![Privilege::Select];
        if !dry_run {
            match t.action {
                Action::Delete => needed.push(Privilege::Delete),
                Action::Anonymize if t.update_sql.is_some() => needed.push(Privilege::Update),
                Action::Anonymize => {}
            }
        }
        require_privileges(&t.table, &needed, what)?;
    }
    for source in &plan.identifier_sources {
        require_privileges(&source.table, &[Privilege::Select], what)?;
    }
    Ok(())
}

fn erase_with(
    plan: &ErasurePlan,
    id: Vec<String>,
    dry_run: bool,
    with_traces: bool,
    started: Instant,
) -> Result<Value> {
    let kind = plan.kind.as_str();
    check_key_length(plan, &id)?;

    let what = format!(
        "{}erasing {kind} {}",
        if dry_run { "a dry run of " } else { "" },
        subject_label(&id)
    );
    require_entitlement(plan, dry_run, &what)?;
    let trace_tables = if with_traces {
        let tables = traces::declared()?;
        traces::require_entitlement(&tables, !dry_run, &what)?;
        Some(tables)
    } else {
        None
    };

    let id = check_key_values(plan, &id)?;

    let (reach, edge_counts, trace_report) = Spi::connect_mut(|client| {
        let (reach, edge_counts) = find_rows(
            client,
            plan,
            &id,
            if dry_run {
                Purpose::Read
            } else {
                Purpose::Erase
            },
        )?;
        let mut trace_report = Vec::new();
        if !reach[0].rows.is_empty() {
            check_delete_conflicts(plan, &edge_counts)?;
            if !dry_run || trace_tables.is_some() {
                let ids = subject_identifiers(client, plan, &reach)?;
                let _own_writes = guard::engine_writes();
                if !dry_run {
                    apply(client, plan, &reach, &ids.all)?;
                }
                // After the erasure: a trace table the erasure also reached is searched as it left it.
                if let Some(tables) = trace_tables {
                    let found = traces::search(client, tables, &ids.reached)?;
                    trace_report = if dry_run {
                        traces::preview(&found)
                    } else {
                        traces::apply(client, &found, &ids.reached)?
                    };
                }
            }
        }
        Ok::<_, GdprError>((reach, edge_counts, trace_report))
    })?;

    let subject_id = stored_label(plan, &reach[0]).unwrap_or_else(|| subject_label(&id));
    let erasure_id = random_uuid();
    if reach[0].rows.is_empty() {
        if !audit::was_erased(kind, &subject_id)? {
            return Err(GdprError::NoDataFound(format!(
                "{kind} {subject_id} not found in {}",
                plan.tables[0].table.display
            )));
        }
        // Erased and deleted before: erasing again is harmless and reports nothing left.
        return Ok(json!({
            "erasure_id": erasure_id, "kind": kind, "subject_id": subject_id, "dry_run": dry_run,
            "already_erased": true, "total_rows": 0, "tables": [],
            "duration_ms": started.elapsed().as_secs_f64() * 1000.0,
        }));
    }

    if !dry_run {
        guard::record(&erasure_id, markers(plan, &reach))?;
    }
    let tables = table_report(plan, &reach, &edge_counts);
    let total: usize = reach.iter().map(Reach::count).sum();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut log_tables: serde_json::Map<String, Value> = tables
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap_or_default().to_string(),
                json!({"action": t["action"], "rows": t["rows"]}),
            )
        })
        .collect();
    for t in &trace_report {
        log_tables.insert(
            format!("{} (traces)", t["table"].as_str().unwrap_or_default()),
            json!({"action": t["action"], "rows": t["rows"]}),
        );
    }
    audit::append(audit::Entry {
        erasure_id: &erasure_id,
        kind,
        subject_id: &subject_id,
        dry_run,
        rows_total: total as i64,
        tables: Value::Object(log_tables),
        duration_ms,
    })?;
    let mut report = json!({
        "erasure_id": erasure_id,
        "kind": kind,
        "subject_id": subject_id,
        "dry_run": dry_run,
        "total_rows": total,
        "tables": tables,
        "duration_ms": duration_ms,
    });
    if with_traces {
        report["traces"] = Value::Array(trace_report);
    }
    Ok(report)
}
