//! Retention: the expired rows of every declared period, erased in batches that each commit on their own
//! (`CALL gdpr.enforce_retention()`, a PL/pgSQL loop over `gdpr._retention_step`). A batch takes the oldest
//! expired rows after where the last one stopped, `FOR UPDATE SKIP LOCKED` — rows the application holds now
//! are left for a later run — leaves rows tied to a subject under legal hold, and erases the rest in one pass
//! of the erasure engine. `gdpr.retention_due()` previews it.

mod rules;
mod step;

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::catalog::retention;
use crate::error::{required, OrReport, Result};
use crate::privilege::{require_privileges, Privilege};
use crate::subject::holds;
use rules::Rule;

type DueRow = (String, String, i64, Option<TimestampWithTimeZone>, i64);

fn due() -> Result<Vec<DueRow>> {
    let now = rules::now()?;
    let mut out = Vec::new();
    for declared in retention::load()? {
        // A declaration that no longer fits is reported (and by gdpr.lint()), never silently left out.
        let rule = match declared.retention.and_then(Rule::new) {
            Ok(rule) => rule,
            Err(e) => {
                pgrx::warning!("{e}");
                continue;
            }
        };
        let r = &rule.retention;
        let what = format!("previewing the retention of {}", r.table.display);
        require_privileges(&r.table, &[Privilege::Select], &what)?;
        let cutoff = rules::cutoff(&now, r.table.oid)?;
        let counts = Spi::connect_mut(|client| {
            let held = holds::held_rows(client, r.table.oid, &what)?;
            rule.counts(client, &cutoff, &held)
        })?;
        let oldest = match &counts.oldest {
            Some(t) => Spi::get_one_with_args::<TimestampWithTimeZone>(
                "SELECT CAST($1 AS timestamptz)",
                &[t.as_str().into()],
            )?,
            None => None,
        };
        out.push((
            r.table.display.clone(),
            r.action.as_str().to_string(),
            counts.due(),
            oldest,
            counts.held,
        ));
    }
    Ok(out)
}

/// Declares how long the rows of a table are kept: rows whose `time_col` is older than `keep` are erased by
/// `gdpr.enforce_retention` (a subject table's subjects whole; other tables' rows deleted or anonymized).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_retention(
    tbl: Option<pgrx::PgRelation>,
    time_col: Option<&str>,
    keep: Option<pgrx::datum::Interval>,
    action: default!(Option<&str>, "NULL"),
) {
    let (declared, keep) = retention::declaration(tbl, time_col, keep, action).or_report();
    // What a run needs must hold now: a plan that builds, or a table without key nothing belongs to.
    let rule = Rule::new(declared).or_report();
    retention::store(&rule.retention, keep).or_report()
}

/// Removes a table's retention period.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn undeclare_retention(tbl: Option<pgrx::PgRelation>) {
    retention::undeclare(tbl).or_report()
}

/// What the next retention run would do, per declared table: rows due now (expired, not processed before, not
/// held), the oldest expired time, and the expired rows left because of a legal hold.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn retention_due() -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(action, String),
        name!(rows_due, i64),
        name!(oldest, Option<TimestampWithTimeZone>),
        name!(held, i64),
    ),
> {
    TableIterator::new(due().or_report())
}

/// Records that a batch of a run failed; the run goes on with the next table (see `gdpr.enforce_retention`).
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn _retention_failed(state: Option<JsonB>, sqlstate: Option<&str>, message: Option<&str>) -> JsonB {
    JsonB(
        step::failed(
            state.map(|s| s.0),
            sqlstate.unwrap_or_default(),
            message.unwrap_or_default(),
        )
        .or_report(),
    )
}

/// Whether the caller is inside a transaction block (BEGIN … COMMIT): enforce_retention, which commits after
/// every batch, refuses to start there instead of failing at its first COMMIT with the batch's work lost.
#[pg_extern(volatile)]
fn _in_transaction_block() -> bool {
    // SAFETY: reads the transaction state of this backend.
    unsafe { pg_sys::IsTransactionBlock() }
}

/// One batch of a retention run (see `gdpr.enforce_retention`): takes the run's state (NULL to start one) and
/// returns it updated; `finished` says the run is over.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn _retention_step(
    batch_size: Option<i32>,
    state: Option<JsonB>,
    max_duration: Option<pgrx::datum::Interval>,
) -> JsonB {
    let batch_size = required(batch_size, "enforce_retention", "batch_size").or_report();
    JsonB(step::step(batch_size, state.map(|s| s.0), max_duration).or_report())
}
