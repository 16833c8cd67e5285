//! One batch of a retention run. The run's state travels between batches (each its own transaction) as jsonb:
//! per table its cutoff, where the last batch stopped, and what was done; it is also the run's summary,
//! written to `gdpr.retention_run` with every batch — an interrupted run leaves an accurate record of what its
//! committed batches did, and the next run starts afresh from the oldest expired row.

use std::collections::HashSet;
use std::time::Instant;

use pgrx::datum::Interval;
use pgrx::prelude::*;
use serde_json::{json, Value};

use super::rules::{cutoff, Rule, INT4};
use crate::audit;
use crate::catalog::retention::{self, RetentionAction};
use crate::error::{GdprError, Result};
use crate::privilege::{as_extension_owner, caller, require_privileges, Privilege};
use crate::subject::erase::{self, Logging, OnHold, Options, Origin};
use crate::subject::holds;
use crate::subject::plan::{TEXT, TEXT_ARRAY};
use crate::subject::reach::{execute, fetch};

fn start() -> Result<Value> {
    let (run_by, _) = caller()?;
    let (id, started_at) = as_extension_owner(|| {
        Ok(Spi::get_two_with_args::<i64, String>(
            "INSERT INTO gdpr.retention_run (run_by, summary) VALUES ($1, '{}') RETURNING id, started_at::text",
            &[run_by.as_str().into()],
        )?)
    })?;
    let state = json!({
        "run_id": id, "started_at": started_at, "finished": false, "stopped": null, "batches": 0,
        "tables": [],
    });
    record(&state)?;
    Ok(state)
}

/// The state of a run this role started, as its last committed batch left it in `gdpr.retention_run` — never
/// what the caller passes back (a cutoff or a run id of its choosing would rewrite another run's record).
fn resume(run_id: i64) -> Result<Value> {
    let (caller_name, _) = caller()?;
    let found = as_extension_owner(|| {
        Spi::connect(|client| {
            let mut out = None;
            for r in client.select(
                "SELECT summary, run_by::text FROM gdpr.retention_run WHERE id = $1",
                None,
                &[run_id.into()],
            )? {
                out = Some((
                    r.get::<pgrx::JsonB>(1)?.map(|j| j.0),
                    r.get::<String>(2)?.unwrap_or_default(),
                ));
            }
            Ok::<_, GdprError>(out)
        })
    })?;
    match found {
        None => Err(GdprError::NoDataFound(format!(
            "retention run {run_id} does not exist"
        ))),
        Some((_, run_by)) if run_by != caller_name => {
            Err(GdprError::InsufficientPrivilege(format!(
            "retention run {run_id} was started by role \"{run_by}\"; only it can continue the run"
        )))
        }
        Some((summary, _)) => Ok(summary.unwrap_or(Value::Null)),
    }
}

/// Writes the state to the run's log row (as the extension owner); `finished` stamps its end.
fn record(state: &Value) -> Result<()> {
    let finished = state["finished"].as_bool().unwrap_or(false);
    as_extension_owner(|| {
        Spi::run_with_args(
            "UPDATE gdpr.retention_run SET summary = $2,
                    finished_at = CASE WHEN $3 THEN pg_catalog.clock_timestamp() END
              WHERE id = $1",
            &[
                state["run_id"].as_i64().unwrap_or_default().into(),
                pgrx::JsonB(state.clone()).into(),
                finished.into(),
            ],
        )?;
        Ok(())
    })
}

fn finish(mut state: Value, stopped: &str) -> Result<Value> {
    state["finished"] = json!(true);
    state["stopped"] = json!(stopped);
    record(&state)?;
    Ok(state)
}

fn past_deadline(started_at: &str, max_duration: Option<Interval>) -> Result<bool> {
    let Some(max) = max_duration else {
        return Ok(false);
    };
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.clock_timestamp() - CAST($1 AS timestamptz) >= $2",
        &[started_at.into(), max.into()],
    )?
    .unwrap_or(false))
}

fn int(entry: &Value, field: &str) -> i64 {
    entry[field].as_i64().unwrap_or(0)
}

/// One step of a run: the first call (no run id in `state`) starts the run and returns, so that the run's
/// record commits on its own; each later call does one batch of the first table not finished.
pub fn step(
    batch_size: i32,
    state: Option<Value>,
    max_duration: Option<Interval>,
) -> Result<Value> {
    crate::privilege::require_primary("retention")?;
    if batch_size < 1 {
        return Err(GdprError::InvalidParameter(format!(
            "enforce_retention: batch_size must be at least 1, not {batch_size}"
        )));
    }
    let Some(run_id) = state.as_ref().and_then(|s| s["run_id"].as_i64()) else {
        return start();
    };
    let mut state = resume(run_id)?;
    if state["finished"].as_bool().unwrap_or(false) {
        return Ok(state);
    }
    let started_at = state["started_at"].as_str().unwrap_or_default().to_string();
    if past_deadline(&started_at, max_duration)? {
        return finish(state, "max_duration");
    }
    let Some((position, declared)) = next_table(&mut state, retention::load()?)? else {
        let stopped = if failures(&state).is_empty() {
            "done"
        } else {
            "errors"
        };
        return finish(state, stopped);
    };
    let mut entry = state["tables"][position].take();
    let result = declared
        .retention
        .and_then(Rule::new)
        .and_then(|rule| batch(rule, &mut entry, batch_size));
    state["tables"][position] = entry;
    // An error aborts this batch's transaction: enforce_retention records it with `failed` and goes on.
    result?;
    state["batches"] = json!(int(&state, "batches") + 1);
    record(&state)?;
    Ok(state)
}

/// Records that the batch after `state` failed (`sqlstate`, `message`): the table it was for is marked failed
/// and finished, and the run goes on with the next table. Called by enforce_retention after the failed batch
/// rolled back.
pub fn failed(state: Option<Value>, sqlstate: &str, message: &str) -> Result<Value> {
    let Some(run_id) = state.as_ref().and_then(|s| s["run_id"].as_i64()) else {
        return Err(GdprError::NullValue(
            "_retention_failed: the run's state has no run id".into(),
        ));
    };
    let mut state = resume(run_id)?;
    if let Some((position, declared)) = next_table(&mut state, retention::load()?)? {
        let entry = &mut state["tables"][position];
        entry["finished"] = json!(true);
        entry["error"] = json!({"sqlstate": sqlstate, "message": message});
        pgrx::warning!(
            "gdpr: retention of {} failed ({sqlstate}): {message}; the run goes on with the next table",
            declared.name
        );
    }
    record(&state)?;
    Ok(state)
}

/// The tables of a run that failed, with their error.
fn failures(state: &Value) -> Vec<&Value> {
    state["tables"]
        .as_array()
        .map(|t| t.iter().filter(|e| !e["error"].is_null()).collect())
        .unwrap_or_default()
}

/// The first declared table whose entry is not finished (entries keyed by the table's oid, created on the
/// first visit with the table's cutoff: the run's start minus its period).
fn next_table(
    state: &mut Value,
    declared: Vec<retention::Declared>,
) -> Result<Option<(usize, retention::Declared)>> {
    let started_at = state["started_at"].as_str().unwrap_or_default().to_string();
    let run_id = state["run_id"].clone();
    let Some(tables) = state["tables"].as_array_mut() else {
        return Err(GdprError::ObjectState(format!(
            "retention run {run_id} has no table list in its record"
        )));
    };
    for d in declared {
        let oid = d.oid.to_u32();
        let position = match tables.iter().position(|t| t["oid"] == json!(oid)) {
            Some(p) => p,
            None => {
                tables.push(json!({
                    "oid": oid, "table": d.name,
                    "action": d.retention.as_ref().map(|r| r.action.as_str()).unwrap_or("unknown"),
                    "cutoff": cutoff(&started_at, d.oid)?,
                    "due": null, "done": 0, "rows": 0, "held": 0, "processed_before": 0, "after": null,
                    "finished": false, "elapsed_ms": 0.0,
                }));
                tables.len() - 1
            }
        };
        if !tables[position]["finished"].as_bool().unwrap_or(false) {
            return Ok(Some((position, d)));
        }
    }
    Ok(None)
}

/// One batch of one table: updates its entry.
fn batch(rule: Rule, entry: &mut Value, batch_size: i32) -> Result<()> {
    let started = Instant::now();
    let r = &rule.retention;
    let what = format!("enforcing the retention of {}", r.table.display);
    require_privileges(&r.table, &[Privilege::Select], &what)?;
    let cutoff = entry["cutoff"].as_str().unwrap_or_default().to_string();
    let after: Option<Vec<Option<String>>> = entry["after"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
    let key_len = rule.key_len();
    let first_visit = entry["due"].is_null();
    // Holds placed from now on wait for this batch; those committed before are all seen below.
    holds::block_new_holds()?;

    let (due, rows, held) = Spi::connect_mut(|client| {
        let due = if first_visit {
            let held = holds::held_rows(client, r.table.oid, &what)?;
            Some(rule.counts(client, &cutoff, &held)?.due())
        } else {
            None
        };
        let rows = fetch(
            client,
            &r.table,
            &rule.batch_sql(),
            &[TEXT, TEXT_ARRAY, INT4],
            &[cutoff.as_str().into(), after.into(), batch_size.into()],
        )?;
        // Read after the batch's rows are locked: a hold committed before is seen.
        let held = if rows.is_empty() {
            HashSet::new()
        } else {
            holds::held_rows(client, r.table.oid, &what)?
        };
        Ok::<_, GdprError>((due, rows, held))
    })?;
    if let Some(due) = due {
        entry["due"] = json!(due);
    }
    let Some(last) = rows.last() else {
        entry["finished"] = json!(true);
        notice(entry, &r.table.display);
        return Ok(());
    };
    // The position: time value first, then the key values.
    let mut position = vec![last[key_len].clone()];
    position.extend(last[..key_len].iter().cloned());
    entry["after"] = json!(position);

    let keys: Vec<Vec<String>> = rows
        .iter()
        .filter_map(|row| row[..key_len].iter().cloned().collect())
        .collect();
    let processed_before = rule.done_among(&keys)?;
    let (held_keys, ids): (Vec<Vec<String>>, Vec<Vec<String>>) = keys
        .into_iter()
        .filter(|k| !processed_before.contains(k))
        .partition(|k| held.contains(k));
    entry["held"] = json!(int(entry, "held") + held_keys.len() as i64);
    entry["processed_before"] =
        json!(int(entry, "processed_before") + processed_before.len() as i64);
    if ids.is_empty() {
        // Nothing to erase in this batch.
    } else if rule.plan.is_none() {
        let deleted = delete_by_ctid(&rule, &ids, &cutoff)?;
        entry["done"] = json!(int(entry, "done") + deleted as i64);
        entry["rows"] = json!(int(entry, "rows") + deleted as i64);
    } else if let Some(plan) = &rule.plan {
        let options = Options {
            dry_run: false,
            traces: false,
            origin: Origin::Retention,
            logging: if r.action == RetentionAction::Erase {
                Logging::PerSubject
            } else {
                Logging::PerBatch
            },
            on_hold: OnHold::Skip,
            erasure_id: None,
        };
        let outcome = erase::run(plan, ids, options, Instant::now())?;
        // Rows whose erasure would reach a held subject's rows (a conversation shared with them).
        entry["held"] = json!(int(entry, "held") + outcome.held_skipped.len() as i64);
        entry["done"] = json!(int(entry, "done") + outcome.erased.len() as i64);
        entry["rows"] = json!(int(entry, "rows") + outcome.total_rows as i64);
    }
    let elapsed =
        entry["elapsed_ms"].as_f64().unwrap_or(0.0) + started.elapsed().as_secs_f64() * 1000.0;
    entry["elapsed_ms"] = json!(elapsed);
    notice(entry, &r.table.display);
    Ok(())
}

/// Deletes expired rows of a table without primary key (`[tableoid, ctid]` of rows this batch holds locked):
/// as the table's owner, after checking the caller may delete from it; one log entry for the batch.
fn delete_by_ctid(rule: &Rule, rows: &[Vec<String>], cutoff: &str) -> Result<usize> {
    let r = &rule.retention;
    let what = format!("deleting expired rows of {}", r.table.display);
    require_privileges(&r.table, &[Privilege::Select, Privilege::Delete], &what)?;
    let started = Instant::now();
    let mut by_relation: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for row in rows {
        by_relation
            .entry(row[0].as_str())
            .or_default()
            .push(row[1].clone());
    }
    let sql = rule.delete_by_ctid_sql();
    let mut deleted = 0;
    Spi::connect_mut(|client| {
        for (relation, ctids) in by_relation {
            deleted += execute(
                client,
                &r.table,
                "deleting from",
                &sql,
                &[TEXT_ARRAY, TEXT],
                &[ctids.into(), relation.into()],
            )?;
        }
        Ok::<_, GdprError>(())
    })?;
    let mut tables = serde_json::Map::new();
    tables.insert(
        r.table.display.clone(),
        json!({"action": "delete", "rows": deleted}),
    );
    audit::append(audit::Entry {
        erasure_id: &erase::random_uuid(),
        kind: &r.table.display,
        subject_id: &format!(
            "{deleted} rows without key, {} before {cutoff}",
            r.time_col.name
        ),
        dry_run: false,
        rows_total: deleted as i64,
        tables: Value::Object(tables),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        origin: "retention",
        batch_id: None,
    })?;
    Ok(deleted)
}

fn notice(entry: &Value, table: &str) {
    let done = int(entry, "done");
    let seconds = entry["elapsed_ms"].as_f64().unwrap_or(0.0) / 1000.0;
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let before = int(entry, "processed_before");
    pgrx::notice!(
        "gdpr: retention of {table} ({}): {done} of {} due done{}, {} held{}, {rate:.0}/s",
        entry["action"].as_str().unwrap_or_default(),
        int(entry, "due"),
        if entry["finished"].as_bool().unwrap_or(false) {
            " (finished)"
        } else {
            ""
        },
        int(entry, "held"),
        if before > 0 {
            format!(", {before} processed by earlier erasures")
        } else {
            String::new()
        },
    );
}
