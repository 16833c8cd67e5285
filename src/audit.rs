//! `gdpr.erasure_log`: one row per erasure or dry run. It holds the subject's key, counts per table, who and
//! when — no personal data. Only the extension owner can write the table; erasures append through a fixed
//! statement run as the owner, so the roles that erase can read the log but never rewrite it.

use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::Result;
use crate::privilege::{as_extension_owner, caller};

pub struct Entry<'a> {
    pub erasure_id: &'a str,
    pub kind: &'a str,
    pub subject_id: &'a str,
    pub dry_run: bool,
    pub rows_total: i64,
    pub tables: serde_json::Value,
    pub duration_ms: f64,
    /// Who asked: `request` (a person's request), `retention` (an expired period) or `consent` (a withdrawal).
    pub origin: &'a str,
    /// Entries erased together by one pass of the engine share it (None: erased alone).
    pub batch_id: Option<&'a str>,
}

pub fn append(entry: Entry<'_>) -> Result<()> {
    append_all(std::slice::from_ref(&entry))
}

/// Appends entries in one statement (an erasure of many subjects logs one entry per subject).
pub fn append_all(entries: &[Entry<'_>]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (erased_by, session_user) = caller()?;
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "erasure_id": e.erasure_id, "kind": e.kind, "subject_id": e.subject_id, "dry_run": e.dry_run,
                "rows_total": e.rows_total, "tables": e.tables, "duration_ms": e.duration_ms,
                "origin": e.origin, "batch_id": e.batch_id,
            })
        })
        .collect();
    as_extension_owner(|| {
        Spi::connect_mut(|client| {
            client
                .update(
                    "INSERT INTO gdpr.erasure_log
                    (erasure_id, kind, subject_id, dry_run, rows_total, tables, erased_by, session_user_name,
                     duration_ms, origin, batch_id)
                 SELECT e.erasure_id, e.kind, e.subject_id, e.dry_run, e.rows_total, e.tables, $2, $3,
                        e.duration_ms, e.origin, e.batch_id
                   FROM pg_catalog.jsonb_to_recordset($1) AS e(erasure_id uuid, kind text, subject_id text,
                        dry_run boolean, rows_total bigint, tables jsonb, duration_ms double precision,
                        origin text, batch_id uuid)",
                    None,
                    &[
                        JsonB(serde_json::Value::Array(rows)).into(),
                        erased_by.into(),
                        session_user.into(),
                    ],
                )
                .map(|_| ())
        })?;
        Ok(())
    })
}

/// Which of `subject_ids` were erased before (a logged, non-dry-run erasure).
pub fn erased_among(kind: &str, subject_ids: &[String]) -> Result<Vec<String>> {
    as_extension_owner(|| {
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(
                "SELECT DISTINCT subject_id FROM gdpr.erasure_log
                  WHERE kind = $1 AND subject_id = ANY ($2) AND NOT dry_run",
                None,
                &[kind.into(), subject_ids.to_vec().into()],
            )? {
                out.extend(r.get::<String>(1)?);
            }
            Ok(out)
        })
    })
}

/// Which of `erasure_ids` the log holds, each with whether it is a dry run's: what a replay of a ledger skips.
pub fn logged_among(erasure_ids: &[String]) -> Result<Vec<(String, bool)>> {
    as_extension_owner(|| {
        Spi::connect(|client| {
            let mut out = Vec::new();
            for r in client.select(
                "SELECT erasure_id::text, dry_run FROM gdpr.erasure_log WHERE erasure_id = ANY ($1::uuid[])",
                None,
                &[erasure_ids.to_vec().into()],
            )? {
                if let (Some(id), Some(dry)) = (r.get::<String>(1)?, r.get::<bool>(2)?) {
                    out.push((id, dry));
                }
            }
            Ok(out)
        })
    })
}

/// Whether a (non-dry-run) erasure of this subject was logged before.
pub fn was_erased(kind: &str, subject_id: &str) -> Result<bool> {
    as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM gdpr.erasure_log WHERE kind = $1 AND subject_id = $2 AND NOT dry_run)",
            &[kind.into(), subject_id.into()],
        )?
        .unwrap_or(false))
    })
}

/// The subject's erasure-log entries (dry runs included), oldest first: what an export reports.
pub fn entries(kind: &str, subject_id: &str) -> Result<serde_json::Value> {
    as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'erasure_id', erasure_id, 'erased_at', erased_at, 'dry_run', dry_run,
                        'rows_total', rows_total, 'erased_by', erased_by) ORDER BY id), '[]')
               FROM gdpr.erasure_log WHERE kind = $1 AND subject_id = $2",
            &[kind.into(), subject_id.into()],
        )?
        .map_or(serde_json::Value::Array(Vec::new()), |j| j.0))
    })
}

/// Whether a row version was written by this transaction or one of its subtransactions (its `xmin`): the entries
/// the audit chain links when this transaction commits (sql/proofs.sql).
#[pg_extern(stable, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn _written_here(xmin: pg_sys::TransactionId) -> bool {
    // SAFETY: a lookup in the backend's own transaction state, valid inside any transaction.
    unsafe { pg_sys::TransactionIdIsCurrentTransactionId(xmin) }
}
