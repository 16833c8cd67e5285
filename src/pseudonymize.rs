//! `gdpr.pseudonymize_table()` / `gdpr.pseudonymize_database()`: apply every declared policy to every row, for
//! safe copies (staging, analytics). Deterministic: the database key drives every strategy, so the same value
//! becomes the same pseudonym in every table and joins survive. Set-based, in keyset batches over the primary
//! key (bounded memory, progress NOTICEs); a table without a primary key is done in one statement.

use std::time::Instant;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use crate::catalog::{self, introspect};
use crate::error::{GdprError, OrReport, Result};
use crate::key;
use crate::privilege::{as_table_owner, is_member_of, require_privileges, Privilege};
use crate::strategy;

fn count_rows(table: &introspect::Table) -> Result<i64> {
    as_table_owner(table, "counting the rows of", || {
        Ok(Spi::get_one::<i64>(&format!("SELECT count(*) FROM {}", table.sql_name))?.unwrap_or(0))
    })
}

pub fn table(oid: pg_sys::Oid, batch_size: i32) -> Result<Value> {
    crate::privilege::require_primary("pseudonymizing a table")?;
    let started = Instant::now();
    if batch_size < 1 {
        return Err(GdprError::InvalidParameter(format!(
            "batch_size must be at least 1, got {batch_size}"
        )));
    }
    let table = introspect::table(oid)?;
    // The caller must be able to rewrite every row itself; the statements then run as the table's owner.
    require_privileges(
        &table,
        &[Privilege::Select, Privilege::Update],
        "pseudonymizing it",
    )?;
    // Rewriting every row is not a late write for an erased subject: the erased-subject guard stands aside.
    let _own_writes = crate::subject::guard::engine_writes();
    let policies = catalog::policies()?.remove(&oid).unwrap_or_default();
    catalog::check_policies_fit(&table, &policies)?;
    let pk = introspect::primary_key(&table)?;
    // Batched statements take the last key of the previous batch ($1) and the batch size ($2) first.
    let first_param = if pk.is_empty() { 1 } else { 3 };
    let set = strategy::set_list(&table, &policies, first_param)?;
    if set.assignments.is_empty() {
        notice!(
            "gdpr: {} has no policy that changes data; nothing to do",
            table.display
        );
        return Ok(
            json!({"table": table.display, "rows": 0, "columns": [], "batches": 0, "duration_ms": 0.0}),
        );
    }
    let key = key::database_key()?;
    let total = count_rows(&table)?;

    let (rows, batches) = if pk.is_empty() {
        notice!(
            "gdpr: {} has no primary key: pseudonymizing it in one statement",
            table.display
        );
        let sql = format!(
            "UPDATE {} AS t SET {}",
            table.sql_name,
            set.assignments.join(", ")
        );
        let args = strategy::param_datums(&key, &set.params, 0);
        let rows = as_table_owner(&table, "pseudonymizing", || {
            Ok(Spi::connect_mut(|client| {
                client.update(sql.as_str(), None, &args).map(|t| t.len())
            })?)
        })?;
        (rows as i64, 1)
    } else {
        run_batches(&table, &pk, &set, batch_size, total, &key, started)?
    };

    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(json!({
        "table": table.display,
        "rows": rows,
        "columns": set.columns,
        "batches": batches,
        "batch_size": batch_size,
        "duration_ms": duration_ms,
        "rows_per_second": if duration_ms > 0.0 { (rows as f64 / duration_ms * 1000.0).round() } else { 0.0 },
    }))
}

/// Keyset batches: each statement updates the next `batch_size` rows in primary-key order and returns how many
/// it changed and the last key, so every row is visited exactly once however updates move the tuples.
fn run_batches(
    table: &introspect::Table,
    pk: &[introspect::Column],
    set: &strategy::SetList,
    batch_size: i32,
    total: i64,
    key: &[u8],
    started: Instant,
) -> Result<(i64, i64)> {
    let pk_cols: Vec<String> = pk.iter().map(|c| format!("t.{}", c.sql_name)).collect();
    let batch_cols: Vec<String> = (0..pk.len()).map(|i| format!("b.k{i}")).collect();
    let after_last = pk
        .iter()
        .enumerate()
        .map(|(i, c)| format!("CAST(($1::text[])[{}] AS {})", i + 1, c.compare_type))
        .collect::<Vec<_>>();
    let select_batch = |with_start: bool| {
        let start = if with_start {
            format!(
                "WHERE ({}) > ({})",
                pk_cols.join(", "),
                after_last.join(", ")
            )
        } else {
            "WHERE $1::text[] IS NULL".to_string()
        };
        let aliased: Vec<String> = pk_cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} AS k{i}"))
            .collect();
        format!(
            "WITH b AS (SELECT {} FROM {} AS t {start} ORDER BY {} LIMIT $2::int4),
                  u AS (UPDATE {} AS t SET {} FROM b WHERE ({}) = ({}) RETURNING 1)
             SELECT (SELECT count(*) FROM u),
                    (SELECT ARRAY[{}] FROM b ORDER BY {} LIMIT 1)",
            aliased.join(", "),
            table.sql_name,
            pk_cols.join(", "),
            table.sql_name,
            set.assignments.join(", "),
            pk_cols.join(", "),
            batch_cols.join(", "),
            batch_cols
                .iter()
                .map(|c| format!("{c}::text"))
                .collect::<Vec<_>>()
                .join(", "),
            batch_cols
                .iter()
                .map(|c| format!("{c} DESC"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    let (first_sql, next_sql) = (select_batch(false), select_batch(true));

    // Whole tables have no erased subject: `scrub` applies its generic patterns only.
    Spi::connect_mut(|client| {
        let mut last: Option<Vec<String>> = None;
        let (mut rows, mut batches) = (0i64, 0i64);
        loop {
            check_for_interrupts!();
            let mut args: Vec<DatumWithOid<'_>> = vec![
                match &last {
                    Some(k) => k.clone().into(),
                    None => DatumWithOid::null::<Vec<String>>(),
                },
                batch_size.into(),
            ];
            args.extend(strategy::param_datums(key, &set.params, 0));
            let sql = if last.is_some() {
                &next_sql
            } else {
                &first_sql
            };
            let result = as_table_owner(table, "pseudonymizing", || {
                Ok(client.update(sql.as_str(), None, &args)?.first())
            })?;
            let changed = result.get::<i64>(1)?.unwrap_or(0);
            let last_key = result.get::<Vec<Option<String>>>(2)?;
            rows += changed;
            batches += 1;
            let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-6);
            // The rate goes into the DETAIL so that terse output (and regression tests) stays deterministic.
            ereport!(
                NOTICE,
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                format!("gdpr: pseudonymize {}: {rows}/{total} rows", table.display),
                format!("{rate:.0} rows/s")
            );
            match last_key.and_then(|k| k.into_iter().collect::<Option<Vec<String>>>()) {
                Some(k) if changed >= batch_size as i64 => last = Some(k),
                _ => return Ok::<_, GdprError>((rows, batches)),
            }
        }
    })
}

/// `pseudonymize_table` for every table with a declared policy that belongs to a role the caller is a member of
/// in its own right (superuser powers do not count: another owner's table of chosen inputs would make the
/// database key an oracle), or for exactly the `named` tables. Skipped tables are reported, never silently left.
pub fn database(batch_size: i32, named: Option<Vec<pg_sys::Oid>>) -> Result<Value> {
    let started = Instant::now();
    let declared = catalog::policies()?;
    let mut tables: Vec<pg_sys::Oid> = match &named {
        Some(list) => list.clone(),
        None => declared.keys().copied().collect(),
    };
    tables.sort_by_key(|o| o.to_u32());
    tables.dedup();
    let mut reports = Vec::new();
    let mut skipped = Vec::new();
    let mut total = 0i64;
    for oid in tables {
        let t = introspect::table(oid)?;
        if named.is_none() && !is_member_of(t.owner) {
            notice!(
                "gdpr: pseudonymize_database: skipping {}, which belongs to a role you are not a member of (name it in \"tables\" to include it)",
                t.display
            );
            skipped.push(json!({"table": t.display, "reason": "owned by a role the caller is not a member of"}));
            continue;
        }
        let report = table(oid, batch_size)?;
        total += report["rows"].as_i64().unwrap_or(0);
        reports.push(report);
    }
    Ok(json!({
        "tables": reports,
        "skipped": skipped,
        "total_rows": total,
        "duration_ms": started.elapsed().as_secs_f64() * 1000.0,
    }))
}

/// Applies every declared policy of `tbl` to all its rows with the database key (deterministic pseudonyms).
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn pseudonymize_table(tbl: Option<pgrx::PgRelation>, batch_size: default!(i32, 10000)) -> JsonB {
    let oid = tbl.map(|t| t.oid()).unwrap_or_else(|| {
        GdprError::NullValue("pseudonymize_table: argument \"tbl\" must not be NULL".into())
            .report()
    });
    JsonB(table(oid, batch_size).or_report())
}

/// `pseudonymize_table` for every table with a declared policy that the caller's own roles own, or for the
/// tables named in `tables` (sql/api.sql wraps it as `gdpr.pseudonymize_database(int, regclass[])`).
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn _pseudonymize_database(batch_size: i32, tables: Option<Vec<Option<pg_sys::Oid>>>) -> JsonB {
    let named = tables.map(|list| {
        list.into_iter()
            .map(|t| {
                t.unwrap_or_else(|| {
                    GdprError::NullValue(
                        "pseudonymize_database: \"tables\" must not contain NULL".into(),
                    )
                    .report()
                })
            })
            .collect()
    });
    JsonB(database(batch_size, named).or_report())
}
