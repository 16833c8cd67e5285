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
}

pub fn append(entry: Entry<'_>) -> Result<()> {
    let (erased_by, session_user) = caller()?;
    as_extension_owner(|| {
        Spi::connect_mut(|client| {
            client.update(
                "INSERT INTO gdpr.erasure_log
                    (erasure_id, kind, subject_id, dry_run, rows_total, tables, erased_by, session_user_name,
                     duration_ms)
                 VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9)",
                None,
                &[
                    entry.erasure_id.into(),
                    entry.kind.into(),
                    entry.subject_id.into(),
                    entry.dry_run.into(),
                    entry.rows_total.into(),
                    JsonB(entry.tables).into(),
                    erased_by.into(),
                    session_user.into(),
                    entry.duration_ms.into(),
                ],
            )
            .map(|_| ())
        })?;
        Ok(())
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
